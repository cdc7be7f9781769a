//! Offered-load runs: Bernoulli sources, a measured window (or, in
//! [`run_traffic_steady`], warm-up and sample windows until the averages
//! converge), a full drain.

use crate::{Pattern, Report, Scoreboard};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use replimesh_regs::PacketHeader;
use replimesh_sim::{Fabric, Packet, SimError};
use replimesh_spec::{MeshGeometry, NodeId};

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

/// One cycle of the sources: each node, in index order, starts a packet with
/// probability `p_packet` (a Bernoulli process per node per cycle) to the
/// pattern's destination and appends it to its unbounded source queue.
fn inject(
    fabric: &mut Fabric,
    sb: &mut Scoreboard,
    rng: &mut SmallRng,
    pattern: Pattern,
    p_packet: f64,
    packet_flits: usize,
) -> Result<(), SimError> {
    let g = fabric.geometry();
    for i in 0..g.nodes() as usize {
        if rng.gen_bool(p_packet) {
            let src = g.id_at(i);
            if let Some(dest) = pattern.destination(&g, src, rng) {
                let p = make_packet(sb, fabric, src, dest, packet_flits);
                fabric.send(src, &p)?;
            }
        }
    }
    Ok(())
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
        inject(
            fabric,
            sb,
            &mut rng,
            cfg.pattern,
            p_packet,
            cfg.packet_flits,
        )?;
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

/// A steady-state run, sampled the way BookSim samples (Jiang et al.,
/// *A detailed and flexible cycle-accurate network-on-chip simulator*,
/// ISPASS 2013): warm-up windows until two in a row agree, then measured
/// windows until the running averages stop moving, with caps on both.
#[derive(Debug, Clone, Copy)]
pub struct SteadyConfig {
    /// Destination pattern.
    pub pattern: Pattern,
    /// Flits per packet, header included.
    pub packet_flits: usize,
    /// Offered load in flits per node per cycle.
    pub offered: f64,
    /// RNG seed.
    pub seed: u64,
    /// Length of one sample window, warm-up and measurement alike.
    pub window_cycles: u64,
    /// Warm-up windows at most; warm-up ends earlier when a window's mean
    /// latency and accepted load (of packets arriving in it) are both within
    /// `tolerance` of the previous window's.
    pub max_warmup_windows: u32,
    /// Measured windows at most.
    pub max_windows: u32,
    /// Converged: this many windows in a row each moved the running mean
    /// latency and running accepted load by less than `tolerance`.
    pub converge_windows: u32,
    /// Relative change, `|now - before| / now`.
    pub tolerance: f64,
    /// A running (or warm-up window) mean latency above this many cycles
    /// ends the run as unstable: the point is past saturation. (Unstable in
    /// warm-up, the run still measures one window.)
    pub latency_limit_cycles: f64,
    /// Cycles allowed to drain every packet after injection stops.
    pub drain_limit_cycles: u64,
}

/// What a steady-state run measured.
#[derive(Debug, Clone)]
pub struct SteadyResult {
    /// Flits accepted per node per cycle over the measured windows.
    pub accepted: f64,
    /// Mean latency (generation to tail delivered, source queueing
    /// included) of packets generated in the measured windows.
    pub avg_latency: f64,
    /// 99th percentile of the same.
    pub p99_latency: f64,
    /// Mean hop count of those packets.
    pub avg_hops: f64,
    /// Packets the averages are over.
    pub packets_measured: usize,
    /// Warm-up windows run.
    pub warmup_windows: u32,
    /// Warm-up ended on the agreement test (not on the cap).
    pub warmed_up: bool,
    /// Measured windows run.
    pub windows: u32,
    /// The convergence test passed before the cap.
    pub converged: bool,
    /// A mean latency passed `latency_limit_cycles`.
    pub unstable: bool,
    /// Per measured window: mean latency of packets arriving in it.
    pub window_latency: Vec<f64>,
    /// Per measured window: flits arriving per node per cycle.
    pub window_accepted: Vec<f64>,
    /// Cycles simulated, drain included.
    pub cycles: u64,
    /// Scoreboard verdict after the drain.
    pub report: Report,
}

/// `|now - before| / now` (0 when both are 0).
fn relative_change(now: f64, before: f64) -> f64 {
    if now == 0.0 {
        if before == 0.0 {
            0.0
        } else {
            1.0
        }
    } else {
        ((now - before) / now).abs()
    }
}

/// The stopping rule: `needed` samples in a row, each within `tolerance`
/// (relative) of the one before, in both latency and accepted load.
#[derive(Debug, Clone)]
struct Steadiness {
    tolerance: f64,
    needed: u32,
    prev: Option<(f64, f64)>,
    streak: u32,
}

impl Steadiness {
    fn new(tolerance: f64, needed: u32) -> Steadiness {
        Steadiness {
            tolerance,
            needed: needed.max(1),
            prev: None,
            streak: 0,
        }
    }

    /// Takes a sample `(latency, accepted)`; true once steady.
    fn push(&mut self, now: (f64, f64)) -> bool {
        if let Some(p) = self.prev {
            if relative_change(now.0, p.0) < self.tolerance
                && relative_change(now.1, p.1) < self.tolerance
            {
                self.streak += 1;
            } else {
                self.streak = 0;
            }
        }
        self.prev = Some(now);
        self.streak >= self.needed
    }
}

/// Runs `cfg` on `fabric` (which must be idle): Bernoulli sources as in
/// [`run_traffic`], warm-up and measured windows as [`SteadyConfig`] says,
/// then a drain that must deliver everything.
pub fn run_traffic_steady(
    fabric: &mut Fabric,
    cfg: &SteadyConfig,
    sb: &mut Scoreboard,
) -> Result<SteadyResult, SimError> {
    let g = fabric.geometry();
    let hf = PacketHeader::header_flits(fabric.flit_bits()) as u64;
    let nodes = g.nodes() as f64;
    let window = cfg.window_cycles.max(1);
    let mut rng = SmallRng::seed_from_u64(cfg.seed);
    let p_packet = (cfg.offered / cfg.packet_flits as f64).min(1.0);
    let start = fabric.cycle();
    // Every delivery from the start of measurement: (sent, tail, hops, flits).
    let mut measured: Vec<(u64, u64, u32, u64)> = vec![];
    // One window with injection on: (sum of latencies, packets, flits) of
    // what arrived in it.
    let mut window_run = |fabric: &mut Fabric,
                          sb: &mut Scoreboard,
                          measured: &mut Vec<(u64, u64, u32, u64)>,
                          measuring_from: Option<u64>|
     -> Result<(u64, u64, u64), SimError> {
        let (mut lat, mut n, mut flits) = (0u64, 0u64, 0u64);
        for _ in 0..window {
            inject(
                fabric,
                sb,
                &mut rng,
                cfg.pattern,
                p_packet,
                cfg.packet_flits,
            )?;
            fabric.step()?;
            for d in fabric.drain_delivered() {
                let f = d.payload.len() as u64 + hf;
                flits += f;
                if let Some(sent) = sb.on_deliver(&d) {
                    lat += d.tail_cycle - sent;
                    n += 1;
                    if measuring_from.is_some() {
                        let hops = d
                            .header
                            .ok()
                            .and_then(|h| g.hops(NodeId(h.src), NodeId(h.dest)))
                            .unwrap_or(0);
                        measured.push((sent, d.tail_cycle, hops, f));
                    }
                }
            }
        }
        Ok((lat, n, flits))
    };
    let mean = |lat: u64, n: u64| if n == 0 { 0.0 } else { lat as f64 / n as f64 };
    let rate = |flits: u64, cycles: u64| flits as f64 / (nodes * cycles as f64);

    let mut unstable = false;
    let mut warmed_up = false;
    let mut warmup_windows = 0;
    let mut rule = Steadiness::new(cfg.tolerance, 1);
    while warmup_windows < cfg.max_warmup_windows {
        let (lat, n, flits) = window_run(fabric, sb, &mut measured, None)?;
        warmup_windows += 1;
        let now = (mean(lat, n), rate(flits, window));
        if now.0 > cfg.latency_limit_cycles {
            unstable = true;
            break;
        }
        if rule.push(now) {
            warmed_up = true;
            break;
        }
    }

    let from = fabric.cycle();
    let (mut windows, mut converged) = (0u32, false);
    let mut rule = Steadiness::new(cfg.tolerance, cfg.converge_windows);
    let (mut lat_sum, mut n_sum, mut flit_sum) = (0u64, 0u64, 0u64);
    let mut window_latency = vec![];
    let mut window_accepted = vec![];
    // Unstable already in warm-up: one measured window still describes the
    // point (what it accepts, how long its packets wait), without a
    // convergence test.
    let unstable_in_warmup = unstable;
    while windows < cfg.max_windows.max(1) {
        let (lat, n, flits) = window_run(fabric, sb, &mut measured, Some(from))?;
        windows += 1;
        window_latency.push(mean(lat, n));
        window_accepted.push(rate(flits, window));
        lat_sum += lat;
        n_sum += n;
        flit_sum += flits;
        if unstable_in_warmup {
            break;
        }
        let now = (
            mean(lat_sum, n_sum),
            rate(flit_sum, window * windows as u64),
        );
        if now.0 > cfg.latency_limit_cycles {
            unstable = true;
            break;
        }
        if rule.push(now) {
            converged = true;
            break;
        }
    }
    let to = fabric.cycle();

    let drain_end = fabric.cycle() + cfg.drain_limit_cycles;
    while sb.outstanding() > 0 && fabric.cycle() < drain_end {
        fabric.step()?;
        for d in fabric.drain_delivered() {
            if let Some(sent) = sb.on_deliver(&d) {
                let hops = d
                    .header
                    .ok()
                    .and_then(|h| g.hops(NodeId(h.src), NodeId(h.dest)))
                    .unwrap_or(0);
                measured.push((sent, d.tail_cycle, hops, d.payload.len() as u64 + hf));
            }
        }
    }
    let span = (to - from).max(1);
    let accepted_flits: u64 = measured
        .iter()
        .filter(|m| (from..to).contains(&m.1))
        .map(|m| m.3)
        .sum();
    let mut latencies: Vec<u64> = vec![];
    let mut hops_sum = 0u64;
    for m in measured.iter().filter(|m| (from..to).contains(&m.0)) {
        latencies.push(m.1 - m.0);
        hops_sum += m.2 as u64;
    }
    let n = latencies.len().max(1) as f64;
    let avg = latencies.iter().sum::<u64>() as f64 / n;
    latencies.sort_unstable();
    let p99 = latencies
        .get(((latencies.len() as f64) * 0.99) as usize)
        .copied()
        .unwrap_or(0) as f64;
    let report = std::mem::take(sb).finish();
    Ok(SteadyResult {
        accepted: rate(accepted_flits, span),
        avg_latency: avg,
        p99_latency: p99,
        avg_hops: hops_sum as f64 / n,
        packets_measured: latencies.len(),
        warmup_windows,
        warmed_up,
        windows,
        converged,
        unstable,
        window_latency,
        window_accepted,
        cycles: fabric.cycle() - start,
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
    /// Every pair measured.
    pub pairs: Vec<PairLatency>,
}

/// One pair's zero-load latency.
#[derive(Debug, Clone, Copy)]
pub struct PairLatency {
    /// Source.
    pub src: NodeId,
    /// Destination.
    pub dest: NodeId,
    /// Minimal hops between them.
    pub hops: u32,
    /// Head injected to tail delivered, cycles.
    pub latency: u64,
}

/// Zero-load figures for one traffic pattern.
#[derive(Debug, Clone, Copy)]
pub struct PatternZeroLoad {
    /// Mean latency of the pattern's packets, each pair weighted by how
    /// often the pattern sends on it (every sending node at the same rate).
    pub avg_latency: f64,
    /// Mean hops, weighted the same way.
    pub avg_hops: f64,
}

impl ZeroLoad {
    /// The averages over the pairs `pattern` uses, weighted by
    /// [`Pattern::distribution`]; `None` when a pair it uses was not
    /// measured (lost at zero load) or it sends nothing.
    pub fn for_pattern(&self, g: &MeshGeometry, pattern: Pattern) -> Option<PatternZeroLoad> {
        let (mut lat, mut hops, mut sources) = (0.0, 0.0, 0usize);
        for s in g.node_ids() {
            let dist = pattern.distribution(g, s);
            if dist.is_empty() {
                continue;
            }
            sources += 1;
            for (d, p) in dist {
                let pair = self.pairs.iter().find(|x| x.src == s && x.dest == d)?;
                lat += p * pair.latency as f64;
                hops += p * pair.hops as f64;
            }
        }
        (sources > 0).then(|| PatternZeroLoad {
            avg_latency: lat / sources as f64,
            avg_hops: hops / sources as f64,
        })
    }
}

/// Sends one packet per ordered pair, alone in the mesh, and fits latency to hops.
pub fn zero_load(fabric: &mut Fabric, packet_flits: usize) -> Result<(ZeroLoad, Report), SimError> {
    let g = fabric.geometry();
    let mut sb = Scoreboard::new();
    let mut samples = vec![];
    let mut pairs = vec![];
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
                let hops = g.hops(s, d).unwrap_or(0);
                let latency = delivered.tail_cycle - sent;
                samples.push((hops as f64, latency as f64));
                pairs.push(PairLatency {
                    src: s,
                    dest: d,
                    hops,
                    latency,
                });
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
            pairs,
        },
        sb.finish(),
    ))
}

#[cfg(test)]
mod tests {
    use super::Steadiness;

    fn samples_until_steady(rule: &mut Steadiness, xs: &[(f64, f64)]) -> Option<usize> {
        xs.iter().position(|&x| rule.push(x)).map(|i| i + 1)
    }

    #[test]
    fn flat_samples_are_steady_after_the_streak() {
        let flat = [(10.0, 0.5); 8];
        assert_eq!(
            samples_until_steady(&mut Steadiness::new(0.05, 3), &flat),
            Some(4)
        );
        assert_eq!(
            samples_until_steady(&mut Steadiness::new(0.05, 1), &flat),
            Some(2)
        );
    }

    #[test]
    fn growing_latency_never_converges() {
        // Past saturation latency grows by 10 % a window; accepted is flat.
        let grow: Vec<(f64, f64)> = (0..20).map(|i| (10.0 * 1.1f64.powi(i), 0.6)).collect();
        assert_eq!(
            samples_until_steady(&mut Steadiness::new(0.05, 3), &grow),
            None
        );
    }

    #[test]
    fn a_jump_restarts_the_streak() {
        // Two steady samples, a jump in accepted load, then steady again:
        // the streak counts from the jump.
        let xs = [
            (10.0, 0.5),
            (10.1, 0.5),
            (10.2, 0.5),
            (10.2, 0.7),
            (10.2, 0.7),
            (10.3, 0.7),
            (10.3, 0.7),
        ];
        assert_eq!(
            samples_until_steady(&mut Steadiness::new(0.05, 3), &xs),
            Some(7)
        );
    }

    #[test]
    fn the_tolerance_is_relative() {
        // 4 % steps pass at 5 %, fail at 3 %.
        let xs: Vec<(f64, f64)> = (0..6).map(|i| (100.0 * 1.04f64.powi(i), 1.0)).collect();
        assert_eq!(
            samples_until_steady(&mut Steadiness::new(0.05, 2), &xs),
            Some(3)
        );
        assert_eq!(
            samples_until_steady(&mut Steadiness::new(0.03, 2), &xs),
            None
        );
    }
}
