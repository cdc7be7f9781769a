//! docs/performance.md is rendered from docs/bench/: re-rendering it from
//! the committed results must give the committed file, and the committed
//! results must have the shape `bench all` writes.

mod common;

use common::{check_folder, meshctl, repo_root, temp_dir};

#[test]
fn performance_md_is_rendered_from_docs_bench() {
    let root = repo_root();
    let bench = root.join("docs/bench");
    let doc = root.join("docs/performance.md");
    // Render a copy laid out as in docs/ (the images link bench/...).
    let tmp = temp_dir("perf-md");
    let tmp_bench = tmp.join("bench");
    std::fs::create_dir_all(&tmp_bench).unwrap();
    for e in std::fs::read_dir(&bench).expect("docs/bench exists") {
        let p = e.unwrap().path();
        std::fs::copy(&p, tmp_bench.join(p.file_name().unwrap())).unwrap();
    }
    let tmp_doc = tmp.join("performance.md");
    std::fs::copy(&doc, &tmp_doc).unwrap();
    let out = meshctl(&[
        "bench",
        "report",
        "--in",
        tmp_bench.to_str().unwrap(),
        "--out",
        tmp_doc.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "bench report: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = std::fs::read_to_string(&tmp_doc).unwrap();
    if std::env::var("REPLIMESH_BLESS").as_deref() == Ok("1") {
        std::fs::write(&doc, &want).unwrap();
    }
    let have = std::fs::read_to_string(&doc).unwrap();
    if want != have {
        let line = want
            .lines()
            .zip(have.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(have.lines().count()));
        panic!(
            "docs/performance.md is stale from line {}: refresh it with\n  cargo run --release -p meshctl -- bench report --in docs/bench --out docs/performance.md\n(or rerun this test with REPLIMESH_BLESS=1)",
            line + 1
        );
    }
    // Every figure the document embeds is in docs/bench.
    for (i, _) in have.match_indices("](bench/") {
        let rest = &have[i + 2..];
        let file = &rest[..rest.find(')').unwrap()];
        assert!(root.join("docs").join(file).exists(), "{file} missing");
    }
    assert!(have.contains("](bench/noc-latency-4x4-1.svg)"));
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn committed_results_have_the_suite_shape() {
    let plots = check_folder(&repo_root().join("docs/bench"));
    assert!(plots.len() >= 6, "{plots:?}");
}
