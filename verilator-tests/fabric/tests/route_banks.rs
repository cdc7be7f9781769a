//! The double scheme's router side (`docs/deadlock-freedom.md`): two route
//! table banks, `table_banks` choosing which routes which head, and
//! `vc_seen` telling the control plane when a VC has drained. Checked on
//! the generated Verilog, packet by packet, with the scoreboard.

use replimesh_scoreboard::{make_packet, Finding, Scoreboard};
use replimesh_sim::{Fabric, SimError};
use replimesh_spec::reconfig::OtherBank;
use replimesh_spec::{
    router_addr, MeshGeometry, NodeId, NO_ROUTE_ENTRY, ROUTE_TABLE_BANK1_BASE, ROUTE_TABLE_BASE,
};

fn mesh() -> (MeshGeometry, Fabric) {
    let g = MeshGeometry::new(4, 4).unwrap();
    let f = Fabric::new(g, 64).unwrap();
    (g, f)
}

/// Steps `cycles`, handing every delivery to the scoreboard.
fn run(f: &mut Fabric, sb: &mut Scoreboard, cycles: u64) {
    for _ in 0..cycles {
        f.step().unwrap();
        for d in f.drain_delivered() {
            assert!(sb.on_deliver(&d).is_some(), "unexpected delivery {d:?}");
        }
    }
}

/// Sends one 3-flit packet; returns its sequence number.
fn send(f: &mut Fabric, sb: &mut Scoreboard, src: NodeId, dest: NodeId) -> u16 {
    let p = make_packet(sb, f, src, dest, 3);
    f.send(src, &p).unwrap();
    p.header.seq
}

fn lost(sb: Scoreboard) -> Vec<(u8, u8, u16)> {
    let report = sb.finish();
    report
        .findings
        .iter()
        .map(|f| match f {
            Finding::Lost { src, dest, seq } => (*src, *dest, *seq),
            other => panic!("not a loss: {other:?}"),
        })
        .collect()
}

#[test]
fn banks_reset_alike_take_good_writes_and_refuse_bad_ones() {
    let (g, mut f) = mesh();
    let n = g.node_id(1, 2);
    let d = g.node_id(3, 0);
    for id in g.node_ids().collect::<Vec<_>>() {
        assert_eq!(f.table_banks(id).unwrap(), (0, OtherBank::Same), "{id:?}");
        for dest in g.node_ids().collect::<Vec<_>>() {
            assert_eq!(
                f.cfg_read(id, ROUTE_TABLE_BANK1_BASE + dest.0 as u32)
                    .unwrap(),
                f.cfg_read(id, ROUTE_TABLE_BASE + dest.0 as u32).unwrap(),
                "bank 1 of {id:?} differs from bank 0 for {dest:?} after reset"
            );
        }
    }
    let bank0 = f.cfg_read(n, ROUTE_TABLE_BASE + d.0 as u32).unwrap();
    let bank1 = f.cfg_read(n, ROUTE_TABLE_BANK1_BASE + d.0 as u32).unwrap();
    // Refused, counted, nothing changed: a bit above `table_banks`' three,
    // one above `vc_seen`'s two, a port that does not exist in a bank-1
    // entry, and a bank-1 address past the mesh's destinations.
    let bad = [
        (router_addr::TABLE_BANKS, 1 << 3 | 1),
        (router_addr::VC_SEEN, 1 << 2 | 3),
        (ROUTE_TABLE_BANK1_BASE + d.0 as u32, 0b111_101),
        (ROUTE_TABLE_BANK1_BASE + g.nodes(), 0),
    ];
    for (addr, value) in bad {
        assert!(
            matches!(
                f.cfg_write(n, addr, value),
                Err(SimError::CfgRejected { .. })
            ),
            "write {value:#x} to {addr:#x} was taken"
        );
    }
    assert_eq!(f.counters(n).unwrap().cfg_errors, bad.len() as u32);
    assert_eq!(f.table_banks(n).unwrap(), (0, OtherBank::Same));
    assert_eq!(
        f.cfg_read(n, ROUTE_TABLE_BANK1_BASE + d.0 as u32).unwrap(),
        bank1
    );
    // Every state reads back as written; a bank-1 write leaves bank 0 alone.
    for cur in 0..2 {
        for other in [
            OtherBank::Same,
            OtherBank::Old,
            OtherBank::Next,
            OtherBank::Loading,
        ] {
            f.set_table_banks(n, cur, other).unwrap();
            assert_eq!(f.table_banks(n).unwrap(), (cur, other));
        }
    }
    f.cfg_write(n, ROUTE_TABLE_BANK1_BASE + d.0 as u32, NO_ROUTE_ENTRY)
        .unwrap();
    assert_eq!(
        f.cfg_read(n, ROUTE_TABLE_BANK1_BASE + d.0 as u32).unwrap(),
        NO_ROUTE_ENTRY
    );
    assert_eq!(f.cfg_read(n, ROUTE_TABLE_BASE + d.0 as u32).unwrap(), bank0);
    assert_eq!(f.counters(n).unwrap().cfg_errors, bad.len() as u32);
}

#[test]
fn injected_heads_are_routed_by_the_current_bank() {
    let (g, mut f) = mesh();
    let s = g.node_id(0, 0);
    let d = g.node_id(3, 3);
    // Bank 1 has no route to d at s; bank 0 keeps dimension order.
    f.cfg_write(s, ROUTE_TABLE_BANK1_BASE + d.0 as u32, NO_ROUTE_ENTRY)
        .unwrap();
    // Order demanded, gaps (the packet dropped on purpose) allowed.
    let mut sb = Scoreboard::lossy();
    f.set_table_banks(s, 1, OtherBank::Loading).unwrap();
    let dropped = send(&mut f, &mut sb, s, d);
    run(&mut f, &mut sb, 200);
    assert_eq!(f.counters(s).unwrap().drop_unroutable, 1);
    f.set_table_banks(s, 0, OtherBank::Loading).unwrap();
    send(&mut f, &mut sb, s, d);
    run(&mut f, &mut sb, 200);
    assert_eq!(f.counters(s).unwrap().drop_unroutable, 1);
    assert_eq!(lost(sb), vec![(s.0, d.0, dropped)]);
}

#[test]
fn a_head_on_the_other_vc_waits_while_loading_moves_up_when_old_and_stays_when_next() {
    let (g, mut f) = mesh();
    let s = g.node_id(0, 0);
    let m = g.node_id(1, 0);
    let d = g.node_id(3, 0);
    // s injects on VC1 (its `cur`), so every head reaches m on VC1, which
    // is m's other bank.
    f.set_table_banks(s, 1, OtherBank::Old).unwrap();
    f.cfg_write(m, ROUTE_TABLE_BANK1_BASE + d.0 as u32, NO_ROUTE_ENTRY)
        .unwrap();
    let mut sb = Scoreboard::lossy();

    // Loading: the head waits at m (counted once), nothing is delivered or
    // dropped, and VC1 shows busy there.
    f.set_table_banks(m, 0, OtherBank::Loading).unwrap();
    send(&mut f, &mut sb, s, d);
    run(&mut f, &mut sb, 300);
    assert_eq!(sb.outstanding(), 1, "a head on a loading bank went on");
    let c = f.counters(m).unwrap();
    assert_eq!((c.reroute_waits, c.drop_unroutable), (1, 0));
    assert_eq!(f.vc_seen(m, 3).unwrap() & 2, 2);
    assert_eq!(
        f.vc_seen(m, 0).unwrap(),
        2,
        "VC1 busy stays seen after a clear"
    );
    // Old: it moves up to VC0, routed by bank 0 (which has a route).
    f.set_table_banks(m, 0, OtherBank::Old).unwrap();
    run(&mut f, &mut sb, 200);
    assert_eq!(sb.outstanding(), 0, "an old-bank head did not move up");

    // Next: heads stay on VC1 routed by m's bank 1, which has no route to d.
    f.set_table_banks(m, 0, OtherBank::Next).unwrap();
    let dropped = send(&mut f, &mut sb, s, d);
    run(&mut f, &mut sb, 300);
    assert_eq!(f.counters(m).unwrap().drop_unroutable, 1);

    // A bank left loading too long: the wait is bounded like any other, so
    // no register write can stop the fabric for good.
    f.cfg_write(m, router_addr::REROUTE_WAIT, 64).unwrap();
    f.set_table_banks(m, 0, OtherBank::Loading).unwrap();
    let timed_out = send(&mut f, &mut sb, s, d);
    run(&mut f, &mut sb, 300);
    let c = f.counters(m).unwrap();
    assert_eq!((c.reroute_waits, c.drop_unroutable), (2, 2));
    assert_eq!(lost(sb), vec![(s.0, d.0, dropped), (s.0, d.0, timed_out)]);
    // The drained VC clears: two passes, the second finds nothing.
    for id in g.node_ids().collect::<Vec<_>>() {
        f.vc_seen(id, 3).unwrap();
    }
    for id in g.node_ids().collect::<Vec<_>>() {
        assert_eq!(
            f.vc_seen(id, 0).unwrap(),
            0,
            "{id:?} saw a VC busy on an idle mesh"
        );
    }
}

#[test]
fn vc_seen_follows_the_vc_a_held_packet_is_on() {
    let (g, mut f) = mesh();
    let s = g.node_id(0, 1);
    let d = g.node_id(2, 1);
    let m = g.node_id(1, 1);
    for id in g.node_ids().collect::<Vec<_>>() {
        f.vc_seen(id, 3).unwrap();
    }
    let mut sb = Scoreboard::new();
    for (cur, bit) in [(0u8, 1u32), (1, 2)] {
        // Injected on `cur`; d refuses deliveries, so the packets stay in
        // the mesh, on that VC.
        f.set_table_banks(s, cur, OtherBank::Old).unwrap();
        f.set_accepting(d, false).unwrap();
        for _ in 0..4 {
            send(&mut f, &mut sb, s, d);
        }
        run(&mut f, &mut sb, 200);
        let seen = f.vc_seen(m, 3).unwrap();
        assert_eq!(seen, bit, "VC{cur}'s packets, seen as {seen:#b} at {m:?}");
        f.set_accepting(d, true).unwrap();
        run(&mut f, &mut sb, 300);
        assert_eq!(sb.outstanding(), 0);
        f.vc_seen(m, 3).unwrap();
        assert_eq!(f.vc_seen(m, 3).unwrap(), 0);
    }
    assert!(sb.finish().is_clean());
}
