//! The master-less control plane: every node floods link-state adverts,
//! keeps the same link-state database, computes the up*/down* tables from it
//! and writes **only its own router**, by the double scheme
//! (`docs/deadlock-freedom.md`), agreeing with the others on when to switch
//! through the adverts alone. No node is special. The argument and the
//! figures are in `docs/control-plane.md`.
//!
//! Sans-IO like [`crate::reliable`]: the runtime hands it link changes (from
//! the card's `link` interrupt), received adverts and the time; it writes
//! the router through [`OwnRouter`] and queues adverts for the runtime to
//! send ([`ControlPlane::take_outgoing`]).
//!
//! One table change (epoch `n`, on VC `n % 2`):
//! 1. **Ready**: the older VC has drained; the spare bank holds a copy of
//!    the tables in use, marked `next` ([`ControlPlane::rest_spare`]).
//! 2. **Propose** `(n, attempt, digest)` once the database has been stable
//!    for `hold_cycles` and differs from the tables in use: the node writes
//!    its row of the new tables into the spare bank (checked first with the
//!    channel-dependency and delivery checkers), marks it `next`, and says so
//!    in its advert. A proposal is final: the node never rewrites that bank
//!    for that attempt.
//! 3. **Switch** (`cur` := the new VC, the other bank `old`) when every live
//!    synced node proposes the same `(n, attempt, digest)`, or one of them
//!    has already switched to `(n, digest)`. Two different digests for one
//!    attempt can never both be switched to, so on seeing them the nodes
//!    start the next attempt, which reuses the bank: nobody can have
//!    switched to the failed one.
//! 4. **Drain**: once no live synced node is still on an older epoch (none
//!    injects on the old VC any more), two passes over the node's own
//!    `vc_seen`, then the old bank becomes `loading`: Ready for `n + 1`.
//!
//! Adverts are `control` packets to each neighbour across a live link; each
//! host floods what is new to it on, so the flood rides no tree and reaches
//! everyone while any path is left. They are routed by the tables, so every
//! row a node writes keeps a one-hop route to each live neighbour
//! ([`with_neighbour_routes`]): a node the graph leaves out must still hear
//! and be heard. (Scoped broadcasts of radius 1 would not need that, but
//! fan-out rides VC0 whatever the tables, so a drain of VC0 would never
//! see it empty while adverts flow.)
//!
//! A node whose host (re)starts is **joining**: the others leave it out of
//! the graph (no route crosses or reaches its router) until it has taken up
//! the epoch they use, which then brings it in with the next change. At boot
//! every router holds its reset tables (epoch 0 on VC 0); nodes that hear no
//! synced node after `hold_cycles` take epoch 0 up together.

use replimesh_spec::reconfig::{table_banks_fields, table_banks_value, OtherBank};
use replimesh_spec::routing::{
    check_deadlock_free, check_delivery, dor_tables, mesh_links, updown_tables, Faults, RouteTables,
};
use replimesh_spec::service::{ControlOp, CTRL_OPCODE};
use replimesh_spec::{MeshGeometry, NodeId, PortDir, Route};
use std::collections::{BTreeMap, BTreeSet};

/// Control-plane timers, in card cycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlPlaneConfig {
    /// Re-flood this node's advert at least this often.
    pub refresh_cycles: u64,
    /// An origin not heard from for this long is gone (its host is dead or
    /// unreachable): it leaves the graph.
    pub max_age_cycles: u64,
    /// The database must be unchanged this long before a node proposes
    /// tables from it (one change often comes as several adverts).
    pub hold_cycles: u64,
    /// Gap between the two `vc_seen` passes of a drain.
    pub drain_pass_cycles: u64,
    /// Written to this node's router's `reroute_wait_cycles`: how long a
    /// head with no live port waits for new tables before it is dropped
    /// (and resent end to end). Waiting heads hold their input FIFO, and
    /// the adverts that bring the new tables queue behind them, so under a
    /// control plane that needs a few thousand cycles to agree a short wait
    /// keeps the flood moving.
    pub reroute_wait_cycles: u32,
}

impl Default for ControlPlaneConfig {
    fn default() -> Self {
        Self {
            refresh_cycles: 2_000,
            max_age_cycles: 8_000,
            hold_cycles: 150,
            drain_pass_cycles: 64,
            reroute_wait_cycles: 32,
        }
    }
}

/// Where a node is in the table-change cycle (carried in its advert).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Phase {
    /// Not synced: the router's state is not (yet) the network's.
    Joining,
    /// Switched to `cur_epoch`; the old VC is draining.
    Draining,
    /// The spare bank is `loading`: a change may start.
    Ready,
    /// The spare bank holds this proposal (`next`).
    Proposed {
        /// Epoch proposed.
        epoch: u32,
        /// Attempt at that epoch.
        attempt: u32,
        /// Database the tables come from.
        digest: u64,
    },
}

impl Phase {
    fn code(self) -> u64 {
        match self {
            Phase::Joining => 0,
            Phase::Draining => 1,
            Phase::Ready => 2,
            Phase::Proposed { .. } => 3,
        }
    }
}

/// One node's link-state advert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advert {
    /// Node it describes.
    pub origin: NodeId,
    /// The origin runtime's start (a restarted runtime's adverts win over
    /// its old ones whatever their sequence numbers).
    pub incarnation: u32,
    /// Sequence number within the incarnation.
    pub seq: u32,
    /// Mesh links its router reports up (bits N, E, S, W).
    pub links: u8,
    /// Epoch of the tables in the origin's `cur` bank.
    pub cur_epoch: u32,
    /// Digest of the database those tables came from.
    pub cur_digest: u64,
    /// Its phase.
    pub phase: Phase,
}

/// Payload words of an advert: five of data, a checksum, the opcode word.
pub const ADVERT_WORDS: usize = 7;

/// An advert's last word: the `link_state` opcode and its origin, where the
/// card's service unit reads a control message's opcode (with the tail).
pub fn advert_trailer(origin: NodeId) -> u64 {
    let op = CTRL_OPCODE
        .set(0, ControlOp::LinkState as u32)
        .expect("opcode fits");
    (op | (origin.0 as u32) << 8) as u64
}

/// Whether a control message's payload is a link-state advert (by its
/// last word; the checksum is checked when it is decoded).
pub fn is_advert(payload: &[u64]) -> bool {
    payload.len() > 1
        && payload
            .last()
            .is_some_and(|w| CTRL_OPCODE.get(*w as u32) == ControlOp::LinkState as u32)
}

/// `row` (this router's table, by destination) with a one-hop route to
/// every neighbour across a link that is up where the tables have none:
/// the adverts to a neighbour the graph leaves out (joining, aged out)
/// must still get there, or it could never be heard and brought back in.
/// Safe for deadlock: such a packet makes one hop and ejects; no route of
/// any other router leads through the neighbour.
pub fn with_neighbour_routes(geom: &MeshGeometry, me: NodeId, links: u8, row: &[u32]) -> Vec<u32> {
    let mut out = row.to_vec();
    for p in [PortDir::N, PortDir::E, PortDir::S, PortDir::W] {
        if links & 1 << p as u8 == 0 {
            continue;
        }
        if let Some(m) = geom.neighbour(me, p) {
            if let Some(e) = out.get_mut(m.0 as usize) {
                if *e == NO_ROUTE {
                    *e = Route {
                        primary: p,
                        alternate: p,
                    }
                    .encode();
                }
            }
        }
    }
    out
}

/// Why an advert was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AdvertError {
    /// Wrong length, bad checksum, reserved bits set or an unknown phase.
    #[error("corrupted link-state advert")]
    Corrupt,
    /// Names a node outside the mesh, or a link its router does not have.
    #[error("link-state advert names a node or link that does not exist")]
    NoSuchLink,
}

fn fnv(words: &[u64]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for w in words {
        for b in w.to_le_bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

impl Advert {
    /// The advert's payload, [`advert_trailer`] last.
    pub fn encode(&self) -> Vec<u64> {
        let (pe, pa, pd) = match self.phase {
            Phase::Proposed {
                epoch,
                attempt,
                digest,
            } => (epoch, attempt, digest),
            _ => (0, 0, 0),
        };
        let mut w = vec![
            self.origin.0 as u64
                | (self.links as u64 & 0xf) << 8
                | self.phase.code() << 12
                | (self.incarnation as u64) << 32,
            self.seq as u64 | (self.cur_epoch as u64) << 32,
            self.cur_digest,
            pe as u64 | (pa as u64) << 32,
            pd,
        ];
        w.push(fnv(&w));
        w.push(advert_trailer(self.origin));
        w
    }

    /// Decodes and checks an advert for mesh `geom`.
    pub fn decode(geom: &MeshGeometry, w: &[u64]) -> Result<Advert, AdvertError> {
        if w.len() != ADVERT_WORDS || fnv(&w[..5]) != w[5] {
            return Err(AdvertError::Corrupt);
        }
        let origin = NodeId(w[0] as u8);
        if w[6] != advert_trailer(origin) || (w[0] >> 14) & 0x3_ffff != 0 {
            return Err(AdvertError::Corrupt);
        }
        let Some((x, y)) = geom.coords(origin) else {
            return Err(AdvertError::NoSuchLink);
        };
        let links = (w[0] >> 8) as u8 & 0xf;
        for p in [PortDir::N, PortDir::E, PortDir::S, PortDir::W] {
            if links & 1 << p as u8 != 0 && !geom.port_exists(x, y, p) {
                return Err(AdvertError::NoSuchLink);
            }
        }
        let phase = match (w[0] >> 12) & 3 {
            0 => Phase::Joining,
            1 => Phase::Draining,
            2 => Phase::Ready,
            _ => Phase::Proposed {
                epoch: w[3] as u32,
                attempt: (w[3] >> 32) as u32,
                digest: w[4],
            },
        };
        if !matches!(phase, Phase::Proposed { .. }) && (w[3] != 0 || w[4] != 0) {
            return Err(AdvertError::Corrupt);
        }
        Ok(Advert {
            origin,
            incarnation: (w[0] >> 32) as u32,
            seq: w[1] as u32,
            links,
            cur_epoch: (w[1] >> 32) as u32,
            cur_digest: w[2],
            phase,
        })
    }

    fn newer_than(&self, other: &Advert) -> bool {
        (self.incarnation, self.seq) > (other.incarnation, other.seq)
    }

    fn synced(&self) -> bool {
        self.phase != Phase::Joining
    }
}

/// This node's router, as the control plane writes it: through the node's
/// own window only.
pub trait OwnRouter {
    /// Why an access failed.
    type Error;
    /// Writes entry `dest` of bank `bank`.
    fn write_entry(&mut self, bank: u8, dest: NodeId, value: u32) -> Result<(), Self::Error>;
    /// Reads `table_banks`.
    fn table_banks(&mut self) -> Result<u32, Self::Error>;
    /// Writes `table_banks`.
    fn set_table_banks(&mut self, value: u32) -> Result<(), Self::Error>;
    /// Reads `vc_seen`.
    fn vc_seen(&mut self) -> Result<u32, Self::Error>;
    /// Clears `vc_seen` bits.
    fn clear_vc_seen(&mut self, bits: u32) -> Result<(), Self::Error>;
}

/// Counters of the control plane.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ControlPlaneStats {
    /// Adverts this node originated (changes and refreshes).
    pub adverts_sent: u64,
    /// Adverts forwarded to the neighbours (the flood).
    pub adverts_forwarded: u64,
    /// New adverts taken into the database.
    pub adverts_accepted: u64,
    /// Adverts already known or older (flood duplicates): dropped.
    pub adverts_stale: u64,
    /// Corrupted adverts: dropped.
    pub adverts_corrupt: u64,
    /// Adverts naming links or nodes that do not exist: dropped.
    pub adverts_bad_link: u64,
    /// Adverts from (or about) quarantined nodes: dropped.
    pub adverts_quarantined: u64,
    /// Origins aged out of the database.
    pub aged_out: u64,
    /// Link changes the card reported (`link` interrupts read).
    pub link_changes: u64,
    /// Tables computed and proposed.
    pub proposals: u64,
    /// Attempts abandoned because two digests met.
    pub attempts_abandoned: u64,
    /// Computed tables the checkers rejected (never installed).
    pub tables_rejected: u64,
    /// Table switches made.
    pub switches: u64,
    /// Route-table entries written to this node's router.
    pub entries_written: u64,
    /// Joins completed (boot included).
    pub joins: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drain {
    /// Waiting for every synced node to leave the older epochs.
    Waiting,
    /// First pass made (cleared) at this cycle.
    Cleared(u64),
}

/// One node's control plane.
pub struct ControlPlane {
    geom: MeshGeometry,
    me: NodeId,
    cfg: ControlPlaneConfig,
    incarnation: u32,
    seq: u32,
    links: u8,
    /// Newest advert per origin, with the cycle it arrived.
    db: BTreeMap<NodeId, (Advert, u64)>,
    quarantined: BTreeSet<u8>,
    cur_epoch: u32,
    cur_digest: u64,
    phase: Phase,
    drain: Drain,
    /// Lowest attempt the next proposal may use.
    attempt_floor: u32,
    /// The database digest and since when it holds.
    digest: u64,
    stable_since: u64,
    /// What each bank of this router holds for this node's row, if known.
    banks: [Option<Vec<u32>>; 2],
    /// The same rows without the one-hop neighbour routes.
    base_rows: [Option<Vec<u32>>; 2],
    /// The links changed: the neighbour routes in `cur` are redone.
    repatch: bool,
    last_sent: u64,
    dirty: bool,
    outgoing: Vec<(NodeId, Vec<u64>)>,
    stats: ControlPlaneStats,
    /// Cycle of the last switch (for convergence figures).
    last_switch: Option<u64>,
    /// A digest whose tables the checkers rejected (not computed again).
    rejected: Option<u64>,
    /// Since when a proposal has seen a higher epoch.
    higher_since: Option<u64>,
    /// The members in this node's graph (as of the last poll).
    reachable: BTreeSet<NodeId>,
    /// Corrupted or impossible adverts, by the neighbour that sent them
    /// (the router stamps the source): where the fault manager looks for a
    /// node sending malformed traffic.
    bad_from: BTreeMap<NodeId, u64>,
}

const NO_ROUTE: u32 = replimesh_spec::NO_ROUTE_ENTRY;

/// The database the tables come from, as node `me` sees it: which nodes
/// are in the graph and which links are up (both ends say so). Joining,
/// aged-out and quarantined nodes are out of the graph, and so is every
/// node the flood cannot carry this node's adverts to (the far side of a
/// partition, a router whose links all died): their routers count as dead.
/// A node cut off cannot take part in a change, so nobody waits for it.
fn graph(
    geom: &MeshGeometry,
    me: NodeId,
    db: &BTreeMap<NodeId, (Advert, u64)>,
    quarantined: &BTreeSet<u8>,
) -> Faults {
    let mut f = Faults::new(*geom);
    let member = |n: NodeId| {
        db.get(&n)
            .is_some_and(|(a, _)| a.synced() && !quarantined.contains(&n.0))
    };
    let says = |k: NodeId, q: PortDir| db.get(&k).is_some_and(|(a, _)| a.links & 1 << q as u8 != 0);
    let up = |n: NodeId, p: PortDir| {
        geom.neighbour(n, p)
            .is_some_and(|m| says(n, p) && says(m, p.opposite()))
    };
    // Nodes the flood reaches from here: through every host that floods,
    // joining ones too (they forward adverts but are not members).
    let heard = |n: NodeId| db.contains_key(&n) && !quarantined.contains(&n.0);
    let mut seen = BTreeSet::from([me]);
    let mut todo = vec![me];
    while let Some(n) = todo.pop() {
        for p in [PortDir::N, PortDir::E, PortDir::S, PortDir::W] {
            if let Some(m) = geom.neighbour(n, p) {
                if up(n, p) && heard(m) && seen.insert(m) {
                    todo.push(m);
                }
            }
        }
    }
    for n in geom.node_ids() {
        if !member(n) || !seen.contains(&n) {
            f.set_router_dead(n).expect("mesh node");
        }
    }
    for (n, p) in mesh_links(geom) {
        if !up(n, p) {
            f.set_link_down(n, p).expect("mesh link");
        }
    }
    f
}

fn digest_of(geom: &MeshGeometry, f: &Faults) -> u64 {
    let mut words = vec![];
    for n in geom.node_ids() {
        words.push(f.is_live(n) as u64);
    }
    for (n, p) in mesh_links(geom) {
        words.push(f.is_link_up(n, p) as u64);
    }
    // Never 0: 0 names the reset tables.
    fnv(&words) | 1
}

impl ControlPlane {
    /// A control plane for node `me` of `geom`, started at cycle `now`
    /// (its incarnation), with its router's links `links` up. It begins
    /// joining.
    pub fn new(
        geom: MeshGeometry,
        me: NodeId,
        cfg: ControlPlaneConfig,
        now: u64,
        links: u8,
    ) -> Self {
        let mut cp = ControlPlane {
            geom,
            me,
            cfg,
            incarnation: now as u32 | 1,
            seq: 0,
            links,
            db: BTreeMap::new(),
            quarantined: BTreeSet::new(),
            cur_epoch: 0,
            cur_digest: 0,
            phase: Phase::Joining,
            drain: Drain::Waiting,
            attempt_floor: 0,
            digest: 0,
            stable_since: now,
            banks: [None, None],
            base_rows: [None, None],
            repatch: false,
            last_sent: now,
            dirty: true,
            outgoing: vec![],
            stats: ControlPlaneStats::default(),
            last_switch: None,
            rejected: None,
            higher_since: None,
            reachable: BTreeSet::new(),
            bad_from: BTreeMap::new(),
        };
        cp.refresh_own(now);
        cp
    }

    /// Counters.
    pub fn stats(&self) -> ControlPlaneStats {
        self.stats
    }

    /// Epoch of the tables in use here, and their database's digest.
    pub fn epoch(&self) -> (u32, u64) {
        (self.cur_epoch, self.cur_digest)
    }

    /// This router's links as last reported (bits N, E, S, W).
    pub fn links(&self) -> u8 {
        self.links
    }

    /// Phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Cycle of this node's last table switch.
    pub fn last_switch(&self) -> Option<u64> {
        self.last_switch
    }

    /// The graph this node's database describes now (for tools and tests).
    pub fn view(&self) -> Faults {
        graph(&self.geom, self.me, &self.db, &self.quarantined)
    }

    /// The nodes this node's table change waits for: with a proposal out,
    /// the synced nodes in its graph that do not propose the same and have
    /// not switched to it (for tools and failure messages).
    pub fn waiting_for(&self) -> Vec<NodeId> {
        let Phase::Proposed {
            epoch,
            attempt,
            digest,
        } = self.phase
        else {
            return vec![];
        };
        self.synced_others()
            .filter(|a| {
                let same = matches!(a.phase, Phase::Proposed { epoch: e, attempt: k, digest: d }
                    if e == epoch && k == attempt && d == digest);
                let switched = a.cur_epoch == epoch && a.cur_digest == digest;
                !(same || switched)
            })
            .map(|a| a.origin)
            .collect()
    }

    /// The newest advert held per origin, with the cycle it arrived.
    pub fn database(&self) -> impl Iterator<Item = (&Advert, u64)> {
        self.db.values().map(|(a, at)| (a, *at))
    }

    /// Bad adverts (corrupted, or naming links that do not exist) received
    /// so far, per sending neighbour.
    pub fn bad_adverts_from(&self) -> &BTreeMap<NodeId, u64> {
        &self.bad_from
    }

    /// Nodes in the graph now: synced, heard from, not quarantined.
    pub fn members(&self) -> Vec<NodeId> {
        let f = self.view();
        self.geom.node_ids().filter(|n| f.is_live(*n)).collect()
    }

    /// Adverts to send: `(neighbour, payload)` of `control` packets.
    pub fn take_outgoing(&mut self) -> Vec<(NodeId, Vec<u64>)> {
        std::mem::take(&mut self.outgoing)
    }

    /// A quarantine notice (or its release) for `node`: its adverts are
    /// dropped and it leaves the graph while quarantined.
    pub fn set_quarantined(&mut self, node: u8, quarantined: bool) {
        let changed = if quarantined {
            self.quarantined.insert(node)
        } else {
            self.quarantined.remove(&node)
        };
        if changed && quarantined {
            self.db.remove(&NodeId(node));
        }
    }

    /// The card's `link` interrupt: this router's links now `links`.
    pub fn on_link_change(&mut self, now: u64, links: u8) {
        self.stats.link_changes += 1;
        if links != self.links {
            self.links = links & 0xf;
            self.dirty = true;
            self.repatch = true;
            self.refresh_own(now);
        }
    }

    /// An advert received from neighbour `from`.
    pub fn on_advert(&mut self, now: u64, from: NodeId, payload: &[u64]) {
        let a = match Advert::decode(&self.geom, payload) {
            Ok(a) => a,
            Err(AdvertError::Corrupt) => {
                self.stats.adverts_corrupt += 1;
                *self.bad_from.entry(from).or_default() += 1;
                return;
            }
            Err(AdvertError::NoSuchLink) => {
                self.stats.adverts_bad_link += 1;
                *self.bad_from.entry(from).or_default() += 1;
                return;
            }
        };
        if self.quarantined.contains(&a.origin.0) || self.quarantined.contains(&from.0) {
            self.stats.adverts_quarantined += 1;
            return;
        }
        if a.origin == self.me {
            // Our own, come back around (or an old incarnation's).
            self.stats.adverts_stale += 1;
            return;
        }
        if let Some((held, _)) = self.db.get(&a.origin) {
            if !a.newer_than(held) {
                self.stats.adverts_stale += 1;
                return;
            }
        }
        self.stats.adverts_accepted += 1;
        self.db.insert(a.origin, (a, now));
        self.flood(payload, Some(from));
    }

    fn neighbours(&self) -> Vec<NodeId> {
        [PortDir::N, PortDir::E, PortDir::S, PortDir::W]
            .into_iter()
            .filter(|p| self.links & 1 << *p as u8 != 0)
            .filter_map(|p| self.geom.neighbour(self.me, p))
            .collect()
    }

    /// Sends `payload` to every neighbour across a live link but `except`.
    fn flood(&mut self, payload: &[u64], except: Option<NodeId>) {
        for n in self.neighbours() {
            if Some(n) != except {
                self.outgoing.push((n, payload.to_vec()));
                if except.is_some() {
                    self.stats.adverts_forwarded += 1;
                }
            }
        }
    }

    fn own_advert(&self) -> Advert {
        Advert {
            origin: self.me,
            incarnation: self.incarnation,
            seq: self.seq,
            links: self.links,
            cur_epoch: self.cur_epoch,
            cur_digest: self.cur_digest,
            phase: self.phase,
        }
    }

    fn refresh_own(&mut self, now: u64) {
        self.seq = self.seq.wrapping_add(1);
        let a = self.own_advert();
        self.db.insert(self.me, (a, now));
        if self.dirty || now.saturating_sub(self.last_sent) >= self.cfg.refresh_cycles {
            self.stats.adverts_sent += 1;
            self.last_sent = now;
            self.dirty = false;
            self.flood(&a.encode(), None);
        }
    }

    fn set_phase(&mut self, now: u64, phase: Phase) {
        self.phase = phase;
        self.dirty = true;
        self.refresh_own(now);
    }

    /// Synced origins other than this node, with their adverts.
    fn synced_others(&self) -> impl Iterator<Item = &Advert> {
        self.db
            .values()
            .map(|(a, _)| a)
            .filter(move |a| a.origin != self.me && self.reachable.contains(&a.origin))
    }

    /// Writes this node's row `base` into `bank`, with the one-hop routes
    /// to its live neighbours, only what differs from what the bank is
    /// known to hold.
    fn write_row<R: OwnRouter>(
        &mut self,
        router: &mut R,
        bank: u8,
        base: &[u32],
    ) -> Result<(), R::Error> {
        self.base_rows[bank as usize] = Some(base.to_vec());
        let row = with_neighbour_routes(&self.geom, self.me, self.links, base);
        let known = self.banks[bank as usize].clone();
        for (d, &v) in row.iter().enumerate() {
            if known.as_ref().is_some_and(|k| k.get(d) == Some(&v)) {
                continue;
            }
            router.write_entry(bank, NodeId(d as u8), v)?;
            self.stats.entries_written += 1;
        }
        self.banks[bank as usize] = Some(row.to_vec());
        Ok(())
    }

    /// One round: ageing, refresh, and the next step of a table change.
    pub fn poll<R: OwnRouter>(&mut self, now: u64, router: &mut R) -> Result<(), R::Error> {
        let max_age = self.cfg.max_age_cycles;
        let me = self.me;
        let before = self.db.len();
        self.db
            .retain(|n, (_, at)| *n == me || now.saturating_sub(*at) <= max_age);
        self.stats.aged_out += (before - self.db.len()) as u64;
        if self.repatch && self.phase != Phase::Joining {
            // Only entries for neighbours change, in place: a packet for a
            // neighbour makes one hop and ejects, whichever entry routed it.
            self.repatch = false;
            let cur = (self.cur_epoch % 2) as u8;
            if let Some(base) = self.base_rows[cur as usize].clone() {
                self.write_row(router, cur, &base)?;
            }
        }
        if now.saturating_sub(self.last_sent) >= self.cfg.refresh_cycles {
            self.refresh_own(now);
        }
        let view = self.view();
        self.reachable = self.geom.node_ids().filter(|n| view.is_live(*n)).collect();
        let d = digest_of(&self.geom, &view);
        if d != self.digest {
            self.digest = d;
            self.stable_since = now;
        }
        let stable = now.saturating_sub(self.stable_since) >= self.cfg.hold_cycles;
        match self.phase {
            Phase::Joining => self.join(now, router, &view, stable),
            Phase::Draining => self.drain(now, router),
            Phase::Ready if self.higher_epoch().is_some() => self.catch_up(now, router),
            Phase::Ready => {
                // Propose when the tables in use are not the database's, or
                // when others propose the next epoch (even the tables in
                // use: an epoch moves on for everyone alike).
                let next = self.cur_epoch + 1;
                let others_propose = self
                    .synced_others()
                    .any(|a| matches!(a.phase, Phase::Proposed { epoch, .. } if epoch == next));
                let wanted = self.digest != self.cur_digest || others_propose;
                if stable && wanted && self.rejected != Some(self.digest) {
                    self.propose(now, router, &view)?;
                }
                Ok(())
            }
            Phase::Proposed {
                epoch,
                attempt,
                digest,
            } => self.decide(now, router, epoch, attempt, digest),
        }
    }

    fn join<R: OwnRouter>(
        &mut self,
        now: u64,
        router: &mut R,
        view: &Faults,
        stable: bool,
    ) -> Result<(), R::Error> {
        if !stable {
            return Ok(());
        }
        let (cur, other) = table_banks_fields(router.table_banks()?);
        let others: Vec<Advert> = self.synced_others().copied().collect();
        let fresh_router = cur == 0 && other == OtherBank::Same;
        if others.iter().all(|a| a.cur_epoch == 0) && fresh_router {
            // Boot (or a reset router while the mesh is still on its reset
            // tables): take up epoch 0, the reset tables on VC 0.
            let dor = dor_tables(&self.geom).encoded(self.me).expect("own row");
            self.banks = [Some(dor.clone()), Some(dor.clone())];
            self.base_rows = [Some(dor.clone()), Some(dor)];
            self.cur_epoch = 0;
            self.cur_digest = 0;
            router.set_table_banks(table_banks_value(0, OtherBank::Old))?;
            self.drain = Drain::Waiting;
            self.stats.joins += 1;
            self.set_phase(now, Phase::Draining);
            return Ok(());
        }
        // Take up the epoch the others use once they all use it, it was
        // computed without this node (the database with it joining), and its
        // older VC has drained (all of them ready).
        let Some(first) = others.first() else {
            return Ok(());
        };
        let (epoch, digest) = (first.cur_epoch, first.cur_digest);
        let settled = others.iter().all(|a| {
            a.cur_epoch == epoch
                && a.cur_digest == digest
                && matches!(a.phase, Phase::Ready | Phase::Proposed { .. })
        });
        if !settled || digest_of(&self.geom, view) != digest {
            return Ok(());
        }
        // This router is out of the graph: no route reaches it, so its row
        // is all "unreachable" in the epoch's tables, whatever it held.
        let tables = updown_tables(view);
        let row = tables.encoded(self.me).expect("own row");
        let vc = (epoch % 2) as u8;
        router.set_table_banks(table_banks_value(1 - vc, OtherBank::Loading))?;
        self.banks[vc as usize] = None;
        self.write_row(router, vc, &row)?;
        router.set_table_banks(table_banks_value(vc, OtherBank::Old))?;
        self.cur_epoch = epoch;
        self.cur_digest = digest;
        self.drain = Drain::Waiting;
        self.stats.joins += 1;
        self.set_phase(now, Phase::Draining);
        Ok(())
    }

    fn drain<R: OwnRouter>(&mut self, now: u64, router: &mut R) -> Result<(), R::Error> {
        let old_vc = 1 - (self.cur_epoch % 2) as u8;
        match self.drain {
            Drain::Waiting => {
                let behind = self.synced_others().any(|a| a.cur_epoch < self.cur_epoch);
                if !behind {
                    router.clear_vc_seen(1 << old_vc)?;
                    self.drain = Drain::Cleared(now);
                }
            }
            Drain::Cleared(at) => {
                if now.saturating_sub(at) < self.cfg.drain_pass_cycles {
                    return Ok(());
                }
                if router.vc_seen()? & 1 << old_vc != 0 {
                    router.clear_vc_seen(1 << old_vc)?;
                    self.drain = Drain::Cleared(now);
                } else {
                    self.rest_spare(router)?;
                    self.set_phase(now, Phase::Ready);
                }
            }
        }
        Ok(())
    }

    fn propose<R: OwnRouter>(
        &mut self,
        now: u64,
        router: &mut R,
        view: &Faults,
    ) -> Result<(), R::Error> {
        let epoch = self.cur_epoch + 1;
        // Join the attempt the others are on, unless its digest differs.
        let mut attempt = self.attempt_floor;
        for a in self.synced_others() {
            if let Phase::Proposed {
                epoch: e,
                attempt: k,
                digest,
            } = a.phase
            {
                if e == epoch {
                    let k = if digest == self.digest { k } else { k + 1 };
                    attempt = attempt.max(k);
                }
            }
        }
        let tables = updown_tables(view);
        if check_deadlock_free(view, &tables).is_err() || check_delivery(view, &tables).is_err() {
            self.stats.tables_rejected += 1;
            self.rejected = Some(self.digest);
            return Ok(());
        }
        let row = tables.encoded(self.me).expect("own row");
        let vc = (epoch % 2) as u8;
        let cur = 1 - vc;
        router.set_table_banks(table_banks_value(cur, OtherBank::Loading))?;
        self.write_row(router, vc, &row)?;
        router.set_table_banks(table_banks_value(cur, OtherBank::Next))?;
        self.stats.proposals += 1;
        let digest = self.digest;
        self.set_phase(
            now,
            Phase::Proposed {
                epoch,
                attempt,
                digest,
            },
        );
        Ok(())
    }

    fn decide<R: OwnRouter>(
        &mut self,
        now: u64,
        router: &mut R,
        epoch: u32,
        attempt: u32,
        digest: u64,
    ) -> Result<(), R::Error> {
        let mut all_agree = true;
        let mut someone_switched = false;
        let mut conflict_floor = None;
        let mut higher = false;
        for a in self.synced_others() {
            if a.cur_epoch > epoch {
                // The other side of a healed partition, further on.
                higher = true;
                all_agree = false;
                continue;
            }
            if a.cur_epoch == epoch {
                if a.cur_digest == digest {
                    someone_switched = true;
                } else {
                    all_agree = false;
                }
                continue;
            }
            match a.phase {
                Phase::Proposed {
                    epoch: e,
                    attempt: k,
                    digest: dg,
                } if e == epoch => {
                    if k == attempt && dg == digest {
                        continue;
                    }
                    all_agree = false;
                    if k > attempt || (k == attempt && dg != digest) {
                        let floor = if k > attempt { k } else { k + 1 };
                        conflict_floor = Some(conflict_floor.map_or(floor, |f: u32| f.max(floor)));
                    }
                }
                _ => all_agree = false,
            }
        }
        if someone_switched || all_agree {
            let vc = (epoch % 2) as u8;
            router.set_table_banks(table_banks_value(vc, OtherBank::Old))?;
            self.cur_epoch = epoch;
            self.cur_digest = digest;
            self.attempt_floor = 0;
            self.higher_since = None;
            self.drain = Drain::Waiting;
            self.stats.switches += 1;
            self.last_switch = Some(now);
            self.set_phase(now, Phase::Draining);
        } else if higher && self.abandon_for_higher(now) {
            // A partition healed under this proposal and the other side is
            // ahead: nobody switched to it within the grace period, so the
            // bank may be reused; catch up from Ready.
            self.stats.attempts_abandoned += 1;
            self.rest_spare(router)?;
            self.set_phase(now, Phase::Ready);
        } else if let Some(floor) = conflict_floor {
            // Two digests for one attempt: nobody can switch to it. Start
            // the next attempt from the database as it is now.
            self.stats.attempts_abandoned += 1;
            self.attempt_floor = floor;
            self.rest_spare(router)?;
            self.set_phase(now, Phase::Ready);
        }
        Ok(())
    }

    /// Puts the spare bank at rest: a copy of the tables in use, marked
    /// `next`. Nobody switches to the spare VC before this node has
    /// proposed, so the only heads that arrive on it meanwhile come from a
    /// router whose host is joining or dead (a VC behind): routed by the
    /// tables in use, they eject here or go on as any other head would,
    /// instead of waiting at the input (`loading`) and blocking the port
    /// for every head behind them.
    fn rest_spare<R: OwnRouter>(&mut self, router: &mut R) -> Result<(), R::Error> {
        let cur = (self.cur_epoch % 2) as u8;
        let spare = 1 - cur;
        router.set_table_banks(table_banks_value(cur, OtherBank::Loading))?;
        if let Some(base) = self.base_rows[cur as usize].clone() {
            self.write_row(router, spare, &base)?;
        }
        router.set_table_banks(table_banks_value(cur, OtherBank::Next))
    }

    /// The highest epoch a synced node uses, if above this node's.
    fn higher_epoch(&self) -> Option<u32> {
        self.synced_others()
            .map(|a| a.cur_epoch)
            .max()
            .filter(|e| *e > self.cur_epoch)
    }

    /// Whether a higher epoch has been seen long enough (a flood's time) for
    /// a switch to this node's proposal, had one been made, to be known.
    fn abandon_for_higher(&mut self, now: u64) -> bool {
        let since = *self.higher_since.get_or_insert(now);
        now.saturating_sub(since) >= self.cfg.max_age_cycles / 4
    }

    /// Takes up the epoch number of the other side of a healed partition.
    /// Its tables reach none of this side's routers (each side's graph
    /// left the other out), so both sides' tables may coexist until the
    /// next change, which both make together. Same VC: only the number
    /// changes; the other VC: this router first moves to its spare bank
    /// with the tables it uses now.
    fn catch_up<R: OwnRouter>(&mut self, now: u64, router: &mut R) -> Result<(), R::Error> {
        let Some(target) = self.higher_epoch() else {
            return Ok(());
        };
        self.higher_since = None;
        if (target - self.cur_epoch) % 2 == 1 {
            let (cur, spare) = ((self.cur_epoch % 2) as u8, (target % 2) as u8);
            let row = self.base_rows[cur as usize]
                .clone()
                .unwrap_or_else(|| vec![NO_ROUTE; self.geom.table_entries() as usize]);
            self.write_row(router, spare, &row)?;
            router.set_table_banks(table_banks_value(spare, OtherBank::Old))?;
            self.drain = Drain::Waiting;
            self.cur_epoch = target;
            self.set_phase(now, Phase::Draining);
        } else {
            self.cur_epoch = target;
            self.set_phase(now, Phase::Ready);
        }
        Ok(())
    }

    /// The tables this node computes from its database now (tests, tools).
    pub fn tables(&self) -> RouteTables {
        updown_tables(&self.view())
    }
}

#[cfg(test)]
mod tests {
    //! The protocol on many nodes with routers that only hold state, adverts
    //! carried between neighbours with random delays. The fabric itself is
    //! tested on the generated Verilog (`verilator-tests/fabric/tests/control_plane.rs`);
    //! these runs check the agreement rules under far more interleavings.
    use super::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};
    use std::collections::HashMap;

    #[derive(Clone)]
    struct FakeRouter {
        banks: [Vec<u32>; 2],
        table_banks: u32,
        refused: bool,
    }

    impl OwnRouter for FakeRouter {
        type Error = ();
        fn write_entry(&mut self, bank: u8, dest: NodeId, value: u32) -> Result<(), ()> {
            if self.refused {
                return Err(());
            }
            self.banks[bank as usize][dest.0 as usize] = value;
            Ok(())
        }
        fn table_banks(&mut self) -> Result<u32, ()> {
            Ok(self.table_banks)
        }
        fn set_table_banks(&mut self, value: u32) -> Result<(), ()> {
            self.table_banks = value;
            Ok(())
        }
        fn vc_seen(&mut self) -> Result<u32, ()> {
            Ok(0)
        }
        fn clear_vc_seen(&mut self, _: u32) -> Result<(), ()> {
            Ok(())
        }
    }

    struct Net {
        g: MeshGeometry,
        cps: Vec<Option<ControlPlane>>,
        routers: Vec<FakeRouter>,
        /// Physical state: `faults` as the fabric has it.
        faults: Faults,
        /// Hosts that stopped (router alive, no polls, no adverts).
        host_dead: Vec<bool>,
        wire: Vec<(u64, NodeId, NodeId, Vec<u64>)>,
        now: u64,
        rng: SmallRng,
        /// Tables and graph per digest, as the first proposer had them.
        tables_of: HashMap<u64, RouteTables>,
        views_of: HashMap<u64, Faults>,
    }

    fn links_of(f: &Faults, g: &MeshGeometry, n: NodeId) -> u8 {
        let mut b = 0;
        if !f.is_live(n) {
            return 0;
        }
        for p in [PortDir::N, PortDir::E, PortDir::S, PortDir::W] {
            if let Some(m) = g.neighbour(n, p) {
                if f.is_live(m) && f.is_link_up(n, p) {
                    b |= 1 << p as u8;
                }
            }
        }
        b
    }

    impl Net {
        fn new(w: u32, h: u32, seed: u64) -> Net {
            let g = MeshGeometry::new(w, h).unwrap();
            let faults = Faults::new(g);
            let dor = dor_tables(&g);
            let routers = g
                .node_ids()
                .map(|n| {
                    let row = dor.encoded(n).unwrap();
                    FakeRouter {
                        banks: [row.clone(), row],
                        table_banks: 0,
                        refused: false,
                    }
                })
                .collect();
            let cps = g
                .node_ids()
                .map(|n| {
                    Some(ControlPlane::new(
                        g,
                        n,
                        ControlPlaneConfig::default(),
                        0,
                        links_of(&faults, &g, n),
                    ))
                })
                .collect();
            Net {
                g,
                cps,
                routers,
                faults,
                host_dead: vec![false; g.nodes() as usize],
                wire: vec![],
                now: 0,
                rng: SmallRng::seed_from_u64(seed),
                tables_of: HashMap::new(),
                views_of: HashMap::new(),
            }
        }

        fn link_event(&mut self, n: NodeId) {
            let links = links_of(&self.faults, &self.g, n);
            let now = self.now;
            if let Some(cp) = self.cps[n.0 as usize].as_mut() {
                cp.on_link_change(now, links);
            }
        }

        fn cut(&mut self, n: NodeId, p: PortDir) {
            self.faults.set_link_down(n, p).unwrap();
            let m = self.g.neighbour(n, p).unwrap();
            self.link_event(n);
            self.link_event(m);
        }

        fn restore(&mut self, n: NodeId, p: PortDir) {
            self.faults.set_link_up(n, p).unwrap();
            let m = self.g.neighbour(n, p).unwrap();
            self.link_event(n);
            self.link_event(m);
        }

        fn kill_router(&mut self, n: NodeId) {
            self.faults.set_router_dead(n).unwrap();
            self.cps[n.0 as usize] = None;
            for p in [PortDir::N, PortDir::E, PortDir::S, PortDir::W] {
                if let Some(m) = self.g.neighbour(n, p) {
                    self.link_event(m);
                }
            }
        }

        /// The router comes back from reset (reset tables, `same`) and its
        /// host starts a new runtime.
        fn restore_router(&mut self, n: NodeId) {
            self.faults.set_router_live(n).unwrap();
            let row = dor_tables(&self.g).encoded(n).unwrap();
            self.routers[n.0 as usize] = FakeRouter {
                banks: [row.clone(), row],
                table_banks: 0,
                refused: false,
            };
            let links = links_of(&self.faults, &self.g, n);
            self.cps[n.0 as usize] = Some(ControlPlane::new(
                self.g,
                n,
                ControlPlaneConfig::default(),
                self.now,
                links,
            ));
            for p in [PortDir::N, PortDir::E, PortDir::S, PortDir::W] {
                if let Some(m) = self.g.neighbour(n, p) {
                    self.link_event(m);
                }
            }
        }

        /// One tick of 10 cycles: deliveries due, then every live host polls.
        fn tick(&mut self) {
            self.now += 10;
            let now = self.now;
            let mut due = vec![];
            self.wire.retain(|m| {
                if m.0 <= now {
                    due.push(m.clone());
                    false
                } else {
                    true
                }
            });
            for (_, from, to, payload) in due {
                // Only over a link that is up when the packet arrives.
                let adjacent = [PortDir::N, PortDir::E, PortDir::S, PortDir::W]
                    .into_iter()
                    .any(|p| {
                        self.g.neighbour(from, p) == Some(to) && self.faults.is_link_up(from, p)
                    });
                if !adjacent || !self.faults.is_live(to) || self.host_dead[to.0 as usize] {
                    continue;
                }
                if let Some(cp) = self.cps[to.0 as usize].as_mut() {
                    cp.on_advert(now, from, &payload);
                }
            }
            for k in 0..self.cps.len() {
                if self.host_dead[k] {
                    continue;
                }
                let Some(cp) = self.cps[k].as_mut() else {
                    continue;
                };
                let before = cp.phase();
                let _ = cp.poll(now, &mut self.routers[k]);
                if let (Phase::Ready, Phase::Proposed { digest, .. }) = (before, cp.phase()) {
                    self.tables_of.entry(digest).or_insert_with(|| cp.tables());
                    self.views_of.entry(digest).or_insert_with(|| cp.view());
                }
                for (to, payload) in cp.take_outgoing() {
                    let delay = self.rng.gen_range(1..40);
                    self.wire.push((now + delay, NodeId(k as u8), to, payload));
                }
            }
            self.check_safety();
        }

        /// Nodes on one epoch use one digest, and every synced router's
        /// `cur` bank holds its row of that digest's tables.
        fn check_safety(&self) {
            // Per physical component: a partition's halves agree apart.
            let comps = self.faults.components();
            let comp_of = |k: usize| comps.iter().position(|c| c.contains(&NodeId(k as u8)));
            let mut digest_of_epoch: HashMap<(Option<usize>, u32), u64> = HashMap::new();
            for (k, cp) in self.cps.iter().enumerate() {
                let Some(cp) = cp else { continue };
                if cp.phase() == Phase::Joining || self.host_dead[k] {
                    continue;
                }
                let (e, d) = cp.epoch();
                let held = *digest_of_epoch.entry((comp_of(k), e)).or_insert(d);
                if held != d {
                    // Only the two sides of a healed partition, whose graphs
                    // share no router, may number their tables alike.
                    let (a, b) = (&self.views_of[&held], &self.views_of[&d]);
                    let shared = self.g.node_ids().any(|n| a.is_live(n) && b.is_live(n));
                    assert!(
                        !shared,
                        "two digests with shared routers in use for epoch {e}"
                    );
                }
                let (cur, _) = table_banks_fields(self.routers[k].table_banks);
                let want = if e == 0 {
                    dor_tables(&self.g).encoded(NodeId(k as u8)).unwrap()
                } else {
                    self.tables_of[&d].encoded(NodeId(k as u8)).unwrap()
                };
                let want = with_neighbour_routes(&self.g, NodeId(k as u8), cp.links(), &want);
                assert_eq!(cur as u32, e % 2, "node {k}: cur VC is not its epoch's");
                assert_eq!(
                    self.routers[k].banks[cur as usize], want,
                    "node {k} epoch {e}"
                );
            }
        }

        /// Runs until every live host is Ready on one epoch whose tables
        /// are the up*/down* tables of the graph the hosts should agree on;
        /// returns the ticks it took.
        fn settle(&mut self, max_ticks: u32) -> u32 {
            for t in 0..max_ticks {
                self.tick();
                if self.settled() {
                    return t;
                }
            }
            panic!("did not settle in {max_ticks} ticks: {:?}", self.summary());
        }

        /// The graph node `k` should end up with: the live routers of its
        /// component whose hosts are alive, the links up between them.
        fn expected_graph_for(&self, k: usize) -> Faults {
            let comp = self
                .faults
                .components()
                .into_iter()
                .find(|c| c.contains(&NodeId(k as u8)))
                .unwrap_or_default();
            let inside = |n: NodeId| comp.contains(&n) && !self.host_dead[n.0 as usize];
            let mut g = Faults::new(self.g);
            for n in self.g.node_ids() {
                if !inside(n) {
                    g.set_router_dead(n).unwrap();
                }
            }
            for (n, p) in mesh_links(&self.g) {
                let m = self.g.neighbour(n, p).unwrap();
                if !(self.faults.is_link_up(n, p) && inside(n) && inside(m)) {
                    g.set_link_down(n, p).unwrap();
                }
            }
            g
        }

        fn live_hosts(&self) -> Vec<usize> {
            (0..self.cps.len())
                .filter(|k| self.cps[*k].is_some() && !self.host_dead[*k])
                .collect()
        }

        fn settled(&self) -> bool {
            self.live_hosts().into_iter().all(|k| {
                let cp = self.cps[k].as_ref().unwrap();
                let want = digest_of(&self.g, &self.expected_graph_for(k));
                cp.phase() == Phase::Ready && cp.epoch().1 == want
            })
        }

        fn summary(&self) -> Vec<(usize, Phase, u32)> {
            self.cps
                .iter()
                .enumerate()
                .filter_map(|(k, c)| c.as_ref().map(|c| (k, c.phase(), c.epoch().0)))
                .collect()
        }

        fn check_tables(&self) {
            for k in self.live_hosts() {
                let me = NodeId(k as u8);
                let want = updown_tables(&self.expected_graph_for(k));
                let links = links_of(&self.faults, &self.g, me);
                let want = with_neighbour_routes(&self.g, me, links, &want.encoded(me).unwrap());
                let (cur, _) = table_banks_fields(self.routers[k].table_banks);
                assert_eq!(self.routers[k].banks[cur as usize], want, "node {k}");
            }
        }
    }

    #[test]
    fn boot_agrees_on_one_set_of_tables() {
        for seed in 0..8 {
            let mut net = Net::new(4, 4, seed);
            net.settle(4_000);
            net.check_tables();
            for cp in net.cps.iter().flatten() {
                assert!(cp.epoch().0 >= 1);
                assert_eq!(cp.stats().joins, 1);
            }
        }
    }

    #[test]
    fn every_single_link_cut_converges_and_its_restore_too() {
        let g = MeshGeometry::new(4, 4).unwrap();
        for (i, (n, p)) in mesh_links(&g).into_iter().enumerate() {
            let mut net = Net::new(4, 4, i as u64);
            net.settle(4_000);
            let e0 = net.cps[0].as_ref().unwrap().epoch().0;
            net.cut(n, p);
            net.settle(4_000);
            net.check_tables();
            assert!(net.cps[0].as_ref().unwrap().epoch().0 > e0);
            net.restore(n, p);
            net.settle(4_000);
            net.check_tables();
        }
    }

    #[test]
    fn a_dead_router_is_routed_around_whoever_it_is() {
        for dead in [0u8, 5, 15] {
            let mut net = Net::new(4, 4, dead as u64);
            net.settle(4_000);
            net.kill_router(NodeId(dead));
            net.settle(4_000);
            net.check_tables();
            let t = net.cps[1].as_ref().unwrap().tables();
            assert_eq!(t.entry(NodeId(1), NodeId(dead)), None);
        }
    }

    #[test]
    fn a_dead_host_ages_out_and_a_restarted_one_rejoins() {
        let mut net = Net::new(4, 4, 3);
        net.settle(4_000);
        net.host_dead[6] = true;
        let ticks = net.settle(4_000);
        assert!(ticks as u64 * 10 >= ControlPlaneConfig::default().max_age_cycles / 2);
        net.check_tables();
        // Restart: a new runtime over the same router (which kept its state).
        net.host_dead[6] = false;
        let links = links_of(&net.faults, &net.g, NodeId(6));
        net.cps[6] = Some(ControlPlane::new(
            net.g,
            NodeId(6),
            ControlPlaneConfig::default(),
            net.now,
            links,
        ));
        net.settle(8_000);
        net.check_tables();
        assert!(net.cps[1].as_ref().unwrap().members().contains(&NodeId(6)));
        assert_eq!(net.cps[6].as_ref().unwrap().stats().joins, 1);
    }

    #[test]
    fn random_failures_and_repairs_keep_one_digest_per_epoch() {
        let g = MeshGeometry::new(4, 4).unwrap();
        let links = mesh_links(&g);
        for seed in 0..24 {
            let mut net = Net::new(4, 4, 100 + seed);
            net.settle(4_000);
            let mut rng = SmallRng::seed_from_u64(seed);
            for _ in 0..6 {
                // Changes land while the last one is still being agreed on.
                for _ in 0..rng.gen_range(1..4) {
                    let (n, p) = links[rng.gen_range(0..links.len())];
                    if net.faults.is_link_up(n, p) {
                        // Connected meshes here; partitions have their own test.
                        let mut after = net.faults.clone();
                        after.set_link_down(n, p).unwrap();
                        if !after.connected() {
                            continue;
                        }
                        net.cut(n, p);
                    } else {
                        net.restore(n, p);
                    }
                    for _ in 0..rng.gen_range(0..30) {
                        net.tick();
                    }
                }
                net.settle(8_000);
                net.check_tables();
            }
        }
    }

    #[test]
    fn two_routers_at_once_the_lowest_id_among_them() {
        let mut net = Net::new(4, 4, 11);
        net.settle(4_000);
        net.kill_router(NodeId(0));
        net.kill_router(NodeId(9));
        net.settle(4_000);
        net.check_tables();
        let m = net.cps[1].as_ref().unwrap().members();
        assert!(!m.contains(&NodeId(0)) && !m.contains(&NodeId(9)) && m.len() == 14);
    }

    #[test]
    fn a_partition_agrees_apart_and_heals_into_one() {
        let g = MeshGeometry::new(4, 4).unwrap();
        let mut net = Net::new(4, 4, 21);
        net.settle(4_000);
        // Cut the mesh between columns 1 and 2.
        let cut: Vec<_> = (0..4).map(|y| (g.node_id(1, y), PortDir::E)).collect();
        for &(n, p) in &cut {
            net.cut(n, p);
        }
        net.settle(8_000);
        net.check_tables();
        let left = net.cps[0].as_ref().unwrap().members();
        assert_eq!(left.len(), 8, "{left:?}");
        for &(n, p) in &cut {
            net.restore(n, p);
        }
        net.settle(8_000);
        net.check_tables();
        assert_eq!(net.cps[0].as_ref().unwrap().members().len(), 16);
    }

    #[test]
    fn a_flapping_link_ends_on_its_last_state() {
        let mut net = Net::new(4, 4, 31);
        net.settle(4_000);
        let (n, p) = (NodeId(5), PortDir::E);
        for i in 0..9 {
            if i % 2 == 0 {
                net.cut(n, p);
            } else {
                net.restore(n, p);
            }
            for _ in 0..(5 + 7 * i) {
                net.tick();
            }
        }
        net.settle(8_000);
        net.check_tables();
        assert!(!net.cps[5].as_ref().unwrap().view().is_link_up(n, p));
    }

    #[test]
    fn a_quarantined_node_leaves_the_graph_and_cannot_write_its_router() {
        let mut net = Net::new(4, 4, 41);
        net.settle(4_000);
        net.routers[7].refused = true; // the card refuses its router writes
        for k in 0..16 {
            if let Some(cp) = net.cps[k].as_mut() {
                cp.set_quarantined(7, true);
            }
        }
        // Its own control plane fails to write and stops: as a dead host.
        net.host_dead[7] = true;
        net.settle(8_000);
        net.check_tables();
        assert!(!net.cps[0].as_ref().unwrap().members().contains(&NodeId(7)));
    }

    #[test]
    fn random_partitions_kills_and_restarts_heal_into_one() {
        let g = MeshGeometry::new(4, 4).unwrap();
        let links = mesh_links(&g);
        for seed in 0..12 {
            let mut net = Net::new(4, 4, 200 + seed);
            net.settle(4_000);
            let mut rng = SmallRng::seed_from_u64(1000 + seed);
            let mut killed = vec![];
            for _ in 0..rng.gen_range(2..6) {
                match rng.gen_range(0..3) {
                    0 | 1 => {
                        let (n, p) = links[rng.gen_range(0..links.len())];
                        if net.faults.is_link_up(n, p) {
                            net.cut(n, p);
                        }
                    }
                    _ => {
                        let n = NodeId(rng.gen_range(0..16));
                        if net.faults.is_live(n) {
                            net.kill_router(n);
                            killed.push(n);
                        }
                    }
                }
                for _ in 0..rng.gen_range(0..200) {
                    net.tick();
                }
            }
            net.settle(12_000);
            net.check_tables();
            // Everything back: one mesh again.
            for (n, p) in links.iter().copied() {
                if !net.faults.is_link_up(n, p) {
                    net.restore(n, p);
                }
            }
            for n in killed {
                net.restore_router(n);
            }
            net.settle(12_000);
            net.check_tables();
            assert_eq!(
                net.cps[0].as_ref().unwrap().members().len(),
                16,
                "seed {seed}"
            );
        }
    }

    #[test]
    fn bad_adverts_are_counted_and_change_nothing() {
        let g = MeshGeometry::new(4, 4).unwrap();
        let mut cp = ControlPlane::new(g, NodeId(5), ControlPlaneConfig::default(), 0, 0xf);
        let good = Advert {
            origin: NodeId(6),
            incarnation: 1,
            seq: 5,
            links: 0xf,
            cur_epoch: 0,
            cur_digest: 0,
            phase: Phase::Ready,
        };
        let mut corrupt = good.encode();
        corrupt[1] ^= 1 << 40;
        cp.on_advert(1, NodeId(6), &corrupt);
        let edge = Advert {
            origin: NodeId(0),
            links: 1 << PortDir::N as u8, // node 0 has no north link
            ..good
        };
        let mut e = edge.encode();
        cp.on_advert(1, NodeId(1), &e);
        e.truncate(3);
        cp.on_advert(1, NodeId(1), &e);
        cp.on_advert(1, NodeId(6), &good.encode());
        cp.on_advert(1, NodeId(6), &good.encode());
        let older = Advert { seq: 4, ..good };
        cp.on_advert(1, NodeId(6), &older.encode());
        cp.set_quarantined(9, true);
        let q = Advert {
            origin: NodeId(9),
            ..good
        };
        cp.on_advert(1, NodeId(9), &q.encode());
        let s = cp.stats();
        assert_eq!(
            (
                s.adverts_corrupt,
                s.adverts_bad_link,
                s.adverts_accepted,
                s.adverts_stale,
                s.adverts_quarantined
            ),
            (2, 1, 1, 2, 1)
        );
        assert_eq!(cp.db.len(), 2, "only node 5 itself and node 6");
    }

    proptest::proptest! {
        #[test]
        fn adverts_round_trip(origin in 0u8..16, inc: u32, seq: u32, links in 0u8..16,
                              epoch: u32, digest: u64, code in 0u8..4, pe: u32, pa: u32, pd: u64) {
            let g = MeshGeometry::new(4, 4).unwrap();
            let phase = match code {
                0 => Phase::Joining,
                1 => Phase::Draining,
                2 => Phase::Ready,
                _ => Phase::Proposed { epoch: pe, attempt: pa, digest: pd },
            };
            let a = Advert { origin: NodeId(origin), incarnation: inc, seq, links, cur_epoch: epoch, cur_digest: digest, phase };
            let (x, y) = g.coords(a.origin).unwrap();
            let real = [PortDir::N, PortDir::E, PortDir::S, PortDir::W]
                .into_iter()
                .all(|p| links & 1 << p as u8 == 0 || g.port_exists(x, y, p));
            let back = Advert::decode(&g, &a.encode());
            if real {
                proptest::prop_assert_eq!(back, Ok(a));
            } else {
                proptest::prop_assert_eq!(back, Err(AdvertError::NoSuchLink));
            }
        }

        #[test]
        fn any_flipped_bit_is_caught(bit in 0usize..(64 * 6)) {
            let g = MeshGeometry::new(4, 4).unwrap();
            let a = Advert { origin: NodeId(3), incarnation: 7, seq: 9, links: 0b1100, cur_epoch: 2, cur_digest: 77, phase: Phase::Ready };
            let mut w = a.encode();
            w[bit / 64] ^= 1 << (bit % 64);
            proptest::prop_assert!(Advert::decode(&g, &w).is_err());
        }
    }
}
