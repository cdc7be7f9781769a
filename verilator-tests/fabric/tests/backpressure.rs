//! A node that stops taking packets backs the mesh up; nothing is lost, and
//! everything arrives once it resumes.

use replimesh_scoreboard::{make_packet, Scoreboard};
use replimesh_sim::Fabric;
use replimesh_spec::MeshGeometry;

#[test]
fn stalled_sink_loses_nothing_and_drains_after_resume() {
    let g = MeshGeometry::new(4, 4).unwrap();
    let mut f = Fabric::new(g, 64).unwrap();
    let sink = g.node_id(2, 2);
    f.set_accepting(sink, false).unwrap();
    let mut sb = Scoreboard::new();
    // Every other node sends 20 four-flit packets to the stalled sink.
    for round in 0..20 {
        for src in g.node_ids().filter(|s| *s != sink).collect::<Vec<_>>() {
            let p = make_packet(&mut sb, &f, src, sink, 4);
            f.send(src, &p).unwrap();
        }
        if round == 0 {
            f.step_n(10).unwrap();
        }
    }
    f.step_n(5000).unwrap();
    // Stalled: only what fits in the sink's buffer has come out.
    assert!(
        f.recv(sink).is_none(),
        "a stalled sink must not complete packets"
    );
    let stuck = f.host_flits_pending();
    assert!(
        stuck > 15 * 20 * 4 / 2,
        "the mesh should be backed up, {stuck} flits pending"
    );
    let routed_before = f.counters(g.node_id(2, 1)).unwrap().flits_routed;
    f.step_n(1000).unwrap();
    assert_eq!(
        f.counters(g.node_id(2, 1)).unwrap().flits_routed,
        routed_before,
        "a backed-up router still moved flits"
    );
    f.set_accepting(sink, true).unwrap();
    let mut delivered = 0;
    for _ in 0..20_000 {
        f.step().unwrap();
        while let Some(d) = f.recv(sink) {
            assert!(sb.on_deliver(&d).is_some(), "unexpected delivery {d:?}");
            delivered += 1;
        }
        if sb.outstanding() == 0 {
            break;
        }
    }
    let report = sb.finish();
    assert!(report.is_clean(), "{:?}", report.findings);
    assert_eq!(delivered, 15 * 20);
    for id in g.node_ids().collect::<Vec<_>>() {
        let c = f.counters(id).unwrap();
        assert_eq!(
            (c.overflow, c.drop_ttl, c.drop_unroutable, c.drop_malformed),
            (0, 0, 0, 0),
            "router {id:?}"
        );
    }
}
