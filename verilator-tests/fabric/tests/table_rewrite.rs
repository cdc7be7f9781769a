//! Route tables rewritten while traffic flows: every packet still arrives
//! exactly once and intact, and the new routes are the ones used afterwards.
//!
//! The rewrite moves every router from X-then-Y to Y-first for destinations
//! to the east, keeping westbound traffic X-first. Old and new tables both
//! obey the west-first turn model (no turn *into* west), so any mix of them
//! that packets meet during the change is deadlock-free too.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use replimesh_scoreboard::{make_packet, Pattern, Scoreboard};
use replimesh_sim::Fabric;
use replimesh_spec::{dor_route, router_addr, MeshGeometry, NodeId, PortDir, Route};

/// The west-first, Y-first-eastbound route from `here` to `dest`.
fn west_first_y_first(g: &MeshGeometry, here: NodeId, dest: NodeId) -> Route {
    let (x, y) = g.coords(here).unwrap();
    let (dx, dy) = g.coords(dest).unwrap();
    let dor = dor_route(g, here, dest).unwrap();
    if dx > x && dy != y {
        let yp = if dy > y { PortDir::S } else { PortDir::N };
        Route {
            primary: yp,
            alternate: PortDir::E,
        }
    } else {
        dor
    }
}

/// Injects uniform traffic for `cycles`, collecting deliveries.
fn traffic(f: &mut Fabric, sb: &mut Scoreboard, rng: &mut SmallRng, cycles: u64, load: f64) {
    let g = f.geometry();
    for _ in 0..cycles {
        for i in 0..g.nodes() as usize {
            let src = g.id_at(i);
            // Keep host queues short so the mesh, not the host, holds the load.
            if rng.gen_bool(load / 2.0) && f.queued_flits(src) < 16 {
                if let Some(dest) = Pattern::Uniform.destination(&g, src, rng) {
                    let p = make_packet(sb, f, src, dest, 2);
                    f.send(src, &p).unwrap();
                }
            }
        }
        f.step().unwrap();
        for d in f.drain_delivered() {
            assert!(sb.on_deliver(&d).is_some(), "unexpected delivery {d:?}");
        }
    }
}

fn drain(f: &mut Fabric, sb: &mut Scoreboard) {
    for _ in 0..50_000 {
        if sb.outstanding() == 0 {
            return;
        }
        f.step().unwrap();
        for d in f.drain_delivered() {
            assert!(sb.on_deliver(&d).is_some(), "unexpected delivery {d:?}");
        }
    }
}

/// Routers a traced packet from `src` to `dest` passed through.
fn traced_routers(f: &mut Fabric, src: NodeId, dest: NodeId) -> Vec<NodeId> {
    let g = f.geometry();
    for id in g.node_ids().collect::<Vec<_>>() {
        f.cfg_write(id, router_addr::TRACE, 0).unwrap();
    }
    let mut sb = Scoreboard::new();
    let mut p = make_packet(&mut sb, f, src, dest, 2);
    p.header.trace = true;
    f.send(src, &p).unwrap();
    let mut got = None;
    for _ in 0..1000 {
        f.step().unwrap();
        got = got.or_else(|| f.recv(dest));
    }
    let got = got.expect("traced packet delivered");
    assert_eq!(
        (got.payload, got.header.map(|h| h.trace)),
        (p.payload, Ok(true))
    );
    g.node_ids()
        .collect::<Vec<_>>()
        .into_iter()
        .filter(|id| f.cfg_read(*id, router_addr::TRACE).unwrap() >> 31 == 1)
        .collect()
}

#[test]
fn tables_rewritten_under_load_lose_nothing_and_take_effect() {
    let g = MeshGeometry::new(4, 4).unwrap();
    let mut f = Fabric::new(g, 64).unwrap();
    let seed = 11;
    eprintln!("seed {seed}");
    let mut rng = SmallRng::seed_from_u64(seed);
    // Paths can change mid-stream, so per-pair order is not promised.
    let mut sb = Scoreboard::unordered();
    traffic(&mut f, &mut sb, &mut rng, 500, 0.5);
    assert!(
        sb.outstanding() > 0,
        "the rewrite must happen under traffic"
    );
    // One entry per cycle, traffic moving all along.
    let mut rewritten = 0;
    for here in g.node_ids().collect::<Vec<_>>() {
        for dest in g.node_ids().collect::<Vec<_>>() {
            let new = west_first_y_first(&g, here, dest);
            if Some(new) != dor_route(&g, here, dest) {
                f.write_route(here, dest, new).unwrap();
                rewritten += 1;
                traffic(&mut f, &mut sb, &mut rng, 1, 0.5);
            }
        }
    }
    assert!(rewritten > 50, "only {rewritten} entries changed");
    traffic(&mut f, &mut sb, &mut rng, 500, 0.5);
    drain(&mut f, &mut sb);
    let report = sb.finish();
    assert!(report.sent > 500, "too little traffic: {}", report.sent);
    assert!(
        report.is_clean(),
        "{:?}",
        &report.findings[..report.findings.len().min(10)]
    );
    for id in g.node_ids().collect::<Vec<_>>() {
        let c = f.counters(id).unwrap();
        assert_eq!(
            (c.overflow, c.drop_unroutable, c.drop_ttl),
            (0, 0, 0),
            "router {id:?}"
        );
        for dest in g.node_ids().collect::<Vec<_>>() {
            assert_eq!(
                f.read_route(id, dest).unwrap(),
                Some(west_first_y_first(&g, id, dest))
            );
        }
    }
    // (0,0) -> (3,3) now goes down column 0 first: (0,1) is on the path and
    // (1,0) is not, the reverse of the reset X-first route.
    let path = traced_routers(&mut f, g.node_id(0, 0), g.node_id(3, 3));
    assert!(path.contains(&g.node_id(0, 1)), "path {path:?}");
    assert!(!path.contains(&g.node_id(1, 0)), "path {path:?}");
}
