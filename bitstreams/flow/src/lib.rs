//! replimesh-bitstreams: the open ECP5 flow, run here.
//!
//! For each design of the list (`designs.rs`) it takes the Verilog that
//! `replimesh-hdl` generates for the Verilator tests, lints it, wraps it for
//! the board (`wrapper.rs`), synthesizes with yosys (design alone for area,
//! `synth_xilinx` for a Xilinx estimate, and the wrapped board), places and
//! routes with nextpnr against the LPF's clock constraint, packs a bitstream
//! with ecppack, and returns a [`DesignReport`]; the manifest records the
//! bitstream. Tools are the pinned YoWASP wheels (docs/adr/0007).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod card_top;
pub mod designs;
mod error;
pub mod manifest;
pub mod report;
pub mod tools;
pub mod wrapper;

pub use designs::{all_designs, designs_named, Design, Shape};
pub use error::FlowError;
pub use manifest::{Manifest, ManifestEntry, MANIFEST_COMMAND};
pub use report::DesignReport;
pub use tools::{ToolVersions, Tools};

use error::io_err;
use report::{count, nextpnr_report, xilinx_estimate, yosys_cells, Placed, WrapperCost};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// FPGA part of the ECP5 Evaluation Board.
pub const DEVICE: &str = "LFE5UM5G-85F";
/// Its package.
pub const PACKAGE: &str = "CABGA381";
/// The board the LPF is for.
pub const BOARD: &str = "ecp5-evn";
/// nextpnr's device switch for [`DEVICE`].
const NEXTPNR_DEVICE: &str = "--um5g-85k";
/// Pins and clock constraint (`FREQUENCY`), written next to each design.
pub const BOARD_LPF: &str = include_str!("../../ecp5/evn/board.lpf");

/// Where the flow writes.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// Output root; each design gets `<out_dir>/<design>/`.
    pub out_dir: PathBuf,
    /// nextpnr placer seed (fixed, so runs repeat).
    pub seed: u32,
}

/// Runs the whole flow for one design and reports it.
pub fn run_design(
    tools: &Tools,
    versions: &ToolVersions,
    design: &Design,
    cfg: &FlowConfig,
) -> Result<DesignReport, FlowError> {
    let dir = cfg.out_dir.join(&design.name);
    std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let write = |name: &str, text: &str| -> Result<(), FlowError> {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(io_err(&p))
    };
    // 1. The generated Verilog, linted as the Verilator tests lint it.
    let verilog = design.verilog();
    write("design.v", &verilog)?;
    tools::lint(&dir, &tools.verilator, "top", &["design.v"])?;
    // 2. The board wrapper, linted with the design.
    let ports = wrapper::top_ports(&verilog)?;
    let (board_v, shape) = wrapper::board_verilog(&ports)?;
    write("board.v", &board_v)?;
    tools::lint(&dir, &tools.verilator, "board", &["design.v", "board.v"])?;
    write("board.lpf", BOARD_LPF)?;
    // 3. Design alone: ECP5 area and the Xilinx estimate, one yosys process.
    tools::run_in(
        &dir,
        &tools.yosys,
        &[
            "-q",
            "-p",
            "read_verilog design.v; design -save rtl; \
             synth_ecp5 -top top; tee -q -o alone_ecp5.json stat -json; \
             design -load rtl; synth_xilinx -flatten -noiopad -top top; \
             tee -q -o alone_xilinx.json stat -json",
        ],
        "yosys_alone.log",
    )?;
    // 4. The wrapped board, for place and route.
    tools::run_in(
        &dir,
        &tools.yosys,
        &[
            "-q",
            "-p",
            "read_verilog design.v board.v; synth_ecp5 -top board -json board.json; \
             tee -q -o board_stat.json stat -json",
        ],
        "yosys_board.log",
    )?;
    let seed = cfg.seed.to_string();
    tools::run_in(
        &dir,
        &tools.nextpnr,
        &[
            NEXTPNR_DEVICE,
            "--package",
            PACKAGE,
            "--json",
            "board.json",
            "--lpf",
            "board.lpf",
            "--textcfg",
            "board.config",
            "--report",
            "pnr_report.json",
            "--timing-allow-fail",
            "--seed",
            &seed,
        ],
        "nextpnr.log",
    )?;
    tools::run_in(
        &dir,
        &tools.ecppack,
        &["--compress", "board.config", "board.bit"],
        "ecppack.log",
    )?;
    // 5. Figures.
    let alone = yosys_cells(&dir.join("alone_ecp5.json"))?;
    let board = yosys_cells(&dir.join("board_stat.json"))?;
    let xil = yosys_cells(&dir.join("alone_xilinx.json"))?;
    let pnr = nextpnr_report(&dir.join("pnr_report.json"))?;
    let (xilinx_lut, xilinx_lutram, xilinx_ff) = xilinx_estimate(&xil);
    let used = |t: &str| pnr.used.get(t).copied().unwrap_or(0);
    let bit_path = dir.join("board.bit");
    let bit = std::fs::read(&bit_path).map_err(io_err(&bit_path))?;
    let lut4 = count(&alone, &["LUT4"]);
    let ff = count(&alone, &["TRELLIS_FF"]);
    Ok(DesignReport {
        design: design.name.clone(),
        shape: match design.shape {
            Shape::Router => "router",
            Shape::Mesh => "mesh",
        }
        .into(),
        mesh: design.mesh_label(),
        flit_bits: design.params.flit_bits,
        routers: design.routers(),
        multicast: design.multicast,
        device: DEVICE.into(),
        package: PACKAGE.into(),
        lut4,
        ff,
        bram: count(&alone, &["DP16KD"]),
        dsp: count(&alone, &["MULT18X18D"]),
        lutram_dpr16x4: count(&alone, &["TRELLIS_DPR16X4"]),
        ccu2c: count(&alone, &["CCU2C"]),
        widemux: count(&alone, &["PFUMX", "L6MUX21"]),
        logic_cells: used("TRELLIS_COMB"),
        placed: Placed {
            logic_cells: used("TRELLIS_COMB"),
            ff: used("TRELLIS_FF"),
            ramw: used("TRELLIS_RAMW"),
            bram: used("DP16KD"),
            dsp: used("MULT18X18D"),
            io: used("TRELLIS_IO"),
        },
        wrapper: WrapperCost {
            input_bits: shape.input_bits,
            output_bits: shape.output_bits,
            lut4: count(&board, &["LUT4"]) as i64 - lut4 as i64,
            ff: count(&board, &["TRELLIS_FF"]) as i64 - ff as i64,
        },
        fmax_mhz: pnr.fmax_mhz,
        target_mhz: pnr.target_mhz,
        xilinx_lut,
        xilinx_lutram,
        xilinx_ff,
        bitstream: format!("{}/board.bit", design.name),
        bitstream_sha256: hex(&Sha256::digest(&bit)),
        tools: versions.clone(),
    })
}

/// The manifest entry for a finished report. `repo` is the repository root
/// (for the git hash); `out_rel` the output folder relative to it.
pub fn manifest_entry(r: &DesignReport, repo: &Path, out_rel: &str) -> ManifestEntry {
    let bytes = std::fs::metadata(repo.join(out_rel).join(&r.bitstream))
        .map(|m| m.len())
        .unwrap_or(0);
    ManifestEntry {
        design: r.design.clone(),
        device: r.device.clone(),
        package: r.package.clone(),
        board: BOARD.into(),
        bitstream: format!("{out_rel}/{}", r.bitstream),
        sha256: r.bitstream_sha256.clone(),
        bytes,
        date: utc_now(),
        git_hash: git_hash(repo),
        id_value: format!("{:#010x}", replimesh_spec::ROUTER_ID_VALUE),
        fmax_mhz: r.fmax_mhz,
        tools: r.tools.clone(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn utc_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}

/// `git rev-parse HEAD` in `repo`, with `-dirty` for uncommitted changes; `unknown` without git.
pub fn git_hash(repo: &Path) -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(repo)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "HEAD"]) {
        Some(h) => match git(&["status", "--porcelain", "--untracked-files=no"]) {
            Some(s) if !s.is_empty() => format!("{h}-dirty"),
            _ => h,
        },
        None => "unknown".into(),
    }
}
