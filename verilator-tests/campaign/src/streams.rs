//! Streams of reliable messages between every pair of nodes on the card
//! model, checked by a scoreboard of their own: per (source, destination),
//! the next index expected. The reliable-delivery and control-plane tests
//! run it strict (the first violation panics, where it happened); the fault
//! campaign runs it counting ([`Tally`]).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use replimesh_driver::{Endpoint, EndpointConfig};
use replimesh_node::control_plane::with_neighbour_routes;
use replimesh_node::{
    Cluster, ControlPlaneConfig, FaultManagerConfig, NodeRuntime, RuntimeConfig, SendError,
    TransportConfig, TransportStats,
};
use replimesh_sim::card::{CardSim, SharedCard, SimDevice};
use replimesh_spec::regmap::ErrorCause;
use replimesh_spec::routing::{
    check_deadlock_free, check_delivery, mesh_links, updown_tables, Faults,
};
use replimesh_spec::{MeshGeometry, NodeId, PortDir};
use std::collections::{BTreeSet, HashMap};

/// What the book found wrong, when not strict. Every field is zero on a
/// clean run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tally {
    /// Messages delivered again (an index below the next expected).
    pub duplicated: u64,
    /// Messages delivered past a gap (an index above the next expected).
    pub out_of_order: u64,
    /// Messages whose payload was not the one sent.
    pub corrupted: u64,
    /// Messages delivered to a node they were not for, or with the wrong
    /// sender stamped.
    pub misdelivered: u64,
    /// Messages reported unconfirmed to a node that was alive, by a node,
    /// neither of them ever quarantined (the transport gave up on a
    /// reachable peer).
    pub false_giveups: u64,
    /// Accepted messages neither delivered nor reported unconfirmed.
    pub lost: u64,
    /// Messages a host accepted and then died with before delivering (its
    /// application died with them; not a fabric loss).
    pub died_with_sender: u64,
    /// Runs that ended with messages still unacknowledged.
    pub finish_timeouts: u64,
    /// Messages a restarted host got again: its previous run had received
    /// them but died before acknowledging them (at-least-once across a
    /// restart of the receiver; the new application sees each once).
    pub redelivered_after_restart: u64,
}

impl Tally {
    /// Whether nothing went wrong.
    pub fn clean(&self) -> bool {
        Tally {
            died_with_sender: 0,
            redelivered_after_restart: 0,
            ..*self
        } == Tally::default()
    }
}

/// A message's words: who, to whom, which, and a check word over them.
pub fn message(src: u8, dst: u8, index: u64, len: usize) -> Vec<u64> {
    let head = (src as u64) << 56 | (dst as u64) << 48 | index;
    let mut m = vec![head];
    for i in 1..len {
        m.push(head.rotate_left(i as u32 * 7) ^ 0x9e37_79b9_7f4a_7c15);
    }
    m
}

pub struct Run {
    pub card: SharedCard,
    pub cluster: Cluster<SimDevice>,
    pub ids: Vec<u8>,
    pub faults: Faults,
    pub rng: SmallRng,
    pub cfg: RuntimeConfig,
    /// Next index to send, per (source, destination).
    pub sent: HashMap<(u8, u8), u64>,
    /// Next index expected, per (source, destination).
    pub expected: HashMap<(u8, u8), u64>,
    pub delivered: u64,
    /// Messages reported unconfirmed, per (source, destination); only a
    /// dead host may be the destination.
    pub gave_up: HashMap<(u8, u8), u64>,
    /// Panic at the first violation (tests) rather than count it in
    /// [`Run::tally`].
    pub strict: bool,
    /// What went wrong (when not strict).
    pub tally: Tally,
    /// Node ids quarantined now: out of the graph, like a dead host.
    pub quarantined: BTreeSet<u8>,
    /// Node ids quarantined at any time of this run (a peer may give up on
    /// them).
    pub ever_quarantined: BTreeSet<u8>,
    /// A node most senders aim at (to fill its RX ring), or none.
    pub target: Option<usize>,
    /// The first violations the book found (when not strict), described.
    pub violations: Vec<String>,
    /// Streams to a restarted host, with what its previous run had got:
    /// the first delivery to the new run may repeat that far back.
    rebase: HashMap<(u8, u8), u64>,
}

impl Run {
    pub fn new(g: MeshGeometry, seed: u64) -> Run {
        Run::with_attempts(g, seed, 40)
    }

    pub fn with_attempts(g: MeshGeometry, seed: u64, max_attempts: u32) -> Run {
        let card = CardSim::new(g).expect("card model built");
        let faults = Faults::new(g);
        card.borrow_mut()
            .load_tables(&updown_tables(&faults))
            .unwrap();
        // The double scheme's steady state before any traffic: the spare VC
        // is empty at reset, so one clearing pass and one clean pass do.
        let spare = card.borrow_mut().enter_double_scheme().unwrap();
        assert!(CardSim::drain_change(&card, spare, 1, || {}).unwrap());
        Run::over(card, g, seed, max_attempts, None, None)
    }

    /// A card fresh from reset whose nodes run the control plane: nothing
    /// loads tables but the runtimes themselves, each its own router's.
    pub fn master_less(
        g: MeshGeometry,
        seed: u64,
        max_attempts: u32,
        cp: ControlPlaneConfig,
    ) -> Run {
        let card = CardSim::new(g).expect("card model built");
        Run::over(card, g, seed, max_attempts, Some(cp), None)
    }

    /// [`Run::master_less`] with every node's fault manager running too.
    pub fn master_less_managed(
        g: MeshGeometry,
        seed: u64,
        max_attempts: u32,
        cp: ControlPlaneConfig,
        fm: FaultManagerConfig,
    ) -> Run {
        let card = CardSim::new(g).expect("card model built");
        Run::over(card, g, seed, max_attempts, Some(cp), Some(fm))
    }

    fn over(
        card: SharedCard,
        g: MeshGeometry,
        seed: u64,
        max_attempts: u32,
        control_plane: Option<ControlPlaneConfig>,
        fault_manager: Option<FaultManagerConfig>,
    ) -> Run {
        let eps: Vec<_> = CardSim::devices(&card)
            .into_iter()
            .map(|d| Endpoint::open(d, EndpointConfig::default()).expect("endpoint opens"))
            .collect();
        let ids = eps.iter().map(|e| e.info().node.0).collect();
        let cfg = RuntimeConfig {
            transport: TransportConfig {
                window: 8,
                max_attempts,
                ..Default::default()
            },
            control_plane,
            fault_manager,
            ..Default::default()
        };
        let cluster = Cluster::new(eps, &cfg).unwrap();
        Run {
            card,
            cluster,
            ids,
            faults: Faults::new(g),
            rng: SmallRng::seed_from_u64(seed),
            cfg,
            sent: HashMap::new(),
            expected: HashMap::new(),
            delivered: 0,
            gave_up: HashMap::new(),
            strict: true,
            tally: Tally::default(),
            quarantined: BTreeSet::new(),
            ever_quarantined: BTreeSet::new(),
            target: None,
            violations: Vec::new(),
            rebase: HashMap::new(),
        }
    }

    /// Panics when strict; else counts by `count`.
    fn violation(&mut self, count: fn(&mut Tally) -> &mut u64, what: String) {
        if self.strict {
            panic!("{what}");
        }
        *count(&mut self.tally) += 1;
        if self.violations.len() < 20 {
            self.violations
                .push(format!("cycle {}: {what}", self.now()));
        }
    }

    /// Node `i`'s host starts a new runtime (after a crash, or its router
    /// came back): a fresh endpoint over the same card. Its own streams
    /// start over, as a restarted application's would. The streams to it go
    /// on: every message is still delivered (to the old run or the new) or
    /// reported; the new run may get again what the old one got last.
    ///
    /// An endpoint that does not open (its engines did not stop) is
    /// returned as the error, and the host stays dead.
    pub fn restart(&mut self, i: usize) -> Result<(), replimesh_driver::DriverError> {
        let dev = CardSim::devices(&self.card).swap_remove(i);
        let ep = Endpoint::open(dev, EndpointConfig::default())?;
        let rt = NodeRuntime::new(ep, self.cfg.clone()).expect("runtime starts");
        self.cluster.replace(i, rt);
        let me = self.ids[i];
        self.sent.retain(|(s, _), _| *s != me);
        self.expected.retain(|(s, _), _| *s != me);
        self.gave_up.retain(|(s, _), _| *s != me);
        self.rebase.retain(|(s, _), _| *s != me);
        let to_me: Vec<(u8, u8)> = self.sent.keys().filter(|k| k.1 == me).copied().collect();
        for k in to_me {
            if self.gave_up.remove(&k).is_some() {
                // The sender reported everything it had not got across and
                // stopped: every earlier message is accounted for.
                self.expected.insert(k, self.sent[&k]);
                self.rebase.remove(&k);
            } else {
                let got = self.expected.get(&k).copied().unwrap_or(0);
                self.rebase.insert(k, got);
            }
        }
        Ok(())
    }

    /// The graph every live runtime should agree on: live routers whose
    /// hosts run, and the links up between them.
    pub fn expected_graph(&self) -> Faults {
        let g = self.faults.geometry();
        let mut f = self.faults.clone();
        for (i, id) in self.ids.iter().enumerate() {
            let out = !self.cluster.is_alive(i) || self.quarantined.contains(id);
            if out && f.is_live(NodeId(*id)) {
                f.set_router_dead(NodeId(*id)).unwrap();
            }
        }
        for (n, p) in mesh_links(&g) {
            let m = g.neighbour(n, p).expect("a link has two ends");
            if !(f.is_live(n) && f.is_live(m)) {
                f.set_link_down(n, p).unwrap();
            }
        }
        f
    }

    /// Whether every live runtime is ready on the tables of
    /// [`Run::expected_graph`], and its router holds its row of them in the
    /// bank it routes by (read back through its own window).
    pub fn converged(&mut self) -> bool {
        let want = updown_tables(&self.expected_graph());
        for i in 0..self.ids.len() {
            // A quarantined node cannot write its router; it is out.
            if !self.cluster.is_alive(i) || self.quarantined.contains(&self.ids[i]) {
                continue;
            }
            let mut node = self.cluster.node(i);
            let Some(cp) = node.control_plane() else {
                return false;
            };
            if cp.phase() != replimesh_node::Phase::Ready || cp.tables() != want {
                return false;
            }
            let me = NodeId(self.ids[i]);
            // Plus a one-hop route to every neighbour the graph leaves out.
            let row = with_neighbour_routes(
                &self.faults.geometry(),
                me,
                cp.links(),
                &want.encoded(me).unwrap(),
            );
            let ep = node.endpoint();
            let banks = ep
                .router_read(replimesh_spec::router_addr::TABLE_BANKS)
                .unwrap();
            let base = if banks & 1 == 0 {
                replimesh_spec::ROUTE_TABLE_BASE
            } else {
                replimesh_spec::ROUTE_TABLE_BANK1_BASE
            };
            for (d, v) in row.into_iter().enumerate() {
                if ep.router_read(base + d as u32).unwrap() != v {
                    return false;
                }
            }
        }
        true
    }

    /// Every live runtime's control-plane state, for failure messages.
    pub fn control_summary(&mut self) -> String {
        let want = updown_tables(&self.expected_graph());
        let mut out = vec![];
        for i in 0..self.ids.len() {
            if !self.cluster.is_alive(i) {
                continue;
            }
            let node = self.cluster.node(i);
            if let Some(cp) = node.control_plane() {
                out.push(format!(
                    "node {}: {:?} epoch {:?} members {} tables {} {:?}",
                    self.ids[i],
                    cp.phase(),
                    cp.epoch(),
                    cp.members().len(),
                    if cp.tables() == want {
                        "right"
                    } else {
                        "wrong"
                    },
                    cp.stats()
                ));
            }
        }
        out.join("\n")
    }

    /// Runs traffic at `load` until [`Run::converged`]; returns the cycles
    /// it took, or panics after `limit`.
    pub fn until_converged(&mut self, load: f64, limit: u64) -> u64 {
        match self.try_converge(load, limit) {
            Some(t) => t,
            None => panic!(
                "tables did not converge in {limit} cycles: {}",
                self.control_summary()
            ),
        }
    }

    /// [`Run::until_converged`], or `None` after `limit` cycles.
    pub fn try_converge(&mut self, load: f64, limit: u64) -> Option<u64> {
        let start = self.now();
        loop {
            for _ in 0..8 {
                self.round(load);
            }
            if self.converged() {
                return Some(self.now() - start);
            }
            if self.now() - start >= limit {
                return None;
            }
        }
    }

    /// Whether node `i`'s host runs and is polled (alive, not stalled).
    pub fn polled(&self, i: usize) -> bool {
        self.cluster.is_alive(i) && !self.cluster.is_paused(i)
    }

    pub fn now(&self) -> u64 {
        self.card.borrow().cycle()
    }

    /// One round: every node offers a message with probability `load` to a
    /// random other node, each node polls once, and every delivery is
    /// checked against the book.
    pub fn round(&mut self, load: f64) {
        let n = self.ids.len();
        for i in 0..n {
            if self.polled(i) && load > 0.0 && self.rng.gen_bool(load) {
                let mut j = self.rng.gen_range(0..n);
                while j == i {
                    j = self.rng.gen_range(0..n);
                }
                if let Some(t) = self.target.filter(|&t| t != i) {
                    if self.rng.gen_bool(0.8) {
                        j = t;
                    }
                }
                let (src, dst) = (self.ids[i], self.ids[j]);
                if self.gave_up.contains_key(&(src, dst)) {
                    // The application heard the peer is gone and stops.
                    continue;
                }
                let index = *self.sent.get(&(src, dst)).unwrap_or(&0);
                let len = self.rng.gen_range(1..=6);
                match self
                    .cluster
                    .node(i)
                    .send_message(NodeId(dst), message(src, dst, index, len))
                {
                    Ok(_) => {
                        self.sent.insert((src, dst), index + 1);
                    }
                    Err(SendError::WindowFull { .. }) => {}
                    Err(e) => panic!("send refused: {e}"),
                }
            }
        }
        self.cluster.run(1).unwrap();
        for i in 0..n {
            if !self.polled(i) {
                continue;
            }
            let me = self.ids[i];
            let (messages, unconfirmed) = {
                let mut node = self.cluster.node(i);
                (node.take_messages(), node.take_unconfirmed())
            };
            for m in messages {
                self.check_delivery(me, m.src, &m.payload);
            }
            for u in unconfirmed {
                let j = self.ids.iter().position(|&x| x == u.dest).expect("a node");
                // A quarantined node's card sends nothing: it may give up on
                // anyone, as anyone may give up on it.
                let either_quarantined =
                    self.ever_quarantined.contains(&u.dest) || self.ever_quarantined.contains(&me);
                if self.cluster.is_alive(j) && !either_quarantined {
                    self.violation(
                        |t| &mut t.false_giveups,
                        format!(
                            "node {me} gave up on {u:?} although node {} is alive and reachable",
                            u.dest
                        ),
                    );
                }
                *self.gave_up.entry((me, u.dest)).or_insert(0) += 1;
            }
        }
    }

    /// Checks one delivered message against the book.
    fn check_delivery(&mut self, me: u8, stamped: u8, payload: &[u64]) {
        let Some(&head) = payload.first() else {
            return self.violation(|t| &mut t.corrupted, format!("{me}: empty message"));
        };
        let (src, dst) = ((head >> 56) as u8, (head >> 48) as u8);
        let index = head & 0xffff_ffff_ffff;
        if src != stamped || dst != me {
            return self.violation(
                |t| &mut t.misdelivered,
                format!("message {src}->{dst} #{index} delivered to {me}, stamped from {stamped}"),
            );
        }
        if let Some(old_run_got) = self.rebase.remove(&(src, dst)) {
            if index <= old_run_got {
                self.tally.redelivered_after_restart += old_run_got - index;
                self.expected.insert((src, dst), index);
            }
        }
        let want = *self.expected.get(&(src, dst)).unwrap_or(&0);
        if index < want {
            return self.violation(
                |t| &mut t.duplicated,
                format!("{src}->{dst}: message {index} again ({want} was next)"),
            );
        }
        if index > want {
            self.violation(
                |t| &mut t.out_of_order,
                format!(
                    "{src}->{dst}: message {index} where {want} was next (lost or out of order)"
                ),
            );
        }
        self.expected.insert((src, dst), index + 1);
        if payload != message(src, dst, index, payload.len()) {
            self.violation(
                |t| &mut t.corrupted,
                format!("{src}->{dst} #{index}: payload not intact"),
            );
        }
        self.delivered += 1;
    }

    pub fn rounds(&mut self, cycles: u64, load: f64) {
        let end = self.now() + cycles;
        while self.now() < end {
            self.round(load);
        }
    }

    /// The control plane, as every node would play it: the same link state,
    /// the same checked tables, each router switched to its spare bank, and
    /// the old VC drained before its bank is reused.
    pub fn reroute(&mut self) {
        let tables = updown_tables(&self.faults);
        check_deadlock_free(&self.faults, &tables).expect("deadlock-free tables");
        check_delivery(&self.faults, &tables).expect("every live pair routed");
        let old = self.card.borrow_mut().switch_tables(&tables).unwrap();
        let card = self.card.clone();
        let drained = CardSim::drain_change(&card, old, 5_000, || self.round(0.05)).unwrap();
        assert!(drained, "VC{old} did not drain");
    }

    /// A random mesh link that is up; with `keep_connected`, one whose loss
    /// keeps the mesh connected.
    pub fn pick_link(&mut self, keep_connected: bool) -> (usize, PortDir) {
        let g = self.faults.geometry();
        let links: Vec<(NodeId, PortDir)> = mesh_links(&g)
            .into_iter()
            .filter(|&(n, p)| {
                let mut f = self.faults.clone();
                f.is_link_up(n, p)
                    && f.set_link_down(n, p).is_ok()
                    && (f.connected() || !keep_connected)
            })
            .collect();
        let (id, port) = links[self.rng.gen_range(0..links.len())];
        let node = self.ids.iter().position(|&i| i == id.0).expect("a node");
        (node, port)
    }

    /// Stops offering and runs until every message is acknowledged (or, to
    /// a dead host, given up); then checks the book: every accepted message
    /// delivered once, or reported.
    pub fn finish(&mut self, limit: u64) {
        let start = self.now();
        let n = self.ids.len();
        loop {
            self.round(0.0);
            let idle = (0..n)
                .filter(|&i| self.polled(i))
                .all(|i| self.cluster.node(i).transport_idle());
            if idle {
                break;
            }
            if self.now() - start >= limit {
                self.violation(
                    |t| &mut t.finish_timeouts,
                    format!("messages still unacknowledged after {limit} cycles"),
                );
                break;
            }
        }
        if self.strict {
            self.assert_book();
        } else {
            self.count_book();
        }
    }

    /// Counts what the book holds undelivered and unreported as lost.
    fn count_book(&mut self) {
        for (k, v) in self.sent.clone() {
            let got = self.expected.get(&k).copied().unwrap_or(0);
            let reported = self.gave_up.get(&k).copied().unwrap_or(0);
            let missing = v.saturating_sub(got + reported);
            let src_alive = self
                .ids
                .iter()
                .position(|&i| i == k.0)
                .is_some_and(|i| self.cluster.is_alive(i));
            if src_alive {
                self.tally.lost += missing;
                if missing > 0 && self.violations.len() < 20 {
                    self.violations.push(format!(
                        "{}->{}: {missing} lost (sent {v}, delivered {got}, reported {reported})",
                        k.0, k.1
                    ));
                }
            } else {
                self.tally.died_with_sender += missing;
            }
        }
    }

    fn assert_book(&self) {
        for (k, v) in &self.sent {
            let got = self.expected.get(k).copied().unwrap_or(0);
            let src_alive = self
                .ids
                .iter()
                .position(|&i| i == k.0)
                .is_some_and(|i| self.cluster.is_alive(i));
            if !src_alive {
                // What a dead node had not got across died with it; what
                // arrived is a prefix (the book checked the order).
                assert!(got <= *v, "{}->{}: {got} of {v}", k.0, k.1);
                continue;
            }
            match self.gave_up.get(k) {
                // Every message delivered once, or reported (an
                // acknowledgement that died with the host may make one both).
                Some(&lost) => assert!(
                    got <= *v && got + lost >= *v,
                    "{}->{}: {v} sent, {got} delivered, {lost} reported",
                    k.0,
                    k.1
                ),
                None => assert_eq!(
                    got, *v,
                    "{}->{}: every accepted message delivered",
                    k.0, k.1
                ),
            }
        }
    }

    pub fn stats(&mut self) -> TransportStats {
        let mut t = TransportStats::default();
        for i in 0..self.ids.len() {
            let s = self.cluster.node(i).transport_stats();
            t.sent += s.sent;
            t.retransmits += s.retransmits;
            t.duplicates += s.duplicates;
            t.reordered += s.reordered;
            t.delivered += s.delivered;
        }
        t
    }

    pub fn link_cuts(&mut self) -> u32 {
        (0..self.ids.len())
            .map(|i| {
                self.cluster
                    .node(i)
                    .endpoint()
                    .counters()
                    .unwrap()
                    .error(ErrorCause::LinkCut)
            })
            .sum()
    }
}
