//! Replicated services on the generated card Verilog (issue 6): discovery
//! answered by the endpoints' presence tables, the expanding search, reroute
//! rules with fail-over, quarantine, and the node runtime on top. Every node
//! drives its own endpoint through the driver only.

use replimesh_driver::{
    BarOffset, Device, Endpoint, EndpointConfig, Presence, Rule, SearchStep, ServiceId,
};
use replimesh_node::{ticket, Cluster, Completion, RuntimeConfig, SearchPolicy, SequenceService};
use replimesh_regs::regmap::{self as r, TableReg};
use replimesh_regs::PacketHeader;
use replimesh_sim::card::{CardSim, SimDevice};
use replimesh_spec::regmap::{self as spec, service as sr, ErrorCause};
use replimesh_spec::service::{ControlOp, SearchState, CTRL_OPCODE};
use replimesh_spec::{MeshGeometry, NodeId, PacketKind, Scope, ScopeMode};
use std::collections::{HashMap, HashSet};

const SEQ: u32 = 1;

fn svc() -> ServiceId {
    ServiceId::new(SEQ).unwrap()
}

fn endpoints() -> Vec<Endpoint<SimDevice>> {
    let card = CardSim::new(MeshGeometry::new(4, 4).unwrap()).expect("card model built");
    CardSim::devices(&card)
        .into_iter()
        .map(|d| Endpoint::open(d, EndpointConfig::default()).expect("endpoint opens"))
        .collect()
}

/// Node `n` calls the service with `payload`; runs the cluster until that
/// call finishes, for at most `rounds` rounds.
fn call_and_wait(
    cluster: &mut Cluster<SimDevice>,
    n: usize,
    payload: Vec<u64>,
    rounds: u64,
) -> Option<Completion> {
    let seq = cluster.node(n).call(svc(), payload);
    let mut done = None;
    cluster
        .run_until(1, rounds, |c| {
            for d in c.node(n).take_completions() {
                if d.seq == seq {
                    done = Some(d);
                }
            }
            done.is_some()
        })
        .unwrap();
    done
}

/// `accuser` quarantines `node`; runs until every card holds exactly that.
fn quarantine_everywhere(cluster: &mut Cluster<SimDevice>, accuser: usize, node: u8) {
    cluster
        .node(accuser)
        .propagate_quarantine(node, false)
        .unwrap();
    let everywhere = cluster
        .run_until(1, 500, |c| {
            (0..16).all(|n| c.node(n).endpoint().quarantined().unwrap() == vec![node])
        })
        .unwrap();
    assert!(everywhere, "every card quarantined node {node}");
}

fn policy() -> Vec<SearchStep> {
    SearchPolicy::default().steps
}

fn present(load: u8) -> Presence {
    Presence {
        present: true,
        accepting: true,
        load,
    }
}

fn counter(ep: &mut Endpoint<SimDevice>, name: &str) -> u32 {
    ep.read(r::service_reg(name).expect("register")).unwrap()
}

/// Runs node `who`'s search to its end, clocking the card.
fn search(
    eps: &mut [Endpoint<SimDevice>],
    who: usize,
    max_load: u8,
) -> replimesh_driver::SearchStatus {
    eps[who].start_search(svc(), max_load, true).unwrap();
    eps[who].wait_search(160_000, 8).expect("search ends")
}

fn with_policy(eps: &mut [Endpoint<SimDevice>]) {
    for ep in eps.iter_mut() {
        ep.set_search_policy(&policy(), 24).unwrap();
    }
}

#[test]
fn the_nearest_replica_is_found_in_the_smallest_scope() {
    let mut eps = endpoints();
    with_policy(&mut eps);
    // Replicas at 5 (one hop from 4) and 15 (far away).
    eps[5].set_presence(svc(), present(10)).unwrap();
    eps[15].set_presence(svc(), present(0)).unwrap();
    let st = search(&mut eps, 4, 255);
    assert_eq!(st.state, SearchState::Found);
    assert_eq!(st.step, 0, "found within one hop");
    assert_eq!(st.best, Some((5, 10)));
    assert_eq!(st.second, None, "15 is outside the first scope");
    // The rule was installed by the card, and the requests never reached
    // node 4's host or the hosts of the responders.
    let rule = eps[4].rule(svc()).unwrap();
    assert_eq!((rule.valid, rule.primary), (true, 5));
    assert_eq!(counter(&mut eps[5], "discovery_answered_total"), 1);
    assert_eq!(counter(&mut eps[15], "discovery_seen_total"), 0);
    for ep in eps.iter_mut() {
        assert_eq!(
            ep.counters().unwrap().rx_packets,
            0,
            "no host saw a discovery packet"
        );
    }
}

#[test]
fn with_no_replica_nearby_a_wider_scope_finds_one_and_none_anywhere_is_not_found() {
    let mut eps = endpoints();
    with_policy(&mut eps);
    eps[15].set_presence(svc(), present(3)).unwrap();
    let st = search(&mut eps, 0, 255);
    assert_eq!(st.state, SearchState::Found);
    assert_eq!(st.step, 2, "neither one hop nor the quadrant holds node 15");
    assert_eq!(st.best, Some((15, 3)));
    assert!(
        st.cycles >= 700,
        "two step timeouts passed first: {}",
        st.cycles
    );
    assert_eq!(counter(&mut eps[0], "requests_sent_total"), 3);

    eps[15].set_presence(svc(), Presence::default()).unwrap();
    let st = search(&mut eps, 0, 255);
    assert_eq!(st.state, SearchState::NotFound);
    assert_eq!(st.step, 2, "gave up after the last step");
    assert!(st.cycles >= 1500, "every timeout ran: {}", st.cycles);
    assert_eq!(counter(&mut eps[15], "discovery_silent_total"), 1);
}

#[test]
fn overloaded_replicas_stay_silent_and_the_least_loaded_wins() {
    let mut eps = endpoints();
    with_policy(&mut eps);
    // All three one hop from node 5.
    eps[4].set_presence(svc(), present(250)).unwrap();
    eps[6].set_presence(svc(), present(40)).unwrap();
    eps[9].set_presence(svc(), present(20)).unwrap();
    let st = search(&mut eps, 5, 200);
    assert_eq!(st.state, SearchState::Found);
    assert_eq!(st.answers, 2, "the overloaded replica did not answer");
    assert_eq!(st.best, Some((9, 20)));
    assert_eq!(st.second, Some((6, 40)));
    assert_eq!(counter(&mut eps[4], "discovery_silent_total"), 1);
    assert_eq!(counter(&mut eps[4], "discovery_answered_total"), 0);
    let rule = eps[5].rule(svc()).unwrap();
    assert_eq!((rule.primary, rule.fallback), (9, Some(6)));
}

/// Clients on every non-replica node call the sequence service; one replica
/// is killed in the middle. Every call completes exactly once, with the
/// right tag and a ticket nobody else got.
#[test]
fn a_replica_killed_under_load_loses_no_request() {
    let replicas = [5usize, 10, 15];
    let cfg = RuntimeConfig::default();
    let mut cluster = Cluster::new(endpoints(), &cfg).unwrap();
    for &n in &replicas {
        let node = NodeId(n as u8);
        cluster
            .node(n)
            .register(Box::new(SequenceService::new(svc(), node)))
            .unwrap();
    }
    let clients: Vec<usize> = (0..16).filter(|n| !replicas.contains(n)).collect();
    let per_client = 8u64;
    let mut issued: HashMap<(usize, u16), u64> = HashMap::new();
    let mut completed: HashMap<(usize, u16), u64> = HashMap::new();
    let mut tickets = HashSet::new();
    let mut served_by = HashMap::new();
    let mut killed = None;
    for round in 0..4000u64 {
        // Each client keeps up to two calls in flight.
        for &c in &clients {
            let mut node = cluster.node(c);
            let sent = issued.keys().filter(|(n, _)| *n == c).count() as u64;
            if sent < per_client && node.in_flight() < 2 {
                let tag = (c as u64) << 32 | sent;
                let seq = node.call(svc(), vec![tag]);
                issued.insert((c, seq), tag);
            }
            for done in node.take_completions() {
                let key = (c, done.seq);
                let reply = done.result.expect("every call completes");
                let (tag, t, replica) = ticket(&reply).expect("a ticket");
                assert_eq!(Some(&tag), issued.get(&key), "reply to the right call");
                assert!(completed.insert(key, tag).is_none(), "completed twice");
                assert!(tickets.insert(t), "ticket {t:#x} handed out twice");
                *served_by.entry(replica).or_insert(0u32) += 1;
            }
        }
        // Kill the replica that served most, once a third of the calls are done.
        if killed.is_none() && completed.len() as u64 >= clients.len() as u64 * per_client / 3 {
            let victim = *served_by.iter().max_by_key(|(_, n)| **n).unwrap().0 as usize;
            cluster.kill(victim);
            killed = Some(victim);
        }
        if completed.len() as u64 == clients.len() as u64 * per_client {
            break;
        }
        cluster.run(1).unwrap();
        assert!(
            round < 3999,
            "calls left: {}",
            issued.len() - completed.len()
        );
    }
    let victim = killed.expect("a replica was killed");
    assert_eq!(completed.len(), issued.len());
    let failovers: u32 = clients
        .iter()
        .map(|&c| counter(cluster.node(c).endpoint(), "failovers_total"))
        .sum();
    assert!(failovers > 0, "some rule failed over from {victim}");
    assert!(counter(cluster.node(victim).endpoint(), "nacks_sent_total") > 0);
}

#[test]
fn a_quarantined_node_cannot_answer_send_or_spoof() {
    let cfg = RuntimeConfig::default();
    let mut cluster = Cluster::new(endpoints(), &cfg).unwrap();
    // Node 1 offers the service, one hop from node 0; node 3 too (far).
    for n in [1usize, 3] {
        cluster
            .node(n)
            .register(Box::new(SequenceService::new(svc(), NodeId(n as u8))))
            .unwrap();
    }
    // Spoofing: node 1's host writes src = 7; node 2 sees 1.
    {
        let mut n1 = cluster.node(1);
        let mut h = PacketHeader::unicast(NodeId(2), 77, 1);
        h.src = 7;
        n1.endpoint().send(&h, &[0xABCD]).unwrap();
    }
    let mut got = None;
    for _ in 0..200 {
        cluster
            .node(0)
            .endpoint()
            .device()
            .advance_time(10)
            .unwrap();
        if let Some(p) = cluster.node(2).endpoint().recv().unwrap() {
            got = Some(p);
            break;
        }
    }
    let p = got.expect("delivered");
    assert_eq!(
        (p.header.src, p.header.seq),
        (1, 77),
        "the router stamped the real source"
    );

    // Node 0 quarantines node 1; every card learns it.
    quarantine_everywhere(&mut cluster, 0, 1);
    for n in 0..16 {
        assert_eq!(
            cluster.node(n).endpoint().quarantined().unwrap(),
            vec![1],
            "node {n}"
        );
    }
    // Node 1's host can no longer send anything...
    let before = counter(cluster.node(1).endpoint(), "quarantine_drops_total");
    {
        let mut n1 = cluster.node(1);
        let h = PacketHeader::unicast(NodeId(0), 78, 1);
        n1.endpoint().send(&h, &[1]).unwrap();
        n1.endpoint().device().advance_time(200).unwrap();
    }
    assert_eq!(
        counter(cluster.node(1).endpoint(), "quarantine_drops_total"),
        before + 1
    );
    // ... and a search from node 0 skips it: node 3 (further) is found.
    let reply = call_and_wait(&mut cluster, 0, vec![42], 3000).expect("the call completed");
    assert_eq!(reply.replica, Some(3), "quarantined node 1 was not used");
    assert_eq!(cluster.node(0).searches()[0].replica, Some(3));
    assert_eq!(
        counter(cluster.node(1).endpoint(), "discovery_answered_total"),
        0
    );
    // Node 1's host forges a discovery answer to node 0: dropped at its own card.
    let malformed = counter(cluster.node(1).endpoint(), "malformed_total");
    {
        let mut n1 = cluster.node(1);
        let h = PacketHeader {
            kind: PacketKind::DiscoveryAnswer,
            service: SEQ as u8,
            ..PacketHeader::unicast(NodeId(0), 1, 1)
        };
        n1.endpoint().send(&h, &[0]).unwrap();
        n1.endpoint().device().advance_time(200).unwrap();
    }
    // Quarantine is checked first, so it counts as a quarantine drop.
    assert_eq!(
        counter(cluster.node(1).endpoint(), "malformed_total"),
        malformed
    );
    assert_eq!(
        counter(cluster.node(1).endpoint(), "quarantine_drops_total"),
        before + 2
    );
    assert_eq!(
        counter(cluster.node(0).endpoint(), "answers_accepted_total"),
        1
    );
}

/// Issue 13's report: a rule pointing at a replica that is then
/// quarantined, with no fallback, failed its call with `NoReply` although
/// other replicas were alive. A quarantined replica never refuses (its card
/// drops what its host sends), so the client hears nothing; after two silent
/// sends it searches again, the card installs the live replica it finds, and
/// the call completes there.
#[test]
fn a_rule_left_with_no_fallback_searches_again_instead_of_failing() {
    let cfg = RuntimeConfig::default();
    let mut cluster = Cluster::new(endpoints(), &cfg).unwrap();
    for n in [1usize, 3, 12] {
        cluster
            .node(n)
            .register(Box::new(SequenceService::new(svc(), NodeId(n as u8))))
            .unwrap();
    }
    let call = |cluster: &mut Cluster<SimDevice>, tag: u64| {
        call_and_wait(cluster, 0, vec![tag], 6000).expect("the call finished")
    };
    let first = call(&mut cluster, 1);
    assert_eq!(first.replica, Some(1), "the nearest replica first");
    // The rule keeps node 1 and loses its fallback.
    let rule = Rule {
        valid: true,
        primary: 1,
        fallback: None,
        use_fallback: false,
    };
    cluster.node(0).endpoint().set_rule(svc(), rule).unwrap();
    quarantine_everywhere(&mut cluster, 3, 1);
    let second = call(&mut cluster, 2);
    let reply = second.result.as_ref().expect("completed, not NoReply");
    let (tag, _, replica) = ticket(reply).expect("a ticket");
    assert_eq!(tag, 2);
    assert!(
        [3, 12].contains(&replica) && second.replica == Some(replica),
        "served by a live replica, not {:?}",
        second.replica
    );
    assert!(second.attempts >= 3, "two silent sends first");
    let stats = cluster.node(0).stats();
    assert!(stats.searches_on_timeout >= 1);
    let now = cluster.node(0).endpoint().rule(svc()).unwrap();
    assert!(
        now.valid && now.primary != 1,
        "the rule moved off node 1: {now:?}"
    );
}

/// Issue 13's report: after a replica died, other nodes kept rules pointing
/// at it (some with no fallback) until each one's own call was refused.
/// Now the first refusal from the dead host's card (`host_down`: its lease
/// ran out) is announced to every node, and every rule pointing at it moves
/// at once, on nodes that have not called since: to the fallback, or, with
/// none, to whatever a fresh search finds. Their next calls go straight to
/// a live replica.
#[test]
fn a_dead_host_is_announced_and_every_rule_pointing_at_it_moves_at_once() {
    let cfg = RuntimeConfig::default();
    let mut cluster = Cluster::new(endpoints(), &cfg).unwrap();
    for n in [5usize, 10, 15] {
        cluster
            .node(n)
            .register(Box::new(SequenceService::new(svc(), NodeId(n as u8))))
            .unwrap();
    }
    // Rules as the report found them: nodes 1 and 4 on node 5 with no
    // fallback, node 9 on node 5 with fallback 10, node 0 on node 5.
    let on5 = |fallback| Rule {
        valid: true,
        primary: 5,
        fallback,
        use_fallback: false,
    };
    for (n, fb) in [(0usize, None), (1, None), (4, None), (9, Some(10))] {
        cluster.node(n).endpoint().set_rule(svc(), on5(fb)).unwrap();
    }
    // The runtimes must know the service has a rule, as after a first call.
    for n in [0usize, 1, 4, 9] {
        let done = call_and_wait(&mut cluster, n, vec![n as u64], 3000);
        assert!(done.is_some(), "node {n}'s first call");
    }
    for (n, fb) in [(0usize, None), (1, None), (4, None), (9, Some(10))] {
        cluster.node(n).endpoint().set_rule(svc(), on5(fb)).unwrap();
    }
    // Node 5's host dies; its lease (1500 cycles) runs out.
    cluster.kill(5);
    cluster.run(200).unwrap();
    // Node 0 calls: refused with host_down, announced to everyone.
    let reply = call_and_wait(&mut cluster, 0, vec![100], 4000).expect("node 0's call finished");
    assert!(reply.result.is_ok(), "node 0's call completed: {reply:?}");
    assert_ne!(reply.replica, Some(5));
    assert_eq!(cluster.node(0).stats().host_down_sent, 1, "announced once");
    // Every other node moved its rule without calling: settle the searches.
    cluster
        .run_until(1, 4000, |c| {
            [1usize, 4, 9].iter().all(|&n| {
                let r = c.node(n).endpoint().rule(svc()).unwrap();
                r.valid && r.current() != Some(5)
            })
        })
        .unwrap();
    for n in [1usize, 4, 9] {
        let r = cluster.node(n).endpoint().rule(svc()).unwrap();
        assert!(
            r.valid && matches!(r.current(), Some(10) | Some(15)),
            "node {n}'s rule moved to a live replica: {r:?}"
        );
        assert!(cluster.node(n).stats().rules_redirected >= 1, "node {n}");
        assert_eq!(
            cluster.node(n).stats().resent_on_nack,
            0,
            "node {n} was never refused"
        );
    }
    // Their next calls go straight there: one send each.
    for n in [1usize, 4, 9] {
        let d = call_and_wait(&mut cluster, n, vec![200 + n as u64], 3000).expect("finished");
        assert!(d.result.is_ok() && d.attempts == 1, "node {n}: {d:?}");
        assert_ne!(d.replica, Some(5));
    }
}

/// Issue 13's report: a quarantined node's host rewrote its own router's
/// table and received a transit packet another node had sent to a third.
/// The card now refuses a quarantined node's router writes (reads stay
/// allowed), counts them (`err_quarantined_total`, last error
/// `quarantined`), and transit traffic keeps its route.
#[test]
fn a_quarantined_node_cannot_rewrite_its_router() {
    use replimesh_spec::regmap::ROUTER_CFG_OFFSET;
    use replimesh_spec::routing::encode_entry;
    use replimesh_spec::{PortDir, Route, ROUTE_TABLE_BASE};
    let cfg = RuntimeConfig::default();
    let mut cluster = Cluster::new(endpoints(), &cfg).unwrap();
    // Node 1 sits between 0 and 2 on the top row: 0 -> 2 crosses router 1.
    let entry_at = |ep: &mut Endpoint<SimDevice>, dest: u32| {
        let base = ep.blocks().find_spec(&spec::ROUTER_BLOCK).unwrap().base;
        base.add(ROUTER_CFG_OFFSET + 4 * (ROUTE_TABLE_BASE + dest))
    };
    let steal = encode_entry(Some(Route {
        primary: PortDir::L,
        alternate: PortDir::L,
    }));
    let (at, honest) = {
        let mut n1 = cluster.node(1);
        let ep = n1.endpoint();
        let at = entry_at(ep, 2);
        (at, ep.device().read32(at).unwrap())
    };
    assert_ne!(honest, steal);
    // Before quarantine the write works (so the check below means something).
    {
        let mut n1 = cluster.node(1);
        let ep = n1.endpoint();
        ep.write_raw(at, steal).unwrap();
        assert_eq!(
            ep.device().read32(at).unwrap(),
            steal,
            "a free node writes its router"
        );
        ep.write_raw(at, honest).unwrap();
        assert_eq!(ep.device().read32(at).unwrap(), honest);
    }
    quarantine_everywhere(&mut cluster, 0, 1);
    {
        let mut n1 = cluster.node(1);
        let ep = n1.endpoint();
        ep.write_raw(at, steal).unwrap();
        assert_eq!(
            ep.device().read32(at).unwrap(),
            honest,
            "the write was refused"
        );
        assert_eq!(ep.counters().unwrap().error(ErrorCause::Quarantined), 1);
        assert_eq!(
            ep.last_error().unwrap().cause,
            Some(ErrorCause::Quarantined)
        );
    }
    // A packet from 0 to 2 still reaches 2, not node 1's host.
    let h = PacketHeader::unicast(NodeId(2), 9, 1);
    cluster.node(0).endpoint().send(&h, &[0x5EC2E7]).unwrap();
    let mut got = None;
    for _ in 0..200 {
        cluster
            .node(0)
            .endpoint()
            .device()
            .advance_time(10)
            .unwrap();
        // (Skipping the quarantine notice, which node 2 got too.)
        if let Some(p) = cluster.node(2).endpoint().recv().unwrap() {
            if p.header.kind == PacketKind::Unicast {
                got = Some(p);
                break;
            }
        }
    }
    let p = got.expect("delivered to node 2");
    assert_eq!(
        (p.header.src, p.header.seq, p.payload.clone()),
        (0, 9, vec![0x5EC2E7])
    );
    while let Some(p) = cluster.node(1).endpoint().recv().unwrap() {
        assert_ne!(
            p.header.kind,
            PacketKind::Unicast,
            "nothing diverted to node 1"
        );
    }
}

#[test]
fn bad_rules_searches_and_packets_are_counted_and_change_nothing() {
    let mut eps = endpoints();
    with_policy(&mut eps);
    let good = Rule {
        valid: true,
        primary: 5,
        fallback: Some(6),
        use_fallback: false,
    };
    eps[0].set_rule(svc(), good).unwrap();
    // The driver refuses a node past the mesh...
    let bad = Rule {
        primary: 99,
        ..good
    };
    assert!(eps[0]
        .set_rule(svc(), bad)
        .unwrap_err()
        .to_string()
        .contains("node 99"));
    // ... and so does the card when written raw.
    let base = eps[0]
        .blocks()
        .find_spec(&spec::SERVICE_BLOCK)
        .unwrap()
        .base;
    let at = TableReg::new(&spec::SERVICE_BLOCK, &sr::RULES, SEQ)
        .unwrap()
        .at(base);
    eps[0]
        .write_raw(at, replimesh_driver::services::encode_rule(bad))
        .unwrap();
    assert_eq!(eps[0].rule(svc()).unwrap(), good, "rule unchanged");
    assert_eq!(eps[0].counters().unwrap().error(ErrorCause::RuleNode), 1);
    // A search for service 0 (raw write) is refused.
    eps[0].write(r::SVC_SEARCH_START, 0).unwrap();
    assert_eq!(eps[0].counters().unwrap().error(ErrorCause::SearchStart), 1);
    assert_eq!(eps[0].search_status().unwrap().state, SearchState::Idle);
    assert!(ServiceId::new(64).is_err());
    // A service request for a service with no rule is dropped and counted.
    let h = PacketHeader {
        kind: PacketKind::ServiceRequest,
        service: 9,
        ..PacketHeader::unicast(NodeId(0), 1, 1)
    };
    eps[0].send(&h, &[1]).unwrap();
    eps[0].device().advance_time(100).unwrap();
    assert_eq!(counter(&mut eps[0], "rule_misses_total"), 1);
    // Malformed discovery requests (no payload; three payload flits) are
    // dropped by every receiver and counted; nobody answers.
    eps[1].set_presence(svc(), present(0)).unwrap();
    for len in [0u8, 3] {
        let h = PacketHeader {
            kind: PacketKind::DiscoveryRequest,
            service: SEQ as u8,
            scope: Scope {
                mode: ScopeMode::Mesh,
                radius: 1,
            }
            .encode()
            .unwrap(),
            ..PacketHeader::unicast(NodeId(0), 5, len)
        };
        eps[0].send(&h, &vec![0u64; len as usize]).unwrap();
    }
    eps[0].device().advance_time(300).unwrap();
    assert_eq!(counter(&mut eps[1], "malformed_total"), 2);
    assert_eq!(counter(&mut eps[1], "discovery_answered_total"), 0);
    // A control message with an unknown opcode is counted, still delivered.
    let h = PacketHeader {
        kind: PacketKind::Control,
        ..PacketHeader::unicast(NodeId(1), 6, 1)
    };
    let word = CTRL_OPCODE.set(0, 0x7F).unwrap();
    eps[0].send(&h, &[word as u64]).unwrap();
    eps[0].device().advance_time(100).unwrap();
    assert_eq!(counter(&mut eps[1], "malformed_total"), 3);
    assert!(eps[1].recv().unwrap().is_some());
    // Nothing was written where it should not be.
    assert!(eps[1].quarantined().unwrap().is_empty());
    let _ = BarOffset(0);
}

/// Areas of any shape (seed 002's regions): here the top two rows and the
/// bottom two rows. Node 0's area step finds node 7 (four hops, same area)
/// and not node 8 (two hops, other area); node 9's finds node 8.
#[test]
fn an_area_step_searches_the_searchers_own_region_through_the_group_tables() {
    let policy = SearchPolicy::from_toml(
        "areas = [[0, 1, 2, 3, 4, 5, 6, 7], [8, 9, 10, 11, 12, 13, 14, 15]]\n\
         [[step]]\nscope = \"area\"\ntimeout_cycles = 400\n\
         [[step]]\nscope = \"mesh\"\ntimeout_cycles = 800\n",
    )
    .unwrap();
    let cfg = RuntimeConfig {
        policy,
        ..RuntimeConfig::default()
    };
    let mut cluster = Cluster::new(endpoints(), &cfg).unwrap();
    for n in [7usize, 8] {
        cluster
            .node(n)
            .register(Box::new(SequenceService::new(svc(), NodeId(n as u8))))
            .unwrap();
    }
    let calls: Vec<(usize, u16)> = [0usize, 9]
        .iter()
        .map(|&c| (c, cluster.node(c).call(svc(), vec![c as u64])))
        .collect();
    let mut replies = HashMap::new();
    cluster
        .run_until(1, 3000, |c| {
            for &(n, seq) in &calls {
                for d in c.node(n).take_completions() {
                    assert_eq!(d.seq, seq);
                    replies.insert(n, d.replica);
                }
            }
            replies.len() == 2
        })
        .unwrap();
    assert_eq!(replies[&0], Some(7));
    assert_eq!(replies[&9], Some(8));
    for (n, want) in [(0usize, 7u8), (9, 8)] {
        let s = cluster.node(n).searches()[0].clone();
        assert_eq!(
            (s.step, s.scope.as_str(), s.replica),
            (0, "area", Some(want))
        );
        assert_eq!(s.answers, 1, "only the own area answered");
    }
    // Node 8 saw node 9's request only; node 7 saw node 0's only.
    assert_eq!(
        counter(cluster.node(8).endpoint(), "discovery_seen_total"),
        1
    );
    assert_eq!(
        counter(cluster.node(7).endpoint(), "discovery_seen_total"),
        1
    );
}

/// A quarantine notice `op` about `node` at `version`, sent raw from
/// `from` to `to` alone (as one copy of a flood would arrive).
fn one_notice(
    cluster: &mut Cluster<SimDevice>,
    from: usize,
    to: u8,
    op: ControlOp,
    node: u8,
    version: u16,
) {
    let word = CTRL_OPCODE.set(0, op as u32).unwrap() | (node as u32) << 8;
    let h = PacketHeader {
        kind: PacketKind::Control,
        ..PacketHeader::unicast(NodeId(to), version, 1)
    };
    cluster
        .node(from)
        .endpoint()
        .send(&h, &[word as u64])
        .unwrap();
}

fn every_card(cluster: &mut Cluster<SimDevice>, want: &[u8]) -> bool {
    (0..16).all(|n| cluster.node(n).endpoint().quarantined().unwrap() == want)
}

/// Quarantine notices carry a version, and every node that hears one newer
/// than it knew sends it on to all: one copy that reaches one node reaches
/// every card; a stale copy (an old quarantine arriving after the release)
/// sets back the card it reached, and that card's host puts it right.
#[test]
fn quarantine_notices_spread_from_one_copy_and_a_stale_one_is_undone() {
    let mut cluster = Cluster::new(endpoints(), &RuntimeConfig::default()).unwrap();
    quarantine_everywhere(&mut cluster, 0, 5);
    for n in 1..16 {
        assert_eq!(
            cluster.node(n).stats().quarantine_notices_flooded,
            1,
            "node {n} sent the notice on once"
        );
    }
    cluster.node(2).propagate_quarantine(5, true).unwrap();
    assert!(cluster.run_until(1, 500, |c| every_card(c, &[])).unwrap());
    // Copies of both floods still on their way settle first (a late copy
    // of the quarantine is the very race below; node 2 may meet some).
    cluster.run(300).unwrap();
    assert!(every_card(&mut cluster, &[]));
    let stale: Vec<u64> = (0..16)
        .map(|n| cluster.node(n).stats().quarantine_notices_stale)
        .collect();

    // A late copy of the first quarantine (version 1) reaches node 9: its
    // card acts on it (cards keep no versions)...
    one_notice(&mut cluster, 3, 9, ControlOp::Quarantine, 5, 1);
    let mut card_acted = false;
    assert!(cluster
        .run_until(1, 500, |c| {
            card_acted |= c.node(9).endpoint().quarantined().unwrap() == vec![5];
            card_acted && every_card(c, &[])
        })
        .unwrap());
    assert!(card_acted, "the stale copy reached node 9's card");
    // ... and its host, which knew version 2, set it back; nobody else moved.
    for (n, before) in stale.into_iter().enumerate() {
        assert_eq!(
            cluster.node(n).stats().quarantine_notices_stale - before,
            u64::from(n == 9),
            "node {n}"
        );
    }

    // One copy of a newer quarantine (version 3), to node 12 alone: its host
    // sends it on, and every card has it.
    one_notice(&mut cluster, 3, 12, ControlOp::Quarantine, 5, 3);
    assert!(cluster.run_until(1, 500, |c| every_card(c, &[5])).unwrap());
}
