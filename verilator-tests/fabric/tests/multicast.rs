//! Multicast groups on the generated Verilog: each member of the group's tree
//! gets exactly one copy, no one else gets any, the source only with
//! loopback; concurrent fan-out with unicast past saturation loses nothing;
//! group entries rewritten under traffic; bad input dropped and counted.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use replimesh_regs::PacketHeader;
use replimesh_scoreboard::{
    make_fanout_packet, make_fanout_packet_either, make_packet, Report, Scoreboard,
};
use replimesh_sim::{Fabric, SimError};
use replimesh_spec::fanout::{multicast_tree, port_bit};
use replimesh_spec::{router_addr, GroupId, MeshGeometry, NodeId, PortDir, GROUP_TABLE_BASE};

fn mesh4() -> (MeshGeometry, Fabric) {
    let g = MeshGeometry::new(4, 4).unwrap();
    (g, Fabric::new(g, 64).expect("model built"))
}

/// Steps until the scoreboard has nothing outstanding (or `limit` cycles),
/// feeding it every delivery.
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
    // A little longer: late duplicates or stray copies would show here.
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

fn assert_no_drops(f: &mut Fabric) {
    let g = f.geometry();
    for id in g.node_ids().collect::<Vec<_>>() {
        let c = f.counters(id).unwrap();
        assert_eq!(
            (
                c.overflow,
                c.drop_ttl,
                c.drop_unroutable,
                c.drop_malformed,
                c.fanout_errors
            ),
            (0, 0, 0, 0, 0),
            "router {id:?}: {c:?}"
        );
    }
}

fn receivers(members: &[NodeId], src: NodeId, loopback: bool) -> Vec<NodeId> {
    members
        .iter()
        .copied()
        .filter(|m| loopback || *m != src)
        .collect()
}

#[test]
fn group_table_resets_empty_and_rejects_bad_writes() {
    let (g, mut f) = mesh4();
    let n = g.node_id(1, 2);
    for grp in 0..32 {
        assert_eq!(f.read_group(n, GroupId(grp)).unwrap(), 0);
    }
    f.write_group(n, GroupId(31), 0b10110).unwrap();
    assert_eq!(f.read_group(n, GroupId(31)).unwrap(), 0b10110);
    // Mask bits past L, and group ids past the table, are rejected.
    assert!(matches!(
        f.cfg_write(n, GROUP_TABLE_BASE + 3, 0b100000),
        Err(SimError::CfgRejected { .. })
    ));
    assert!(f.write_group(n, GroupId(32), 1).is_err());
    assert!(f.read_group(n, GroupId(32)).is_err());
    assert_eq!(f.read_group(n, GroupId(3)).unwrap(), 0);
    assert_eq!(f.counters(n).unwrap().cfg_errors, 3);
    // Reset empties the table again.
    f.reset().unwrap();
    assert_eq!(f.read_group(n, GroupId(31)).unwrap(), 0);
}

#[test]
fn every_member_gets_exactly_one_copy_for_groups_of_every_size() {
    let (g, mut f) = mesh4();
    let all: Vec<NodeId> = g.node_ids().collect();
    let mut rng = SmallRng::seed_from_u64(11);
    let mut sent = 0;
    for (k, &src) in [
        g.node_id(0, 0),
        g.node_id(2, 1),
        g.node_id(3, 3),
        g.node_id(1, 3),
    ]
    .iter()
    .enumerate()
    {
        for size in [1usize, 2, 3, 5, 8, 15, 16] {
            for loopback in [false, true] {
                // Random members of the given size, sometimes including the source.
                let mut members = all.clone();
                for i in (1..members.len()).rev() {
                    members.swap(i, rng.gen_range(0..=i));
                }
                members.truncate(size);
                let group = GroupId((k * 7 + size) as u8 % 32);
                f.install_tree(group, src, &members).unwrap();
                let mut sb = Scoreboard::new();
                let rx = receivers(&members, src, loopback);
                for flits in [1usize, 3, 8] {
                    let t = PacketHeader::multicast(group, 0, 0, loopback);
                    let p = make_fanout_packet(&mut sb, &f, src, t, flits, &rx);
                    f.send(src, &p).unwrap();
                    sent += 1;
                }
                drain(&mut f, &mut sb, 5000);
                let r = sb.finish();
                assert_clean(&r);
                assert_eq!(r.copies_delivered, 3 * rx.len() as u64);
            }
        }
    }
    assert!(sent > 100);
    assert_no_drops(&mut f);
}
