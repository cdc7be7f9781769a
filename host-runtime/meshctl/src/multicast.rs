//! `meshctl bench multicast`: in-network fan-out against the same data sent
//! as unicast repetition, on the Verilator model.
//!
//! Definitions (also in docs/performance.md):
//! - `*_cycles`: from the cycle the packets are handed to the idle source
//!   port (its first flit enters the router in the next cycle) to the cycle
//!   the last copy's tail leaves its destination router.
//! - `*_link_flits`: flits that crossed router-to-router links: the sum of
//!   every router's `flits_routed_total` (flits switched to any output,
//!   one per copy) minus the flits ejected to local ports.
//! - `copies_delivered`: copies the scoreboard accepted (exactly once per
//!   receiver, intact); the run fails if anything is lost or duplicated.

use anyhow::{bail, Context, Result};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use replimesh_regs::PacketHeader;
use replimesh_scoreboard::{make_fanout_packet, make_packet, Scoreboard};
use replimesh_sim::Fabric;
use replimesh_spec::{GroupId, MeshGeometry, NodeId, Scope};
use serde::Serialize;

#[derive(Serialize, Clone)]
pub struct Comparison {
    pub members: usize,
    pub member_ids: Vec<u8>,
    pub innetwork_cycles: u64,
    pub unicast_cycles: u64,
    pub speedup: f64,
    pub innetwork_link_flits: u64,
    pub unicast_link_flits: u64,
    pub copies_delivered: u64,
}

#[derive(Serialize, Clone)]
pub struct MulticastBench {
    pub mesh: String,
    pub flit_bits: u32,
    pub packet_flits: usize,
    pub source: u8,
    pub innetwork_cycles: u64,
    pub unicast_cycles: u64,
    pub speedup: f64,
    pub innetwork_link_flits: u64,
    pub unicast_link_flits: u64,
    pub copies_delivered: u64,
    pub group_sizes: Vec<Comparison>,
}

struct Run {
    cycles: u64,
    link_flits: u64,
    copies: u64,
}

/// Steps until every expected copy is in; returns cycles and link flits.
fn finish(f: &mut Fabric, mut sb: Scoreboard, start: u64, what: &str) -> Result<Run> {
    let g = f.geometry();
    let hf = PacketHeader::header_flits(f.flit_bits()) as u64;
    let mut last = start;
    let mut ejected = 0u64;
    let limit = start + 100_000;
    while (sb.outstanding() > 0 || f.host_flits_pending() > 0) && f.cycle() < limit {
        f.step()?;
        for d in f.drain_delivered() {
            last = last.max(d.tail_cycle);
            ejected += hf + d.payload.len() as u64;
            sb.on_deliver(&d);
        }
    }
    let r = sb.finish();
    if !r.is_clean() {
        bail!("{what}: scoreboard findings {:?}", r.findings);
    }
    let mut routed = 0u64;
    for id in g.node_ids().collect::<Vec<_>>() {
        routed += f.counters(id)?.flits_routed as u64;
    }
    Ok(Run {
        cycles: last - start,
        link_flits: routed - ejected,
        copies: r.copies_delivered,
    })
}

/// The same data as one unicast per receiver, all queued at once.
fn unicast(f: &mut Fabric, src: NodeId, rx: &[NodeId], flits: usize) -> Result<Run> {
    f.reset()?;
    let mut sb = Scoreboard::new();
    let start = f.cycle();
    for &d in rx {
        let p = make_packet(&mut sb, f, src, d, flits);
        f.send(src, &p)?;
    }
    let run = finish(f, sb, start, "unicast repetition")?;
    Ok(Run {
        copies: rx.len() as u64,
        ..run
    })
}

/// One fan-out packet (`group` None: a whole-mesh broadcast).
fn innetwork(
    f: &mut Fabric,
    src: NodeId,
    rx: &[NodeId],
    group: Option<GroupId>,
    flits: usize,
) -> Result<Run> {
    f.reset()?;
    let t = match group {
        Some(grp) => {
            f.install_tree(grp, src, rx)?;
            PacketHeader::multicast(grp, 0, 0, false)
        }
        None => PacketHeader::broadcast(Scope::MESH, 0, 0, false).context("scope")?,
    };
    let mut sb = Scoreboard::new();
    let start = f.cycle();
    let p = make_fanout_packet(&mut sb, f, src, t, flits, rx);
    f.send(src, &p)?;
    finish(f, sb, start, "in-network fan-out")
}

fn compare(
    f: &mut Fabric,
    src: NodeId,
    rx: &[NodeId],
    group: Option<GroupId>,
    flits: usize,
) -> Result<Comparison> {
    let a = innetwork(f, src, rx, group, flits)?;
    let b = unicast(f, src, rx, flits)?;
    Ok(Comparison {
        members: rx.len(),
        member_ids: rx.iter().map(|n| n.0).collect(),
        innetwork_cycles: a.cycles,
        unicast_cycles: b.cycles,
        speedup: b.cycles as f64 / a.cycles.max(1) as f64,
        innetwork_link_flits: a.link_flits,
        unicast_link_flits: b.link_flits,
        copies_delivered: a.copies,
    })
}

/// Runs the comparison for a whole-mesh broadcast and a group-size sweep and
/// prints the JSON.
pub fn run(mesh: MeshGeometry, source: usize, packet_flits: usize, seed: u64) -> Result<()> {
    let out = measure(mesh, source, packet_flits, seed)?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// Runs the comparison for a whole-mesh broadcast and a group-size sweep.
pub fn measure(
    mesh: MeshGeometry,
    source: usize,
    packet_flits: usize,
    seed: u64,
) -> Result<MulticastBench> {
    let flit_bits = 64;
    if source >= mesh.nodes() as usize {
        bail!(
            "source {source} is not a node of a {}x{} mesh",
            mesh.width(),
            mesh.height()
        );
    }
    let mut f = Fabric::new(mesh, flit_bits).context("building the Verilator model")?;
    if packet_flits > f.fifo_depth() {
        bail!(
            "a fan-out packet is at most {} flits (the router FIFO depth)",
            f.fifo_depth()
        );
    }
    let src = mesh.id_at(source);
    let others: Vec<NodeId> = mesh.node_ids().filter(|n| *n != src).collect();
    let all = compare(&mut f, src, &others, None, packet_flits)?;
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut sweep = vec![];
    for size in [2usize, 4, 8, 15] {
        let size = size.min(others.len());
        let mut pick = others.clone();
        for i in (1..pick.len()).rev() {
            pick.swap(i, rng.gen_range(0..=i));
        }
        pick.truncate(size);
        pick.sort();
        sweep.push(compare(&mut f, src, &pick, Some(GroupId(0)), packet_flits)?);
    }
    let out = MulticastBench {
        mesh: format!("{}x{}", mesh.width(), mesh.height()),
        flit_bits,
        packet_flits,
        source: src.0,
        innetwork_cycles: all.innetwork_cycles,
        unicast_cycles: all.unicast_cycles,
        speedup: all.speedup,
        innetwork_link_flits: all.innetwork_link_flits,
        unicast_link_flits: all.unicast_link_flits,
        copies_delivered: all.copies_delivered,
        group_sizes: sweep,
    };
    Ok(out)
}
