//! SVG plots of a `bench all` folder, drawn from its JSON files with
//! plotters' SVG backend (no fonts, no bitmap: text stays text).

use crate::suite::{noc_file, PACKET_FLITS};
use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use replimesh_scoreboard::Pattern;
use replimesh_spec::MeshGeometry;
use serde_json::Value;
use std::path::Path;

const SIZE: (u32, u32) = (720, 440);
const FONT: &str = "sans-serif";
/// Meshes the latency plots cover.
pub const LATENCY_MESHES: [&str; 2] = ["4x4", "8x8"];
/// Meshes the speed plot covers.
pub const SPEED_MESHES: [&str; 3] = ["2x2", "4x4", "8x8"];

/// Reads `dir/file` as JSON; `None` when it is absent or a skip record.
pub fn load(dir: &Path, file: &str) -> Result<Option<Value>> {
    let path = dir.join(file);
    if !path.exists() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if v.get("skipped").and_then(Value::as_bool) == Some(true) {
        return Ok(None);
    }
    Ok(Some(v))
}

/// A number at `key` (dotted path) or an error naming it.
pub fn num(v: &Value, key: &str) -> Result<f64> {
    key.split('.')
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_f64)
        .ok_or_else(|| anyhow!("no number at `{key}`"))
}

fn colour(i: usize) -> RGBColor {
    const C: [RGBColor; 6] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(255, 127, 14),
        RGBColor(127, 127, 127),
    ];
    C[i % C.len()]
}

fn pretty(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.1}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.0}k", x / 1e3)
    } else if x >= 10.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

/// The series legend every plot draws, boxed, in the corner `at`.
fn legend<'a, DB, CT>(chart: &mut ChartContext<'a, DB, CT>, at: SeriesLabelPosition) -> Result<()>
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()
        .map_err(|e| anyhow!("{e}"))
}

/// Draws into a string with `f` and writes `dir/file`.
fn svg(
    dir: &Path,
    file: &str,
    f: impl FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>) -> Result<()>,
) -> Result<String> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        f(&root)?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    let path = dir.join(file);
    std::fs::write(&path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    Ok(file.to_string())
}

/// Every plot the folder has data for; returns the file names written.
pub fn render_all(dir: &Path) -> Result<Vec<String>> {
    let mut out = vec![];
    for mesh in LATENCY_MESHES {
        for flits in PACKET_FLITS {
            let mut runs = vec![];
            for p in Pattern::ALL {
                if let Some(v) = load(dir, &noc_file(mesh, p.name(), flits))? {
                    runs.push((p.name(), v));
                }
            }
            if !runs.is_empty() {
                out.push(latency(dir, mesh, flits, &runs)?);
            }
        }
    }
    if let Some(v) = load(dir, "multicast-4x4.json")? {
        out.push(multicast(dir, &v)?);
    }
    if let Some(v) = load(dir, "discovery-4x4.json")? {
        out.push(discovery(dir, &v)?);
    }
    if let Some(v) = load(dir, "reroute-4x4.json")? {
        out.push(reroute(dir, &v)?);
    }
    let mut speed = vec![];
    for mesh in SPEED_MESHES {
        if let Some(v) = load(dir, &noc_file(mesh, "uniform", 1))? {
            speed.push((mesh, v));
        }
    }
    if !speed.is_empty() {
        out.push(sim_speed(dir, &speed)?);
    }
    Ok(out)
}

/// `noc-latency-4x4-1.svg`: mean latency against offered load, one line per
/// pattern, the pattern's analytic bound as a dashed vertical line.
pub fn latency_file(mesh: &str, flits: usize) -> String {
    format!("noc-latency-{mesh}-{flits}.svg")
}

fn latency(dir: &Path, mesh: &str, flits: usize, runs: &[(&str, Value)]) -> Result<String> {
    let mut series = vec![];
    let mut ymax: f64 = 10.0;
    for (name, v) in runs {
        let curve = v["curve"].as_array().context("no curve")?;
        let pts: Vec<(f64, f64)> = curve
            .iter()
            .map(|p| Ok((num(p, "offered")?, num(p, "avg_latency")?)))
            .collect::<Result<_>>()?;
        for p in &pts {
            ymax = ymax.max(p.1);
        }
        let bound = num(v, "throughput_bound.offered_flits_per_node_cycle")?;
        series.push((*name, pts, bound));
    }
    let ymax = ymax * 1.5;
    let file = latency_file(mesh, flits);
    svg(dir, &file, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("{mesh} mesh, {flits}-flit packets: latency against offered load"),
                (FONT, 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..1.0f64, (2f64..ymax).log_scale())
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc("offered load (flits/node/cycle); dashed: the pattern's analytic bound")
            .y_desc("mean latency (cycles, log)")
            .y_label_formatter(&|y| pretty(*y))
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        for (i, (name, pts, bound)) in series.iter().enumerate() {
            let c = colour(i);
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                .map_err(|e| anyhow!("{e}"))?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 3, c.filled())))
                .map_err(|e| anyhow!("{e}"))?;
            if *bound > 0.0 && *bound <= 1.0 {
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(*bound, 2.0), (*bound, ymax)],
                        6,
                        4,
                        c.stroke_width(1),
                    ))
                    .map_err(|e| anyhow!("{e}"))?;
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })
}

/// `multicast-speedup.svg`: speedup of in-network fan-out over unicast
/// repetition against group size, with the 3x goal.
pub const MULTICAST_FILE: &str = "multicast-speedup.svg";

fn multicast(dir: &Path, v: &Value) -> Result<String> {
    let sizes = v["group_sizes"].as_array().context("no group_sizes")?;
    let pts: Vec<(f64, f64)> = sizes
        .iter()
        .map(|c| Ok((num(c, "members")?, num(c, "speedup")?)))
        .collect::<Result<_>>()?;
    let xmax = pts.iter().map(|p| p.0).fold(2.0, f64::max) + 1.0;
    let ymax = pts.iter().map(|p| p.1).fold(3.0, f64::max) * 1.2;
    svg(dir, MULTICAST_FILE, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!(
                    "{} mesh: in-network multicast speedup over unicast repetition",
                    v["mesh"].as_str().unwrap_or("?")
                ),
                (FONT, 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..xmax, 0f64..ymax)
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .x_desc("group size (receivers)")
            .y_desc("speedup (unicast cycles / in-network cycles)")
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        let c = colour(0);
        chart
            .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
            .map_err(|e| anyhow!("{e}"))?
            .label("measured")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart
            .draw_series(pts.iter().map(|p| Circle::new(*p, 4, c.filled())))
            .map_err(|e| anyhow!("{e}"))?;
        let g = colour(1);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.0, 3.0), (xmax, 3.0)],
                6,
                4,
                g.stroke_width(1),
            ))
            .map_err(|e| anyhow!("{e}"))?
            .label("goal: 3x for the whole-mesh broadcast")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], g));
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        Ok(())
    })
}

/// Bars at x = 0, 1, ... labelled by `names`.
fn bars(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    caption: &str,
    x_desc: &str,
    y_desc: &str,
    names: &[String],
    values: &[f64],
    goal: Option<(f64, &str)>,
) -> Result<()> {
    let n = values.len().max(1) as f64;
    let ymax = values
        .iter()
        .copied()
        .chain(goal.map(|g| g.0))
        .fold(1.0, f64::max)
        * 1.25;
    let mut chart = ChartBuilder::on(root)
        .caption(caption, (FONT, 18))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(56)
        .build_cartesian_2d(-0.5f64..n - 0.5, 0f64..ymax)
        .map_err(|e| anyhow!("{e}"))?;
    let labels = names.to_vec();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(names.len())
        .x_label_formatter(&move |x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_desc(x_desc)
        .y_desc(y_desc)
        .y_label_formatter(&|y| pretty(*y))
        .draw()
        .map_err(|e| anyhow!("{e}"))?;
    let c = colour(0);
    chart
        .draw_series(values.iter().enumerate().map(|(i, v)| {
            let x = i as f64;
            Rectangle::new([(x - 0.3, 0.0), (x + 0.3, *v)], c.filled())
        }))
        .map_err(|e| anyhow!("{e}"))?;
    chart
        .draw_series(values.iter().enumerate().map(|(i, v)| {
            Text::new(
                pretty(*v),
                (i as f64, *v + ymax * 0.01),
                (FONT, 14)
                    .into_font()
                    .into_text_style(root)
                    .pos(Pos::new(HPos::Center, VPos::Bottom)),
            )
        }))
        .map_err(|e| anyhow!("{e}"))?;
    if let Some((g, label)) = goal {
        let r = colour(1);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(-0.5, g), (n - 0.5, g)],
                6,
                4,
                r.stroke_width(1),
            ))
            .map_err(|e| anyhow!("{e}"))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], r));
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    }
    Ok(())
}

/// `discovery-cycles.svg`: cycles to find a replica, per search scope.
pub const DISCOVERY_FILE: &str = "discovery-cycles.svg";

fn discovery(dir: &Path, v: &Value) -> Result<String> {
    let names = vec![
        "one hop (step 0)".to_string(),
        "quadrant (step 1, from node 0)".to_string(),
        "whole mesh (one broadcast)".to_string(),
    ];
    let values = vec![
        num(v, "discovery_cycles_local")?,
        num(v, "discovery_cycles_quadrant_from_node0")?,
        num(v, "discovery_cycles_mesh")?,
    ];
    svg(dir, DISCOVERY_FILE, |root| {
        bars(
            root,
            "4x4 card: hardware discovery cycles per search scope",
            "scope that found the replica",
            "cycles (start of search to found)",
            &names,
            &values,
            None,
        )
    })
}

/// `reroute-recovery.svg`: histogram of recovery cycles over the cuts, with
/// the 64-cycle goal.
pub const REROUTE_FILE: &str = "reroute-recovery.svg";

/// Histogram bins of width `width` from 0: `(lower edge, count)`.
pub fn histogram(values: &[u64], width: u64) -> Vec<(u64, usize)> {
    let Some(&max) = values.iter().max() else {
        return vec![];
    };
    (0..=max / width)
        .map(|b| {
            let lo = b * width;
            (
                lo,
                values
                    .iter()
                    .filter(|v| (lo..lo + width).contains(*v))
                    .count(),
            )
        })
        .collect()
}

fn reroute(dir: &Path, v: &Value) -> Result<String> {
    let rec: Vec<u64> = v["cuts"]
        .as_array()
        .context("no cuts")?
        .iter()
        .filter_map(|c| c["recovery_cycles"].as_u64())
        .collect();
    let width = 16;
    let bins = histogram(&rec, width);
    let xmax = bins.last().map_or(80.0, |b| (b.0 + width) as f64).max(80.0);
    let ymax = bins.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64 * 1.25;
    svg(dir, REROUTE_FILE, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!(
                    "{} mesh: recovery after a link cut ({} cuts)",
                    v["mesh"].as_str().unwrap_or("?"),
                    v["cuts_tried"]
                ),
                (FONT, 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..xmax, 0f64..ymax)
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(format!("recovery cycles (bins of {width})"))
            .y_desc("cuts")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| {
                if (y - y.round()).abs() < 1e-6 {
                    format!("{y:.0}")
                } else {
                    String::new()
                }
            })
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        let c = colour(0);
        chart
            .draw_series(bins.iter().filter(|b| b.1 > 0).map(|(lo, n)| {
                Rectangle::new(
                    [
                        (*lo as f64 + 0.5, 0.0),
                        ((*lo + width) as f64 - 0.5, *n as f64),
                    ],
                    c.filled(),
                )
            }))
            .map_err(|e| anyhow!("{e}"))?;
        let g = colour(1);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(64.0, 0.0), (64.0, ymax)],
                6,
                4,
                g.stroke_width(2),
            ))
            .map_err(|e| anyhow!("{e}"))?
            .label("goal: recovery <= 64 cycles")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], g));
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    })
}

/// `sim-speed.svg`: model cycles per second against mesh size, idle and with
/// traffic (from the uniform 1-flit noc benches), with the goals.
pub const SPEED_FILE: &str = "sim-speed.svg";

fn sim_speed(dir: &Path, runs: &[(&str, Value)]) -> Result<String> {
    let nodes = |mesh: &str| -> Result<f64> {
        let g = MeshGeometry::parse(mesh).map_err(anyhow::Error::msg)?;
        Ok(g.nodes() as f64)
    };
    // x: log2 of the node count, so 2x2, 4x4 and 8x8 sit at 2, 4 and 6.
    let mut idle = vec![];
    let mut traffic = vec![];
    for (mesh, v) in runs {
        let x = nodes(mesh)?.log2();
        idle.push((x, num(v, "model_idle_cycles_per_second")?));
        traffic.push((x, num(v, "sim_cycles_per_second")?));
    }
    let goals = [
        (4.0, 1_000_000.0, "4x4 idle goal 1M"),
        (4.0, 500_000.0, "4x4 with traffic goal 500k"),
        (6.0, 250_000.0, "8x8 idle goal 250k"),
    ];
    let ymin = idle
        .iter()
        .chain(&traffic)
        .map(|p| p.1)
        .fold(f64::MAX, f64::min)
        .min(1e5)
        / 2.0;
    let ymax = idle.iter().chain(&traffic).map(|p| p.1).fold(2e6, f64::max) * 1.5;
    let names: Vec<String> = SPEED_MESHES.iter().map(|s| s.to_string()).collect();
    svg(dir, SPEED_FILE, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Verilator model speed (goals: 4x4 idle 1M, with traffic 500k; 8x8 idle 250k)",
                (FONT, 16),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(1f64..7f64, (ymin.max(1.0)..ymax).log_scale())
            .map_err(|e| anyhow!("{e}"))?;
        let labels = names.clone();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(7)
            .x_label_formatter(&move |x| {
                labels
                    .iter()
                    .find(|m| {
                        MeshGeometry::parse(m)
                            .is_ok_and(|g| ((g.nodes() as f64).log2() - x).abs() < 1e-6)
                    })
                    .map(|m| format!("{m} ({:.0} nodes)", x.exp2()))
                    .unwrap_or_default()
            })
            .y_label_formatter(&|y| pretty(*y))
            .x_desc("mesh")
            .y_desc("simulated cycles per second (log)")
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        for (i, (label, pts)) in [("idle model", &idle), ("bench noc, with traffic", &traffic)]
            .into_iter()
            .enumerate()
        {
            let c = colour(i);
            chart
                .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                .map_err(|e| anyhow!("{e}"))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 4, c.filled())))
                .map_err(|e| anyhow!("{e}"))?;
        }
        let g = colour(2);
        chart
            .draw_series(
                goals
                    .iter()
                    .map(|(x, y, _)| Cross::new((*x, *y), 6, g.stroke_width(2))),
            )
            .map_err(|e| anyhow!("{e}"))?
            .label("goals")
            .legend(move |(x, y)| Cross::new((x + 10, y), 5, g.stroke_width(2)));
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        Ok(())
    })
}

/// Names of the latency plots for every mesh and packet size, for the
/// report and the tests.
pub fn latency_files() -> Vec<(String, String)> {
    let mut v = vec![];
    for mesh in LATENCY_MESHES {
        for flits in PACKET_FLITS {
            v.push((mesh.to_string(), latency_file(mesh, flits)));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_each_value_once_in_its_bin() {
        let h = histogram(&[0, 15, 16, 47, 142], 16);
        assert_eq!(h.len(), 142 / 16 + 1);
        assert_eq!(h[0], (0, 2));
        assert_eq!(h[1], (16, 1));
        assert_eq!(h[2], (32, 1));
        assert_eq!(h.last(), Some(&(128, 1)));
        assert_eq!(h.iter().map(|b| b.1).sum::<usize>(), 5);
        assert!(histogram(&[], 16).is_empty());
    }
}
