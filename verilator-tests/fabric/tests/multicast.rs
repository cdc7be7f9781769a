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
use replimesh_spec::fanout::port_bit;
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

#[test]
fn overlapping_groups_from_several_sources_deliver_independently() {
    let (g, mut f) = mesh4();
    let n = |x, y| g.node_id(x, y);
    // Three groups sharing members and tree links, from different sources.
    let groups = [
        (
            GroupId(1),
            n(0, 0),
            vec![n(1, 1), n(2, 2), n(3, 3), n(3, 0)],
        ),
        (
            GroupId(2),
            n(3, 3),
            vec![n(1, 1), n(2, 2), n(0, 0), n(0, 3)],
        ),
        (
            GroupId(3),
            n(2, 1),
            vec![n(1, 1), n(2, 2), n(2, 1), n(2, 0), n(2, 3)],
        ),
    ];
    for (grp, src, members) in &groups {
        f.install_tree(*grp, *src, members).unwrap();
    }
    let mut sb = Scoreboard::new();
    for round in 0..20 {
        for (grp, src, members) in &groups {
            let lb = round % 2 == 0;
            let t = PacketHeader::multicast(*grp, 0, 0, lb);
            let p = make_fanout_packet(
                &mut sb,
                &f,
                *src,
                t,
                1 + round % 8,
                &receivers(members, *src, lb),
            );
            f.send(*src, &p).unwrap();
        }
    }
    drain(&mut f, &mut sb, 20_000);
    assert_clean(&sb.finish());
    assert_no_drops(&mut f);
}

#[test]
fn concurrent_fanout_from_all_nodes_with_unicast_past_saturation_loses_nothing() {
    let (g, mut f) = mesh4();
    let seed = 7;
    eprintln!("seed {seed}");
    let mut rng = SmallRng::seed_from_u64(seed);
    let all: Vec<NodeId> = g.node_ids().collect();
    // One source-rooted group per node, random members (2..=16).
    let mut groups = vec![];
    for (i, &src) in all.iter().enumerate() {
        let size = rng.gen_range(2..=16);
        let mut members = all.clone();
        for k in (1..members.len()).rev() {
            members.swap(k, rng.gen_range(0..=k));
        }
        members.truncate(size);
        f.install_tree(GroupId(i as u8), src, &members).unwrap();
        groups.push(members);
    }
    let mut sb = Scoreboard::unordered();
    let (mut fan_sent, mut uni_sent) = (0, 0);
    // Offered load well past saturation: every node injects as fast as its
    // port takes flits, a fan-out packet every few unicasts.
    for _ in 0..3000 {
        for (i, &src) in all.iter().enumerate() {
            if f.queued_flits(src) < 16 {
                if rng.gen_bool(0.25) {
                    let lb = rng.gen_bool(0.5);
                    let t = PacketHeader::multicast(GroupId(i as u8), 0, 0, lb);
                    let rx = receivers(&groups[i], src, lb);
                    let p = make_fanout_packet(&mut sb, &f, src, t, rng.gen_range(1..=8), &rx);
                    f.send(src, &p).unwrap();
                    fan_sent += 1;
                } else {
                    let mut d = src;
                    while d == src {
                        d = all[rng.gen_range(0..all.len())];
                    }
                    let p = make_packet(&mut sb, &f, src, d, rng.gen_range(1..=6));
                    f.send(src, &p).unwrap();
                    uni_sent += 1;
                }
            }
        }
        f.step().unwrap();
        for d in f.drain_delivered() {
            sb.on_deliver(&d);
        }
    }
    eprintln!("sent {fan_sent} multicast, {uni_sent} unicast");
    assert!(fan_sent > 300 && uni_sent > 1000);
    drain(&mut f, &mut sb, 200_000);
    assert_eq!(f.host_flits_pending(), 0, "mesh did not drain: deadlock?");
    let r = sb.finish();
    assert_clean(&r);
    assert_no_drops(&mut f);
}

#[test]
fn group_entry_rewritten_under_traffic_uses_old_or_new_tree_exactly() {
    let (g, mut f) = mesh4();
    let n = |x, y| g.node_id(x, y);
    let src = n(0, 1);
    let grp = GroupId(9);
    // The tree reaches (3,3) through (3,1) and (3,2). Toggling the local bit
    // of (3,2) adds or removes one member: a single router entry, so each
    // packet must see either the old or the new tree there, never half.
    let base = vec![n(3, 3), n(1, 0), n(2, 1)];
    let mut with = base.clone();
    with.push(n(3, 2));
    f.install_tree(grp, src, &with).unwrap();
    let mask_with = f.read_group(n(3, 2), grp).unwrap();
    assert_eq!(mask_with, port_bit(PortDir::S) | port_bit(PortDir::L));
    let mask_without = port_bit(PortDir::S);
    // Meanwhile a second source's group is reinstalled with a different
    // member set every so often (a versioned switch: the sender moves to the
    // freshly written id only after every router has it).
    let src2 = n(2, 3);
    let sets2 = [vec![n(0, 0), n(3, 0)], vec![n(1, 1), n(2, 2), n(0, 3)]];
    let ids2 = [GroupId(20), GroupId(21)];
    f.install_tree(ids2[0], src2, &sets2[0]).unwrap();
    let mut current2 = 0;
    let mut sb = Scoreboard::unordered();
    let mut rng = SmallRng::seed_from_u64(3);
    let mut toggles = 0;
    for step in 0..4000u64 {
        if f.queued_flits(src) < 8 {
            let t = PacketHeader::multicast(grp, 0, 0, false);
            let p = make_fanout_packet_either(
                &mut sb,
                &f,
                src,
                t,
                rng.gen_range(1..=8),
                &[base.clone(), with.clone()],
            );
            f.send(src, &p).unwrap();
        }
        if f.queued_flits(src2) < 8 {
            let t = PacketHeader::multicast(ids2[current2], 0, 0, false);
            let p = make_fanout_packet(&mut sb, &f, src2, t, 4, &sets2[current2]);
            f.send(src2, &p).unwrap();
        }
        if step % 37 == 0 {
            let m = if toggles % 2 == 0 {
                mask_without
            } else {
                mask_with
            };
            f.write_group(n(3, 2), grp, m).unwrap();
            toggles += 1;
        }
        if step % 500 == 250 {
            // Write the spare id while the current one carries traffic, then switch.
            let next = 1 - current2;
            f.install_tree(ids2[next], src2, &sets2[next]).unwrap();
            current2 = next;
        }
        f.step().unwrap();
        for d in f.drain_delivered() {
            sb.on_deliver(&d);
        }
    }
    drain(&mut f, &mut sb, 50_000);
    let r = sb.finish();
    assert!(toggles > 50);
    assert!(r.sent > 500, "sent {}", r.sent);
    assert_clean(&r);
    assert_no_drops(&mut f);
}

#[test]
fn bad_group_oversize_bad_mask_and_spent_ttl_are_dropped_and_counted() {
    let (g, mut f) = mesh4();
    let n = |x, y| g.node_id(x, y);
    let src = n(1, 1);
    let members = vec![n(3, 1), n(3, 3), n(0, 0)];
    f.install_tree(GroupId(4), src, &members).unwrap();
    // Group id past the table: dropped at the ingress router.
    let mut sb = Scoreboard::new();
    let t = PacketHeader::multicast(GroupId(40), 0, 0, true);
    let p = make_fanout_packet(&mut sb, &f, src, t, 3, &[]);
    f.send(src, &p).unwrap();
    // Longer than the FIFO depth (9 flits): dropped at the ingress router.
    let t = PacketHeader::multicast(GroupId(4), 0, 0, false);
    let p = make_fanout_packet(&mut sb, &f, src, t, 9, &[]);
    f.send(src, &p).unwrap();
    drain(&mut f, &mut sb, 2000);
    assert_clean(&sb.finish());
    assert_eq!(f.counters(src).unwrap().fanout_errors, 2);
    assert_eq!(f.host_flits_pending(), 0);
    // A mask that sends a packet back where it came from (or from a Y link
    // onto an X link) breaks the channel order: dropped where it happens.
    f.write_group(
        n(2, 1),
        GroupId(4),
        port_bit(PortDir::W) | port_bit(PortDir::E),
    )
    .unwrap();
    let mut sb = Scoreboard::new();
    let p = make_fanout_packet(&mut sb, &f, src, t, 2, &[n(0, 0)]);
    f.send(src, &p).unwrap();
    drain(&mut f, &mut sb, 2000);
    assert_clean(&sb.finish());
    assert_eq!(f.counters(n(2, 1)).unwrap().fanout_errors, 1);
    // A mask naming a port at the mesh edge: dropped and counted.
    f.install_tree(GroupId(4), src, &members).unwrap();
    f.write_group(
        n(3, 3),
        GroupId(4),
        port_bit(PortDir::S) | port_bit(PortDir::L),
    )
    .unwrap();
    let mut sb = Scoreboard::new();
    let p = make_fanout_packet(&mut sb, &f, src, t, 2, &[n(3, 1), n(0, 0)]);
    f.send(src, &p).unwrap();
    drain(&mut f, &mut sb, 2000);
    assert_clean(&sb.finish());
    assert_eq!(f.counters(n(3, 3)).unwrap().fanout_errors, 1);
    // A router on the tree whose entry was cleared: the branch ends there,
    // counted; members behind it get nothing, the others their copy.
    f.install_tree(GroupId(4), src, &members).unwrap();
    f.write_group(n(3, 2), GroupId(4), 0).unwrap();
    let mut sb = Scoreboard::new();
    let p = make_fanout_packet(&mut sb, &f, src, t, 2, &[n(3, 1), n(0, 0)]);
    f.send(src, &p).unwrap();
    drain(&mut f, &mut sb, 2000);
    assert_clean(&sb.finish());
    assert_eq!(f.counters(n(3, 2)).unwrap().fanout_errors, 1);
    // TTL runs out after two hops: only members within two hops get a copy;
    // the routers where it runs out count it.
    f.install_tree(GroupId(4), src, &members).unwrap();
    let mut t2 = t;
    t2.ttl = 2;
    let mut sb = Scoreboard::new();
    // (3,1) is 2 hops away, (0,0) 2 hops, (3,3) 4 hops.
    let p = make_fanout_packet(&mut sb, &f, src, t2, 2, &[n(3, 1), n(0, 0)]);
    f.send(src, &p).unwrap();
    drain(&mut f, &mut sb, 2000);
    assert_clean(&sb.finish());
    assert_eq!(f.counters(n(3, 1)).unwrap().drop_ttl, 1);
    // Nothing is stuck: a good packet still gets through.
    let mut sb = Scoreboard::new();
    let p = make_fanout_packet(&mut sb, &f, src, t, 8, &members);
    f.send(src, &p).unwrap();
    drain(&mut f, &mut sb, 2000);
    assert_clean(&sb.finish());
    assert_eq!(f.cfg_read(src, router_addr::FANOUT_ERRORS).unwrap(), 2);
}

#[test]
fn fanout_packet_longer_than_its_header_says_is_cut_at_the_fifo_depth() {
    // The header claims 2 payload flits (passes the head check), the host
    // sends 12: the router sends at most 8 flits (the last as the tail),
    // drops the rest, counts it, and nothing hangs.
    let (g, mut f) = mesh4();
    let n = |x, y| g.node_id(x, y);
    let src = n(1, 1);
    let members = vec![n(2, 1), n(1, 2)];
    f.install_tree(GroupId(6), src, &members).unwrap();
    let mut h = PacketHeader::multicast(GroupId(6), 77, 2, false);
    h.src = src.0;
    let p = replimesh_sim::Packet {
        header: h,
        payload: (0..12).collect(),
    };
    f.send(src, &p).unwrap();
    f.step_n(300).unwrap();
    let got = f.drain_delivered();
    assert_eq!(got.len(), 2, "{got:?}");
    for d in &got {
        assert!(members.contains(&d.node));
        assert_eq!(d.payload, (0..7).collect::<Vec<u64>>(), "cut after 8 flits");
    }
    assert_eq!(f.counters(src).unwrap().fanout_errors, 1);
    assert_eq!(f.host_flits_pending(), 0);
    // The router is clean afterwards.
    let mut sb = Scoreboard::new();
    let t = PacketHeader::multicast(GroupId(6), 0, 0, false);
    let p = make_fanout_packet(&mut sb, &f, src, t, 8, &members);
    f.send(src, &p).unwrap();
    drain(&mut f, &mut sb, 2000);
    assert_clean(&sb.finish());
}
