//! The Xilinx card top's placeholder RTL (AXI-Lite shim, stream adapters,
//! generated `mesh_card`) around the generated 2×2 mesh, simulated in
//! Verilator with `bitstreams/xilinx/tb/tb_mesh_card.sv`: router registers
//! through BAR0 offsets, SLVERR on bad accesses, a packet from H2C back to
//! C2H, and a packet routed to another node. Vivado and XDMA are not involved.

use replimesh_bitstreams::card_top::card_top_verilog;
use replimesh_bitstreams::tools::find_tool;
use replimesh_bitstreams::wrapper::top_ports;
use replimesh_bitstreams::{designs_named, Design};
use replimesh_regs::PacketHeader;
use replimesh_spec::{NodeId, ROUTER_ID_VALUE};
use std::path::PathBuf;
use std::process::Command;

fn header(dest: u8) -> u64 {
    PacketHeader::unicast(NodeId(dest), 7, 1)
        .to_flits(64)
        .unwrap()[0]
}

#[test]
fn card_top_serves_registers_and_streams_in_simulation() {
    let verilator = find_tool("verilator").unwrap_or_else(|e| panic!("{e}"));
    let mut d: Design = designs_named(&["mesh-2x2-w64".into()]).unwrap().remove(0);
    d.name = "card-shim-sim".into();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("card-shim-sim");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mesh = d.verilog();
    let card = card_top_verilog(&top_ports(&mesh).unwrap()).unwrap();
    std::fs::write(dir.join("mesh.v"), &mesh).unwrap();
    std::fs::write(dir.join("mesh_card.v"), card).unwrap();
    let xil = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../xilinx");
    for f in [
        "rtl/axil_cfg_shim.v",
        "rtl/h2c_to_link.v",
        "rtl/link_to_c2h.v",
        "tb/tb_mesh_card.sv",
    ] {
        let src = xil.join(f);
        std::fs::copy(&src, dir.join(src.file_name().unwrap())).unwrap();
    }
    let build = Command::new(&verilator)
        .args([
            "--binary",
            "--timing",
            "-Wno-fatal",
            "-Wno-lint",
            "-Wno-style",
        ])
        .args(["--top-module", "tb_mesh_card", "-o", "tb"])
        .arg(format!("+define+ROUTER_ID=32'h{ROUTER_ID_VALUE:08x}"))
        .args([
            "mesh.v",
            "axil_cfg_shim.v",
            "h2c_to_link.v",
            "link_to_c2h.v",
            "mesh_card.v",
        ])
        .arg("tb_mesh_card.sv")
        .current_dir(&dir)
        .output()
        .expect("running verilator");
    assert!(
        build.status.success(),
        "verilator build failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    // Node 0's own header comes back unchanged: the ingress router stamps
    // src = 0 and no mesh link is crossed (TTL kept).
    let run = Command::new(dir.join("obj_dir/tb"))
        .arg(format!("+hdr_self={:016x}", header(0)))
        .arg(format!("+hdr_self_out={:016x}", header(0)))
        .arg(format!("+hdr_far={:016x}", header(3)))
        .current_dir(&dir)
        .output()
        .expect("running the testbench");
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(
        out.lines().any(|l| l.trim() == "PASS"),
        "testbench: {out}{}",
        String::from_utf8_lossy(&run.stderr)
    );
}
