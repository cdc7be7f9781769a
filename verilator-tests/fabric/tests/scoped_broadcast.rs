//! Scoped broadcast (and discovery requests, routed the same way) on the
//! generated Verilog: every node in scope gets exactly one copy, no one
//! outside, the source only with loopback; the in-scope sets are compared
//! with the spec's reference; concurrent broadcasts with unicast past
//! saturation lose nothing; scope errors and spent TTL are dropped and counted.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use replimesh_regs::PacketHeader;
use replimesh_scoreboard::{make_fanout_packet, make_packet, Report, Scoreboard};
use replimesh_sim::Fabric;
use replimesh_spec::fanout::{broadcast_receivers, diameter, in_scope};
use replimesh_spec::{MeshGeometry, NodeId, PacketKind, Scope, ScopeMode};

fn drain(f: &mut Fabric, sb: &mut Scoreboard, limit: u64) {
    let end = f.cycle() + limit;
    while f.cycle() < end {
        f.step().unwrap();
        for d in f.drain_delivered() {
            sb.on_deliver(&d);
        }
        if sb.outstanding() == 0 && f.host_flits_pending() == 0 {
            break;
        }
    }
    for _ in 0..200 {
        f.step().unwrap();
        for d in f.drain_delivered() {
            sb.on_deliver(&d);
        }
    }
}

fn assert_clean(r: &Report) {
    assert!(
        r.is_clean(),
        "sent {} delivered {} copies {}/{}: {:?}",
        r.sent,
        r.delivered,
        r.copies_delivered,
        r.copies_expected,
        &r.findings[..r.findings.len().min(12)]
    );
}

fn bcast(scope: Scope, loopback: bool) -> PacketHeader {
    PacketHeader::broadcast(scope, 0, 0, loopback).unwrap()
}

fn run_scopes(g: MeshGeometry, sources: &[NodeId]) {
    let mut f = Fabric::new(g, 64).expect("model built");
    let mut total_copies = 0;
    for &src in sources {
        for mode in ScopeMode::ALL {
            // Radii past the diameter are scope errors (tested below).
            for radius in (0u8..=4).filter(|r| (*r as u32) <= diameter(&g)) {
                for loopback in [false, true] {
                    let scope = Scope { mode, radius };
                    let rx = broadcast_receivers(&g, src, scope, loopback);
                    let mut sb = Scoreboard::new();
                    for flits in [1, 4, 8] {
                        let p = make_fanout_packet(
                            &mut sb,
                            &f,
                            src,
                            bcast(scope, loopback),
                            flits,
                            &rx,
                        );
                        f.send(src, &p).unwrap();
                    }
                    drain(&mut f, &mut sb, 3000);
                    let r = sb.finish();
                    assert_clean(&r);
                    assert_eq!(r.copies_delivered, 3 * rx.len() as u64, "{src:?} {scope:?}");
                    total_copies += r.copies_delivered;
                }
            }
        }
    }
    assert!(total_copies as u32 > 10 * g.nodes());
    for id in g.node_ids().collect::<Vec<_>>() {
        let c = f.counters(id).unwrap();
        assert_eq!(
            (c.overflow, c.drop_ttl, c.drop_malformed, c.fanout_errors),
            (0, 0, 0, 0),
            "router {id:?}"
        );
    }
}

#[test]
fn every_in_scope_node_gets_one_copy_for_each_mode_and_radius_4x4() {
    let g = MeshGeometry::new(4, 4).unwrap();
    let n = |x, y| g.node_id(x, y);
    run_scopes(g, &[n(0, 0), n(1, 2), n(3, 1), n(2, 3), n(3, 3)]);
}

#[test]
fn every_in_scope_node_gets_one_copy_2x2() {
    let g = MeshGeometry::new(2, 2).unwrap();
    run_scopes(g, &g.node_ids().collect::<Vec<_>>());
}

#[test]
fn reference_scopes_are_what_the_modes_say() {
    // The reference the fabric is compared with, checked by hand on 4x4.
    let g = MeshGeometry::new(4, 4).unwrap();
    let n = |x, y| g.node_id(x, y);
    let count = |src, scope| {
        g.node_ids()
            .filter(|m| in_scope(&g, src, scope, *m))
            .count()
    };
    let s = |mode, radius| Scope { mode, radius };
    assert_eq!(count(n(1, 1), s(ScopeMode::Mesh, 0)), 16);
    assert_eq!(count(n(1, 1), s(ScopeMode::Row, 0)), 4);
    assert_eq!(count(n(1, 1), s(ScopeMode::Column, 0)), 4);
    assert_eq!(count(n(1, 1), s(ScopeMode::Quadrant, 0)), 4);
    assert_eq!(count(n(1, 1), s(ScopeMode::Mesh, 1)), 5);
    assert_eq!(count(n(0, 0), s(ScopeMode::Mesh, 2)), 6);
    assert_eq!(count(n(1, 1), s(ScopeMode::Row, 1)), 3);
}

#[test]
fn discovery_requests_follow_the_broadcast_tree() {
    let g = MeshGeometry::new(4, 4).unwrap();
    let mut f = Fabric::new(g, 64).unwrap();
    let src = g.node_id(2, 2);
    let scope = Scope {
        mode: ScopeMode::Mesh,
        radius: 2,
    };
    let mut t = bcast(scope, false);
    t.kind = PacketKind::DiscoveryRequest;
    t.service = 42;
    let rx = broadcast_receivers(&g, src, scope, false);
    let mut sb = Scoreboard::new();
    let p = make_fanout_packet(&mut sb, &f, src, t, 2, &rx);
    f.send(src, &p).unwrap();
    drain(&mut f, &mut sb, 3000);
    let r = sb.finish();
    assert_clean(&r);
    // Radius 2 around (2,2): 4 nodes at one hop, 6 at two.
    assert_eq!(r.copies_delivered, 10);
}

#[test]
fn concurrent_broadcasts_from_all_nodes_with_unicast_past_saturation_lose_nothing() {
    let g = MeshGeometry::new(4, 4).unwrap();
    let mut f = Fabric::new(g, 64).unwrap();
    let seed = 21;
    eprintln!("seed {seed}");
    let mut rng = SmallRng::seed_from_u64(seed);
    let all: Vec<NodeId> = g.node_ids().collect();
    let mut sb = Scoreboard::unordered();
    let (mut fan, mut uni) = (0, 0);
    for _ in 0..3000 {
        for &src in &all {
            if f.queued_flits(src) >= 16 {
                continue;
            }
            if rng.gen_bool(0.2) {
                let scope = Scope {
                    mode: ScopeMode::ALL[rng.gen_range(0..4)],
                    radius: rng.gen_range(0..=6),
                };
                let lb = rng.gen_bool(0.3);
                let mut t = bcast(scope, lb);
                if rng.gen_bool(0.3) {
                    t.kind = PacketKind::DiscoveryRequest;
                }
                let rx = broadcast_receivers(&g, src, scope, lb);
                let p = make_fanout_packet(&mut sb, &f, src, t, rng.gen_range(1..=8), &rx);
                f.send(src, &p).unwrap();
                fan += 1;
            } else {
                let mut d = src;
                while d == src {
                    d = all[rng.gen_range(0..all.len())];
                }
                let p = make_packet(&mut sb, &f, src, d, rng.gen_range(1..=6));
                f.send(src, &p).unwrap();
                uni += 1;
            }
        }
        f.step().unwrap();
        for d in f.drain_delivered() {
            sb.on_deliver(&d);
        }
    }
    eprintln!("sent {fan} broadcasts, {uni} unicast");
    assert!(fan > 300 && uni > 1000);
    drain(&mut f, &mut sb, 200_000);
    assert_eq!(f.host_flits_pending(), 0, "mesh did not drain: deadlock?");
    assert_clean(&sb.finish());
    for id in g.node_ids().collect::<Vec<_>>() {
        let c = f.counters(id).unwrap();
        assert_eq!(
            (c.overflow, c.fanout_errors, c.drop_ttl),
            (0, 0, 0),
            "{id:?}"
        );
    }
}

#[test]
fn scope_past_the_mesh_and_spent_ttl_are_dropped_and_counted() {
    let g = MeshGeometry::new(4, 4).unwrap();
    let mut f = Fabric::new(g, 64).unwrap();
    let src = g.node_id(0, 0);
    // Radius 7 > diameter 6: a scope larger than the mesh.
    let mut sb = Scoreboard::new();
    let big = Scope {
        mode: ScopeMode::Mesh,
        radius: 7,
    };
    let p = make_fanout_packet(&mut sb, &f, src, bcast(big, true), 2, &[]);
    f.send(src, &p).unwrap();
    drain(&mut f, &mut sb, 2000);
    assert_clean(&sb.finish());
    assert_eq!(f.counters(src).unwrap().fanout_errors, 1);
    // TTL 1: only the neighbours and the source's row/column one hop out.
    let mut t = bcast(Scope::MESH, false);
    t.ttl = 1;
    let rx = vec![g.node_id(1, 0), g.node_id(0, 1)];
    let mut sb = Scoreboard::new();
    let p = make_fanout_packet(&mut sb, &f, src, t, 3, &rx);
    f.send(src, &p).unwrap();
    drain(&mut f, &mut sb, 2000);
    assert_clean(&sb.finish());
    let ttl_drops: u32 = g
        .node_ids()
        .collect::<Vec<_>>()
        .into_iter()
        .map(|n| f.counters(n).unwrap().drop_ttl)
        .sum();
    assert_eq!(ttl_drops, 2, "(1,0) and (0,1) each cut their branches");
    // Still healthy afterwards.
    let mut sb = Scoreboard::new();
    let rx = broadcast_receivers(&g, src, Scope::MESH, false);
    let p = make_fanout_packet(&mut sb, &f, src, bcast(Scope::MESH, false), 8, &rx);
    f.send(src, &p).unwrap();
    drain(&mut f, &mut sb, 2000);
    let r = sb.finish();
    assert_clean(&r);
    assert_eq!(r.copies_delivered, 15);
}
