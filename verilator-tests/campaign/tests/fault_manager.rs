//! Every node's fault manager on the card Verilog (issue 13, item 7): a link
//! cut, a dead router, a dead host, a flapping link and a node sending
//! malformed adverts, under reliable traffic. Each node locates them on its
//! own; the flapping link is forced down by its ends and the bad sender is
//! quarantined by the node it sent to; nothing is lost.

use replimesh_campaign::fault_view::{self, BAD_SENDER, CUT, DEAD_HOST, DEAD_ROUTER, FLAPPING};
use replimesh_node::{FaultSite, Isolation, Symptom};

#[test]
fn each_node_locates_the_faults_and_isolates_a_flapping_link_and_a_bad_sender() {
    let r = fault_view::run(1);
    assert!(r.converged, "{:#?}", r.injected);
    assert!(r.tally.clean(), "{:?}", r.tally);
    assert!(r.delivered > 200, "traffic ran throughout");
    let has = |node: u8, site: FaultSite, symptom: Symptom| {
        r.nodes
            .iter()
            .find(|n| n.node == node)
            .expect("a node")
            .faults
            .iter()
            .find(|f| f.site == site && f.symptom == symptom)
            .cloned()
    };
    let live: Vec<u8> = r.nodes.iter().filter(|n| n.alive).map(|n| n.node).collect();
    assert_eq!(
        live.len(),
        14,
        "router {DEAD_ROUTER} and host {DEAD_HOST} are down"
    );
    let cut = FaultSite::Link {
        node: CUT.0,
        port: CUT.1,
    };
    for &n in &live {
        if n == BAD_SENDER.0 {
            continue; // quarantined: out of everyone's graph, and its own
        }
        assert!(
            has(n, cut, Symptom::LinkDown).is_some(),
            "node {n}: the cut"
        );
        let router = FaultSite::Router { node: DEAD_ROUTER };
        assert!(
            has(n, router, Symptom::RouterDead).is_some(),
            "node {n}: the dead router"
        );
        let host = FaultSite::Host { node: DEAD_HOST };
        assert!(
            has(n, host, Symptom::HostDead).is_some(),
            "node {n}: the dead host, told apart from a dead router"
        );
        assert!(
            has(
                n,
                FaultSite::Router { node: DEAD_HOST },
                Symptom::RouterDead
            )
            .is_none(),
            "node {n}: host {DEAD_HOST}'s router is alive"
        );
        let q = FaultSite::Sender { node: BAD_SENDER.0 };
        assert!(has(n, q, Symptom::Quarantined).is_some(), "node {n}");
    }
    // Both ends of the flapping link saw it flap and forced it down.
    let flap = FaultSite::Link {
        node: FLAPPING.0,
        port: FLAPPING.1,
    };
    let below = 4; // node 0's south neighbour
    for (n, port) in [(FLAPPING.0, FLAPPING.1), (below, FLAPPING.1.opposite())] {
        let f = has(n, flap, Symptom::Flapping).unwrap_or_else(|| panic!("node {n}: no flap"));
        assert_eq!(
            f.action,
            Some(Isolation::ForceLinkDown { port }),
            "node {n}"
        );
        assert!(f.count >= 3, "node {n}: {} down events", f.count);
    }
    // The node the bad adverts reached quarantined their sender.
    let bad = FaultSite::Sender { node: BAD_SENDER.0 };
    let f = has(BAD_SENDER.1, bad, Symptom::MalformedTraffic).expect("located");
    assert_eq!(f.action, Some(Isolation::Quarantine { node: BAD_SENDER.0 }));
    assert!(f.count >= 3);
    // A node it never sent to saw no malformed traffic from it.
    assert!(has(0, bad, Symptom::MalformedTraffic).is_none());
}
