//! Unicast delivery on the generated Verilog: every packet exactly once,
//! intact and in order, at zero load and past saturation.

use replimesh_scoreboard::{run_traffic, zero_load, Finding, Pattern, Scoreboard, TrafficConfig};
use replimesh_sim::Fabric;
use replimesh_spec::MeshGeometry;

fn mesh(w: u32, h: u32) -> Fabric {
    Fabric::new(MeshGeometry::new(w, h).unwrap(), 64).expect("model built")
}

#[test]
fn every_pair_delivers_at_zero_load_in_two_cycles_per_hop() {
    let mut f = mesh(4, 4);
    let (z, report) = zero_load(&mut f, 1).unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(report.sent, 16 * 15);
    assert!(
        z.cycles_per_hop <= 2.0 + 1e-9,
        "cycles per hop {}",
        z.cycles_per_hop
    );
}

fn saturate(w: u32, h: u32, pattern: Pattern, packet_flits: usize, seed: u64) {
    let mut f = mesh(w, h);
    let cfg = TrafficConfig {
        pattern,
        packet_flits,
        offered: 1.0,
        warmup_cycles: 200,
        measure_cycles: 1500,
        drain_limit_cycles: 200_000,
        seed,
    };
    eprintln!("seed {seed} pattern {pattern:?} {w}x{h} packet_flits {packet_flits}");
    let r = run_traffic(&mut f, &cfg, &mut Scoreboard::new()).unwrap();
    assert!(
        r.report.sent > 1000,
        "too little traffic: {}",
        r.report.sent
    );
    assert!(
        r.report.is_clean(),
        "seed {seed}: {:?}",
        &r.report.findings[..r.report.findings.len().min(10)]
    );
    assert_eq!(f.host_flits_pending(), 0);
}

#[test]
fn uniform_past_saturation_loses_nothing_4x4() {
    saturate(4, 4, Pattern::Uniform, 1, 1);
    saturate(4, 4, Pattern::Uniform, 4, 2);
}

#[test]
fn transpose_bitcomp_hotspot_past_saturation_lose_nothing_4x4() {
    saturate(4, 4, Pattern::Transpose, 4, 3);
    saturate(4, 4, Pattern::Bitcomp, 4, 4);
    saturate(4, 4, Pattern::Hotspot, 4, 5);
}

#[test]
fn scoreboard_reports_a_packet_that_never_arrives() {
    // Prove the checker can fail: record a send that is never injected.
    let f = mesh(2, 2);
    let mut sb = Scoreboard::new();
    let g = f.geometry();
    let _ = replimesh_scoreboard::make_packet(&mut sb, &f, g.id_at(0), g.id_at(3), 2);
    let report = sb.finish();
    assert!(!report.is_clean());
    assert!(matches!(report.findings[0], Finding::Lost { .. }));
}

#[test]
fn every_pattern_past_saturation_loses_nothing_8x8() {
    saturate(8, 8, Pattern::Uniform, 1, 21);
    saturate(8, 8, Pattern::Uniform, 4, 22);
    saturate(8, 8, Pattern::Transpose, 4, 23);
    saturate(8, 8, Pattern::Bitcomp, 4, 24);
    saturate(8, 8, Pattern::Hotspot, 4, 25);
}
