//! `meshctl bench noc`: a load sweep on the Verilator model.
//!
//! Each load point is a steady-state run sampled as BookSim samples
//! (`replimesh_scoreboard::run_traffic_steady`): warm-up windows until two in
//! a row agree within the tolerance, then measured windows until the running
//! mean latency and accepted load have each moved less than the tolerance
//! for three windows in a row, with caps on both. The JSON's `method` says
//! exactly what was run; docs/performance.md explains the figures.

use anyhow::{bail, Context, Result};
use replimesh_scoreboard::bound::{bisection_bound, dor_pattern_bound, ThroughputBound};
use replimesh_scoreboard::{
    run_traffic_steady, zero_load, Pattern, Scoreboard, SteadyConfig, ZeroLoad,
};
use replimesh_sim::Fabric;
use replimesh_spec::MeshGeometry;
use serde::Serialize;
use std::time::Instant;

/// One load point.
#[derive(Serialize, Clone)]
pub struct Point {
    /// Offered load, flits per node per cycle.
    pub offered: f64,
    /// Accepted load over the measured windows, flits per node per cycle.
    pub accepted: f64,
    /// Mean latency of packets generated in the measured windows, cycles.
    pub avg_latency: f64,
    /// 99th percentile of the same.
    pub p99_latency: f64,
    /// Packets the latencies are over.
    pub packets_measured: usize,
    /// Warm-up windows run.
    pub warmup_windows: u32,
    /// Warm-up ended because two windows agreed (not on the cap).
    pub warmed_up: bool,
    /// Measured windows.
    pub windows: u32,
    /// The convergence test passed before the cap.
    pub converged: bool,
    /// A mean latency passed the run's limit: past saturation.
    pub unstable: bool,
    /// Mean latency of the packets arriving in each measured window.
    pub window_avg_latency: Vec<f64>,
}

/// How the sweep measured (the `method` object of the JSON).
#[derive(Serialize, Clone)]
pub struct Method {
    /// The injection process.
    pub injection: String,
    /// Where packets wait before entering the router.
    pub source_queue: String,
    /// What a latency is.
    pub latency: String,
    /// Length of each warm-up and measured window.
    pub window_cycles: u64,
    /// When warm-up ends.
    pub warmup: String,
    /// Warm-up windows at most.
    pub max_warmup_windows: u32,
    /// When measurement ends.
    pub convergence: String,
    /// Measured windows at most.
    pub max_windows: u32,
    /// Windows in a row that must agree.
    pub converge_windows: u32,
    /// Relative change allowed between windows.
    pub tolerance: f64,
    /// A point stops as unstable past this multiple of zero-load latency.
    pub unstable_latency_factor: f64,
    /// How the sweep steps and what "saturation" means.
    pub saturation: String,
    /// First coarse step, then the fine step.
    pub coarse_step: f64,
    /// Fine step from the last point below the latency limit.
    pub fine_step: f64,
    /// RNG seed.
    pub seed: u64,
    /// Routes in use.
    pub routes: String,
}

/// The JSON `bench noc` prints.
#[derive(Serialize, Clone)]
pub struct NocBench {
    pub mesh: String,
    pub pattern: String,
    pub packet_flits: usize,
    pub flit_bits: u32,
    /// Zero-load latency of this pattern's packets (pairs weighted as the
    /// pattern sends on them).
    pub zero_load_latency_cycles: f64,
    /// Mean hops of this pattern's packets.
    pub avg_hops: f64,
    /// Slope of zero-load latency against hops, fitted over every pair.
    pub cycles_per_hop: f64,
    /// Highest accepted load among points within 3x zero-load latency.
    pub saturation_throughput: f64,
    pub curve: Vec<Point>,
    pub sim_cycles_per_second: f64,
    /// The model alone, idle mesh: what the harness and scoreboard cost shows
    /// as the gap to `sim_cycles_per_second`.
    pub model_idle_cycles_per_second: f64,
    pub lost_packets: usize,
    /// Zero-load latency over every ordered pair (what
    /// `zero_load_latency_cycles` reported before it followed the pattern).
    pub zero_load_latency_all_pairs_cycles: f64,
    /// Mean hops over every ordered pair.
    pub avg_hops_all_pairs: f64,
    /// Zero-hop latency implied by the fit (injection plus ejection).
    pub zero_load_fixed_cycles: f64,
    /// Offered load of the point `saturation_throughput` was taken at.
    pub saturation_offered: f64,
    /// The pattern's analytic bound: the busiest channel under the
    /// dimension-order routes the mesh resets to.
    pub throughput_bound: ThroughputBound,
    /// The bisection bound of the same traffic (offered flits/node/cycle).
    pub bisection_bound: f64,
    /// `saturation_throughput / throughput_bound.accepted_flits_per_node_cycle`.
    pub saturation_fraction_of_bound: f64,
    /// Points whose convergence test passed, of all points.
    pub points_converged: usize,
    pub method: Method,
    /// Cycles the sweep simulated (zero-load pass excluded).
    pub sim_cycles: u64,
    /// Seconds the sweep took.
    pub sweep_seconds: f64,
}

/// What to run.
#[derive(Clone)]
pub struct NocOptions {
    pub mesh: MeshGeometry,
    pub pattern: Pattern,
    pub packet_flits: usize,
    /// Window length (`--measure-cycles`).
    pub window_cycles: u64,
    pub seed: u64,
    pub max_warmup_windows: u32,
    pub max_windows: u32,
    pub converge_windows: u32,
    pub tolerance: f64,
    pub coarse_step: f64,
    pub fine_step: f64,
    /// Seconds of idle stepping for `model_idle_cycles_per_second`.
    pub idle_seconds: f64,
}

impl NocOptions {
    /// The defaults of `meshctl bench noc`.
    pub fn new(mesh: MeshGeometry, pattern: Pattern, packet_flits: usize) -> NocOptions {
        NocOptions {
            mesh,
            pattern,
            packet_flits,
            window_cycles: 4000,
            seed: 1,
            max_warmup_windows: 10,
            max_windows: 10,
            converge_windows: 3,
            tolerance: 0.05,
            coarse_step: 0.1,
            fine_step: 0.02,
            idle_seconds: 2.0,
        }
    }
}

/// A point stops as unstable when a mean latency passes this multiple of
/// the pattern's zero-load latency (the saturation rule's limit is 3x).
const UNSTABLE_FACTOR: f64 = 10.0;

/// Zero-load pass: one packet at a time over every ordered pair, which
/// [`measure`] weights per pattern. Fails on any scoreboard finding.
pub fn zero_load_pass(fabric: &mut Fabric, packet_flits: usize) -> Result<ZeroLoad> {
    let (z, zr) = zero_load(fabric, packet_flits)?;
    if !zr.is_clean() {
        bail!("zero-load run lost or corrupted packets: {:?}", zr.findings);
    }
    Ok(z)
}

/// Steps the idle model for about `seconds` (at least 1000 cycles, at most
/// 20 000) and returns cycles per second.
pub fn idle_speed(fabric: &mut Fabric, seconds: f64) -> Result<f64> {
    fabric.reset()?;
    let started = Instant::now();
    let mut cycles = 0u64;
    while cycles < 20_000 && (cycles < 1000 || started.elapsed().as_secs_f64() < seconds) {
        fabric.step_n(250)?;
        cycles += 250;
    }
    Ok(cycles as f64 / started.elapsed().as_secs_f64())
}

/// Sweeps offered load, coarse then fine around saturation; `zero` reuses a
/// zero-load pass of the same mesh and packet size (it does not depend on
/// the pattern); `progress` hears about each point.
pub fn measure(
    opts: &NocOptions,
    zero: Option<&ZeroLoad>,
    progress: &mut dyn FnMut(&str),
) -> Result<NocBench> {
    let flit_bits = 64;
    let mesh = opts.mesh;
    let pattern = opts.pattern;
    let mut fabric = Fabric::new(mesh, flit_bits).context("building the Verilator model")?;
    let own;
    let z = match zero {
        Some(z) => z,
        None => {
            progress("zero-load pass");
            own = zero_load_pass(&mut fabric, opts.packet_flits)?;
            &own
        }
    };
    let pz = z
        .for_pattern(&mesh, pattern)
        .context("the pattern uses a pair the zero-load pass did not deliver")?;
    let bound = dor_pattern_bound(&mesh, pattern);
    let bisection = bisection_bound(&mesh, |s| pattern.distribution(&mesh, s));
    let limit = 3.0 * pz.avg_latency;
    let mut curve: Vec<Point> = vec![];
    let mut sim_cycles = 0u64;
    let mut lost = 0;
    let started = Instant::now();
    let mut run = |offered: f64, fabric: &mut Fabric, curve: &mut Vec<Point>| -> Result<f64> {
        progress(&format!("offered {offered:.2}"));
        fabric.reset()?;
        let cfg = SteadyConfig {
            pattern,
            packet_flits: opts.packet_flits,
            offered,
            seed: opts.seed,
            window_cycles: opts.window_cycles,
            max_warmup_windows: opts.max_warmup_windows,
            max_windows: opts.max_windows,
            converge_windows: opts.converge_windows,
            tolerance: opts.tolerance,
            latency_limit_cycles: UNSTABLE_FACTOR * pz.avg_latency,
            drain_limit_cycles: 2_000_000,
        };
        let r = run_traffic_steady(fabric, &cfg, &mut Scoreboard::new())?;
        sim_cycles += r.cycles;
        lost += r.report.findings.len();
        curve.push(Point {
            offered,
            accepted: r.accepted,
            avg_latency: r.avg_latency,
            p99_latency: r.p99_latency,
            packets_measured: r.packets_measured,
            warmup_windows: r.warmup_windows,
            warmed_up: r.warmed_up,
            windows: r.windows,
            converged: r.converged,
            unstable: r.unstable,
            window_avg_latency: r.window_latency,
        });
        Ok(r.avg_latency)
    };
    let (mut best, mut best_offered) = (0.0f64, 0.0f64);
    let mut last_ok = 0.0;
    let mut step = opts.coarse_step;
    let mut offered = opts.coarse_step;
    let mut fine = false;
    // The lowest offered load that failed: the fine steps stop below it.
    let mut failed_at = f64::INFINITY;
    while offered <= 1.0 + 1e-9 && offered < failed_at - 1e-9 {
        let offered_now = (offered * 1e6).round() / 1e6;
        let lat = run(offered_now, &mut fabric, &mut curve)?;
        let ok = lat <= limit && curve.last().is_some_and(|p| !p.unstable);
        if !ok {
            failed_at = failed_at.min(offered_now);
        }
        if ok {
            last_ok = offered_now;
            let acc = curve.last().map(|p| p.accepted).unwrap_or(0.0);
            if acc > best {
                best = acc;
                best_offered = offered_now;
            }
            offered += step;
        } else if !fine && opts.fine_step < step - 1e-9 {
            fine = true;
            step = opts.fine_step;
            offered = last_ok + step;
        } else {
            break;
        }
    }
    curve.sort_by(|a, b| a.offered.total_cmp(&b.offered));
    let secs = started.elapsed().as_secs_f64();
    progress("idle model speed");
    let idle = idle_speed(&mut fabric, opts.idle_seconds)?;
    let bound_acc = bound.accepted_flits_per_node_cycle;
    Ok(NocBench {
        mesh: format!("{}x{}", mesh.width(), mesh.height()),
        pattern: pattern.name().to_string(),
        packet_flits: opts.packet_flits,
        flit_bits,
        zero_load_latency_cycles: pz.avg_latency,
        avg_hops: pz.avg_hops,
        cycles_per_hop: z.cycles_per_hop,
        saturation_throughput: best,
        points_converged: curve.iter().filter(|p| p.converged).count(),
        curve,
        sim_cycles_per_second: sim_cycles as f64 / secs,
        model_idle_cycles_per_second: idle,
        lost_packets: lost,
        zero_load_latency_all_pairs_cycles: z.avg_latency,
        avg_hops_all_pairs: z.avg_hops,
        zero_load_fixed_cycles: z.fixed_cycles,
        saturation_offered: best_offered,
        saturation_fraction_of_bound: if bound_acc > 0.0 { best / bound_acc } else { 0.0 },
        throughput_bound: bound,
        bisection_bound: bisection,
        method: Method {
            injection: format!(
                "Bernoulli per node per cycle: each node starts a {}-flit packet with probability offered/{} (a node the pattern maps to itself sends nothing)",
                opts.packet_flits, opts.packet_flits
            ),
            source_queue: "unbounded FIFO per node in the harness; flits enter the router's local input one per cycle as its credits allow".into(),
            latency: "cycle the packet is generated (enters the source queue) to the cycle its tail leaves the destination router: source queueing included".into(),
            window_cycles: opts.window_cycles,
            warmup: "windows until the mean latency and the accepted load of the packets arriving in a window are both within the tolerance of the previous window's".into(),
            max_warmup_windows: opts.max_warmup_windows,
            convergence: "measured windows until the running mean latency and running accepted load (arrivals since measurement began) have each moved less than the tolerance for converge_windows windows in a row; reported latencies are of packets generated in the measured windows, after a full drain".into(),
            max_windows: opts.max_windows,
            converge_windows: opts.converge_windows,
            tolerance: opts.tolerance,
            unstable_latency_factor: UNSTABLE_FACTOR,
            saturation: "offered load steps by coarse_step from coarse_step until a point fails (mean latency above 3x the pattern's zero-load latency, or unstable), then by fine_step from the last good point up to the failed one; saturation_throughput is the highest accepted load among the good points".into(),
            coarse_step: opts.coarse_step,
            fine_step: opts.fine_step,
            seed: opts.seed,
            routes: "dimension order, X then Y (the reset tables, replimesh_spec::dor_route primaries)".into(),
        },
        sim_cycles,
        sweep_seconds: secs,
    })
}

/// `meshctl bench noc`: measures and prints the JSON.
pub fn noc(opts: &NocOptions) -> Result<()> {
    let out = measure(opts, None, &mut |_| {})?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    if out.lost_packets > 0 {
        bail!("{} scoreboard findings during the sweep", out.lost_packets);
    }
    Ok(())
}
