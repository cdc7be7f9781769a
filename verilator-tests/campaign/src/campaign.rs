//! The fault campaign (`meshctl bench faults`): a card from reset whose
//! runtimes run the master-less control plane and reliable streams between
//! every pair of nodes, while faults of every kind are injected one after
//! another, chosen by a seeded generator. After each fault that changes the
//! graph the campaign waits for every router to be on the tables of the
//! graph as it is (the convergence time); every fault is checked for
//! detection by the part that should notice it. The book
//! ([`crate::streams::Run`], not strict) counts every message delivered
//! twice, out of order, corrupted, or neither delivered nor reported.
//!
//! A campaign is a series of episodes: a router the campaign killed stays
//! dead (the card model has no way to bring a router back with its
//! endpoint's credits in step), so an episode ends after a number of
//! faults, its streams are drained and checked, and the next starts from a
//! fresh card. Everything follows from the seed.

use crate::streams::{Run, Tally};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use replimesh_node::control_plane::{advert_trailer, Advert};
use replimesh_node::{ControlPlaneConfig, Phase};
use replimesh_regs::regmap as r;
use replimesh_regs::{PacketHeader, TxDesc};
use replimesh_spec::regmap::ErrorCause;
use replimesh_spec::routing::mesh_links;
use replimesh_spec::{router_addr, MeshGeometry, NodeId, PacketKind, PortDir};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;
use zerocopy::byteorder::little_endian::{U32, U64};

/// What to run.
#[derive(Debug, Clone)]
pub struct CampaignConfig {
    /// The card.
    pub mesh: MeshGeometry,
    /// Faults to inject in all.
    pub faults: u64,
    /// Seed of everything random.
    pub seed: u64,
    /// Messages offered per node per round.
    pub load: f64,
    /// Faults per episode (a fresh card each).
    pub faults_per_episode: u64,
    /// Cycles a change may take to converge before it counts as a timeout
    /// (and ends its episode).
    pub convergence_limit: u64,
}

impl CampaignConfig {
    /// Faults of `--quick`.
    pub const QUICK_FAULTS: u64 = 30;

    /// `faults` faults on `mesh` from `seed`, at the default load.
    pub fn new(mesh: MeshGeometry, faults: u64, seed: u64) -> Self {
        Self {
            mesh,
            faults,
            seed,
            load: 0.2,
            faults_per_episode: 200,
            convergence_limit: 60_000,
        }
    }
}

/// The kinds of fault, by their names in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    LinkCut,
    LinkRestore,
    BitFlip,
    MalformedPacket,
    RingOverflow,
    HostKill,
    HostRestart,
    RouterKill,
    Quarantine,
    QuarantineRelease,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 10] = [
        FaultKind::LinkCut,
        FaultKind::LinkRestore,
        FaultKind::BitFlip,
        FaultKind::MalformedPacket,
        FaultKind::RingOverflow,
        FaultKind::HostKill,
        FaultKind::HostRestart,
        FaultKind::RouterKill,
        FaultKind::Quarantine,
        FaultKind::QuarantineRelease,
    ];

    /// Its name in the report.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::LinkCut => "link_cut",
            FaultKind::LinkRestore => "link_restore",
            FaultKind::BitFlip => "bit_flip",
            FaultKind::MalformedPacket => "malformed_packet",
            FaultKind::RingOverflow => "ring_overflow",
            FaultKind::HostKill => "host_kill",
            FaultKind::HostRestart => "host_restart",
            FaultKind::RouterKill => "router_kill",
            FaultKind::Quarantine => "quarantine",
            FaultKind::QuarantineRelease => "quarantine_release",
        }
    }
}

/// Counts per fault kind, every kind present.
fn per_kind() -> BTreeMap<&'static str, u64> {
    FaultKind::ALL.iter().map(|k| (k.name(), 0)).collect()
}

/// What a campaign saw (`meshctl bench faults --json`).
#[derive(Debug, Clone, Serialize)]
pub struct CampaignReport {
    pub mesh: String,
    pub seed: u64,
    pub faults_requested: u64,
    /// Faults injected, per kind.
    pub injected: BTreeMap<&'static str, u64>,
    pub injected_total: u64,
    /// Faults the part that should notice them noticed, per kind (see
    /// docs/fault-campaign.md for each kind's test).
    pub detected: BTreeMap<&'static str, u64>,
    pub detected_total: u64,
    /// The first faults that went unnoticed, described.
    pub undetected: Vec<String>,
    /// The first violations the book found, described (empty when clean).
    pub violations: Vec<String>,
    /// Messages delivered to the application (each checked).
    pub delivered: u64,
    /// Accepted messages neither delivered nor reported unconfirmed.
    pub lost: u64,
    /// Messages delivered a second time.
    pub duplicated: u64,
    pub out_of_order: u64,
    pub corrupted: u64,
    pub misdelivered: u64,
    /// Messages reported unconfirmed although their destination was alive
    /// and never quarantined.
    pub false_giveups: u64,
    /// Messages reported unconfirmed to the application (their destination
    /// died or was quarantined): delivered at most once.
    pub unconfirmed: u64,
    /// Messages that died with their sending host.
    pub died_with_sender: u64,
    /// Messages a restarted host got again because its previous run died
    /// before acknowledging them (at-least-once across a receiver restart;
    /// each run sees a message once).
    pub redelivered_after_restart: u64,
    /// Episodes whose streams did not drain.
    pub finish_timeouts: u64,
    pub retransmits: u64,
    /// Cut to both routers of the link having taken it down by themselves
    /// (from then on the precomputed alternates carry its traffic).
    pub max_recovery_cycles_link: u64,
    pub recovery_cycles_link_p50: u64,
    /// A graph change to every router on the new tables, old VC drained.
    pub max_convergence_cycles: u64,
    pub convergence_cycles_p50: u64,
    /// Changes that did not converge within the limit.
    pub convergence_timeouts: u64,
    /// Host restarts whose `Endpoint::open` timed out waiting for the
    /// card's engines to stop (the host stays dead; listed in `undetected`).
    pub restart_failures: u64,
    pub max_boot_cycles: u64,
    pub episodes: u64,
    pub sim_cycles: u64,
    pub wall_seconds: f64,
    pub method: Method,
}

/// How the figures were made.
#[derive(Debug, Clone, Serialize)]
pub struct Method {
    pub load_messages_per_node_round: f64,
    pub message_flits: &'static str,
    pub faults_per_episode: u64,
    pub convergence_limit_cycles: u64,
    pub tables: &'static str,
    pub not_injected: &'static str,
}

impl CampaignReport {
    /// Whether the campaign found nothing wrong: no message lost, repeated,
    /// reordered or corrupted, no false give-up, every change converged.
    pub fn clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.out_of_order == 0
            && self.corrupted == 0
            && self.misdelivered == 0
            && self.false_giveups == 0
            && self.finish_timeouts == 0
            && self.convergence_timeouts == 0
    }
}

fn p50(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// Runs the campaign; `progress(injected, total)` after every fault.
pub fn run(cfg: &CampaignConfig, mut progress: impl FnMut(u64, u64)) -> CampaignReport {
    let start = Instant::now();
    let mut acc = Acc::default();
    let mut episodes = 0u64;
    let mut tally = Tally::default();
    let mut violations = Vec::new();
    while acc.total() < cfg.faults {
        let seed = cfg.seed ^ episodes.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut ep = Episode::boot(cfg, seed, &mut acc);
        let budget = cfg.faults_per_episode.min(cfg.faults - acc.total());
        ep.play(budget, &mut acc, &mut progress, cfg.faults);
        ep.run.finish(1_000_000);
        let t = ep.run.tally;
        for v in ep.run.violations.drain(..) {
            if violations.len() < 20 {
                violations.push(format!("episode {episodes}, {v}"));
            }
        }
        tally.duplicated += t.duplicated;
        tally.out_of_order += t.out_of_order;
        tally.corrupted += t.corrupted;
        tally.misdelivered += t.misdelivered;
        tally.false_giveups += t.false_giveups;
        tally.lost += t.lost;
        tally.died_with_sender += t.died_with_sender;
        tally.redelivered_after_restart += t.redelivered_after_restart;
        tally.finish_timeouts += t.finish_timeouts;
        acc.delivered += ep.run.delivered;
        acc.unconfirmed += ep.run.gave_up.values().sum::<u64>();
        acc.retransmits += ep.run.stats().retransmits;
        acc.sim_cycles += ep.run.now();
        episodes += 1;
    }
    let injected_total = acc.total();
    let detected_total = acc.detected.values().sum();
    CampaignReport {
        mesh: format!("{}x{}", cfg.mesh.width(), cfg.mesh.height()),
        seed: cfg.seed,
        faults_requested: cfg.faults,
        injected: acc.injected,
        injected_total,
        detected: acc.detected,
        detected_total,
        undetected: acc.undetected,
        violations,
        delivered: acc.delivered,
        lost: tally.lost,
        duplicated: tally.duplicated,
        out_of_order: tally.out_of_order,
        corrupted: tally.corrupted,
        misdelivered: tally.misdelivered,
        false_giveups: tally.false_giveups,
        unconfirmed: acc.unconfirmed,
        died_with_sender: tally.died_with_sender,
        redelivered_after_restart: tally.redelivered_after_restart,
        finish_timeouts: tally.finish_timeouts,
        retransmits: acc.retransmits,
        max_recovery_cycles_link: acc.recovery.iter().max().copied().unwrap_or(0),
        recovery_cycles_link_p50: p50(&mut acc.recovery),
        max_convergence_cycles: acc.convergence.iter().max().copied().unwrap_or(0),
        convergence_cycles_p50: p50(&mut acc.convergence),
        convergence_timeouts: acc.convergence_timeouts,
        restart_failures: acc.restart_failures,
        max_boot_cycles: acc.boot_max,
        episodes,
        sim_cycles: acc.sim_cycles,
        wall_seconds: start.elapsed().as_secs_f64(),
        method: Method {
            load_messages_per_node_round: cfg.load,
            message_flits: "1 to 6 payload words, reliable transport, window 8",
            faults_per_episode: cfg.faults_per_episode,
            convergence_limit_cycles: cfg.convergence_limit,
            tables: "computed by every node's control plane for its own router",
            not_injected:
                "router restores (a killed router stays dead until its episode ends); service calls",
        },
    }
}

/// Campaign-wide accumulators.
#[derive(Default)]
struct Acc {
    injected: BTreeMap<&'static str, u64>,
    detected: BTreeMap<&'static str, u64>,
    undetected: Vec<String>,
    recovery: Vec<u64>,
    convergence: Vec<u64>,
    convergence_timeouts: u64,
    restart_failures: u64,
    boot_max: u64,
    delivered: u64,
    unconfirmed: u64,
    retransmits: u64,
    sim_cycles: u64,
}

impl Acc {
    fn total(&self) -> u64 {
        self.injected.values().sum()
    }

    fn record(&mut self, kind: FaultKind, detected: bool, what: String) {
        if self.injected.is_empty() {
            self.injected = per_kind();
            self.detected = per_kind();
        }
        *self.injected.entry(kind.name()).or_default() += 1;
        if detected {
            *self.detected.entry(kind.name()).or_default() += 1;
        } else if self.undetected.len() < 20 {
            self.undetected.push(what);
        }
    }
}

/// One card's run.
struct Episode {
    run: Run,
    rng: SmallRng,
    load: f64,
    limit: u64,
    /// Links cut now: (dense node, port).
    cuts: Vec<(usize, PortDir)>,
    dead_router: Option<usize>,
    dead_host: Option<usize>,
    /// (releaser, quarantined dense index).
    quarantine: Option<usize>,
    /// Set when a change did not converge: the episode ends.
    broken: bool,
    /// Every fault to stderr as it is injected (`REPLIMESH_CAMPAIGN_LOG`).
    log: bool,
}

impl Episode {
    fn boot(cfg: &CampaignConfig, seed: u64, acc: &mut Acc) -> Episode {
        let cp = ControlPlaneConfig::default();
        let mut run = Run::master_less(cfg.mesh, seed, 10, cp);
        run.strict = false;
        let boot = run.try_converge(0.0, cfg.convergence_limit * 2);
        let mut ep = Episode {
            run,
            rng: SmallRng::seed_from_u64(seed ^ 0x5eed),
            load: cfg.load,
            limit: cfg.convergence_limit,
            cuts: vec![],
            dead_router: None,
            dead_host: None,
            quarantine: None,
            broken: boot.is_none(),
            log: std::env::var_os("REPLIMESH_CAMPAIGN_LOG").is_some(),
        };
        match boot {
            Some(t) => acc.boot_max = acc.boot_max.max(t),
            None => acc.convergence_timeouts += 1,
        }
        ep.run.rounds(500, ep.load);
        ep
    }

    fn n(&self) -> usize {
        self.run.ids.len()
    }

    fn id(&self, i: usize) -> NodeId {
        NodeId(self.run.ids[i])
    }

    fn index(&self, id: NodeId) -> usize {
        self.run
            .ids
            .iter()
            .position(|&x| x == id.0)
            .expect("a node")
    }

    /// Nodes out of the graph now (dead router, dead host, quarantined).
    fn excluded(&self) -> usize {
        [self.dead_router, self.dead_host, self.quarantine]
            .iter()
            .filter(|x| x.is_some())
            .count()
    }

    /// Nodes whose host runs, is polled and is in the graph.
    fn members(&self) -> Vec<usize> {
        (0..self.n())
            .filter(|&i| self.run.polled(i) && !self.run.quarantined.contains(&self.run.ids[i]))
            .collect()
    }

    /// Whether the graph stays connected without node `i`.
    fn can_lose(&self, i: usize) -> bool {
        let mut f = self.run.expected_graph();
        f.is_live(self.id(i)) && f.set_router_dead(self.id(i)).is_ok() && f.connected()
    }

    fn play(
        &mut self,
        budget: u64,
        acc: &mut Acc,
        progress: &mut impl FnMut(u64, u64),
        total: u64,
    ) {
        for _ in 0..budget {
            if self.broken {
                return;
            }
            let kind = self.choose(acc);
            self.inject(kind, acc);
            progress(acc.total(), total);
            let gap = self.rng.gen_range(100..600);
            self.run.rounds(gap, self.load);
        }
    }

    /// A kind that can be injected now, by weight; while some possible
    /// kind was never injected, one of those half of the time (so a short
    /// campaign still meets every kind).
    fn choose(&mut self, acc: &Acc) -> FaultKind {
        use FaultKind::*;
        let candidates: Vec<usize> = (0..self.n())
            .filter(|&i| self.members().contains(&i) && self.can_lose(i))
            .collect();
        let node_ok = self.excluded() < 2 && !candidates.is_empty();
        let w = [
            (LinkCut, if self.cuts.len() < 2 { 20 } else { 0 }),
            (LinkRestore, 10 * self.cuts.len() as u32),
            (BitFlip, 20),
            (MalformedPacket, 15),
            (RingOverflow, 6),
            (
                HostKill,
                if node_ok && self.dead_host.is_none() {
                    3
                } else {
                    0
                },
            ),
            (HostRestart, if self.dead_host.is_some() { 6 } else { 0 }),
            (
                RouterKill,
                if node_ok && self.dead_router.is_none() {
                    2
                } else {
                    0
                },
            ),
            (
                Quarantine,
                if node_ok && self.quarantine.is_none() {
                    3
                } else {
                    0
                },
            ),
            (
                QuarantineRelease,
                if self.quarantine.is_some() { 6 } else { 0 },
            ),
        ];
        let unmet: Vec<FaultKind> = w
            .iter()
            .filter(|(k, x)| *x > 0 && acc.injected.get(k.name()).copied().unwrap_or(0) == 0)
            .map(|(k, _)| *k)
            .collect();
        if !unmet.is_empty() && self.rng.gen_bool(0.5) {
            return unmet[self.rng.gen_range(0..unmet.len())];
        }
        let sum: u32 = w.iter().map(|(_, x)| x).sum();
        let mut pick = self.rng.gen_range(0..sum);
        for (k, x) in w {
            if pick < x {
                return k;
            }
            pick -= x;
        }
        BitFlip
    }

    /// Waits for the tables of the graph as it is; records the time.
    fn converge(&mut self, acc: &mut Acc, record: bool) {
        match self.run.try_converge(self.load, self.limit) {
            Some(t) if record => acc.convergence.push(t),
            Some(_) => {}
            None => {
                acc.convergence_timeouts += 1;
                self.broken = true;
                if self.run.violations.len() < 20 {
                    let what = format!(
                        "cycle {}: no convergence in {} cycles: {}",
                        self.run.now(),
                        self.limit,
                        self.run.control_summary()
                    );
                    self.run.violations.push(what);
                }
            }
        }
    }

    fn link_up_bits(&mut self, i: usize) -> u32 {
        self.run
            .cluster
            .node(i)
            .endpoint()
            .read(r::IRQ_LINK_UP)
            .unwrap_or(0)
    }

    fn router_reg(&mut self, i: usize, addr: u32) -> u32 {
        self.run
            .cluster
            .node(i)
            .endpoint()
            .router_read(addr)
            .unwrap_or(0)
    }

    /// An up link of the graph, as (dense node, port, dense peer); with
    /// `keep_connected`, one whose loss keeps the graph connected.
    fn pick_link(&mut self, keep_connected: bool) -> Option<(usize, PortDir, usize)> {
        let f = self.run.expected_graph();
        let g = f.geometry();
        let links: Vec<_> = mesh_links(&g)
            .into_iter()
            .filter(|&(n, p)| {
                let mut h = f.clone();
                f.is_link_up(n, p)
                    && h.set_link_down(n, p).is_ok()
                    && (h.connected() || !keep_connected)
            })
            .collect();
        if links.is_empty() {
            return None;
        }
        let (n, mut p) = links[self.rng.gen_range(0..links.len())];
        let mut m = g.neighbour(n, p).expect("a link has two ends");
        let mut n = n;
        if self.rng.gen_bool(0.5) {
            (n, m, p) = (m, n, p.opposite());
        }
        Some((self.index(n), p, self.index(m)))
    }

    fn inject(&mut self, kind: FaultKind, acc: &mut Acc) {
        use FaultKind::*;
        let (detected, what) = match kind {
            LinkCut => self.link_cut(acc),
            LinkRestore => self.link_restore(acc),
            BitFlip => self.bit_flip(acc),
            MalformedPacket => self.malformed(),
            RingOverflow => self.ring_overflow(),
            HostKill => self.host_kill(acc),
            HostRestart => self.host_restart(acc),
            RouterKill => self.router_kill(acc),
            Quarantine => self.quarantine(acc, false),
            QuarantineRelease => self.quarantine(acc, true),
        };
        if self.log {
            eprintln!(
                "cycle {}: {what} ({})",
                self.run.now(),
                if detected { "detected" } else { "NOT detected" }
            );
        }
        acc.record(kind, detected, what);
    }

    fn link_cut(&mut self, acc: &mut Acc) -> (bool, String) {
        let Some((a, p, b)) = self.pick_link(true) else {
            return self.bit_flip(acc);
        };
        let what = format!("link cut: node {} port {p:?}", self.run.ids[a]);
        self.run.card.borrow_mut().cut_link(a, p).unwrap();
        let id = self.id(a);
        self.run.faults.set_link_down(id, p).unwrap();
        self.cuts.push((a, p));
        // The hardware path: both routers take the link down by themselves
        // (each read of a register is one cycle).
        let t0 = self.run.now();
        let mut down = [false, false];
        while self.run.now() - t0 < 1_000 && !(down[0] && down[1]) {
            for (k, (i, q)) in [(a, p), (b, p.opposite())].into_iter().enumerate() {
                if !down[k] && self.link_up_bits(i) & 1 << q as u32 == 0 {
                    down[k] = true;
                }
            }
        }
        let detected = down[0] && down[1];
        if detected {
            acc.recovery.push(self.run.now() - t0);
        }
        self.converge(acc, true);
        (detected, what)
    }

    fn link_restore(&mut self, acc: &mut Acc) -> (bool, String) {
        let k = self.rng.gen_range(0..self.cuts.len());
        let (a, p) = self.cuts.swap_remove(k);
        let what = format!("link restore: node {} port {p:?}", self.run.ids[a]);
        self.run.card.borrow_mut().restore_link(a, p).unwrap();
        let id = self.id(a);
        self.run.faults.set_link_up(id, p).unwrap();
        self.converge(acc, true);
        let b = self.index(self.run.faults.geometry().neighbour(id, p).expect("a link"));
        let up = |bits: u32, q: PortDir| bits & 1 << q as u32 != 0;
        let ends = [(a, p), (b, p.opposite())];
        let detected = ends.into_iter().all(|(i, q)| {
            // A dead router's links never come back; its peer's view counts.
            self.run.cluster.is_alive(i) && up(self.link_up_bits(i), q)
                || !self.run.faults.is_link_up(id, p)
        });
        (detected, what)
    }

    /// A burst of flipped bits (1 to 40 cycles) on one direction of an up
    /// link; the receiver's parity check must see it.
    fn bit_flip(&mut self, acc: &mut Acc) -> (bool, String) {
        let Some((a, p, b)) = self.pick_link(false) else {
            return (false, "bit flip: no link up".into());
        };
        let q = p.opposite();
        let errors = router_addr::LINK_CHECK_ERRORS + q as u32;
        let downs = router_addr::LINK_DOWN_EVENTS + q as u32;
        let (e0, d0) = (self.router_reg(b, errors), self.router_reg(b, downs));
        let cycles = self.rng.gen_range(1..=40);
        let what = format!(
            "bit flips: {cycles} cycles leaving node {} on {p:?}",
            self.run.ids[a]
        );
        self.run.card.borrow_mut().corrupt_link(a, p).unwrap();
        let end = self.run.now() + cycles;
        while self.run.now() < end {
            self.run.round(self.load);
        }
        self.run.card.borrow_mut().restore_link(a, p).unwrap();
        let (e1, d1) = (self.router_reg(b, errors), self.router_reg(b, downs));
        // A burst long enough takes the link down; it comes back after its
        // hold-down, and the tables follow both ways.
        self.converge(acc, d1 != d0);
        (e1 != e0, what)
    }

    /// A host sends something malformed: a TX descriptor with a bad length
    /// or outside its DMA window, a doorbell past its ring, a corrupted
    /// link-state advert, or an advert naming a link that does not exist.
    fn malformed(&mut self) -> (bool, String) {
        let members = self.members();
        let i = members[self.rng.gen_range(0..members.len())];
        let sort = self.rng.gen_range(0..5);
        let neighbour = {
            let f = self.run.expected_graph();
            let me = self.id(i);
            let ports: Vec<PortDir> = [PortDir::N, PortDir::E, PortDir::S, PortDir::W]
                .into_iter()
                .filter(|&p| {
                    f.is_link_up(me, p)
                        && f.geometry()
                            .neighbour(me, p)
                            .is_some_and(|m| members.contains(&self.index(m)))
                })
                .collect();
            (!ports.is_empty()).then(|| {
                let p = ports[self.rng.gen_range(0..ports.len())];
                self.index(f.geometry().neighbour(me, p).expect("a link"))
            })
        };
        let me = self.id(i);
        let geom = self.run.faults.geometry();
        let cause_count = |run: &mut Run, c: ErrorCause| {
            run.cluster
                .node(i)
                .endpoint()
                .counters()
                .map_or(0, |k| k.error(c))
        };
        match (sort, neighbour) {
            (0 | 1, _) => {
                let cause = if sort == 0 {
                    ErrorCause::TxLength
                } else {
                    ErrorCause::DmaWindow
                };
                let before = cause_count(&mut self.run, cause);
                let sent = {
                    let mut node = self.run.cluster.node(i);
                    let ep = node.endpoint();
                    let desc = TxDesc {
                        addr: U64::new(if sort == 0 {
                            ep.tx_buffer_iova(0).0
                        } else {
                            0x10
                        }),
                        len: U32::new(if sort == 0 { 12 } else { 16 }),
                        status: U32::new(0),
                    };
                    ep.send_raw_descriptor(desc).is_ok()
                };
                self.run.rounds(300, self.load);
                let after = cause_count(&mut self.run, cause);
                (
                    sent && after != before,
                    format!("malformed descriptor ({cause:?}) from node {}", me.0),
                )
            }
            (2, _) => {
                let before = cause_count(&mut self.run, ErrorCause::RingIndex);
                {
                    let mut node = self.run.cluster.node(i);
                    let ep = node.endpoint();
                    let size = ep.read(r::TX_SIZE).unwrap_or(0);
                    let _ = ep.write(r::TX_PRODUCER, size + 3);
                }
                self.run.rounds(100, self.load);
                let after = cause_count(&mut self.run, ErrorCause::RingIndex);
                (
                    after != before,
                    format!("doorbell past the ring from node {}", me.0),
                )
            }
            (_, Some(j)) => {
                let corrupt = sort == 3 || !has_missing_link(&geom, me);
                let field = |run: &mut Run| {
                    let s = run.cluster.node(j).control_plane().map(|c| c.stats());
                    s.map_or(0, |s| {
                        if corrupt {
                            s.adverts_corrupt
                        } else {
                            s.adverts_bad_link
                        }
                    })
                };
                let before = field(&mut self.run);
                let mut payload = Advert {
                    origin: me,
                    incarnation: self.rng.gen(),
                    seq: self.rng.gen(),
                    links: 0xF,
                    cur_epoch: 0,
                    cur_digest: 0,
                    phase: Phase::Ready,
                }
                .encode();
                if corrupt {
                    payload[self.rng.gen_range(0..5)] ^= 1 << self.rng.gen_range(0..64);
                }
                debug_assert_eq!(payload.last(), Some(&advert_trailer(me)));
                let h = PacketHeader {
                    kind: PacketKind::Control,
                    ..PacketHeader::unicast(self.id(j), 0, payload.len() as u8)
                };
                let sent = self
                    .run
                    .cluster
                    .node(i)
                    .endpoint()
                    .send(&h, &payload)
                    .is_ok();
                // Under load the advert may wait behind a full TX ring.
                let mut after = before;
                for _ in 0..30 {
                    self.run.rounds(100, self.load);
                    after = field(&mut self.run);
                    if !sent || after != before {
                        break;
                    }
                }
                (
                    sent && after != before,
                    format!(
                        "{} advert from node {} to node {}",
                        if corrupt { "corrupted" } else { "bad-link" },
                        me.0,
                        self.run.ids[j]
                    ),
                )
            }
            (_, None) => (false, format!("malformed: node {} has no neighbour", me.0)),
        }
    }

    /// A host stalls (600 to 1 200 cycles, under its lease) while most
    /// senders aim at it: its RX ring fills and the card holds the rest
    /// back (backpressure into the mesh), then it drains.
    fn ring_overflow(&mut self) -> (bool, String) {
        let members = self.members();
        let t = members[self.rng.gen_range(0..members.len())];
        let stall = self.rng.gen_range(600..1_200);
        self.run.target = Some(t);
        self.run.cluster.pause(t);
        let mut full = false;
        let end = self.run.now() + stall;
        while self.run.now() < end {
            self.run.round(self.load.max(0.5));
            let mut node = self.run.cluster.node(t);
            let ep = node.endpoint();
            let (p, c, s) = (
                ep.read(r::RX_PRODUCER).unwrap_or(0),
                ep.read(r::RX_CONSUMER).unwrap_or(0),
                ep.read(r::RX_SIZE).unwrap_or(1).max(1),
            );
            full |= p.wrapping_sub(c) % s == s - 1;
        }
        self.run.cluster.resume(t);
        self.run.target = None;
        (
            full,
            format!("host {} stalled {stall} cycles", self.run.ids[t]),
        )
    }

    fn node_victim(&mut self) -> usize {
        let c: Vec<usize> = (0..self.n())
            .filter(|&i| self.members().contains(&i) && self.can_lose(i))
            .collect();
        c[self.rng.gen_range(0..c.len())]
    }

    /// Whether every member's control plane lists (or leaves out) `id`.
    fn membership(&mut self, id: NodeId, listed: bool) -> bool {
        self.members().into_iter().all(|i| {
            self.run
                .cluster
                .node(i)
                .control_plane()
                .is_some_and(|c| c.members().contains(&id) == listed)
        })
    }

    fn host_kill(&mut self, acc: &mut Acc) -> (bool, String) {
        let v = self.node_victim();
        self.run.cluster.kill(v);
        self.dead_host = Some(v);
        self.converge(acc, true);
        let id = self.id(v);
        (self.membership(id, false), format!("host {} killed", id.0))
    }

    /// The dead host restarts once every peer's messages to it are
    /// delivered or reported: a stream still sending to it keeps its card's
    /// RX engine busy, and `Endpoint::open` waits for the engines to stop
    /// (it timed out under traffic when the campaign restarted at once).
    /// The peers' idle streams to it go on, and the transport resyncs them.
    fn host_restart(&mut self, acc: &mut Acc) -> (bool, String) {
        let v = self.dead_host.take().expect("a dead host");
        let me = self.run.ids[v];
        let start = self.run.now();
        while self.run.now() - start < 200_000 {
            let pending = self.run.sent.iter().any(|(&(s, d), &n)| {
                d == me
                    && n > self.run.expected.get(&(s, d)).copied().unwrap_or(0)
                        + self.run.gave_up.get(&(s, d)).copied().unwrap_or(0)
            });
            if !pending {
                break;
            }
            self.run.rounds(500, self.load);
        }
        if let Err(e) = self.run.restart(v) {
            // Found by the 1 000-fault run: reported, not hidden; the host
            // stays dead for the rest of its episode.
            self.dead_host = Some(v);
            acc.restart_failures += 1;
            return (false, format!("host {me} restart failed: {e}"));
        }
        self.converge(acc, true);
        let id = self.id(v);
        (self.membership(id, true), format!("host {me} restarted"))
    }

    fn router_kill(&mut self, acc: &mut Acc) -> (bool, String) {
        let v = self.node_victim();
        let id = self.id(v);
        let g = self.run.faults.geometry();
        let peers: Vec<(usize, PortDir)> = [PortDir::N, PortDir::E, PortDir::S, PortDir::W]
            .into_iter()
            .filter(|&p| self.run.expected_graph().is_link_up(id, p))
            .map(|p| {
                (
                    self.index(g.neighbour(id, p).expect("a link")),
                    p.opposite(),
                )
            })
            .collect();
        self.run.card.borrow_mut().kill_router(v).unwrap();
        self.run.cluster.kill(v);
        self.run.faults.set_router_dead(id).unwrap();
        self.dead_router = Some(v);
        self.cuts
            .retain(|&(a, p)| a != v && g.neighbour(NodeId(self.run.ids[a]), p) != Some(id));
        self.converge(acc, true);
        let detected = peers
            .into_iter()
            .all(|(i, q)| !self.run.polled(i) || self.link_up_bits(i) & 1 << q as u32 == 0);
        (detected, format!("router {} killed", id.0))
    }

    fn quarantine(&mut self, acc: &mut Acc, release: bool) -> (bool, String) {
        let q = if release {
            self.quarantine.take().expect("a quarantined node")
        } else {
            self.node_victim()
        };
        let members = self.members();
        let accusers: Vec<usize> = members.into_iter().filter(|&i| i != q).collect();
        let a = accusers[self.rng.gen_range(0..accusers.len())];
        let id = self.run.ids[q];
        let _ = self.run.cluster.node(a).propagate_quarantine(id, release);
        if release {
            self.run.quarantined.remove(&id);
        } else {
            self.run.quarantined.insert(id);
            self.run.ever_quarantined.insert(id);
            self.quarantine = Some(q);
        }
        self.converge(acc, true);
        let behind: Vec<u8> = (0..self.n())
            .filter(|&i| self.run.polled(i))
            .filter(|&i| {
                !self
                    .run
                    .cluster
                    .node(i)
                    .endpoint()
                    .quarantined()
                    .is_ok_and(|l| l.contains(&id) != release)
            })
            .map(|i| self.run.ids[i])
            .collect();
        let verb = if release { "released" } else { "quarantined" };
        let mut what = format!("node {id} {verb} by node {}", self.run.ids[a]);
        if !behind.is_empty() {
            what += &format!(" (cards not told: {behind:?})");
        }
        (behind.is_empty(), what)
    }
}

/// Whether `node` lacks a mesh link on some port (it is on an edge), so an
/// advert claiming all four names one that does not exist.
fn has_missing_link(geom: &MeshGeometry, node: NodeId) -> bool {
    [PortDir::N, PortDir::E, PortDir::S, PortDir::W]
        .into_iter()
        .any(|p| geom.neighbour(node, p).is_none())
}
