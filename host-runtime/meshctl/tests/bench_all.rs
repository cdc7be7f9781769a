//! `meshctl bench all --quick`: every bench runs, every file is written with
//! its full JSON shape, the plots are SVG with what they should draw, and
//! `bench report` renders a document from the folder.

mod common;

use common::{check_folder, meshctl, read_json, temp_dir};

#[test]
fn bench_all_quick_writes_every_file_with_its_shape() {
    let dir = temp_dir("bench-all");
    let d = dir.to_str().unwrap();
    let out = meshctl(&["bench", "all", "--quick", "--out", d]);
    assert!(
        out.status.success(),
        "bench all --quick: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plots = check_folder(&dir);
    // 4x4 latency plots for both packet sizes, and one of each other kind.
    for p in [
        "noc-latency-4x4-1.svg",
        "noc-latency-4x4-4.svg",
        "multicast-speedup.svg",
        "discovery-cycles.svg",
        "reroute-recovery.svg",
        "sim-speed.svg",
    ] {
        assert!(plots.iter().any(|x| x == p), "{p} not drawn: {plots:?}");
    }
    let index = read_json(&dir.join("index.json"));
    assert_eq!(index["quick"], true);
    // 8x8 and the hardware flow are left out of --quick, and say so.
    let skipped = index["skipped"].as_array().unwrap();
    for what in ["noc 8x8", "hw report"] {
        assert!(
            skipped
                .iter()
                .any(|s| s["what"].as_str().unwrap().contains(what)
                    && !s["reason"].as_str().unwrap().is_empty()),
            "{what} not listed as skipped: {skipped:?}"
        );
    }
    // Every bench of the suite: the 2x2 reference, 4 patterns x 2 sizes on 4x4,
    // the speed rounds, multicast, host, discovery, reroute.
    assert_eq!(index["files"].as_array().unwrap().len(), 1 + 8 + 1 + 4);
    let reroute = read_json(&dir.join("reroute-4x4.json"));
    assert_eq!(reroute["cuts_tried"], 4);

    // The report renders every section from the folder into a new file.
    let md = dir.join("report.md");
    let out = meshctl(&["bench", "report", "--in", d, "--out", md.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "bench report: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&md).unwrap();
    for section in [
        "run",
        "noc",
        "multicast",
        "discovery",
        "reroute",
        "host",
        "speed",
        "hw",
    ] {
        assert!(
            text.contains(&format!("<!-- generated:begin {section} -->")),
            "no {section} section"
        );
    }
    assert!(
        text.contains("](./noc-latency-4x4-1.svg)"),
        "latency plot not linked"
    );
    assert!(
        text.contains("| 4×4 | transpose | 1 | "),
        "no transpose row"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_report_without_a_folder_says_what_to_run() {
    let dir = temp_dir("bench-report-empty");
    let md = dir.join("x.md");
    let out = meshctl(&[
        "bench",
        "report",
        "--in",
        dir.to_str().unwrap(),
        "--out",
        md.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no index.json") && err.contains("bench all"),
        "{err}"
    );
    assert!(!md.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
