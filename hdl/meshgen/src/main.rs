//! `meshgen`: writes the fabric's Verilog and the generated docs.
//!
//! ```text
//! meshgen verilog --mesh 4x4 --flit-bits 64 -o mesh.v
//! meshgen verilog --mesh 4x4 --card -o card.v
//! meshgen verilog --router --mesh 4x4 --flit-bits 32 -o router.v
//! meshgen docs --out docs
//! ```

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use replimesh_hdl::{
    generate_card_verilog, generate_mesh_verilog, generate_router_verilog, FabricParams,
};
use replimesh_spec::MeshGeometry;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "meshgen", about = "replimesh fabric generator")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write the mesh as Verilog (top module `top`).
    Verilog {
        /// Mesh size WxH, each side 2..=16.
        #[arg(long, default_value = "4x4", value_parser = MeshGeometry::parse)]
        mesh: MeshGeometry,
        /// Flit width in bits: 32 or 64.
        #[arg(long, default_value_t = 64)]
        flit_bits: u32,
        /// Input FIFO depth in flits (power of two, 2..=64).
        #[arg(long, default_value_t = 8)]
        fifo_depth: usize,
        /// The whole card: the mesh plus one endpoint per node (64-bit flits).
        #[arg(long, conflicts_with = "router")]
        card: bool,
        /// Write one router alone instead (node (1,1) of `--mesh`, every link
        /// as a port), for area and Fmax reports.
        #[arg(long)]
        router: bool,
        /// Leave the fan-out logic (multicast, scoped broadcast, discovery
        /// requests) out of the routers: fan-out packets are then dropped as
        /// malformed. For area comparisons only.
        #[arg(long)]
        no_multicast: bool,
        /// Output file; standard output when absent.
        #[arg(short, long)]
        out: Option<PathBuf>,
    },
    /// Write the generated reference docs (packet format, router registers, register map).
    Docs {
        /// The docs folder.
        #[arg(long, default_value = "docs")]
        out: PathBuf,
    },
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    if let Err(e) = run(cli) {
        eprintln!("meshgen: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Verilog {
            mesh,
            flit_bits,
            fifo_depth,
            card,
            router,
            no_multicast,
            out,
        } => {
            if !replimesh_spec::FLIT_WIDTHS.contains(&flit_bits) {
                bail!("flit width {flit_bits} is not supported: use 32 or 64");
            }
            if !fifo_depth.is_power_of_two() || !(2..=64).contains(&fifo_depth) {
                bail!("fifo depth {fifo_depth} must be a power of two in 2..=64");
            }
            let p = FabricParams {
                geometry: mesh,
                flit_bits,
                fifo_depth,
                multicast: !no_multicast,
            };
            let text = if card {
                if no_multicast {
                    bail!("the card always has the fan-out logic; drop --no-multicast");
                }
                if flit_bits != 64 {
                    bail!("the card uses 64-bit flits; drop --flit-bits {flit_bits}");
                }
                generate_card_verilog(mesh, fifo_depth)
            } else if router {
                generate_router_verilog(&p)
            } else {
                generate_mesh_verilog(&p)
            };
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => print!("{text}"),
            }
        }
        Cmd::Docs { out } => {
            for (name, text) in replimesh_codegen::reference_docs() {
                let path = out.join(name);
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
        }
    }
    Ok(())
}
