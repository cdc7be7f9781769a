//! `meshctl bench report --in DIR --out FILE`: renders the measured
//! sections of docs/performance.md from a `bench all` folder.
//!
//! FILE keeps its prose: only what lies between a pair of markers
//!
//! ```text
//! <!-- generated:begin noc -->
//! ...
//! <!-- generated:end noc -->
//! ```
//!
//! is replaced, by the section of that name ([`SECTIONS`]). A FILE that does
//! not exist is written with every section.

use crate::plots::{self, load, num};
use crate::suite::{noc_file, PACKET_FLITS, REFERENCE_MESH};
use anyhow::{bail, Context, Result};
use replimesh_scoreboard::Pattern;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

/// Every section, in the order a fresh file gets them.
pub const SECTIONS: [&str; 8] = [
    "run",
    "noc",
    "multicast",
    "discovery",
    "reroute",
    "host",
    "speed",
    "hw",
];

/// Goals (from the issues) the tables put beside their figures.
const GOAL_SATURATION_4X4: f64 = 0.70;
const GOAL_SATURATION_ONE_DOWN: f64 = 0.55;
const GOAL_CYCLES_PER_HOP: f64 = 2.0;
const GOAL_RECOVERY_CYCLES: f64 = 64.0;
const GOAL_MULTICAST_SPEEDUP: f64 = 3.0;
const GOAL_IDLE_4X4: f64 = 1_000_000.0;
const GOAL_TRAFFIC_4X4: f64 = 500_000.0;
const GOAL_IDLE_8X8: f64 = 250_000.0;

fn begin(name: &str) -> String {
    format!("<!-- generated:begin {name} -->")
}
fn end(name: &str) -> String {
    format!("<!-- generated:end {name} -->")
}

/// Replaces the body of every marked section of `template` with
/// `render(name)`; text outside the markers is kept byte for byte.
pub fn splice(template: &str, mut render: impl FnMut(&str) -> Result<String>) -> Result<String> {
    const OPEN: &str = "<!-- generated:begin ";
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find(OPEN) {
        let after = &rest[at + OPEN.len()..];
        let close = after
            .find(" -->")
            .context("a generated:begin marker is not closed with ' -->'")?;
        let name = &after[..close];
        if !SECTIONS.contains(&name) {
            bail!(
                "unknown generated section '{name}' (known: {})",
                SECTIONS.join(", ")
            );
        }
        let body_start = at + begin(name).len();
        let end_marker = end(name);
        let end_at = rest[body_start..]
            .find(&end_marker)
            .map(|i| body_start + i)
            .with_context(|| format!("section '{name}' has no {end_marker}"))?;
        if rest[body_start..end_at].contains(OPEN) {
            bail!("section '{name}' contains another generated:begin marker");
        }
        out.push_str(&rest[..body_start]);
        out.push('\n');
        let body = render(name)?;
        out.push_str(body.trim_end());
        out.push('\n');
        out.push_str(&end_marker);
        rest = &rest[end_at + end_marker.len()..];
    }
    if rest.contains("<!-- generated:end ") {
        bail!("a generated:end marker has no begin");
    }
    out.push_str(rest);
    Ok(out)
}

/// A fresh document with every section.
fn skeleton() -> String {
    let mut s = String::from("# Performance\n\n");
    for name in SECTIONS {
        let _ = write!(s, "{}\n{}\n\n", begin(name), end(name));
    }
    s
}

/// `to` relative to `from` (both directories), with `/` separators.
pub fn relative(from: &Path, to: &Path) -> Result<String> {
    let abs = |p: &Path| -> Result<PathBuf> {
        p.canonicalize()
            .with_context(|| format!("resolving {}", p.display()))
    };
    let (from, to) = (abs(from)?, abs(to)?);
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".into(); a.len() - common];
    parts.extend(
        b[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().to_string()),
    );
    Ok(if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    })
}

/// `meshctl bench report` (`plots`: redraw the SVGs from the JSON first).
pub fn run(input: &Path, out: &Path, redraw: bool) -> Result<()> {
    if redraw {
        let drawn = plots::render_all(input).context("drawing the plots")?;
        eprintln!("bench report: drew {}", drawn.join(", "));
    }
    let index = load(input, "index.json")?.with_context(|| {
        format!(
            "{} has no index.json: run `meshctl bench all --out {}` first",
            input.display(),
            input.display()
        )
    })?;
    let template = if out.exists() {
        std::fs::read_to_string(out).with_context(|| format!("reading {}", out.display()))?
    } else {
        skeleton()
    };
    let out_dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let link = relative(&out_dir, input)?;
    let ctx = Ctx {
        dir: input,
        link: &link,
        index: &index,
    };
    let text = splice(&template, |name| ctx.section(name))?;
    std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("bench report: wrote {}", out.display());
    Ok(())
}

struct Ctx<'a> {
    dir: &'a Path,
    /// The folder as the markdown file links it.
    link: &'a str,
    index: &'a Value,
}

/// `x` with `d` decimals.
fn f(x: f64, d: usize) -> String {
    format!("{x:.d$}")
}

/// Thousands grouped with spaces: 1 234 567.
fn grouped(x: f64) -> String {
    let s = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "**missed**"
    }
}

fn mesh_label(m: &str) -> String {
    m.replace('x', "×")
}

impl Ctx<'_> {
    fn section(&self, name: &str) -> Result<String> {
        let r = match name {
            "run" => self.run(),
            "noc" => self.noc(),
            "multicast" => self.multicast(),
            "discovery" => self.discovery(),
            "reroute" => self.reroute(),
            "host" => self.host(),
            "speed" => self.speed(),
            "hw" => self.hw(),
            other => bail!("no renderer for section '{other}'"),
        };
        r.with_context(|| format!("rendering section '{name}'"))
    }

    fn image(&self, alt: &str, file: &str) -> Option<String> {
        self.dir
            .join(file)
            .exists()
            .then(|| format!("![{alt}]({}/{file})\n", self.link))
    }

    fn missing(&self, what: &str) -> String {
        let why = self.index["skipped"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["what"].as_str().is_some_and(|w| w.contains(what)))
            .and_then(|s| s["reason"].as_str())
            .unwrap_or("not in this run");
        format!("_{what}: not measured in this run ({why})._\n")
    }

    fn run(&self) -> Result<String> {
        let i = self.index;
        let mut s = String::new();
        let window = num(i, "noc_window_cycles")?;
        let kind = if i["quick"].as_bool() == Some(true) {
            format!("a quick run: few load points, {window}-cycle windows, 2×2 and 4×4 only, a few reroute cuts")
        } else {
            format!(
                "the full run: noc windows of {window} cycles ({} on 8×8)",
                num(i, "noc_window_cycles_large")?
            )
        };
        let load = |k: &str| i[k].as_f64().map_or("?".into(), |x| f(x, 2));
        let _ = writeln!(
            s,
            "Measured by `{}` ({kind}) on {}, commit {}, in {:.0} s; load average {} at the start, {} at the end (the machine is shared: absolute speeds drift, ratios less). Models built: {}.",
            i["command"].as_str().unwrap_or("?"),
            i["date"].as_str().unwrap_or("?"),
            i["commit"].as_str().unwrap_or("?"),
            num(i, "seconds")?,
            load("load_average_start"),
            load("load_average_end"),
            i["models_built"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).map(mesh_label).collect::<Vec<_>>().join(", "))
                .unwrap_or_default(),
        );
        let _ = writeln!(
            s,
            "Each bench's JSON is in `{}/` (listed in `index.json`, with the command that reproduces it); `meshctl bench report --in docs/bench --out docs/performance.md` renders every table and figure between `generated` markers in this file, and `cargo test --release -p meshctl --test bench_report` fails when they are stale.",
            self.link
        );
        let skipped = i["skipped"].as_array().cloned().unwrap_or_default();
        if !skipped.is_empty() {
            s.push_str("\nSkipped:\n");
            for k in skipped {
                let _ = writeln!(
                    s,
                    "- {}: {}",
                    k["what"].as_str().unwrap_or("?"),
                    k["reason"].as_str().unwrap_or("?")
                );
            }
        }
        let failures = i["failures"].as_array().cloned().unwrap_or_default();
        if !failures.is_empty() {
            s.push_str("\nFailed:\n");
            for k in failures {
                let _ = writeln!(
                    s,
                    "- {}: {}",
                    k["bench"].as_str().unwrap_or("?"),
                    k["error"].as_str().unwrap_or("?")
                );
            }
        }
        Ok(s)
    }

    fn noc(&self) -> Result<String> {
        let mut s = String::new();
        s.push_str("| mesh | pattern | packet flits | zero-load latency (cycles) | avg hops | cycles per hop | saturation (accepted flits/node/cycle) | analytic bound (accepted; busiest channel) | saturation / bound | points converged | goal |\n");
        s.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
        let mut any = false;
        for mesh in plots::LATENCY_MESHES {
            for flits in PACKET_FLITS {
                for p in Pattern::ALL {
                    let Some(v) = load(self.dir, &noc_file(mesh, p.name(), flits))? else {
                        continue;
                    };
                    any = true;
                    let sat = num(&v, "saturation_throughput")?;
                    let cph = num(&v, "cycles_per_hop")?;
                    let goal = if mesh == "4x4" && flits == 1 && p == Pattern::Uniform {
                        format!(
                            "≤ {GOAL_CYCLES_PER_HOP} cycles/hop: {}; ≥ {GOAL_SATURATION_4X4:.2}: {}",
                            verdict(cph <= GOAL_CYCLES_PER_HOP + 1e-9),
                            verdict(sat >= GOAL_SATURATION_4X4)
                        )
                    } else {
                        String::new()
                    };
                    let _ = writeln!(
                        s,
                        "| {} | {} | {flits} | {} | {} | {} | {} | {} ({}) | {}% | {}/{} | {goal} |",
                        mesh_label(mesh),
                        p.name(),
                        f(num(&v, "zero_load_latency_cycles")?, 2),
                        f(num(&v, "avg_hops")?, 2),
                        f(cph, 2),
                        f(sat, 3),
                        f(num(&v, "throughput_bound.accepted_flits_per_node_cycle")?, 3),
                        v["throughput_bound"]["channel"].as_str().unwrap_or("?"),
                        f(100.0 * num(&v, "saturation_fraction_of_bound")?, 0),
                        num(&v, "points_converged")?,
                        v["curve"].as_array().map_or(0, Vec::len),
                    );
                }
            }
        }
        if !any {
            return Ok(self.missing("noc"));
        }
        if load(self.dir, &noc_file("8x8", "uniform", 1))?.is_none() {
            s.push('\n');
            s.push_str(&self.missing("noc 8x8"));
        }
        if let Some(v) = load(self.dir, &noc_file("4x4", "uniform", 1))? {
            let m = &v["method"];
            let _ = writeln!(
                s,
                "\nMethod (from the JSON's `method`): {}; {}. Windows of {} cycles; warm-up: {} (at most {}); measurement: {} (at most {} windows, tolerance {}%). Latency: {}.",
                m["injection"].as_str().unwrap_or("?"),
                m["source_queue"].as_str().unwrap_or("?"),
                num(m, "window_cycles")?,
                m["warmup"].as_str().unwrap_or("?"),
                num(m, "max_warmup_windows")?,
                m["convergence"].as_str().unwrap_or("?"),
                num(m, "max_windows")?,
                num(m, "tolerance")? * 100.0,
                m["latency"].as_str().unwrap_or("?"),
            );
            s.push_str("\nThe 4×4 uniform 1-flit curve:\n\n| offered | accepted | mean latency | p99 latency | warm-up windows | windows | converged |\n|---|---|---|---|---|---|---|\n");
            for p in v["curve"].as_array().into_iter().flatten() {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    f(num(p, "offered")?, 2),
                    f(num(p, "accepted")?, 3),
                    f(num(p, "avg_latency")?, 1),
                    f(num(p, "p99_latency")?, 0),
                    num(p, "warmup_windows")?,
                    num(p, "windows")?,
                    if p["converged"].as_bool() == Some(true) {
                        "yes"
                    } else if p["unstable"].as_bool() == Some(true) {
                        "no (unstable)"
                    } else {
                        "no (cap)"
                    }
                );
            }
        }
        s.push('\n');
        for (mesh, file) in plots::latency_files() {
            let flits = if file.ends_with("-1.svg") { 1 } else { 4 };
            if let Some(img) = self.image(
                &format!("{} mesh, {flits}-flit packets: mean latency against offered load per pattern, analytic bounds dashed", mesh_label(&mesh)),
                &file,
            ) {
                s.push_str(&img);
                s.push('\n');
            }
        }
        Ok(s)
    }

    fn speed(&self) -> Result<String> {
        let mut rows = vec![];
        for mesh in plots::SPEED_MESHES {
            if let Some(v) = load(self.dir, &noc_file(mesh, "uniform", 1))? {
                rows.push((
                    mesh,
                    num(&v, "model_idle_cycles_per_second")?,
                    num(&v, "sim_cycles_per_second")?,
                ));
            }
        }
        if rows.is_empty() {
            return Ok(self.missing("sim-speed"));
        }
        let interleaved = load(self.dir, "sim-speed.json")?;
        let inter = |mesh: &str, key: &str| -> Option<f64> {
            interleaved.as_ref()?["meshes"]
                .as_array()?
                .iter()
                .find(|m| m["mesh"] == mesh)?[key]
                .as_f64()
        };
        let reference = rows.iter().find(|r| r.0 == REFERENCE_MESH).copied();
        let mut s = String::new();
        let _ = writeln!(s, "| mesh | `model_idle_cycles_per_second` (noc bench) | `sim_cycles_per_second` (noc bench, traffic) | idle, interleaved rounds (median) | idle ÷ {r} (interleaved) | traffic ÷ {r} (noc benches) | goal |", r = mesh_label(REFERENCE_MESH));
        s.push_str("|---|---|---|---|---|---|---|\n");
        for (mesh, idle, traffic) in &rows {
            let goal = match *mesh {
                "4x4" => format!(
                    "idle ≥ 1 000 000: {}; traffic ≥ 500 000: {}",
                    verdict(*idle >= GOAL_IDLE_4X4),
                    verdict(*traffic >= GOAL_TRAFFIC_4X4)
                ),
                "8x8" => format!("idle ≥ 250 000: {}", verdict(*idle >= GOAL_IDLE_8X8)),
                _ => "(reference)".into(),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {goal} |",
                mesh_label(mesh),
                grouped(*idle),
                grouped(*traffic),
                inter(mesh, "model_idle_cycles_per_second").map_or("–".into(), grouped),
                inter(mesh, "ratio_to_reference").map_or("–".into(), |x| f(x, 3)),
                reference.map_or("–".into(), |r| f(traffic / r.2, 3)),
            );
        }
        s.push_str("\nThe goals are absolute; the ratios are what to compare between runs, since both sides of each were measured in the same run under the same load.\n\n");
        if let Some(img) = self.image(
            "simulated cycles per second against mesh size, idle and with traffic, with the goals",
            plots::SPEED_FILE,
        ) {
            s.push_str(&img);
        }
        Ok(s)
    }

    fn multicast(&self) -> Result<String> {
        let Some(v) = load(self.dir, "multicast-4x4.json")? else {
            return Ok(self.missing("multicast"));
        };
        let sp = num(&v, "speedup")?;
        let mut s = String::new();
        s.push_str("| figure | value | goal |\n|---|---|---|\n");
        let _ = writeln!(
            s,
            "| broadcast to all {} others: `innetwork_cycles` | {} | |",
            num(&v, "copies_delivered")?,
            num(&v, "innetwork_cycles")?
        );
        let _ = writeln!(
            s,
            "| same data as {} unicasts: `unicast_cycles` | {} | |",
            num(&v, "copies_delivered")?,
            num(&v, "unicast_cycles")?
        );
        let _ = writeln!(
            s,
            "| `speedup` | **{}×** | ≥ {GOAL_MULTICAST_SPEEDUP}×: {} |",
            f(sp, 2),
            verdict(sp >= GOAL_MULTICAST_SPEEDUP)
        );
        let _ = writeln!(
            s,
            "| `innetwork_link_flits` / `unicast_link_flits` | {} / {} | |",
            num(&v, "innetwork_link_flits")?,
            num(&v, "unicast_link_flits")?
        );
        let _ = writeln!(
            s,
            "| `copies_delivered` | {} (each node exactly once) | |",
            num(&v, "copies_delivered")?
        );
        s.push_str("\nGroup-size sweep (multicast, members drawn with `--seed 1`):\n\n| members | in-network cycles | unicast cycles | speedup | link flits in-network / unicast |\n|---|---|---|---|---|\n");
        for c in v["group_sizes"].as_array().into_iter().flatten() {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {}× | {} / {} |",
                num(c, "members")?,
                num(c, "innetwork_cycles")?,
                num(c, "unicast_cycles")?,
                f(num(c, "speedup")?, 2),
                num(c, "innetwork_link_flits")?,
                num(c, "unicast_link_flits")?
            );
        }
        s.push('\n');
        if let Some(img) = self.image(
            "multicast speedup against group size, with the 3× goal",
            plots::MULTICAST_FILE,
        ) {
            s.push_str(&img);
        }
        Ok(s)
    }

    fn discovery(&self) -> Result<String> {
        let Some(v) = load(self.dir, "discovery-4x4.json")? else {
            return Ok(self.missing("discovery"));
        };
        let mut s = String::new();
        s.push_str("| figure | value |\n|---|---|\n");
        let _ = writeln!(s, "| `discovery_cycles_local` (replica one hop away, step {}, includes the {}-cycle answer window) | {} |", num(&v, "discovery_local_step")?, num(&v, "window_cycles")?, num(&v, "discovery_cycles_local")?);
        let _ = writeln!(
            s,
            "| `discovery_cycles_mesh` (the same search as one whole-mesh broadcast) | {} |",
            num(&v, "discovery_cycles_mesh")?
        );
        let _ = writeln!(s, "| `discovery_messages_expanding` vs `discovery_messages_full_broadcast` (requests delivered + answers) | {} vs {} |", num(&v, "discovery_messages_expanding")?, num(&v, "discovery_messages_full_broadcast")?);
        let _ = writeln!(
            s,
            "| `discovery_cycles_quadrant_from_node0` (nothing within one hop: step {}) | {} |",
            num(&v, "discovery_quadrant_step")?,
            num(&v, "discovery_cycles_quadrant_from_node0")?
        );
        let _ = writeln!(s, "| `failover_cycles` (replica killed → first reply from another replica to a client that used it) | {} |", v["failover_cycles"].as_u64().map_or("–".into(), |x| x.to_string()));
        s.push('\n');
        if let Some(img) = self.image("discovery cycles per search scope", plots::DISCOVERY_FILE) {
            s.push_str(&img);
        }
        Ok(s)
    }

    fn reroute(&self) -> Result<String> {
        let Some(v) = load(self.dir, "reroute-4x4.json")? else {
            return Ok(self.missing("reroute"));
        };
        let max = num(&v, "recovery_cycles_max")?;
        let up = num(&v, "saturation_all_up")?;
        let down = num(&v, "saturation_one_link_down")?;
        let dead = num(&v, "deadlocks")?;
        let mut s = String::new();
        s.push_str("| figure | value | goal |\n|---|---|---|\n");
        let _ = writeln!(
            s,
            "| `cuts_tried` | {} of {} links | every link |",
            num(&v, "cuts_tried")?,
            num(&v, "links_in_mesh")?
        );
        let _ = writeln!(s, "| `recovery_cycles_p50` (cut → first packet queued after the cut whose old route crossed the link, delivered) | {} | |", num(&v, "recovery_cycles_p50")?);
        let _ = writeln!(
            s,
            "| `recovery_cycles_max` | {max} | ≤ {GOAL_RECOVERY_CYCLES}: {} |",
            verdict(max <= GOAL_RECOVERY_CYCLES)
        );
        let _ = writeln!(
            s,
            "| `recovery_unmeasured` (cuts no rerouted packet crossed) | {} | |",
            num(&v, "recovery_unmeasured")?
        );
        let _ = writeln!(
            s,
            "| `lost_in_flight_max` (lost or arrived cut, per cut) | {} | |",
            num(&v, "lost_in_flight_max")?
        );
        let _ = writeln!(
            s,
            "| `deadlocks` (runs that did not drain) | {dead} | 0: {} |",
            verdict(dead == 0.0)
        );
        let _ = writeln!(s, "| `saturation_all_up` (uniform, 1-flit, up*/down* tables, accepted flits/node/cycle) | {} | ≥ {GOAL_SATURATION_4X4:.2}: {} |", f(up, 3), verdict(up >= GOAL_SATURATION_4X4));
        let _ = writeln!(
            s,
            "| `saturation_one_link_down` | {} | ≥ {GOAL_SATURATION_ONE_DOWN:.2}: {} |",
            f(down, 3),
            verdict(down >= GOAL_SATURATION_ONE_DOWN)
        );
        s.push('\n');
        if let Some(img) = self.image(
            "histogram of recovery cycles over the cuts, with the 64-cycle goal",
            plots::REROUTE_FILE,
        ) {
            s.push_str(&img);
        }
        Ok(s)
    }

    fn host(&self) -> Result<String> {
        let Some(v) = load(self.dir, "host-4x4.json")? else {
            return Ok(self.missing("host"));
        };
        let l = &v["host_to_host_latency_cycles"];
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}-byte packets, {} cycles measured at saturation.\n",
            num(&v, "packet_bytes")?,
            num(&v, "measured_cycles")?
        );
        let (one, far, hops) = (
            num(l, "one_hop")?,
            num(l, "farthest_pair")?,
            num(l, "farthest_hops")?,
        );
        let rate = num(&v, "packets_per_node_per_kcycle")?;
        s.push_str("| figure | value | meaning |\n|---|---|---|\n");
        let _ = writeln!(s, "| `host_to_host_latency_cycles.one_hop` | {one} | TX producer doorbell written → destination's RX descriptor complete and its producer mirror updated in host memory, neighbours (17 before issue 6: the service unit and its TX FIFO add 2 cycles) |");
        let _ = writeln!(s, "| `host_to_host_latency_cycles.farthest_pair` | {far} | the same, node (0,0) → the far corner, {hops} hops ({} cycles more for {} more hops) |", far - one, hops - 1.0);
        let _ = writeln!(s, "| `packets_per_node_per_kcycle` | {} | uniform random destinations at saturation, batched doorbells (a packet per ~{:.0} cycles per node) |", f(rate, 1), if rate > 0.0 { 1000.0 / rate } else { 0.0 });
        let _ = writeln!(s, "| `doorbells_per_packet` | {} | TX producer + RX consumer MMIO writes per delivered packet, batches of up to 16 sends and 64 receives |", f(num(&v, "doorbells_per_packet")?, 2));
        let _ = writeln!(s, "| `doorbells_per_packet_unbatched` | {} | one packet per TX doorbell (receives still batched per poll) |", f(num(&v, "doorbells_per_packet_unbatched")?, 2));
        let _ = writeln!(s, "| lost packets | {} | scoreboard over both runs (exactly once, right payload, in order per pair) |", num(&v, "lost_packets")?);
        Ok(s)
    }

    fn hw(&self) -> Result<String> {
        let path = self.dir.join("hw.json");
        if !path.exists() {
            return Ok(self.missing("hw report"));
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        if v["skipped"].as_bool() == Some(true) {
            return Ok(format!(
                "_`hw report`: not run ({})._\n",
                v["reason"].as_str().unwrap_or("?")
            ));
        }
        let mut s = String::new();
        let _ = writeln!(s, "`{}`:\n", v["command"].as_str().unwrap_or("hw report"));
        s.push_str("| design | LUT4 | FF | LUT-RAM (DPR16X4) | CCU2C | Fmax (MHz) | target (MHz) |\n|---|---|---|---|---|---|---|\n");
        for d in v["designs"].as_array().into_iter().flatten() {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} |",
                d["design"].as_str().unwrap_or("?"),
                num(d, "lut4")?,
                num(d, "ff")?,
                num(d, "lutram_dpr16x4")?,
                num(d, "ccu2c")?,
                f(num(d, "fmax_mhz")?, 1),
                f(num(d, "target_mhz")?, 1)
            );
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_only_between_markers() {
        let t = "intro\n<!-- generated:begin noc -->\nold\n<!-- generated:end noc -->\nmiddle\n<!-- generated:begin hw -->\n<!-- generated:end hw -->\ntail\n";
        let out = splice(t, |name| Ok(format!("new {name}\n"))).unwrap();
        assert_eq!(
            out,
            "intro\n<!-- generated:begin noc -->\nnew noc\n<!-- generated:end noc -->\nmiddle\n<!-- generated:begin hw -->\nnew hw\n<!-- generated:end hw -->\ntail\n"
        );
        // Rendering twice changes nothing.
        let again = splice(&out, |name| Ok(format!("new {name}\n"))).unwrap();
        assert_eq!(again, out);
    }

    #[test]
    fn splice_refuses_bad_markers() {
        let unknown = "<!-- generated:begin nope -->\n<!-- generated:end nope -->\n";
        assert!(splice(unknown, |_| Ok(String::new()))
            .unwrap_err()
            .to_string()
            .contains("unknown generated section 'nope'"));
        let unclosed = "<!-- generated:begin noc -->\nx\n";
        assert!(splice(unclosed, |_| Ok(String::new()))
            .unwrap_err()
            .to_string()
            .contains("no <!-- generated:end noc -->"));
        let stray = "x\n<!-- generated:end noc -->\n";
        assert!(splice(stray, |_| Ok(String::new())).is_err());
        let mismatched =
            "<!-- generated:begin noc -->\n<!-- generated:begin hw -->\n<!-- generated:end hw -->\n<!-- generated:end noc -->\n";
        assert!(splice(mismatched, |_| Ok(String::new())).is_err());
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(1_234_567.4), "1 234 567");
        assert_eq!(grouped(999.0), "999");
        assert_eq!(grouped(21_700.0), "21 700");
    }

    #[test]
    fn relative_paths_between_folders() {
        let base = std::env::temp_dir().join(format!("meshctl-rel-{}", std::process::id()));
        let docs = base.join("docs");
        let bench = docs.join("bench");
        let other = base.join("out");
        std::fs::create_dir_all(&bench).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        assert_eq!(relative(&docs, &bench).unwrap(), "bench");
        assert_eq!(relative(&other, &bench).unwrap(), "../docs/bench");
        assert_eq!(relative(&bench, &bench).unwrap(), ".");
        let _ = std::fs::remove_dir_all(&base);
    }
}
