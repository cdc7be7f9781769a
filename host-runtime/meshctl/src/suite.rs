//! `meshctl bench all --out DIR [--quick]`: every benchmark in this
//! process, one JSON file each, `index.json` listing them (and what was
//! skipped and why), and the SVG plots `bench report` embeds.
//!
//! The full run took 17 minutes on the shared 2-core development machine
//! (the 8x8 sweeps, whose model runs ~1 000 cycles/s there, and the router's
//! place and route, 4 minutes, are most of it); `--quick` about 30 seconds,
//! with the same files (8x8 and the hardware flow excepted: listed as
//! skipped) and the same JSON shape.

use crate::bench::{self, NocBench, NocOptions};
use crate::{bench_host, hw, multicast, plots, reroute, services};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use replimesh_scoreboard::{Pattern, ZeroLoad};
use replimesh_sim::Fabric;
use replimesh_spec::MeshGeometry;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What `bench all` runs.
pub struct SuiteOptions {
    /// Output folder.
    pub out: PathBuf,
    /// The two-minute version.
    pub quick: bool,
    /// Designs for `hw report` (empty: leave the hardware flow out).
    pub hw_designs: Vec<String>,
}

/// Packet sizes of the noc sweeps.
pub const PACKET_FLITS: [usize; 2] = [1, 4];
/// The mesh every speed ratio is taken against.
pub const REFERENCE_MESH: &str = "2x2";

/// One job of the suite.
enum Job {
    Noc {
        mesh: MeshGeometry,
        pattern: Pattern,
        flits: usize,
    },
    SimSpeed(Vec<MeshGeometry>),
    Multicast,
    Host,
    Discovery,
    Reroute,
    Hw,
}

impl Job {
    fn label(&self) -> String {
        match self {
            Job::Noc {
                mesh,
                pattern,
                flits,
            } => format!("noc {} {} {flits}-flit", mesh_name(mesh), pattern.name()),
            Job::SimSpeed(_) => "sim-speed".into(),
            Job::Multicast => "multicast 4x4".into(),
            Job::Host => "host 4x4".into(),
            Job::Discovery => "discovery 4x4".into(),
            Job::Reroute => "reroute 4x4".into(),
            Job::Hw => "hw report".into(),
        }
    }

    fn file(&self) -> String {
        match self {
            Job::Noc {
                mesh,
                pattern,
                flits,
            } => noc_file(&mesh_name(mesh), pattern.name(), *flits),
            Job::SimSpeed(_) => "sim-speed.json".into(),
            Job::Multicast => "multicast-4x4.json".into(),
            Job::Host => "host-4x4.json".into(),
            Job::Discovery => "discovery-4x4.json".into(),
            Job::Reroute => "reroute-4x4.json".into(),
            Job::Hw => "hw.json".into(),
        }
    }
}

/// `noc-4x4-uniform-1.json` and the like.
pub fn noc_file(mesh: &str, pattern: &str, flits: usize) -> String {
    format!("noc-{mesh}-{pattern}-{flits}.json")
}

pub fn mesh_name(g: &MeshGeometry) -> String {
    format!("{}x{}", g.width(), g.height())
}

/// One entry of index.json's `files`.
#[derive(Serialize)]
struct Entry {
    bench: String,
    file: String,
    seconds: f64,
    command: String,
}

/// The run's settings, per kind of bench.
struct Settings {
    noc: NocOptions,
    /// Window for meshes above 16 nodes.
    noc_large_window: u64,
    host_measure_cycles: u64,
    reroute_cuts: Option<usize>,
    reroute_window: u64,
    speed_rounds: usize,
    speed_seconds: f64,
}

fn settings(quick: bool) -> Settings {
    let g = MeshGeometry::new(4, 4).expect("4x4");
    let base = NocOptions::new(g, Pattern::Uniform, 1);
    if quick {
        Settings {
            noc: NocOptions {
                window_cycles: 500,
                max_warmup_windows: 4,
                max_windows: 6,
                coarse_step: 0.2,
                fine_step: 0.1,
                idle_seconds: 0.5,
                ..base
            },
            noc_large_window: 500,
            host_measure_cycles: 2000,
            reroute_cuts: Some(4),
            reroute_window: 1000,
            speed_rounds: 2,
            speed_seconds: 0.3,
        }
    } else {
        Settings {
            noc: NocOptions {
                window_cycles: 2000,
                ..base
            },
            noc_large_window: 1000,
            host_measure_cycles: 20_000,
            reroute_cuts: None,
            reroute_window: 3000,
            speed_rounds: 3,
            speed_seconds: 1.0,
        }
    }
}

fn write_json(dir: &Path, file: &str, v: &impl Serialize) -> Result<()> {
    let path = dir.join(file);
    let text = serde_json::to_string_pretty(v)? + "\n";
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

/// `YYYY-MM-DD HH:MM UTC` from the system clock.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Idle model speed of each mesh, measured in alternating rounds so that
/// the ratios see the same machine load; medians per mesh.
fn sim_speed(meshes: &[MeshGeometry], rounds: usize, seconds: f64) -> Result<Value> {
    let mut samples: Vec<Vec<f64>> = vec![vec![]; meshes.len()];
    for _ in 0..rounds {
        for (i, g) in meshes.iter().enumerate() {
            let mut f = Fabric::new(*g, 64).context("building the Verilator model")?;
            samples[i].push(bench::idle_speed(&mut f, seconds)?);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let medians: Vec<f64> = samples.iter_mut().map(median).collect();
    let reference = meshes
        .iter()
        .position(|g| mesh_name(g) == REFERENCE_MESH)
        .map(|i| medians[i]);
    let rows: Vec<Value> = meshes
        .iter()
        .zip(&medians)
        .zip(&samples)
        .map(|((g, m), s)| {
            json!({
                "mesh": mesh_name(g),
                "nodes": g.nodes(),
                "model_idle_cycles_per_second": m,
                "samples": s,
                "ratio_to_reference": reference.map(|r| m / r),
            })
        })
        .collect();
    Ok(json!({
        "bench": "sim-speed",
        "reference_mesh": REFERENCE_MESH,
        "rounds": rounds,
        "seconds_per_sample": seconds,
        "method": "each round builds every mesh's model in turn, resets it and steps it idle for about seconds_per_sample; the figure is the median over rounds, the ratio divides it by the reference mesh's median from the same rounds",
        "meshes": rows,
    }))
}

/// Runs the suite.
pub fn run(opts: &SuiteOptions) -> Result<()> {
    let dir = &opts.out;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let started = Instant::now();
    let load_start = load_average();
    let set = settings(opts.quick);
    let built: Vec<String> = replimesh_sim::built_variants()
        .iter()
        .filter(|(_, bits)| *bits == 64)
        .map(|(g, _)| mesh_name(g))
        .collect();
    let mut skipped: Vec<Value> = vec![];
    let mut noc_meshes = vec![];
    let want: &[&str] = if opts.quick {
        &["4x4"]
    } else {
        &["4x4", "8x8"]
    };
    for name in want {
        let g = MeshGeometry::parse(name).map_err(anyhow::Error::msg)?;
        if built.iter().any(|b| b == name) {
            noc_meshes.push(g);
        } else {
            skipped.push(json!({
                "what": format!("noc {name} (every pattern and packet size), sim-speed {name}"),
                "reason": format!("no {name} model in this build (built: {}); build meshctl with --features large-meshes", built.join(", ")),
            }));
        }
    }
    if opts.quick {
        skipped.push(json!({
            "what": "noc 8x8 (every pattern and packet size), sim-speed 8x8",
            "reason": "--quick runs 2x2 and 4x4 only",
        }));
    }
    let mut jobs = vec![];
    let reference = MeshGeometry::parse(REFERENCE_MESH).map_err(anyhow::Error::msg)?;
    jobs.push(Job::Noc {
        mesh: reference,
        pattern: Pattern::Uniform,
        flits: 1,
    });
    for g in &noc_meshes {
        for flits in PACKET_FLITS {
            for pattern in Pattern::ALL {
                jobs.push(Job::Noc {
                    mesh: *g,
                    pattern,
                    flits,
                });
            }
        }
    }
    let mut speed_meshes = vec![reference];
    speed_meshes.extend(noc_meshes.iter().copied());
    jobs.push(Job::SimSpeed(speed_meshes));
    jobs.extend([Job::Multicast, Job::Host, Job::Discovery, Job::Reroute]);
    let hw_skip = if opts.quick {
        Some("--quick leaves the hardware flow out (place and route takes minutes)".to_string())
    } else if opts.hw_designs.is_empty() {
        Some("--no-hw".to_string())
    } else {
        hw::tools_present()
            .err()
            .map(|e| format!("the open ECP5 flow's tools are not on PATH: {e:#}"))
    };
    match &hw_skip {
        None => jobs.push(Job::Hw),
        Some(reason) => {
            write_json(
                dir,
                "hw.json",
                &json!({"bench": "hw", "skipped": true, "reason": reason}),
            )?;
            skipped.push(json!({"what": "hw report", "reason": reason}));
        }
    }

    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(jobs.len() as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {wide_msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    let tty = !bar.is_hidden();
    let mut zero: HashMap<(String, usize), ZeroLoad> = HashMap::new();
    let mut entries: Vec<Entry> = vec![];
    let mut failures: Vec<Value> = vec![];
    let total = jobs.len();
    for (i, job) in jobs.iter().enumerate() {
        let label = job.label();
        if tty {
            bar.set_message(label.clone());
        } else {
            eprintln!(
                "bench all: [{}/{total}] {label} ({:.0} s so far)",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
        let t = Instant::now();
        let mut progress = |what: &str| {
            if tty {
                bar.set_message(format!("{label}: {what}"));
            }
        };
        let result = run_job(job, &set, opts, &mut zero, &mut progress);
        let seconds = t.elapsed().as_secs_f64();
        match result {
            Ok((value, command)) => {
                write_json(dir, &job.file(), &value)?;
                entries.push(Entry {
                    bench: label.clone(),
                    file: job.file(),
                    seconds,
                    command,
                });
            }
            Err(e) => {
                let msg = format!("{e:#}");
                if tty {
                    bar.suspend(|| eprintln!("bench all: {label} failed: {msg}"));
                } else {
                    eprintln!("bench all: {label} failed: {msg}");
                }
                failures.push(json!({"bench": label, "error": msg}));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let figures = plots::render_all(dir).context("drawing the plots")?;
    let index = json!({
        "bench": "index",
        "command": format!(
            "meshctl bench all --out {}{}",
            dir.display(),
            if opts.quick { " --quick" } else { "" }
        ),
        "quick": opts.quick,
        "date": utc_now(),
        "commit": git_commit(),
        "models_built": built,
        "load_average_start": load_start,
        "load_average_end": load_average(),
        "seconds": started.elapsed().as_secs_f64(),
        "noc_window_cycles": set.noc.window_cycles,
        "noc_window_cycles_large": set.noc_large_window,
        "files": entries,
        "skipped": skipped,
        "failures": failures,
        "plots": figures,
    });
    write_json(dir, "index.json", &index)?;
    eprintln!(
        "bench all: {} files, {} plots in {} ({:.0} s)",
        entries.len(),
        figures.len(),
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    if !failures.is_empty() {
        bail!(
            "{} of {total} benches failed (see index.json)",
            failures.len()
        );
    }
    Ok(())
}

fn run_job(
    job: &Job,
    set: &Settings,
    opts: &SuiteOptions,
    zero: &mut HashMap<(String, usize), ZeroLoad>,
    progress: &mut dyn FnMut(&str),
) -> Result<(Value, String)> {
    let g4 = MeshGeometry::new(4, 4).expect("4x4");
    Ok(match job {
        Job::Noc {
            mesh,
            pattern,
            flits,
        } => {
            let window = if mesh.nodes() > 16 {
                set.noc_large_window
            } else {
                set.noc.window_cycles
            };
            let o = NocOptions {
                mesh: *mesh,
                pattern: *pattern,
                packet_flits: *flits,
                window_cycles: window,
                ..set.noc.clone()
            };
            let key = (mesh_name(mesh), *flits);
            if !zero.contains_key(&key) {
                progress("zero-load pass");
                let mut f = Fabric::new(*mesh, 64).context("building the Verilator model")?;
                zero.insert(key.clone(), bench::zero_load_pass(&mut f, *flits)?);
            }
            let r: NocBench = bench::measure(&o, zero.get(&key), progress)?;
            if r.lost_packets > 0 {
                bail!("{} scoreboard findings during the sweep", r.lost_packets);
            }
            let cmd = format!(
                "meshctl bench noc --mesh {} --pattern {} --packet-flits {flits} --measure-cycles {window} --max-windows {} --json",
                key.0,
                pattern.name(),
                o.max_windows
            );
            (serde_json::to_value(r)?, cmd)
        }
        Job::SimSpeed(meshes) => (
            sim_speed(meshes, set.speed_rounds, set.speed_seconds)?,
            "(bench all only)".into(),
        ),
        Job::Multicast => (
            serde_json::to_value(multicast::measure(g4, 0, 8, 1)?)?,
            "meshctl bench multicast --mesh 4x4 --json".into(),
        ),
        Job::Host => {
            let r = bench_host::measure(g4, 1, set.host_measure_cycles, 1)?;
            if r.lost_packets > 0 {
                bail!("{} packets lost or damaged", r.lost_packets);
            }
            (
                serde_json::to_value(r)?,
                format!(
                    "meshctl bench host --mesh 4x4 --measure-cycles {} --json",
                    set.host_measure_cycles
                ),
            )
        }
        Job::Discovery => (
            services::bench_measure(g4)?,
            "meshctl bench discovery --mesh 4x4 --json".into(),
        ),
        Job::Reroute => {
            let r = reroute::measure(g4, set.reroute_cuts, set.reroute_window, progress)?;
            let cuts = set
                .reroute_cuts
                .map_or(String::new(), |c| format!(" --cuts {c}"));
            (
                serde_json::to_value(r)?,
                format!("meshctl bench reroute --mesh 4x4{cuts} --json"),
            )
        }
        Job::Hw => {
            let out = std::env::temp_dir().join(format!("meshctl-bench-hw-{}", std::process::id()));
            progress(&opts.hw_designs.join(", "));
            let r = hw::report_value(hw::ReportArgs {
                designs: opts.hw_designs.clone(),
                out: out.clone(),
                manifest: None,
            })?;
            let _ = std::fs::remove_dir_all(&out);
            let designs: Vec<String> = opts
                .hw_designs
                .iter()
                .map(|d| format!(" --design {d}"))
                .collect();
            (
                r,
                format!("meshctl hw report{} --no-manifest --json", designs.concat()),
            )
        }
    })
}
