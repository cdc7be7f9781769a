//! Route tables: reset to the spec's dimension-order routes, bad writes
//! rejected and counted, link-down falls back to the alternate port.

use replimesh_scoreboard::Scoreboard;
use replimesh_sim::{Fabric, SimError};
use replimesh_spec::{dor_route, router_addr, MeshGeometry, PortDir, ROUTE_TABLE_BASE};

#[test]
fn reset_tables_equal_the_spec_dimension_order_routes() {
    let g = MeshGeometry::new(4, 4).unwrap();
    let mut f = Fabric::new(g, 64).unwrap();
    for here in g.node_ids().collect::<Vec<_>>() {
        for dest in g.node_ids().collect::<Vec<_>>() {
            assert_eq!(
                f.read_route(here, dest).unwrap(),
                dor_route(&g, here, dest),
                "{here:?} -> {dest:?}"
            );
        }
    }
}

#[test]
fn bad_configuration_writes_are_rejected_counted_and_change_nothing() {
    let g = MeshGeometry::new(4, 4).unwrap();
    let mut f = Fabric::new(g, 64).unwrap();
    let n = g.node_id(1, 1);
    let d = g.node_id(3, 3);
    let before = f.read_route(n, d).unwrap();
    // Ports 5 and 7 do not exist (both fields 7 is the legal "no route").
    assert!(matches!(
        f.cfg_write(n, ROUTE_TABLE_BASE + d.0 as u32, 0b111_101),
        Err(SimError::CfgRejected { .. })
    ));
    // Read-only and unmapped registers.
    assert!(f.cfg_write(n, router_addr::PACKETS_ROUTED, 5).is_err());
    assert!(f.cfg_read(n, 0x0FF).is_err());
    // A node that is not in the mesh.
    assert!(f
        .cfg_read(replimesh_spec::NodeId(0xEE), router_addr::ID)
        .is_err());
    assert_eq!(f.read_route(n, d).unwrap(), before);
    assert_eq!(f.counters(n).unwrap().cfg_errors, 3);
}

#[test]
fn link_down_falls_back_to_the_alternate_port() {
    let g = MeshGeometry::new(4, 4).unwrap();
    let mut f = Fabric::new(g, 64).unwrap();
    let a = g.node_id(0, 0);
    let b = g.node_id(1, 0);
    let edge = |f: &Fabric, n| !f.present_ports(n) & 0xF;
    // Naming an edge port as up is refused, counted, and changes nothing.
    assert!(f
        .cfg_write(a, router_addr::LINK_DOWN, 1 << PortDir::E as u32)
        .is_err());
    assert!(f
        .cfg_write(a, router_addr::LINK_DOWN, 1 << 5 | edge(&f, a))
        .is_err());
    assert_eq!(f.counters(a).unwrap().cfg_errors, 2);
    assert_eq!(f.cfg_read(a, router_addr::LINK_DOWN).unwrap(), edge(&f, a));
    assert_eq!(f.link_state(a).unwrap() & 0xF, f.present_ports(a));
    f.cfg_write(
        a,
        router_addr::LINK_DOWN,
        edge(&f, a) | 1 << PortDir::E as u32,
    )
    .unwrap();
    f.cfg_write(
        b,
        router_addr::LINK_DOWN,
        edge(&f, b) | 1 << PortDir::W as u32,
    )
    .unwrap();
    let mut sb = Scoreboard::new();
    for dest in g.node_ids().filter(|d| *d != a).collect::<Vec<_>>() {
        let p = replimesh_scoreboard::make_packet(&mut sb, &f, a, dest, 2);
        f.send(a, &p).unwrap();
    }
    for _ in 0..2000 {
        f.step().unwrap();
        for d in f.drain_delivered() {
            sb.on_deliver(&d);
        }
    }
    let report = sb.finish();
    assert!(report.is_clean(), "{:?}", report.findings);
    // (1,0) sees only its own packet, arriving from the south: nothing
    // crossed the dead link, and nothing was routed through (1,0).
    assert_eq!(f.counters(g.node_id(1, 0)).unwrap().packets_routed, 1);
}
