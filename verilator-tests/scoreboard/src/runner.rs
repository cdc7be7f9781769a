//! Offered-load runs: Bernoulli sources, a measured window, a full drain.

use crate::{Pattern, Report, Scoreboard};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use replimesh_regs::PacketHeader;
use replimesh_sim::{Fabric, Packet, SimError};
use replimesh_spec::NodeId;

/// One offered-load run.
#[derive(Debug, Clone, Copy)]
pub struct TrafficConfig {
    /// Destination pattern.
    pub pattern: Pattern,
    /// Flits per packet, header included.
    pub packet_flits: usize,
    /// Offered load in flits per node per cycle.
    pub offered: f64,
    /// Cycles before measuring.
    pub warmup_cycles: u64,
    /// Cycles measured.
    pub measure_cycles: u64,
    /// Cycles allowed to drain every packet after injection stops.
    pub drain_limit_cycles: u64,
    /// RNG seed (printed by tests so a run can be replayed).
    pub seed: u64,
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct TrafficResult {
    /// Flits accepted per node per cycle in the measured window.
    pub accepted: f64,
    /// Mean latency (generation to tail delivered) of packets generated in the window.
    pub avg_latency: f64,
    /// 99th percentile of the same.
    pub p99_latency: f64,
    /// Mean hop count of measured packets.
    pub avg_hops: f64,
    /// Cycles simulated.
    pub cycles: u64,
    /// Packets delivered per node (dense index), whole run.
    pub delivered_per_node: Vec<u64>,
    /// Scoreboard verdict after the drain.
    pub report: Report,
}

/// Payload flit `i` of a packet: a function of its identity, so corruption
/// and misdelivery show.
pub fn payload_flit(src: NodeId, dest: NodeId, seq: u16, i: usize, flit_bits: u32) -> u64 {
    let x = (src.0 as u64) << 40 ^ (dest.0 as u64) << 32 ^ (seq as u64) << 8 ^ i as u64;
    let h = x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ x;
    if flit_bits == 32 {
        h & 0xFFFF_FFFF
    } else {
        h
    }
}

/// Makes a unicast packet of `packet_flits` flits and records it.
pub fn make_packet(
    sb: &mut Scoreboard,
    fabric: &Fabric,
    src: NodeId,
    dest: NodeId,
    packet_flits: usize,
) -> Packet {
    let hf = PacketHeader::header_flits(fabric.flit_bits());
    let len = packet_flits.saturating_sub(hf);
    let seq = sb.next_seq(src, dest);
    let mut header = PacketHeader::unicast(dest, seq, len as u8);
    header.src = src.0;
    let payload: Vec<u64> = (0..len)
        .map(|i| payload_flit(src, dest, seq, i, fabric.flit_bits()))
        .collect();
    sb.on_send(header, payload.clone(), fabric.cycle());
    Packet { header, payload }
}

/// Makes a fan-out packet from `src` of `packet_flits` flits (header
/// included) on the pattern of `template` (kind, `dest` group, scope,
/// loopback), numbers it, and records that each of `receivers` must get one
/// copy (pass several alternatives to [`Scoreboard::on_send_fanout_either`]
/// through [`make_fanout_packet_either`]).
pub fn make_fanout_packet(
    sb: &mut Scoreboard,
    fabric: &Fabric,
    src: NodeId,
    template: PacketHeader,
    packet_flits: usize,
    receivers: &[NodeId],
) -> Packet {
    make_fanout_packet_either(
        sb,
        fabric,
        src,
        template,
        packet_flits,
        &[receivers.to_vec()],
    )
}

/// As [`make_fanout_packet`], accepting any one of several receiver sets.
pub fn make_fanout_packet_either(
    sb: &mut Scoreboard,
    fabric: &Fabric,
    src: NodeId,
    template: PacketHeader,
    packet_flits: usize,
    alternatives: &[Vec<NodeId>],
) -> Packet {
    let hf = PacketHeader::header_flits(fabric.flit_bits());
    let len = packet_flits.saturating_sub(hf);
    let mut header = template;
    header.src = src.0;
    header.len = len as u8;
    header.seq = sb.next_fanout_seq(src, header.kind, header.dest);
    let tag = NodeId(header.dest ^ (header.kind as u8) << 5);
    let payload: Vec<u64> = (0..len)
        .map(|i| payload_flit(src, tag, header.seq, i, fabric.flit_bits()))
        .collect();
    sb.on_send_fanout_either(header, payload.clone(), fabric.cycle(), alternatives);
    Packet { header, payload }
}

/// Runs `cfg` on `fabric` (which must be idle) and drains it.
pub fn run_traffic(
    fabric: &mut Fabric,
    cfg: &TrafficConfig,
    sb: &mut Scoreboard,
) -> Result<TrafficResult, SimError> {
    let g = fabric.geometry();
    let mut rng = SmallRng::seed_from_u64(cfg.seed);
    let p_packet = (cfg.offered / cfg.packet_flits as f64).min(1.0);
    let start = fabric.cycle();
    let measure_from = start + cfg.warmup_cycles;
    let measure_to = measure_from + cfg.measure_cycles;
    let mut latencies = vec![];
    let mut hops_sum = 0u64;
    let mut flits_in_window = 0u64;
    let mut per_node = vec![0u64; g.nodes() as usize];
    let mut collect = |fabric: &mut Fabric,
                       sb: &mut Scoreboard,
                       latencies: &mut Vec<u64>,
                       hops_sum: &mut u64,
                       flits: &mut u64| {
        for d in fabric.drain_delivered() {
            if let Some(i) = g.index_of(d.node) {
                per_node[i] += 1;
            }
            if (measure_from..measure_to).contains(&d.tail_cycle) {
                *flits += (d.payload.len() + PacketHeader::header_flits(fabric.flit_bits())) as u64;
            }
            if let Some(sent) = sb.on_deliver(&d) {
                if (measure_from..measure_to).contains(&sent) {
                    latencies.push(d.tail_cycle - sent);
                    if let Ok(h) = d.header {
                        *hops_sum += g.hops(NodeId(h.src), NodeId(h.dest)).unwrap_or(0) as u64;
                    }
                }
            }
        }
    };
    while fabric.cycle() < measure_to {
        for i in 0..g.nodes() as usize {
            if rng.gen_bool(p_packet) {
                let src = g.id_at(i);
                if let Some(dest) = cfg.pattern.destination(&g, src, &mut rng) {
                    let p = make_packet(sb, fabric, src, dest, cfg.packet_flits);
                    fabric.send(src, &p)?;
                }
            }
        }
        fabric.step()?;
        collect(
            fabric,
            sb,
            &mut latencies,
            &mut hops_sum,
            &mut flits_in_window,
        );
    }
    let drain_end = fabric.cycle() + cfg.drain_limit_cycles;
    while sb.outstanding() > 0 && fabric.cycle() < drain_end {
        fabric.step()?;
        collect(
            fabric,
            sb,
            &mut latencies,
            &mut hops_sum,
            &mut flits_in_window,
        );
    }
    let n = latencies.len().max(1) as f64;
    let avg = latencies.iter().sum::<u64>() as f64 / n;
    let avg_hops = hops_sum as f64 / n;
    latencies.sort_unstable();
    let p99 = latencies
        .get(((latencies.len() as f64) * 0.99) as usize)
        .copied()
        .unwrap_or(0) as f64;
    let report = std::mem::take(sb).finish();
    Ok(TrafficResult {
        accepted: flits_in_window as f64 / (g.nodes() as f64 * cfg.measure_cycles as f64),
        avg_latency: avg,
        p99_latency: p99,
        avg_hops,
        cycles: fabric.cycle() - start,
        delivered_per_node: per_node,
        report,
    })
}

/// Zero-load latency measurement: one packet at a time, every pair.
#[derive(Debug, Clone)]
pub struct ZeroLoad {
    /// Mean latency over all pairs (head injected to tail delivered).
    pub avg_latency: f64,
    /// Mean hops over all pairs.
    pub avg_hops: f64,
    /// Slope of latency against hops (least squares).
    pub cycles_per_hop: f64,
    /// Latency at zero hops implied by the fit (injection + ejection).
    pub fixed_cycles: f64,
}

/// Sends one packet per ordered pair, alone in the mesh, and fits latency to hops.
pub fn zero_load(fabric: &mut Fabric, packet_flits: usize) -> Result<(ZeroLoad, Report), SimError> {
    let g = fabric.geometry();
    let mut sb = Scoreboard::new();
    let mut samples = vec![];
    for s in g.node_ids().collect::<Vec<_>>() {
        for d in g.node_ids().filter(|d| *d != s).collect::<Vec<_>>() {
            let p = make_packet(&mut sb, fabric, s, d, packet_flits);
            let sent = fabric.cycle();
            fabric.send(s, &p)?;
            let limit = sent + 1000;
            let mut got = None;
            while got.is_none() && fabric.cycle() < limit {
                fabric.step()?;
                got = fabric.recv(d);
            }
            if let Some(delivered) = got {
                sb.on_deliver(&delivered);
                samples.push((
                    g.hops(s, d).unwrap_or(0) as f64,
                    (delivered.tail_cycle - sent) as f64,
                ));
            }
        }
    }
    let n = samples.len().max(1) as f64;
    let mx = samples.iter().map(|s| s.0).sum::<f64>() / n;
    let my = samples.iter().map(|s| s.1).sum::<f64>() / n;
    let sxy: f64 = samples.iter().map(|s| (s.0 - mx) * (s.1 - my)).sum();
    let sxx: f64 = samples.iter().map(|s| (s.0 - mx) * (s.0 - mx)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    Ok((
        ZeroLoad {
            avg_latency: my,
            avg_hops: mx,
            cycles_per_hop: slope,
            fixed_cycles: my - slope * mx,
        },
        sb.finish(),
    ))
}
