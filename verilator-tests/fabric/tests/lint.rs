//! Every generated Verilog variant passes `verilator --lint-only -Wall`.

use replimesh_hdl::{generate_card_verilog, generate_mesh_verilog, FabricParams};
use replimesh_spec::MeshGeometry;
use std::process::Command;

#[test]
fn generated_verilog_lints_clean() {
    let dir = std::env::temp_dir().join(format!("replimesh-lint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (w, h) in [(2, 2), (3, 5), (4, 4), (8, 8)] {
        for flit_bits in [32, 64] {
            let p = FabricParams {
                geometry: MeshGeometry::new(w, h).unwrap(),
                flit_bits,
                fifo_depth: 8,
            };
            let file = dir.join(format!("mesh_{w}x{h}_w{flit_bits}.v"));
            std::fs::write(&file, generate_mesh_verilog(&p)).unwrap();
            let out = Command::new("verilator")
                .args(["--lint-only", "-Wall", "--top-module", "top"])
                .arg(&file)
                .output()
                .expect("verilator on PATH (scripts/ensure-tools.sh installs it)");
            assert!(
                out.status.success(),
                "{}: {}",
                file.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The card (mesh plus an endpoint per node, generated register file and
/// engines) lints clean too.
#[test]
fn generated_card_verilog_lints_clean() {
    let dir = std::env::temp_dir().join(format!("replimesh-lint-card-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (w, h) in [(2, 2), (3, 2), (4, 4)] {
        let file = dir.join(format!("card_{w}x{h}.v"));
        std::fs::write(
            &file,
            generate_card_verilog(MeshGeometry::new(w, h).unwrap(), 8),
        )
        .unwrap();
        let out = Command::new("verilator")
            .args(["--lint-only", "-Wall", "--top-module", "top"])
            .arg(&file)
            .output()
            .expect("verilator on PATH (scripts/ensure-tools.sh installs it)");
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
