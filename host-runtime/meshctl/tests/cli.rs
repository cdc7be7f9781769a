//! `meshctl` as a user runs it: the service tables and the demo on the
//! Verilator card, and bad arguments refused with one clear line.

use std::process::{Command, Output};

fn meshctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshctl"))
        .args(args)
        .output()
        .expect("meshctl runs")
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = meshctl(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

#[test]
fn the_demo_loses_no_call_when_a_replica_dies() {
    let d = json(&["demo", "--json"]);
    let s = &d["services"];
    assert_eq!(s["calls"], s["completed"]);
    assert_eq!(s["failed"], 0);
    let victim = s["killed"].as_u64().expect("a replica was killed");
    assert!(s["failovers"].as_u64().unwrap() > 0);
    // Each client found the service; the scope that found it is named.
    let found: Vec<_> = s["discoveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["background"] == false)
        .collect();
    assert_eq!(found.len(), 13);
    assert!(found
        .iter()
        .all(|x| x["replica"].is_u64() && x["scope"].is_string()));
    // The presence tables show the victim's expired lease, and only its.
    let expired: Vec<u64> = s["service_tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["lease_expired"] == true)
        .map(|r| r["node"].as_u64().unwrap())
        .collect();
    assert_eq!(expired, vec![victim]);
    assert_eq!(s["routes"]["routes"].as_array().unwrap().len(), 16);
}

#[test]
fn tables_are_read_from_the_card() {
    let r = json(&["rules", "--node", "6", "--json"]);
    assert_eq!(r["node"], 6);
    let rules = r["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["service"], 1);
    let routes = json(&["routes", "--node", "0", "--json"]);
    let rows = routes["routes"].as_array().unwrap();
    assert_eq!(rows.len(), 16);
    assert_eq!(
        rows[0]["primary"], "L",
        "a node routes to itself through its local port"
    );
    let s = json(&["services", "--json"]);
    let nodes: Vec<u64> = s["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["node"].as_u64().unwrap())
        .collect();
    assert_eq!(nodes, vec![5, 10, 15]);
}

#[test]
fn bad_arguments_get_one_clear_line() {
    for (args, code, want) in [
        (
            &["routes", "--node", "99"][..],
            1,
            "node 99 is not on the 4x4 card",
        ),
        (&["routes"][..], 2, "--node"),
        (&["rules", "--node", "x"][..], 2, "invalid value 'x'"),
        (&["bench", "discovery", "--mesh", "3x3"][..], 1, "4x4 card"),
        (&["bench", "discovery", "--mesh", "3y3"][..], 2, "WxH"),
        (
            &["demo", "--policy", "/nonexistent.toml"][..],
            1,
            "reading the search policy",
        ),
        (
            &["bench", "noc", "--tolerance", "5"][..],
            2,
            "a fraction between 0 and 1",
        ),
        (&["bench", "report", "--out", "x.md"][..], 2, "--in"),
        (
            &["bench", "faults", "--mesh", "3x3", "--quick"][..],
            1,
            "no card model is built for 3x3",
        ),
        (&["bench", "faults", "--faults", "0"][..], 2, "--faults"),
        (&["faults", "--seed", "x"][..], 2, "invalid value 'x'"),
    ] {
        let out = meshctl(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn a_bad_policy_file_is_refused_with_its_reason() {
    let dir = std::env::temp_dir().join(format!("meshctl-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[[step]]\nscope = \"galaxy\"\ntimeout_cycles = 10\n").unwrap();
    let out = meshctl(&["demo", "--policy", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("galaxy") && err.contains("bad.toml"), "{err}");
    // A good one changes the search: the whole mesh at once.
    let good = dir.join("good.toml");
    std::fs::write(&good, "[[step]]\nscope = \"mesh\"\ntimeout_cycles = 900\n").unwrap();
    let d = json(&["demo", "--json", "--policy", good.to_str().unwrap()]);
    let first: Vec<_> = d["services"]["discoveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["background"] == false)
        .collect();
    assert!(first.iter().all(|x| x["scope"] == "mesh" && x["step"] == 0));
    let _ = std::fs::remove_dir_all(&dir);
}
