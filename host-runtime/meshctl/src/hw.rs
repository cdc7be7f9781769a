//! `meshctl hw report --json`: the open ECP5 flow over the design list, one
//! JSON report, and `bitstreams/manifest.json` updated (replimesh-bitstreams).

use anyhow::{Context, Result};
use replimesh_bitstreams::{
    all_designs, designs_named, manifest_entry, run_design, DesignReport, FlowConfig, Manifest,
    Tools, MANIFEST_COMMAND,
};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Options of `hw report`.
pub struct ReportArgs {
    /// Designs to build (all when empty).
    pub designs: Vec<String>,
    /// Output folder (relative to the repository root).
    pub out: PathBuf,
    /// Manifest to update; `None` leaves it alone.
    pub manifest: Option<PathBuf>,
}

/// `hw report`: prints what [`report_value`] returns.
pub fn report(args: ReportArgs) -> Result<()> {
    let out = report_value(args)?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// Whether the open flow's tools are on PATH (or in ~/.local/bin), as
/// `hw report` finds them; the error names the first one missing.
pub fn tools_present() -> Result<()> {
    Tools::find()?;
    Ok(())
}

/// Builds each design, updates the manifest when asked, and returns the
/// report `hw report --json` prints.
pub fn report_value(args: ReportArgs) -> Result<serde_json::Value> {
    let designs = if args.designs.is_empty() {
        all_designs()
    } else {
        designs_named(&args.designs)?
    };
    let tools = Tools::find()?;
    let versions = tools
        .versions()
        .context("asking the tools for their versions")?;
    let cfg = FlowConfig {
        out_dir: args.out.clone(),
        seed: 1,
    };
    let mut reports = vec![];
    for d in &designs {
        eprintln!("hw report: {} ...", d.name);
        let r = run_design(&tools, &versions, d, &cfg)
            .with_context(|| format!("building design {}", d.name))?;
        eprintln!(
            "hw report: {}: {} LUT4, {} FF, {:.1} MHz",
            d.name, r.lut4, r.ff, r.fmax_mhz
        );
        reports.push(r);
    }
    if let Some(path) = &args.manifest {
        let mut m = Manifest::load(path)?;
        m.command = MANIFEST_COMMAND.into();
        let out_rel = args.out.to_string_lossy().to_string();
        for r in &reports {
            m.upsert(manifest_entry(r, Path::new("."), &out_rel));
        }
        m.save(path)?;
        eprintln!("hw report: wrote {}", path.display());
    }
    let out = json!({
        "command": MANIFEST_COMMAND,
        "designs": reports,
        "area_per_router": area_per_router(&reports),
    });
    Ok(out)
}

/// Writes mesh.v and mesh_card.v for the Vivado build.
fn sources(mesh: replimesh_spec::MeshGeometry, flit_bits: u32, out: &Path) -> Result<()> {
    if flit_bits != 64 {
        anyhow::bail!("flit width {flit_bits}: the KCU105 build streams 64-bit flits (XDMA 64-bit AXI-Stream); use 64");
    }
    let p = replimesh_hdl::FabricParams {
        geometry: mesh,
        flit_bits,
        fifo_depth: 8,
        multicast: true,
    };
    let verilog = replimesh_hdl::generate_mesh_verilog(&p);
    let ports = replimesh_bitstreams::wrapper::top_ports(&verilog)?;
    let card = replimesh_bitstreams::card_top::card_top_verilog(&ports)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for (name, text) in [("mesh.v", verilog), ("mesh_card.v", card)] {
        let path = out.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// Per-router area at each flit width, with and without multicast. A slot
/// whose design is not in the run (or not built yet) says so.
fn area_per_router(reports: &[DesignReport]) -> Vec<serde_json::Value> {
    let mut rows = vec![];
    for bits in [32, 64] {
        for multicast in [false, true] {
            let found = reports
                .iter()
                .find(|r| r.shape == "router" && r.flit_bits == bits && r.multicast == multicast);
            rows.push(match found {
                Some(r) => json!({
                    "flit_bits": bits, "multicast": multicast, "design": r.design,
                    "lut4": r.lut4, "ff": r.ff, "lutram_dpr16x4": r.lutram_dpr16x4,
                    "ccu2c": r.ccu2c, "fmax_mhz": r.fmax_mhz,
                    "xilinx_lut": r.xilinx_lut, "xilinx_lutram": r.xilinx_lutram, "xilinx_ff": r.xilinx_ff,
                }),
                None => json!({"flit_bits": bits, "multicast": multicast, "status": "not in this run"}),
            });
        }
    }
    rows
}

/// `meshctl hw ...`.
#[derive(clap::Subcommand)]
pub enum HwCmd {
    /// Write the Xilinx card's generated sources (mesh.v, mesh_card.v) for
    /// bitstreams/xilinx/kcu105/build.tcl.
    Sources {
        /// Mesh size WxH.
        #[arg(long, default_value = "4x4", value_parser = replimesh_spec::MeshGeometry::parse)]
        mesh: replimesh_spec::MeshGeometry,
        /// Flit width: 64 (the XDMA stream width the Tcl configures).
        #[arg(long, default_value_t = 64)]
        flit_bits: u32,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// Synthesize, place and route each design (open ECP5 flow), write
    /// bitstreams and the manifest, print area and Fmax as JSON.
    Report {
        /// Design to build (repeatable; default: all): router-w32, router-w32-nomc,
        /// router-w64, router-w64-nomc, mesh-2x2-w64, mesh-4x4-w64.
        #[arg(long = "design")]
        designs: Vec<String>,
        /// Output folder for bitstreams and tool logs.
        #[arg(long, default_value = "bitstreams/out")]
        out: PathBuf,
        /// Manifest to update.
        #[arg(long, default_value = "bitstreams/manifest.json")]
        manifest: PathBuf,
        /// Leave the manifest alone.
        #[arg(long)]
        no_manifest: bool,
        /// JSON output (the only format; accepted for symmetry).
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: HwCmd) -> Result<()> {
    match cmd {
        HwCmd::Sources {
            mesh,
            flit_bits,
            out,
        } => sources(mesh, flit_bits, &out),
        HwCmd::Report {
            designs,
            out,
            manifest,
            no_manifest,
            json: _,
        } => report(ReportArgs {
            designs,
            out,
            manifest: (!no_manifest).then_some(manifest),
        }),
    }
}
