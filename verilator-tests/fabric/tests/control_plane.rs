//! The master-less control plane (issue 13, items 1 to 3) on the generated
//! card Verilog: the card starts from reset and nothing but the nodes'
//! runtimes ever writes a route table, each only its own router's, through
//! its own window. They learn link changes from the card's `link`
//! interrupt, flood link-state adverts, compute the up*/down* tables, agree
//! through the adverts when to switch (the double scheme), and must end on
//! the tables of the graph as it is, read back from every router. Reliable
//! streams between every pair of nodes run the whole time and are checked
//! exactly-once and in order (`replimesh_campaign::streams`). Convergence is measured
//! from the fault to the last router on the new tables with its old VC
//! drained.

use replimesh_campaign::streams::Run;
use replimesh_node::ControlPlaneConfig;
use replimesh_spec::routing::mesh_links;
use replimesh_spec::{MeshGeometry, NodeId};

const LOAD: f64 = 0.3;
const LIMIT: u64 = 200_000;

/// A 4×4 card from reset, the runtimes' control planes booted, traffic on.
/// `max_attempts`: the transport's, low where a node dies (its senders give
/// up on it).
fn booted(seed: u64, max_attempts: u32) -> Run {
    let g = MeshGeometry::new(4, 4).unwrap();
    let mut run = Run::master_less(g, seed, max_attempts, ControlPlaneConfig::default());
    let boot = run.until_converged(0.0, LIMIT);
    eprintln!("4x4 boot: every router on up*/down* tables after {boot} cycles");
    run.rounds(1_000, LOAD);
    run
}

fn report(what: &str, cycles: &[u64]) {
    let max = cycles.iter().max().copied().unwrap_or(0);
    let mut s = cycles.to_vec();
    s.sort();
    let p50 = s.get(s.len() / 2).copied().unwrap_or(0);
    eprintln!(
        "{what}: {} changes, convergence p50 {p50}, max {max} cycles",
        s.len()
    );
}

#[test]
fn every_single_link_cut_and_restored_converges_and_loses_nothing() {
    let g = MeshGeometry::new(4, 4).unwrap();
    let mut run = booted(1, 40);
    let mut cut_times = vec![];
    let mut restore_times = vec![];
    for (id, port) in mesh_links(&g) {
        let node = run.ids.iter().position(|&i| i == id.0).expect("a node");
        run.card.borrow_mut().cut_link(node, port).unwrap();
        run.faults.set_link_down(id, port).unwrap();
        cut_times.push(run.until_converged(LOAD, LIMIT));
        run.card.borrow_mut().restore_link(node, port).unwrap();
        run.faults.set_link_up(id, port).unwrap();
        restore_times.push(run.until_converged(LOAD, LIMIT));
    }
    run.finish(400_000);
    let s = run.stats();
    assert_eq!(s.sent, run.delivered, "every message sent arrived");
    assert!(
        run.gave_up.is_empty(),
        "nothing given up: {:?}",
        run.gave_up
    );
    assert!(run.delivered > 2_000, "enough traffic: {}", run.delivered);
    report("4x4 single link cut", &cut_times);
    report("4x4 link restored", &restore_times);
    let cut = run.link_cuts();
    eprintln!(
        "{} messages, {cut} packets cut, {} retransmits",
        run.delivered, s.retransmits
    );
}

/// Any single node lost, its router and host together: node 0 (the lowest
/// id, the up*/down* root), a centre node and a corner. Nobody computes for
/// anybody, so losing node 0 changes nothing about who does what.
#[test]
fn a_lost_router_is_routed_around_whoever_it_is() {
    let mut times = vec![];
    for (seed, victim) in [(2u64, 0usize), (3, 5), (4, 15)] {
        let mut run = booted(seed, 10);
        run.card.borrow_mut().kill_router(victim).unwrap();
        run.cluster.kill(victim);
        run.faults.set_router_dead(NodeId(run.ids[victim])).unwrap();
        times.push(run.until_converged(LOAD, LIMIT));
        run.rounds(3_000, LOAD);
        run.finish(400_000);
        let dead = run.ids[victim];
        for ((src, dst), n) in &run.gave_up {
            assert_eq!(*dst, dead, "{src} gave up {n} messages to live node {dst}");
        }
    }
    report("4x4 router lost (0, 5, 15)", &times);
}

/// Two failures at once: node 0's router and node 9's.
#[test]
fn two_routers_lost_at_once_the_lowest_id_among_them() {
    let mut run = booted(5, 10);
    for victim in [0usize, 9] {
        run.card.borrow_mut().kill_router(victim).unwrap();
        run.cluster.kill(victim);
        run.faults.set_router_dead(NodeId(run.ids[victim])).unwrap();
    }
    let t = run.until_converged(LOAD, LIMIT);
    run.rounds(3_000, LOAD);
    run.finish(400_000);
    for ((src, dst), n) in &run.gave_up {
        assert!(
            [0, 9].contains(dst),
            "{src} gave up {n} messages to live node {dst}"
        );
    }
    report("4x4 routers 0 and 9 lost together", &[t]);
}

/// A host that dies (its runtime stops; its router keeps forwarding) is
/// told apart from a dead router: its links stay up, its adverts stop, and
/// it ages out of every database; the rest route around it. Restarted, its
/// new runtime rejoins: it takes up the epoch in use, and the next change
/// brings it back in, with nobody else restarted.
#[test]
fn a_dead_host_ages_out_and_its_restarted_runtime_rejoins() {
    let mut run = booted(6, 10);
    let victim = 6usize;
    run.cluster.kill(victim);
    let gone = run.until_converged(LOAD, LIMIT);
    // Everything to it reported, everything else delivered, before its
    // host comes back (what it had in flight died with it).
    run.finish(400_000);
    run.restart(victim).expect("the endpoint reopens");
    let back = run.until_converged(LOAD, LIMIT);
    let members = run.cluster.node(1).control_plane().unwrap().members();
    assert!(members.contains(&NodeId(run.ids[victim])), "{members:?}");
    assert_eq!(
        run.cluster
            .node(victim)
            .control_plane()
            .unwrap()
            .stats()
            .joins,
        1
    );
    // Streams to and from it work again.
    run.rounds(3_000, LOAD);
    run.finish(400_000);
    let me = run.ids[victim];
    assert!(
        run.expected.iter().any(|((s, _), n)| *s == me && *n > 0),
        "the restarted node's messages arrive"
    );
    report("4x4 host dead (aged out)", &[gone]);
    report("4x4 host restarted (rejoined)", &[back]);
}

/// The card's `link` interrupt: a link going down or up sets the cause,
/// raises the line, moves `link_events_total` and shows in `link_up`, on
/// both routers' endpoints, with no router register read.
#[test]
fn a_link_change_raises_the_link_interrupt_on_both_ends() {
    use replimesh_driver::{Device, Endpoint, EndpointConfig};
    use replimesh_regs::regmap as r;
    use replimesh_sim::card::CardSim;
    use replimesh_spec::PortDir;
    let g = MeshGeometry::new(2, 2).unwrap();
    let card = CardSim::new(g).expect("card model built");
    let mut eps: Vec<_> = CardSim::devices(&card)
        .into_iter()
        .map(|d| Endpoint::open(d, EndpointConfig::default()).expect("endpoint opens"))
        .collect();
    card.borrow_mut().steps(200).unwrap();
    for ep in eps.iter_mut() {
        // The rings are polled; only the link cause raises the line.
        ep.write(r::IRQ_POLL_MODE, 0).unwrap();
        ep.write(r::IRQ_ENABLE, 1 << 3).unwrap();
        ep.ack_interrupts().unwrap();
        while ep.device().take_event().is_some() {}
    }
    // Node 0 (x 0, y 0): east to node 1, south to node 2.
    let up0 = eps[0].read(r::IRQ_LINK_UP).unwrap();
    assert_eq!(up0, 1 << PortDir::E as u32 | 1 << PortDir::S as u32);
    let events0 = eps[0].read(r::IRQ_LINK_EVENTS).unwrap();
    assert!(events0 >= 1, "the links coming up after reset were events");
    card.borrow_mut().cut_link(0, PortDir::E).unwrap();
    card.borrow_mut().steps(100).unwrap();
    for k in [0usize, 1] {
        let ep = &mut eps[k];
        assert!(
            ep.device().take_event().is_some(),
            "node {k}: interrupt raised"
        );
        let cause = ep.ack_interrupts().unwrap();
        assert_ne!(cause & 1 << 3, 0, "node {k}: the link cause: {cause:#x}");
    }
    assert_eq!(eps[0].read(r::IRQ_LINK_UP).unwrap(), 1 << PortDir::S as u32);
    assert_eq!(eps[1].read(r::IRQ_LINK_UP).unwrap(), 1 << PortDir::S as u32);
    assert_eq!(eps[0].read(r::IRQ_LINK_EVENTS).unwrap(), events0 + 1);
    // Nodes 2 and 3 saw nothing.
    for k in [2usize, 3] {
        let cause = eps[k].ack_interrupts().unwrap();
        assert_eq!(cause & 1 << 3, 0, "node {k}");
    }
    card.borrow_mut().restore_link(0, PortDir::E).unwrap();
    card.borrow_mut().steps(400).unwrap();
    assert_ne!(eps[0].ack_interrupts().unwrap() & 1 << 3, 0);
    assert_eq!(
        eps[0].read(r::IRQ_LINK_UP).unwrap(),
        1 << PortDir::E as u32 | 1 << PortDir::S as u32
    );
}
