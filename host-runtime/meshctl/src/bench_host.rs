//! `meshctl bench host`: the host interface on the Verilator card model,
//! driven only through the driver (`Endpoint` over `SimDevice`).
//!
//! - `host_to_host_latency_cycles`: from the cycle the TX producer doorbell
//!   is written to the first cycle the destination's RX descriptor is
//!   complete in its host memory (seen by polling memory), for one hop and
//!   for the farthest pair.
//! - `packets_per_node_per_kcycle`: every node sends to uniformly random
//!   others as fast as its rings allow (batched doorbells); packets received
//!   per node per 1000 cycles in a measured window.
//! - `doorbells_per_packet`: MMIO doorbell writes (TX producer + RX consumer)
//!   per delivered packet in that run; also without batching.
//!
//! The harness serialises every node's MMIO on one bus clocked with the card
//! (one access per cycle for all nodes together), and answers DMA reads the
//! next cycle: see docs/performance.md for what that means for the figures.

use anyhow::{bail, Context, Result};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use replimesh_driver::{Device, Endpoint, EndpointConfig};
use replimesh_regs::PacketHeader;
use replimesh_scoreboard::{payload_flit, Scoreboard};
use replimesh_sim::card::{CardSim, SimDevice};
use replimesh_sim::Delivered;
use replimesh_spec::{MeshGeometry, NodeId};
use serde::Serialize;
use std::time::Instant;

#[derive(Serialize, Clone)]
pub struct Latency {
    pub one_hop: u64,
    pub farthest_pair: u64,
    pub farthest_hops: u32,
}

#[derive(Serialize, Clone)]
pub struct HostBench {
    pub mesh: String,
    pub payload_flits: usize,
    pub packet_bytes: usize,
    pub host_to_host_latency_cycles: Latency,
    pub packets_per_node_per_kcycle: f64,
    pub doorbells_per_packet: f64,
    pub doorbells_per_packet_unbatched: f64,
    pub measured_cycles: u64,
    pub delivered_packets: u64,
    pub lost_packets: usize,
    pub sim_cycles_per_second: f64,
}

const CFG: EndpointConfig = EndpointConfig {
    tx_entries: 64,
    rx_entries: 64,
    irq_count: 1,
    irq_cycles: 0,
    poll_mode: true,
};

fn open(mesh: MeshGeometry) -> Result<Vec<Endpoint<SimDevice>>> {
    let card = CardSim::new(mesh).context("building the card model")?;
    CardSim::devices(&card)
        .into_iter()
        .map(|d| Endpoint::open(d, CFG).context("opening an endpoint"))
        .collect()
}

/// Doorbell to completed RX descriptor, in cycles.
fn latency(
    eps: &mut [Endpoint<SimDevice>],
    src: usize,
    dst: usize,
    payload: &[u64],
) -> Result<u64> {
    let dest = eps[dst].info().node;
    eps[src].send(&PacketHeader::unicast(dest, 0, 0), payload)?;
    let t0 = eps[src].device().now();
    for _ in 0..10_000 {
        eps[src].device().advance_time(1)?;
        let t = eps[src].device().now();
        if eps[dst].recv()?.is_some() {
            return Ok(t - t0);
        }
    }
    bail!("packet {src} -> {dst} not delivered in 10000 cycles")
}

struct Run {
    cycles: u64,
    delivered_in_window: u64,
    delivered: u64,
    doorbells: u64,
    lost: usize,
}

/// Uniform random traffic at saturation; `batch` packets per doorbell at most.
fn saturate(
    mesh: MeshGeometry,
    payload_flits: usize,
    batch: usize,
    warmup: u64,
    window: u64,
    seed: u64,
) -> Result<Run> {
    let mut eps = open(mesh)?;
    let n = eps.len();
    let ids: Vec<NodeId> = (0..n).map(|i| mesh.id_at(i)).collect();
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut sb = Scoreboard::new();
    let mut queues: Vec<Vec<(PacketHeader, Vec<u64>)>> = vec![vec![]; n];
    let start = eps[0].device().now();
    let (mut in_window, mut delivered) = (0u64, 0u64);
    let refill = |sb: &mut Scoreboard,
                  q: &mut Vec<(PacketHeader, Vec<u64>)>,
                  i: usize,
                  rng: &mut SmallRng| {
        while q.len() < 2 * batch {
            let mut d = rng.gen_range(0..n - 1);
            if d >= i {
                d += 1;
            }
            let (src, dest) = (ids[i], ids[d]);
            let seq = sb.next_seq(src, dest);
            let mut h = PacketHeader::unicast(dest, seq, payload_flits as u8);
            h.src = src.0;
            let p: Vec<u64> = (0..payload_flits)
                .map(|k| payload_flit(src, dest, seq, k, 64))
                .collect();
            sb.on_send(h, p.clone(), 0);
            q.push((h, p));
        }
    };
    loop {
        let now = eps[0].device().now() - start;
        let sending = now < warmup + window;
        if !sending && sb.outstanding() == 0 && queues.iter().all(|q| q.is_empty()) {
            break;
        }
        if now > warmup + window + 200_000 {
            break; // drain limit: whatever is left is reported lost
        }
        for i in 0..n {
            if sending {
                refill(&mut sb, &mut queues[i], i, &mut rng);
            }
            if !queues[i].is_empty() {
                let k = eps[i].send_batch(&queues[i][..batch.min(queues[i].len())])?;
                queues[i].drain(..k);
            }
            let t = eps[0].device().now() - start;
            for p in eps[i].recv_batch(4 * batch)? {
                sb.on_deliver(&Delivered::from_host(ids[i], p, t));
                delivered += 1;
                if (warmup..warmup + window).contains(&t) {
                    in_window += 1;
                }
            }
        }
        eps[0].device().advance_time(4)?;
    }
    let doorbells = eps.iter().map(|e| e.stats().doorbells).sum();
    let report = sb.finish();
    Ok(Run {
        cycles: eps[0].device().now(),
        delivered_in_window: in_window,
        delivered,
        doorbells,
        lost: report.findings.len(),
    })
}

/// Runs the host-interface benchmark and prints JSON.
pub fn host(
    mesh: MeshGeometry,
    payload_flits: usize,
    measure_cycles: u64,
    seed: u64,
) -> Result<()> {
    let out = measure(mesh, payload_flits, measure_cycles, seed)?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    if out.lost_packets != 0 {
        bail!("{} packets lost or damaged", out.lost_packets);
    }
    Ok(())
}

/// Runs the host-interface benchmark.
pub fn measure(
    mesh: MeshGeometry,
    payload_flits: usize,
    measure_cycles: u64,
    seed: u64,
) -> Result<HostBench> {
    if !(1..=30).contains(&payload_flits) {
        bail!("payload of {payload_flits} flits: use 1..=30 (256-byte packets at most)");
    }
    let wall = Instant::now();
    let mut eps = open(mesh)?;
    let payload: Vec<u64> = (0..payload_flits as u64).collect();
    let last = eps.len() - 1;
    let one_hop = latency(&mut eps, 0, 1, &payload)?;
    let farthest = latency(&mut eps, 0, last, &payload)?;
    let farthest_hops = mesh
        .hops(mesh.id_at(0), mesh.id_at(last))
        .context("farthest pair")?;
    let mut cycles = eps[0].device().now();
    drop(eps);
    let warmup = measure_cycles / 4;
    let batched = saturate(mesh, payload_flits, 16, warmup, measure_cycles, seed)?;
    let single = saturate(mesh, payload_flits, 1, warmup, measure_cycles, seed)?;
    cycles += batched.cycles + single.cycles;
    let nodes = mesh.nodes() as f64;
    let out = HostBench {
        mesh: format!("{}x{}", mesh.width(), mesh.height()),
        payload_flits,
        packet_bytes: 8 * (payload_flits + 1),
        host_to_host_latency_cycles: Latency {
            one_hop,
            farthest_pair: farthest,
            farthest_hops,
        },
        packets_per_node_per_kcycle: batched.delivered_in_window as f64
            / nodes
            / (measure_cycles as f64 / 1000.0),
        doorbells_per_packet: batched.doorbells as f64 / batched.delivered.max(1) as f64,
        doorbells_per_packet_unbatched: single.doorbells as f64 / single.delivered.max(1) as f64,
        measured_cycles: measure_cycles,
        delivered_packets: batched.delivered,
        lost_packets: batched.lost + single.lost,
        sim_cycles_per_second: cycles as f64 / wall.elapsed().as_secs_f64(),
    };
    Ok(out)
}
