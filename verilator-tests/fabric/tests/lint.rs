//! Every generated Verilog variant passes `verilator --lint-only -Wall`.
//!
//! The bridge's flat models (the 2x2 mesh with 64-bit flits and the 2x2
//! card) are verilated by `replimesh-sim`'s build script with `-Wall`, where
//! any warning fails the build. Its hierarchical models (4x4 and up) are
//! verilated with `-Wall` less `UNOPTFLAT`, which the block boundaries raise
//! falsely, so this file lints those designs whole as well as the others.

use replimesh_hdl::{generate_card_verilog, generate_mesh_verilog, FabricParams};
use replimesh_spec::MeshGeometry;
use std::path::Path;
use std::process::Command;

/// `verilator --lint-only -Wall` passes on `file` (top module `top`).
fn assert_lints_clean(file: &Path) {
    let out = Command::new("verilator")
        .args(["--lint-only", "-Wall", "--top-module", "top"])
        .arg(file)
        .output()
        .expect("verilator on PATH (scripts/ensure-tools.sh installs it)");
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn generated_verilog_lints_clean() {
    let dir = std::env::temp_dir().join(format!("replimesh-lint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (w, h, flit_bits) in [(2, 2, 32), (3, 5, 32), (3, 5, 64), (4, 4, 32), (4, 4, 64)] {
        let p = FabricParams {
            geometry: MeshGeometry::new(w, h).unwrap(),
            flit_bits,
            fifo_depth: 8,
            multicast: true,
        };
        let file = dir.join(format!("mesh_{w}x{h}_w{flit_bits}.v"));
        std::fs::write(&file, generate_mesh_verilog(&p)).unwrap();
        assert_lints_clean(&file);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn generated_router_alone_lints_clean() {
    let dir = std::env::temp_dir().join(format!("replimesh-lint-router-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Both generator variants: with the fan-out logic (what the meshes use)
    // and without it (`router-w32-nomc`, the area comparison).
    for (w, h, multicast) in [(2, 2, true), (4, 4, true), (8, 8, true), (4, 4, false)] {
        for flit_bits in [32, 64] {
            let p = FabricParams {
                geometry: MeshGeometry::new(w, h).unwrap(),
                flit_bits,
                fifo_depth: 8,
                multicast,
            };
            let file = dir.join(format!("router_{w}x{h}_w{flit_bits}_mc{multicast}.v"));
            std::fs::write(&file, replimesh_hdl::generate_router_verilog(&p)).unwrap();
            assert_lints_clean(&file);
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
    for (w, h) in [(3, 2), (2, 3), (4, 4)] {
        let file = dir.join(format!("card_{w}x{h}.v"));
        std::fs::write(
            &file,
            generate_card_verilog(MeshGeometry::new(w, h).unwrap(), 8),
        )
        .unwrap();
        assert_lints_clean(&file);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Each endpoint block lints clean on its own too, so a warning points at
/// the block that causes it.
#[test]
fn endpoint_blocks_lint_clean_alone() {
    use replimesh_hdl::endpoint::{
        counters::EpCounters, irq::IrqModerator, regfile::IdValues, regfile::RegFile, rx::RxEngine,
        service::ServiceUnit, tx::TxEngine, Endpoint, EndpointParams,
    };
    use rust_hdl::prelude::*;
    let dir = std::env::temp_dir().join(format!("replimesh-lint-ep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let id = IdValues {
        mesh_shape: 0x40_0404,
        spec_hash: replimesh_spec::spec_hash(),
    };
    fn text(mut b: impl Block) -> String {
        b.connect_all();
        replimesh_hdl::verilog::merge_identical_modules(&generate_verilog(&b))
    }
    let blocks = [
        ("regfile", text(RegFile::new(id))),
        ("tx", text(TxEngine::new(8, 256))),
        ("rx", text(RxEngine::default())),
        ("irq", text(IrqModerator::default())),
        ("counters", text(EpCounters::new())),
        (
            "endpoint",
            text(Endpoint::new(EndpointParams {
                id,
                router_fifo_depth: 8,
                geometry: MeshGeometry::new(4, 4).unwrap(),
            })),
        ),
        (
            "service",
            text(ServiceUnit::new(MeshGeometry::new(4, 4).unwrap(), 8)),
        ),
    ];
    for (name, v) in blocks {
        let file = dir.join(format!("{name}.v"));
        std::fs::write(&file, v).unwrap();
        assert_lints_clean(&file);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
