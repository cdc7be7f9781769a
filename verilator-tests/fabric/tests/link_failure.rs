//! Links and routers that die under load, on the generated Verilog.
//!
//! The routers find a dead link by themselves (heartbeat and parity, see
//! `hdl/blocks/src/router/link_monitor.rs`), close or drop the worms caught on
//! it, and take the alternate port at once. The control plane's part is
//! played here the way every node would play it: recompute up*/down* tables
//! from the link state (`replimesh_spec::routing`, the same on every node),
//! check them for deadlock, and load them. The scoreboard checks every
//! packet: delivered exactly once, intact and in order, or lost only if it
//! was sent before the failure was absorbed (it was on the failed component
//! or queued behind it); nothing sent after the reroute is lost, and the
//! fabric drains every time.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use replimesh_scoreboard::fault_run::{lost, unseen_per_cut, FaultRun, ABSORB_CYCLES};
use replimesh_scoreboard::{make_packet, Pattern, Scoreboard};
use replimesh_sim::{Fabric, SimError};
use replimesh_spec::routing::{mesh_links, Faults};
use replimesh_spec::{MeshGeometry, NodeId, PortDir};

#[test]
fn a_cut_link_is_seen_by_both_routers_and_comes_back_after_holddown() {
    let g = MeshGeometry::new(4, 4).unwrap();
    let mut f = Fabric::new(g, 64).unwrap();
    let (a, b) = (g.node_id(1, 1), g.node_id(2, 1));
    assert_eq!(f.link_state(a).unwrap() & 0xf, f.present_ports(a));
    // Only one direction is cut: the far end notices the silence, goes
    // quiet itself, and so the near end notices too.
    f.cut_link_direction(a, PortDir::E).unwrap();
    f.step_n(80).unwrap();
    assert_eq!(f.link_state(b).unwrap() & (1 << PortDir::W as u32), 0);
    assert_eq!(f.link_state(a).unwrap() & (1 << PortDir::E as u32), 0);
    assert_eq!(
        f.counters(b).unwrap().link_down_events[PortDir::W as usize],
        1
    );
    assert_eq!(
        f.counters(a).unwrap().link_down_events[PortDir::E as usize],
        1
    );
    // Untouched links stay up.
    assert_eq!(f.link_state(a).unwrap() & 0b1101, 0b1101);
    // Back only after the cut ends, the hold-down and the stable period.
    f.step_n(500).unwrap();
    assert_eq!(f.link_state(a).unwrap() & (1 << PortDir::E as u32), 0);
    f.restore_link(a, PortDir::E).unwrap();
    f.step_n(20).unwrap();
    assert_eq!(f.link_state(a).unwrap() & (1 << PortDir::E as u32), 0);
    f.step_n(200).unwrap();
    assert_eq!(f.link_state(a).unwrap() & 0xf, f.present_ports(a));
    assert_eq!(f.link_state(b).unwrap() & 0xf, f.present_ports(b));
}

#[test]
fn corrupted_flits_are_discarded_and_take_the_link_down() {
    let g = MeshGeometry::new(4, 4).unwrap();
    let mut run = FaultRun::new(g, 7, 0.05, 4).unwrap();
    run.traffic(300).unwrap();
    let (a, b) = (g.node_id(1, 2), g.node_id(1, 1));
    run.f.corrupt_link(a, PortDir::N).unwrap();
    run.faults.set_link_down(a, PortDir::N).unwrap();
    let fail = run.f.cycle();
    run.traffic(100).unwrap();
    run.reroute().unwrap();
    let c = run.f.counters(b).unwrap();
    assert!(c.link_check_errors[PortDir::S as usize] > 0, "{c:?}");
    assert_eq!(c.link_down_events[PortDir::S as usize], 1, "{c:?}");
    run.traffic(1000).unwrap();
    assert!(run.drain(20_000).unwrap(), "did not drain");
    let absorbed = fail + ABSORB_CYCLES;
    let r = run
        .check(absorbed)
        .unwrap_or_else(|e| panic!("{}: {e}", "corrupt"));
    assert!(r.delivered > 200, "{}", r.delivered);
}

/// One link cut under uniform load, tables recomputed and loaded under
/// traffic; returns the packets lost. Panics on anything else.
fn cut_one_under_load(g: MeshGeometry, load: f64, seed: u64, node: NodeId, port: PortDir) -> usize {
    let mut run = FaultRun::new(g, seed, load, 6).unwrap();
    run.traffic(400).unwrap();
    let fail = run.f.cycle();
    run.cut(node, port).unwrap();
    run.traffic(100).unwrap();
    run.reroute().unwrap();
    run.traffic(1200).unwrap();
    assert!(
        run.drain(20_000).unwrap(),
        "{g:?}: cut {node:?} {port:?}: did not drain"
    );
    let what = format!("{g:?}: cut {node:?} {port:?}");
    let r = run
        .check(fail + ABSORB_CYCLES)
        .unwrap_or_else(|e| panic!("{}: {e}", &what));
    assert!(r.delivered > 500, "{what}: only {} delivered", r.delivered);
    lost(&r)
}

#[test]
fn every_single_link_of_4x4_cut_under_load_drains_and_loses_only_what_was_on_it() {
    let g = MeshGeometry::new(4, 4).unwrap();
    let mut worst = 0;
    for (k, (node, port)) in mesh_links(&g).into_iter().enumerate() {
        worst = worst.max(cut_one_under_load(g, 0.06, 100 + k as u64, node, port));
    }
    // A link holds at most a few packets' worth of flits in flight.
    assert!(worst <= 24, "worst loss {worst}");
}

/// The 8x8 sample (the whole sweep of its 112 links is `meshctl bench
/// reroute --mesh 8x8`): a corner link, an edge link, a central row link
/// and a central column link.
#[test]
fn a_sample_of_8x8_links_cut_under_load_drains_and_loses_only_what_was_on_it() {
    let g = MeshGeometry::new(8, 8).unwrap();
    let sample = [
        (g.node_id(0, 0), PortDir::E),
        (g.node_id(7, 3), PortDir::S),
        (g.node_id(3, 4), PortDir::E),
        (g.node_id(4, 3), PortDir::S),
    ];
    for (k, (node, port)) in sample.into_iter().enumerate() {
        // Half the 4x4's load per node: up*/down* routes on 8x8 saturate
        // lower (traffic crowds towards the tree's root).
        let lost = cut_one_under_load(g, 0.03, 800 + k as u64, node, port);
        assert!(lost <= 24, "{node:?} {port:?}: lost {lost}");
    }
}

/// Random sets of 2 to 4 cuts that keep the mesh connected, under every
/// traffic pattern in turn, absorbed by table changes by the double scheme
/// (`FaultRun::reroute`, routers switched in a random order): one after
/// another, each absorbed before the next, or (every other seed) all at
/// once with one change. Old and new up*/down* orientations never share a
/// VC, so no change closes a cycle of waits (an earlier version of this
/// test, with tables changed in place on one VC, deadlocked on its seed 4).
#[test]
fn random_sets_of_cut_links_many_seeds() {
    let patterns = [
        Pattern::Uniform,
        Pattern::Transpose,
        Pattern::Bitcomp,
        Pattern::Hotspot,
    ];
    let g = MeshGeometry::new(4, 4).unwrap();
    let links = mesh_links(&g);
    let mut tried = 0;
    let mut seed = 0;
    while tried < 48 {
        seed += 1;
        let mut pick = SmallRng::seed_from_u64(seed);
        let n = pick.gen_range(2..=4);
        let mut faults = Faults::new(g);
        let mut cuts = Vec::new();
        while cuts.len() < n {
            let l = links[pick.gen_range(0..links.len())];
            if !cuts.contains(&l) {
                faults.set_link_down(l.0, l.1).unwrap();
                cuts.push(l);
            }
        }
        if !faults.connected() {
            continue;
        }
        let mut run = FaultRun::new(g, 1000 + seed, 0.05, 6).unwrap();
        run.pattern = patterns[tried % patterns.len()];
        let at_once = seed % 2 == 0;
        tried += 1;
        run.traffic(300).unwrap();
        let mut last = run.f.cycle();
        if at_once {
            for (node, port) in &cuts {
                run.cut(*node, *port).unwrap();
            }
            run.traffic(100).unwrap();
            run.reroute().unwrap();
            run.traffic(200).unwrap();
        } else {
            // Each cut absorbed (seen by the routers, tables recomputed and
            // loaded by the double scheme) before the next.
            for (node, port) in &cuts {
                last = run.f.cycle();
                run.cut(*node, *port).unwrap();
                run.traffic(100).unwrap();
                run.reroute().unwrap();
                run.traffic(200).unwrap();
            }
        }
        run.traffic(500).unwrap();
        let what = format!(
            "seed {seed} {:?} cuts {cuts:?} at once {at_once}",
            run.pattern
        );
        assert!(run.drain(20_000).unwrap(), "{what}: did not drain");
        run.check(last + ABSORB_CYCLES)
            .unwrap_or_else(|e| panic!("{}: {e}", &what));
    }
}

#[test]
fn a_worm_cut_mid_packet_is_closed_downstream_and_dropped_upstream() {
    let g = MeshGeometry::new(4, 4).unwrap();
    let (src, dest) = (g.node_id(0, 1), g.node_id(3, 1));
    let (a, b) = (g.node_id(1, 1), g.node_id(2, 1));
    let (mut tails, mut drops) = (0, 0);
    // Every phase of a 7-flit worm on the link at the moment of the cut.
    for offset in 0..7 {
        let mut run = FaultRun::new(g, 3, 0.0, 6).unwrap();
        // A stream of 7-flit worms along row 1, through a -> b.
        for _ in 0..40 {
            run.send(src, dest, 7).unwrap();
        }
        run.traffic(60 + offset).unwrap();
        run.cut(a, PortDir::E).unwrap();
        let fail = run.f.cycle();
        run.traffic(100).unwrap();
        run.reroute().unwrap();
        run.traffic(300).unwrap();
        assert!(run.drain(20_000).unwrap(), "offset {offset}: did not drain");
        let ca = run.f.counters(a).unwrap();
        let cb = run.f.counters(b).unwrap();
        let r = run
            .check(fail + ABSORB_CYCLES)
            .unwrap_or_else(|e| panic!("{}: {e}", "mid-packet"));
        // A closed worm reaches its host marked cut, never as good data.
        assert_eq!(r.cut.len() as u32, cb.cut_tails, "offset {offset}: {r:?}");
        // The worms queued behind the failure waited for the new tables
        // (the up*/down* tables give (1,1) no alternate toward (3,1)) and
        // none was dropped; only the worm on the link is lost (closed
        // downstream, or its rest dropped upstream), and at most one more
        // vanishes whole on the wire.
        assert_eq!(ca.drop_unroutable, 0, "offset {offset}: {ca:?}");
        assert!(
            ca.reroute_waits >= 1,
            "offset {offset}: nobody waited: {ca:?}"
        );
        let counted = (ca.cut_drops + cb.cut_tails) as usize;
        assert!(
            lost(&r) <= counted + 1,
            "offset {offset}: {ca:?} {cb:?} {r:?}"
        );
        assert!(lost(&r) <= 2, "offset {offset}: {r:?}");
        assert_eq!(r.delivered as usize + lost(&r), 40, "offset {offset}");
        tails += cb.cut_tails;
        drops += ca.cut_drops;
    }
    assert!(tails >= 1, "no cut ever closed a worm downstream");
    assert!(drops >= 1, "no cut ever dropped a worm's rest upstream");
}

#[test]
fn a_flapping_link_stays_down_through_its_holddown_and_nothing_hangs() {
    let g = MeshGeometry::new(4, 4).unwrap();
    let mut run = FaultRun::new(g, 11, 0.05, 4).unwrap();
    let a = g.node_id(2, 2);
    run.traffic(200).unwrap();
    let start = run.f.cycle();
    // Each burst of errors outlasts `link_timeout_cycles` (16), so it takes
    // the link down whether or not a flit happens to cross it meanwhile;
    // each good spell is shorter than `link_stable_cycles` (32).
    for _ in 0..6 {
        run.f.corrupt_link(a, PortDir::S).unwrap();
        run.traffic(20).unwrap();
        run.f.restore_link(a, PortDir::S).unwrap();
        run.traffic(15).unwrap();
    }
    // Flapping faster than the hold-down: down once, never back meanwhile
    // (the state first: reading every counter takes longer than the
    // stable period).
    assert_eq!(run.f.link_state(a).unwrap() & (1 << PortDir::S as u32), 0);
    let c = run.f.counters(g.node_id(2, 3)).unwrap();
    assert_eq!(c.link_down_events[PortDir::N as usize], 1, "{c:?}");
    // Going down once, it may have swallowed what a cut swallows: the flits
    // its senders had on it before they noticed.
    run.unseen_bound += unseen_per_cut(run.f.fifo_depth());
    run.traffic(400).unwrap();
    // Stable again: the link is back.
    assert_eq!(run.f.link_state(a).unwrap() & 0xf, run.f.present_ports(a));
    run.traffic(400).unwrap();
    assert!(run.drain(20_000).unwrap(), "did not drain");
    run.check(start + 6 * 35 + ABSORB_CYCLES)
        .unwrap_or_else(|e| panic!("{}: {e}", "flap"));
}

#[test]
fn a_killed_router_is_routed_around_and_traffic_for_it_is_dropped_with_a_count() {
    let g = MeshGeometry::new(4, 4).unwrap();
    let mut run = FaultRun::new(g, 5, 0.05, 4).unwrap();
    let dead = g.node_id(1, 2);
    run.traffic(300).unwrap();
    run.kill(dead).unwrap();
    let fail = run.f.cycle();
    run.traffic(100).unwrap();
    run.reroute().unwrap();
    run.traffic(1000).unwrap();
    // Packets for the dead node: dropped at the first router, counted.
    let live: Vec<NodeId> = g.node_ids().filter(|n| *n != dead).collect();
    let before: u32 = live
        .iter()
        .map(|n| run.f.counters(*n).unwrap().drop_unroutable)
        .sum();
    let src = g.node_id(3, 3);
    let mut sb = Scoreboard::lossy();
    for _ in 0..5 {
        let p = make_packet(&mut sb, &run.f, src, dead, 3);
        run.f.send(src, &p).unwrap();
    }
    run.f.step_n(200).unwrap();
    let after: u32 = live
        .iter()
        .map(|n| run.f.counters(*n).unwrap().drop_unroutable)
        .sum();
    assert_eq!(after - before, 5);
    run.expected_unroutable += 5;
    assert!(run.drain(20_000).unwrap(), "did not drain");
    let r = run
        .check(fail + ABSORB_CYCLES)
        .unwrap_or_else(|e| panic!("{}: {e}", "kill"));
    assert!(r.delivered > 500, "{}", r.delivered);
}

#[test]
fn a_partition_drops_with_a_count_and_heals() {
    let g = MeshGeometry::new(4, 4).unwrap();
    let mut run = FaultRun::new(g, 9, 0.04, 4).unwrap();
    run.traffic(200).unwrap();
    // Cut every link between columns 1 and 2.
    for y in 0..4 {
        run.cut(g.node_id(1, y), PortDir::E).unwrap();
    }
    assert!(!run.faults.connected());
    let fail = run.f.cycle();
    run.traffic(100).unwrap();
    run.reroute().unwrap();
    // Across the cut: no route, dropped at the source's router, counted.
    let src = g.node_id(0, 0);
    let dest = g.node_id(3, 3);
    let before = run.f.counters(src).unwrap().drop_unroutable;
    let mut other = Scoreboard::lossy();
    let p = make_packet(&mut other, &run.f, src, dest, 2);
    run.f.send(src, &p).unwrap();
    run.traffic(200).unwrap();
    assert_eq!(run.f.counters(src).unwrap().drop_unroutable, before + 1);
    run.expected_unroutable += 1;
    // Heal: links come back by themselves; once they are up, the tables
    // follow (the control plane learns the new link state).
    for y in 0..4 {
        run.f.restore_link(g.node_id(1, y), PortDir::E).unwrap();
    }
    run.traffic(200).unwrap();
    for y in 0..4 {
        let n = g.node_id(1, y);
        assert_ne!(run.f.link_state(n).unwrap() & (1 << PortDir::E as u32), 0);
        run.faults.set_link_up(n, PortDir::E).unwrap();
    }
    assert!(run.faults.connected());
    run.reroute().unwrap();
    run.traffic(800).unwrap();
    assert!(run.drain(20_000).unwrap(), "did not drain");
    // Every packet sent after the partition was absorbed arrived, across
    // the healed cut too.
    let r = run
        .check(fail + ABSORB_CYCLES)
        .unwrap_or_else(|e| panic!("{}: {e}", "partition"));
    assert!(r.delivered > 300, "{}", r.delivered);
}

#[test]
fn fault_calls_that_name_no_link_are_errors_and_change_nothing() {
    let g = MeshGeometry::new(2, 2).unwrap();
    let mut f = Fabric::new(g, 64).unwrap();
    let corner = g.node_id(0, 0);
    for port in [PortDir::N, PortDir::W, PortDir::L] {
        assert!(matches!(
            f.cut_link(corner, port),
            Err(SimError::NoSuchLink { .. })
        ));
        assert!(f.corrupt_link(corner, port).is_err());
        assert!(f.restore_link(corner, port).is_err());
    }
    assert!(matches!(
        f.kill_router(NodeId(0x77)),
        Err(SimError::NoSuchNode(0x77))
    ));
    f.step_n(200).unwrap();
    for n in g.node_ids() {
        assert_eq!(f.link_state(n).unwrap() & 0xf, f.present_ports(n));
    }
}

#[test]
fn a_head_with_no_live_port_waits_for_its_new_route_instead_of_being_dropped() {
    let g = MeshGeometry::new(4, 4).unwrap();
    let mut run = FaultRun::new(g, 1, 0.0, 1).unwrap();
    let (src, dest) = (g.node_id(0, 0), g.node_id(3, 0));
    run.cut(src, PortDir::E).unwrap();
    run.f.step_n(100).unwrap();
    assert_eq!(run.f.link_state(src).unwrap() & (1 << PortDir::E as u32), 0);
    run.send(src, dest, 3).unwrap();
    run.f.step_n(50).unwrap();
    let c = run.f.counters(src).unwrap();
    assert_eq!(c.reroute_waits, 1, "{c:?}");
    assert_eq!(c.drop_unroutable, 0, "{c:?}");
    run.reroute().unwrap();
    assert!(run.drain(5_000).unwrap(), "did not drain");
    let r = run.check(0).unwrap_or_else(|e| panic!("{}: {e}", "wait"));
    assert_eq!(r.delivered, 1);
}
