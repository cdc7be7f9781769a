//! Checks shared by the bench-suite tests: the JSON shape of a `bench all`
//! folder and its SVG plots. (Each test binary uses part of it.)
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn meshctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshctl"))
        .args(args)
        .output()
        .expect("meshctl runs")
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh, empty folder under the system temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("meshctl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// The value at a dotted path, which must be a finite number.
pub fn number(v: &Value, key: &str, what: &str) -> f64 {
    let x = key
        .split('.')
        .try_fold(v, |v, k| v.get(k))
        .unwrap_or_else(|| panic!("{what}: no field `{key}`"));
    let n = x
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: `{key}` is {x}, not a number"));
    assert!(n.is_finite(), "{what}: `{key}` = {n}");
    n
}

fn string<'a>(v: &'a Value, key: &str, what: &str) -> &'a str {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{what}: `{key}` is not a string"))
}

fn array<'a>(v: &'a Value, key: &str, what: &str) -> &'a Vec<Value> {
    v.get(key)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{what}: `{key}` is not an array"))
}

/// The fields `bench noc` has always printed, the ones added with the
/// convergence test, and sanity that holds for any measurement.
pub fn check_noc(v: &Value, what: &str) {
    for k in [
        "packet_flits",
        "flit_bits",
        "zero_load_latency_cycles",
        "avg_hops",
        "cycles_per_hop",
        "saturation_throughput",
        "sim_cycles_per_second",
        "model_idle_cycles_per_second",
        "lost_packets",
        "zero_load_latency_all_pairs_cycles",
        "avg_hops_all_pairs",
        "zero_load_fixed_cycles",
        "saturation_offered",
        "throughput_bound.offered_flits_per_node_cycle",
        "throughput_bound.accepted_flits_per_node_cycle",
        "throughput_bound.max_channel_load",
        "throughput_bound.sending_fraction",
        "bisection_bound",
        "saturation_fraction_of_bound",
        "points_converged",
        "method.window_cycles",
        "method.max_warmup_windows",
        "method.max_windows",
        "method.converge_windows",
        "method.tolerance",
        "method.seed",
    ] {
        number(v, k, what);
    }
    for k in ["mesh", "pattern"] {
        string(v, k, what);
    }
    for k in [
        "injection",
        "source_queue",
        "latency",
        "warmup",
        "convergence",
    ] {
        string(&v["method"], k, what);
    }
    string(&v["throughput_bound"], "channel", what);
    string(&v["throughput_bound"], "kind", what);
    assert_eq!(number(v, "lost_packets", what), 0.0, "{what}");
    let curve = array(v, "curve", what);
    assert!(curve.len() >= 2, "{what}: {} points", curve.len());
    for (i, p) in curve.iter().enumerate() {
        let w = format!("{what} point {i}");
        for k in [
            "offered",
            "accepted",
            "avg_latency",
            "p99_latency",
            "packets_measured",
            "warmup_windows",
            "windows",
        ] {
            number(p, k, &w);
        }
        for k in ["converged", "unstable", "warmed_up"] {
            assert!(p[k].is_boolean(), "{w}: `{k}`");
        }
        assert!(number(p, "windows", &w) >= 1.0, "{w}");
        assert!(number(p, "packets_measured", &w) > 0.0, "{w}");
        assert_eq!(
            array(p, "window_avg_latency", &w).len() as f64,
            number(p, "windows", &w),
            "{w}"
        );
    }
    let sat = number(v, "saturation_throughput", what);
    let bound = number(v, "throughput_bound.accepted_flits_per_node_cycle", what);
    // A stable point cannot carry more than the busiest channel allows.
    assert!(
        sat > 0.0 && sat <= bound * 1.05,
        "{what}: saturation {sat} against the analytic bound {bound}"
    );
    // Two cycles per hop at zero load (the router's pipeline).
    let cph = number(v, "cycles_per_hop", what);
    assert!((cph - 2.0).abs() < 1e-6, "{what}: {cph} cycles per hop");
}

/// Mean hops of a pattern on a k x k mesh, computed here from its
/// definition (not by the code under test).
pub fn expected_hops(k: i64, pattern: &str) -> f64 {
    let mut sum = 0i64;
    let mut pairs = 0i64;
    for y in 0..k {
        for x in 0..k {
            let dest = match pattern {
                "transpose" => (y, x),
                "bitcomp" => (k - 1 - x, k - 1 - y),
                _ => unreachable!(),
            };
            if dest != (x, y) {
                sum += (dest.0 - x).abs() + (dest.1 - y).abs();
                pairs += 1;
            }
        }
    }
    sum as f64 / pairs as f64
}

/// Every file index.json lists, checked by kind; returns the plots' names.
pub fn check_folder(dir: &Path) -> Vec<String> {
    let index = read_json(&dir.join("index.json"));
    for k in ["command", "date"] {
        string(&index, k, "index.json");
    }
    assert!(index["quick"].is_boolean());
    number(&index, "seconds", "index.json");
    let files = array(&index, "files", "index.json");
    assert!(array(&index, "failures", "index.json").is_empty());
    array(&index, "skipped", "index.json");
    let mut kinds = std::collections::BTreeSet::new();
    for e in files {
        let file = string(e, "file", "index.json files");
        string(e, "command", file);
        number(e, "seconds", file);
        let v = read_json(&dir.join(file));
        let kind = file.split('-').next().unwrap().trim_end_matches(".json");
        kinds.insert(kind.to_string());
        match kind {
            "noc" => {
                check_noc(&v, file);
                let mesh = string(&v, "mesh", file);
                let pattern = string(&v, "pattern", file);
                let k: i64 = mesh.split('x').next().unwrap().parse().unwrap();
                if pattern == "transpose" || pattern == "bitcomp" {
                    let want = expected_hops(k, pattern);
                    let got = number(&v, "avg_hops", file);
                    assert!(
                        (got - want).abs() < 1e-9,
                        "{file}: avg_hops {got}, want {want}"
                    );
                }
            }
            "multicast" => {
                for k in [
                    "innetwork_cycles",
                    "unicast_cycles",
                    "speedup",
                    "innetwork_link_flits",
                    "unicast_link_flits",
                    "copies_delivered",
                ] {
                    number(&v, k, file);
                }
                let sizes = array(&v, "group_sizes", file);
                assert!(!sizes.is_empty());
                for c in sizes {
                    number(c, "members", file);
                    number(c, "speedup", file);
                }
            }
            "host" => {
                for k in [
                    "host_to_host_latency_cycles.one_hop",
                    "host_to_host_latency_cycles.farthest_pair",
                    "packets_per_node_per_kcycle",
                    "doorbells_per_packet",
                    "doorbells_per_packet_unbatched",
                    "sim_cycles_per_second",
                ] {
                    number(&v, k, file);
                }
                assert_eq!(number(&v, "lost_packets", file), 0.0);
            }
            "discovery" => {
                for k in [
                    "discovery_cycles_local",
                    "discovery_cycles_mesh",
                    "discovery_cycles_quadrant_from_node0",
                    "discovery_messages_expanding",
                    "discovery_messages_full_broadcast",
                    "failover_cycles",
                ] {
                    number(&v, k, file);
                }
            }
            "reroute" => {
                for k in [
                    "cuts_tried",
                    "links_in_mesh",
                    "recovery_cycles_max",
                    "recovery_cycles_p50",
                    "lost_in_flight_max",
                    "deadlocks",
                    "recovery_unmeasured",
                    "saturation_all_up",
                    "saturation_one_link_down",
                    "method.saturation_window_cycles",
                ] {
                    number(&v, k, file);
                }
                let cuts = array(&v, "cuts", file);
                assert_eq!(cuts.len() as f64, number(&v, "cuts_tried", file));
                assert!(cuts.iter().all(|c| c["drained"].is_boolean()));
            }
            "sim" => {
                let meshes = array(&v, "meshes", file);
                assert!(meshes.len() >= 2, "{file}: a reference and another mesh");
                for m in meshes {
                    number(m, "model_idle_cycles_per_second", file);
                    number(m, "ratio_to_reference", file);
                }
            }
            "hw" => {
                array(&v, "designs", file);
            }
            other => panic!("index.json lists {file} of unknown kind {other}"),
        }
    }
    // hw.json is written either way: a report, or a skip record with its reason.
    let hw = read_json(&dir.join("hw.json"));
    if hw["skipped"] == true {
        string(&hw, "reason", "hw.json");
    }
    let plots: Vec<String> = array(&index, "plots", "index.json")
        .iter()
        .map(|p| p.as_str().expect("plot name").to_string())
        .collect();
    for p in &plots {
        check_svg(&dir.join(p));
    }
    for kind in ["noc", "multicast", "host", "discovery", "reroute", "sim"] {
        assert!(kinds.contains(kind), "no {kind} bench in {kinds:?}");
    }
    plots
}

/// Parses as XML, an `svg` root with text, and the marks each plot draws.
pub fn check_svg(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text)
        .unwrap_or_else(|e| panic!("{}: not XML: {e}", path.display()));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg", "{}", path.display());
    let count = |tag: &str| {
        doc.descendants()
            .filter(|n| n.tag_name().name() == tag)
            .count()
    };
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    assert!(count("text") >= 3, "{name}: no axis labels");
    if name.starts_with("noc-latency") || name == "sim-speed.svg" || name == "multicast-speedup.svg"
    {
        // Lines through the points, and the points.
        assert!(count("polyline") > 0, "{name}: no <polyline>");
        assert!(count("circle") >= 2, "{name}: no points");
    } else if name == "discovery-cycles.svg" || name == "reroute-recovery.svg" {
        // The background, then a bar per scope (three) or the goal's legend
        // box (two) and at least one bin.
        assert!(count("rect") >= 4, "{name}: {} <rect>", count("rect"));
    } else {
        panic!("unexpected plot {name}");
    }
}
