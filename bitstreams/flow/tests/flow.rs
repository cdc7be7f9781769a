//! The open ECP5 flow runs on the router (32-bit) and the 2×2 mesh (64-bit):
//! the generated Verilog and the board wrapper lint clean, yosys, nextpnr and
//! ecppack succeed, and the results meet the constraints stated below. A
//! missing tool fails the test with the install command; nothing is skipped.
//!
//! The constraints are regression guards around what the current router
//! meets, not the goal (<= 300 LUT, >= 200 MHz), which the LPF still
//! targets and the report records against (docs/hardware.md has the figures
//! and why the area goal is out of reach for this router class on LUT4).

use replimesh_bitstreams::tools::{find_tool, lint};
use replimesh_bitstreams::{designs_named, run_design, FlowConfig, FlowError, Tools};
use std::path::PathBuf;

/// Stated timing floor for every design of this test, MHz. Was 65; the
/// link-liveness check now sits on the input FIFO's push path and the
/// re-lookup on the route table's address (issue 12): the router alone
/// placed out of context measured 62.7 MHz (was 72.1). Then 49.0 MHz with
/// two virtual channels (issue 12: the port's VC arbiter and a second output
/// arbiter on the allocation path, docs/hardware.md); 45.7 MHz with the
/// second route-table bank (issue 12: the bank mux before the route
/// decision). Restated until the router-area and timing work of issue 16
/// wins it back.
const MIN_FMAX_MHZ: f64 = 45.0;
/// Stated area ceiling for one 32-bit router (yosys synth_ecp5 LUT4, design
/// alone). Measured 3037 with the look-ahead tags; 4100 with link liveness
/// (four monitors, parity on eight directions, per-input route re-lookup,
/// fault counters; issue 12); 4344 once `link_down` writes are checked
/// against the mesh edge (yosys re-shapes the whole configuration decode
/// chain for that one condition); 6138 with two virtual channels (nine input
/// units, per-VC locks, credits and arbiters; issue 12); 6367 with the
/// second route-table bank (eighteen table copies; issue 12). Restated with
/// 5 % margin over 6138; issue 16 owns area.
const MAX_ROUTER_W32_LUT4: u64 = 6450;

fn out_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bitstreams-flow")
}

// One test per design, so the test harness places and routes them side by
// side (nextpnr is single-threaded; this halves the test's wall time on two
// cores).
#[test]
fn router_builds_a_bitstream_meeting_stated_constraints() {
    build_and_check("router-w32");
}

#[test]
fn mesh_2x2_builds_a_bitstream_meeting_stated_constraints() {
    build_and_check("mesh-2x2-w64");
}

fn build_and_check(name: &str) {
    let tools = Tools::find().unwrap_or_else(|e| panic!("{e}"));
    let versions = tools.versions().unwrap_or_else(|e| panic!("{e}"));
    let cfg = FlowConfig {
        out_dir: out_dir(),
        seed: 1,
    };
    let designs = designs_named(&[name.into()]).unwrap();
    for d in &designs {
        let r = run_design(&tools, &versions, d, &cfg).unwrap_or_else(|e| panic!("{e}"));
        eprintln!("{}", serde_json::to_string(&r).unwrap());
        assert!(
            r.lut4 > 0 && r.ff > 0 && r.logic_cells > r.lut4 / 2,
            "{r:?}"
        );
        assert_eq!(r.bitstream_sha256.len(), 64);
        let bit = cfg.out_dir.join(&r.bitstream);
        assert!(
            std::fs::metadata(&bit).unwrap().len() > 10_000,
            "{}",
            bit.display()
        );
        assert!(
            r.fmax_mhz >= MIN_FMAX_MHZ,
            "{}: timing failed: {:.1} MHz < stated {MIN_FMAX_MHZ} MHz",
            d.name,
            r.fmax_mhz
        );
        if d.name == "router-w32" {
            assert!(
                r.lut4 <= MAX_ROUTER_W32_LUT4,
                "router-w32: {} LUT4 > stated {MAX_ROUTER_W32_LUT4}",
                r.lut4
            );
        }
        // The wrapper must not hide the design: it adds only its chains.
        assert!(r.wrapper.ff <= i64::from(r.wrapper.input_bits + r.wrapper.output_bits) + 8);
    }
}

#[test]
fn lint_failure_is_an_error() {
    let verilator = find_tool("verilator").unwrap_or_else(|e| panic!("{e}"));
    let dir = out_dir().join("lint-negative");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("bad.v"),
        "module top(input wire clock, input wire [3:0] a, output wire b);\nassign b = a[0];\nendmodule\n",
    )
    .unwrap();
    let e = lint(&dir, &verilator, "top", &["bad.v"]).unwrap_err();
    assert!(matches!(e, FlowError::Lint { .. }), "{e}");
}

#[test]
fn missing_tool_names_the_install_command() {
    let e = find_tool("replimesh-no-such-tool").unwrap_err();
    assert!(matches!(e, FlowError::ToolMissing { .. }));
    assert!(
        e.to_string().contains("scripts/ensure-fpga-tools.sh"),
        "{e}"
    );
}

#[test]
fn xilinx_card_top_lints_with_the_generated_mesh() {
    // The Vivado build (bitstreams/xilinx/) cannot run here; its RTL can be linted.
    let verilator = find_tool("verilator").unwrap_or_else(|e| panic!("{e}"));
    let d = &designs_named(&["mesh-4x4-w64".into()]).unwrap()[0];
    let dir = out_dir().join("xilinx-lint");
    std::fs::create_dir_all(&dir).unwrap();
    let mesh = d.verilog();
    let ports = replimesh_bitstreams::wrapper::top_ports(&mesh).unwrap();
    let card = replimesh_bitstreams::card_top::card_top_verilog(&ports).unwrap();
    std::fs::write(dir.join("mesh.v"), mesh).unwrap();
    std::fs::write(dir.join("mesh_card.v"), card).unwrap();
    let rtl = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../xilinx/rtl");
    for f in ["axil_cfg_shim.v", "h2c_to_link.v", "link_to_c2h.v"] {
        std::fs::copy(rtl.join(f), dir.join(f)).unwrap();
    }
    lint(
        &dir,
        &verilator,
        "mesh_card",
        &[
            "mesh.v",
            "axil_cfg_shim.v",
            "h2c_to_link.v",
            "link_to_c2h.v",
            "mesh_card.v",
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
}
