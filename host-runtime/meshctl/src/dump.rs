//! `meshctl dump`: walks one node's register-block chain on the Verilator
//! card through the driver and prints every block and register by name
//! (names and offsets from the spec, values from the card).

use anyhow::{Context, Result};
use replimesh_driver::{probe, read_checked, Device};
use replimesh_sim::card::CardSim;
use replimesh_spec::regmap::{self as spec, NODE_WINDOW};
use replimesh_spec::MeshGeometry;

/// Prints node `node`'s window.
pub fn dump(mesh: MeshGeometry, node: usize) -> Result<()> {
    let card = CardSim::new(mesh).context("building the card model")?;
    let mut dev = CardSim::devices(&card)
        .into_iter()
        .nth(node)
        .with_context(|| {
            format!(
                "node {node} is not on a {}x{} card",
                mesh.width(),
                mesh.height()
            )
        })?;
    let (map, info) = probe(&mut dev).context("probing the window")?;
    println!(
        "node {} ({}x{}, {}-bit flits), register map {}, spec hash {:#010x}",
        info.node.0, info.width, info.height, info.flit_bits, info.version, info.spec_hash
    );
    for b in map.blocks() {
        let known = NODE_WINDOW
            .iter()
            .find(|p| p.spec.type_word() == b.type_word);
        let name = known.map_or("unknown", |p| p.spec.name);
        println!(
            "{:#06x} {name} type {:#010x} v{}",
            b.base.0, b.type_word, b.version
        );
        let Some(p) = known else { continue };
        for r in p.spec.regs {
            let v = read_checked(&mut dev, b.base.add(r.offset))?;
            println!(
                "  +{:#04x} {:<28} {:<3} {v:#010x}",
                r.offset,
                r.name,
                r.access.name()
            );
        }
        if p.spec.kind == spec::ROUTER_BLOCK.kind {
            for (off, r) in spec::router_block_regs() {
                let v = dev.read32(b.base.add(off))?;
                println!("  +{off:#05x} {:<27} {v:#010x}", r.name);
            }
        }
    }
    Ok(())
}
