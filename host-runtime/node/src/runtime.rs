//! One node's runtime: hosts services, calls services by id, retries.
//!
//! The card does the per-packet work: it answers discovery requests from the
//! presence table, addresses `service_request` packets by the reroute rule,
//! refuses requests for services this node does not offer, and fails rules
//! over to their fallback on a refusal. The runtime keeps the presence table
//! true (register, unregister, accepting, load, the liveness heartbeat),
//! serves requests for its services, and makes every call complete exactly
//! once: each call has a sequence number; a refusal or a timeout resends it
//! (through the rule, which by then names another replica), a replica
//! answers a repeated request from its reply cache, and the caller keeps the
//! first reply only.

use crate::control_plane::{is_advert, ControlPlane, ControlPlaneConfig, OwnRouter};
use crate::fault_manager::{Fault, FaultManager, FaultManagerConfig, Isolation, Observation};
use crate::policy::SearchPolicy;
use crate::reliable::{
    Message, Segment, SendError, Transport, TransportConfig, TransportStats, Unconfirmed,
    TRANSPORT_SERVICE,
};
use crate::service::Service;
use replimesh_driver::{Device, DriverError, Endpoint, Presence, Received, Rule, ServiceId};
use replimesh_regs::regmap as r;
use replimesh_regs::PacketHeader;
use replimesh_spec::fanout::multicast_tree;
use replimesh_spec::regmap as spec;
use replimesh_spec::service::{ControlOp, NackReason, SearchState, CTRL_ARG, CTRL_OPCODE};
use replimesh_spec::{MeshGeometry, NodeId, PacketKind, GROUP_TABLE_BASE};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// Runtime settings.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Resend a call that got no reply within this many cycles.
    pub retry_cycles: u64,
    /// Give up after this many sends.
    pub max_attempts: u32,
    /// Host liveness lease written to the card (0: off).
    pub lease_cycles: u32,
    /// The expanding-search policy.
    pub policy: SearchPolicy,
    /// The reliable message transport (`send_message`).
    pub transport: TransportConfig,
    /// Run the master-less control plane (`control_plane.rs`): flood link
    /// state and write this node's router's tables. `None`: the tables are
    /// left to whoever loads them (the reset tables, or a test harness).
    pub control_plane: Option<ControlPlaneConfig>,
    /// Run this node's fault manager (`fault_manager.rs`): locate faults
    /// from what this node sees, force a flapping own link down,
    /// quarantine a neighbour sending malformed adverts. `None`: off.
    pub fault_manager: Option<FaultManagerConfig>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            retry_cycles: 2_500,
            max_attempts: 8,
            lease_cycles: 1_500,
            policy: SearchPolicy::default(),
            transport: TransportConfig::default(),
            control_plane: None,
            fault_manager: None,
        }
    }
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The expanding search ended at its last step without an answer.
    #[error("service {0}: no replica answered the search up to its last scope")]
    NotFound(u8),
    /// Every send timed out or was refused.
    #[error("service {service}: no reply after {attempts} attempts")]
    NoReply {
        /// Service.
        service: u8,
        /// Sends made.
        attempts: u32,
    },
}

/// A finished call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// Call id (its sequence number).
    pub seq: u16,
    /// Service called.
    pub service: u8,
    /// The reply's payload, or why there is none.
    pub result: Result<Vec<u64>, CallError>,
    /// Replica that answered.
    pub replica: Option<u8>,
    /// Sends it took.
    pub attempts: u32,
    /// Cycle it was made and finished.
    pub started: u64,
    /// Cycle it finished.
    pub finished: u64,
}

/// How a search went, for the tables and the demo.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SearchReport {
    /// Service.
    pub service: u8,
    /// Found, and where.
    pub replica: Option<u8>,
    /// Second best.
    pub fallback: Option<u8>,
    /// Policy step that found it.
    pub step: u8,
    /// That step's scope, by name.
    pub scope: String,
    /// Cycles the card reports from start to result.
    pub cycles: u32,
    /// Answers accepted.
    pub answers: u8,
    /// Started because a rule failed over (background).
    pub background: bool,
}

/// Counters of the runtime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct NodeStats {
    /// Requests this node's services answered (cache hits included).
    pub served: u64,
    /// Requests answered from the reply cache (a client's retry).
    pub served_again: u64,
    /// Calls completed with a reply.
    pub completed: u64,
    /// Calls failed.
    pub failed: u64,
    /// Resends after a refusal.
    pub resent_on_nack: u64,
    /// Resends after a timeout.
    pub resent_on_timeout: u64,
    /// Background searches started because a call's sends went unanswered.
    pub searches_on_timeout: u64,
    /// `host_down` notices sent (this node saw a refusal from a dead host).
    pub host_down_sent: u64,
    /// Quarantine and release notices newer than this node knew: acted on
    /// and sent on to every node.
    pub quarantine_notices_flooded: u64,
    /// Quarantine and release notices older than this node knew (a copy
    /// that lost a race): ignored, and this node's card set back.
    pub quarantine_notices_stale: u64,
    /// Rules moved off a node whose host went down (to their fallback, or
    /// invalidated with a search started).
    pub rules_redirected: u64,
    /// Background searches asked again because they found nothing while
    /// calls waited.
    pub search_retries: u64,
    /// Replies for calls already complete (dropped).
    pub duplicate_replies: u64,
    /// Packets the runtime could not use (unknown service, stray kinds).
    pub ignored: u64,
    /// Longest poll, in device cycles (on the shared Verilator card every
    /// node's accesses clock the same model, so this bounds how late a
    /// heartbeat can come).
    pub max_poll_cycles: u64,
}

#[derive(Debug)]
struct Call {
    service: ServiceId,
    payload: Vec<u64>,
    attempts: u32,
    started: u64,
    sent_at: u64,
    sent: bool,
}

const REPLY_CACHE: usize = 1024;

/// Times a background search that found nothing is repeated while calls
/// wait for it, before they fail with `NotFound`.
const SEARCH_RETRIES: u32 = 3;

/// Writes this node's part of every area member's multicast tree into its
/// own router's group table: group `m` carries an area search from member
/// `m` to the rest of its area. Every node does the same from the same
/// policy, so the trees exist without any node configuring another's router.
pub fn install_areas<D: Device>(
    ep: &mut Endpoint<D>,
    policy: &SearchPolicy,
) -> Result<(), DriverError> {
    let info = ep.info();
    let Some(geom) = MeshGeometry::new(info.width, info.height) else {
        return Ok(());
    };
    let base = ep.blocks().find_spec(&spec::ROUTER_BLOCK)?.base;
    for area in &policy.areas {
        for &src in area {
            if geom.coords(NodeId(src)).is_none() {
                return Err(DriverError::BadNode {
                    node: src,
                    nodes: geom.nodes(),
                });
            }
            let members: Vec<NodeId> = area
                .iter()
                .filter(|n| **n != src)
                .map(|n| NodeId(*n))
                .collect();
            let tree = multicast_tree(&geom, NodeId(src), &members);
            let mask = tree.get(&info.node).copied().unwrap_or(0);
            let at = base.add(spec::ROUTER_CFG_OFFSET + 4 * (GROUP_TABLE_BASE + src as u32));
            ep.write_raw(at, mask as u32)?;
        }
    }
    Ok(())
}

/// One node's runtime over a device.
pub struct NodeRuntime<D: Device> {
    ep: Endpoint<D>,
    cfg: RuntimeConfig,
    services: BTreeMap<ServiceId, Box<dyn Service>>,
    calls: BTreeMap<u16, Call>,
    done: HashSet<u16>,
    done_order: VecDeque<u16>,
    next_seq: u16,
    cache: HashMap<(u8, u16, u8), Vec<u64>>,
    cache_order: VecDeque<(u8, u16, u8)>,
    completions: Vec<Completion>,
    searching: Option<(ServiceId, bool)>,
    search_queue: VecDeque<(ServiceId, bool)>,
    known: BTreeMap<ServiceId, bool>,
    searches: Vec<SearchReport>,
    stats: NodeStats,
    transport: Transport,
    /// Nodes whose host this runtime announced as down (once each, until
    /// one answers again).
    announced_down: HashSet<u8>,
    /// Background searches repeated, per service, since its last success.
    search_retries: HashMap<ServiceId, u32>,
    /// Per node, the newest quarantine notice heard: its version and
    /// whether it quarantined.
    quarantine_notices: BTreeMap<u8, (u16, bool)>,
    control: Option<ControlPlane>,
    faults: Option<FaultManager>,
    /// Adverts waiting for a TX descriptor.
    adverts_out: VecDeque<(NodeId, Vec<u64>)>,
}

/// With the control plane on, messages fill at most this many TX
/// descriptors. The ring is one queue: behind a deep backlog of messages
/// (each waiting, after a failure, up to `reroute_wait_cycles` at the
/// router for a route) the adverts that bring the new routes would wait
/// too, and the mesh would starve its own repair.
const DATA_TX_DEPTH: u32 = 4;

/// The `link` interrupt cause (`irq.status` bit 3).
const IRQ_LINK: u32 = 1 << 3;

/// This node's router through its own window, for the control plane.
struct RouterWindow<'a, D: Device>(&'a mut Endpoint<D>);

impl<D: Device> OwnRouter for RouterWindow<'_, D> {
    type Error = DriverError;
    fn write_entry(&mut self, bank: u8, dest: NodeId, value: u32) -> Result<(), DriverError> {
        let base = if bank == 0 {
            replimesh_spec::ROUTE_TABLE_BASE
        } else {
            replimesh_spec::ROUTE_TABLE_BANK1_BASE
        };
        self.0.router_write(base + dest.0 as u32, value)
    }
    fn table_banks(&mut self) -> Result<u32, DriverError> {
        self.0.router_read(replimesh_spec::router_addr::TABLE_BANKS)
    }
    fn set_table_banks(&mut self, value: u32) -> Result<(), DriverError> {
        self.0
            .router_write(replimesh_spec::router_addr::TABLE_BANKS, value)
    }
    fn vc_seen(&mut self) -> Result<u32, DriverError> {
        self.0.router_read(replimesh_spec::router_addr::VC_SEEN)
    }
    fn clear_vc_seen(&mut self, bits: u32) -> Result<(), DriverError> {
        self.0
            .router_write(replimesh_spec::router_addr::VC_SEEN, bits)
    }
}

impl<D: Device> NodeRuntime<D> {
    /// Takes over an opened endpoint: writes the search policy and the lease.
    pub fn new(mut ep: Endpoint<D>, cfg: RuntimeConfig) -> Result<Self, DriverError> {
        install_areas(&mut ep, &cfg.policy)?;
        ep.set_search_policy(&cfg.policy.steps, cfg.policy.window_cycles)?;
        ep.heartbeat()?;
        ep.set_lease(cfg.lease_cycles)?;
        // A segment is the header flit, the epoch word and the message.
        let mut tcfg = cfg.transport;
        let fits = (ep.info().max_packet_bytes as usize / 8).saturating_sub(2);
        tcfg.max_message_words = tcfg.max_message_words.min(fits);
        // Epochs from the start time: a restarted runtime's streams are
        // newer than the ones its peers remember (256 cycles a step).
        let first_epoch = ep.device().now() >> 8;
        let transport = Transport::new(ep.info().node.0, tcfg).with_first_epoch(first_epoch);
        let control = match (
            cfg.control_plane,
            MeshGeometry::new(ep.info().width, ep.info().height),
        ) {
            (Some(ccfg), Some(geom)) => {
                // Link changes arrive as the `link` interrupt; read the
                // state once now, then only when the cause is set.
                // A host that polls its rings still takes this one cause
                // as an interrupt: the line then rises only for it.
                let en = if ep.read(r::IRQ_POLL_MODE)? & 1 != 0 {
                    ep.write(r::IRQ_POLL_MODE, 0)?;
                    0
                } else {
                    ep.read(r::IRQ_ENABLE)?
                };
                ep.write(r::IRQ_ENABLE, en | IRQ_LINK)?;
                ep.router_write(
                    replimesh_spec::router_addr::REROUTE_WAIT,
                    ccfg.reroute_wait_cycles,
                )?;
                let links = ep.read(r::IRQ_LINK_UP)? as u8;
                let now = ep.device().now();
                Some(ControlPlane::new(geom, ep.info().node, ccfg, now, links))
            }
            _ => None,
        };
        let faults = match (
            cfg.fault_manager,
            MeshGeometry::new(ep.info().width, ep.info().height),
        ) {
            (Some(fcfg), Some(geom)) => Some(FaultManager::new(geom, ep.info().node, fcfg)),
            _ => None,
        };
        Ok(Self {
            ep,
            cfg,
            services: BTreeMap::new(),
            calls: BTreeMap::new(),
            done: HashSet::new(),
            done_order: VecDeque::new(),
            next_seq: 1,
            cache: HashMap::new(),
            cache_order: VecDeque::new(),
            completions: vec![],
            searching: None,
            search_queue: VecDeque::new(),
            known: BTreeMap::new(),
            searches: vec![],
            stats: NodeStats::default(),
            transport,
            announced_down: HashSet::new(),
            quarantine_notices: BTreeMap::new(),
            search_retries: HashMap::new(),
            control,
            faults,
            adverts_out: VecDeque::new(),
        })
    }

    /// The control plane, when it runs here.
    pub fn control_plane(&self) -> Option<&ControlPlane> {
        self.control.as_ref()
    }

    /// This node's fault manager's view (empty when it does not run).
    pub fn fault_view(&self) -> Vec<Fault> {
        self.faults.as_ref().map_or(vec![], |f| f.view())
    }

    /// This node.
    pub fn node(&self) -> NodeId {
        self.ep.info().node
    }

    /// The endpoint (for tools reading tables).
    pub fn endpoint(&mut self) -> &mut Endpoint<D> {
        &mut self.ep
    }

    /// Counters.
    pub fn stats(&self) -> NodeStats {
        self.stats
    }

    /// Searches run so far.
    pub fn searches(&self) -> &[SearchReport] {
        &self.searches
    }

    /// Hosts `svc`: present and accepting in the card's presence table.
    pub fn register(&mut self, svc: Box<dyn Service>) -> Result<(), DriverError> {
        let id = svc.id();
        let load = svc.load();
        self.services.insert(id, svc);
        self.ep.set_presence(
            id,
            Presence {
                present: true,
                accepting: true,
                load,
            },
        )
    }

    /// Stops hosting `id`: the card refuses its requests from now on.
    pub fn unregister(&mut self, id: ServiceId) -> Result<(), DriverError> {
        self.services.remove(&id);
        self.ep.set_presence(id, Presence::default())
    }

    /// Keeps `id` present but takes no new requests (or takes them again).
    pub fn set_accepting(&mut self, id: ServiceId, accepting: bool) -> Result<(), DriverError> {
        let mut p = self.ep.presence(id)?;
        p.accepting = accepting;
        self.ep.set_presence(id, p)
    }

    /// Calls `svc` with `payload`; the result arrives in
    /// [`Self::take_completions`]. Without a rule yet, an expanding search
    /// runs first and the call waits for it.
    pub fn call(&mut self, svc: ServiceId, payload: Vec<u64>) -> u16 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        let now = self.ep.device().now();
        self.calls.insert(
            seq,
            Call {
                service: svc,
                payload,
                attempts: 0,
                started: now,
                sent_at: now,
                sent: false,
            },
        );
        if let std::collections::btree_map::Entry::Vacant(e) = self.known.entry(svc) {
            e.insert(false);
            self.search_queue.push_back((svc, false));
        }
        seq
    }

    /// Calls finished since the last take.
    pub fn take_completions(&mut self) -> Vec<Completion> {
        std::mem::take(&mut self.completions)
    }

    /// Calls not finished yet.
    pub fn in_flight(&self) -> usize {
        self.calls.len()
    }

    /// Sends `payload` to `dest` reliably: exactly once and in order among
    /// this node's messages to `dest`, or reported by
    /// [`Self::take_unconfirmed`]. A full window refuses it (backpressure).
    pub fn send_message(&mut self, dest: NodeId, payload: Vec<u64>) -> Result<u16, SendError> {
        self.transport.send(dest.0, payload)
    }

    /// Messages delivered to this node, in order per sender, since the last take.
    pub fn take_messages(&mut self) -> Vec<Message> {
        self.transport.take_delivered()
    }

    /// Messages this node gave up on since the last take (delivered at most once).
    pub fn take_unconfirmed(&mut self) -> Vec<Unconfirmed> {
        self.transport.take_unconfirmed()
    }

    /// The transport's counters.
    pub fn transport_stats(&self) -> TransportStats {
        self.transport.stats()
    }

    /// Whether every message this node sent is acknowledged and no ack is due.
    pub fn transport_idle(&self) -> bool {
        self.transport.is_idle()
    }

    /// Puts the transport's segments on the TX ring; what does not fit waits
    /// for the next poll (never blocks).
    fn transmit(&mut self) -> Result<(), DriverError> {
        let now = self.ep.device().now();
        let segs = self.transport.poll_transmit(now);
        let mut full = false;
        for seg in &segs {
            if full {
                self.transport.unsent(seg);
                continue;
            }
            let (h, payload): (PacketHeader, &[u64]) = match seg {
                Segment::Data { dest, seq, payload } => (
                    PacketHeader {
                        service: TRANSPORT_SERVICE,
                        ..PacketHeader::unicast(NodeId(*dest), *seq, payload.len() as u8)
                    },
                    payload,
                ),
                Segment::Ack {
                    dest,
                    next,
                    payload,
                } => (
                    PacketHeader {
                        kind: PacketKind::Ack,
                        service: TRANSPORT_SERVICE,
                        ..PacketHeader::unicast(NodeId(*dest), *next, payload.len() as u8)
                    },
                    payload,
                ),
            };
            if self.control.is_some() && self.ep.tx_in_flight() >= DATA_TX_DEPTH {
                full = true;
                self.transport.unsent(seg);
                continue;
            }
            let mut r = self.ep.send(&h, payload);
            if matches!(r, Err(DriverError::RingFull { .. })) {
                self.ep.reclaim_tx()?;
                r = self.ep.send(&h, payload);
            }
            match r {
                Ok(()) => {}
                Err(DriverError::RingFull { .. }) => {
                    full = true;
                    self.transport.unsent(seg);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sends a quarantine (or release) notice for `node` to every node of the
    /// mesh, this one included; their cards act on it.
    ///
    /// A notice carries a version (in the header's `seq`, which the cards do
    /// not read for these): one past the newest this node heard for `node`.
    /// Every node that hears a newer notice than it knew sends it on to
    /// every node, so one lost copy leaves no card behind; a copy older than
    /// what a node knew (it lost a race with a later notice) is ignored, and
    /// that node sets its own card back with the newer one.
    pub fn propagate_quarantine(&mut self, node: u8, release: bool) -> Result<(), DriverError> {
        let version = self
            .quarantine_notices
            .get(&node)
            .map_or(1, |v| v.0.wrapping_add(1));
        self.quarantine_notices.insert(node, (version, !release));
        if let Some(cp) = self.control.as_mut() {
            cp.set_quarantined(node, !release);
        }
        if !release {
            self.abandon_streams_of(node);
        }
        self.notify_all(quarantine_word(node, release), version)
    }

    /// A quarantine or release notice at `version`: act on it and send it
    /// on if newer than known.
    fn on_quarantine_notice(
        &mut self,
        version: u16,
        node: u8,
        quarantine: bool,
    ) -> Result<(), DriverError> {
        let newer = match self.quarantine_notices.get(&node) {
            None => true,
            // Serial order; at one version a quarantine wins over a release
            // (two accusers that raced): the safe side.
            Some(&(v, q)) => {
                let ahead = version.wrapping_sub(v);
                (1..0x8000).contains(&ahead) || (ahead == 0 && quarantine && !q)
            }
        };
        if newer {
            self.quarantine_notices.insert(node, (version, quarantine));
            if let Some(cp) = self.control.as_mut() {
                cp.set_quarantined(node, quarantine);
            }
            if quarantine {
                self.abandon_streams_of(node);
            }
            self.stats.quarantine_notices_flooded += 1;
            return self.notify_all(quarantine_word(node, !quarantine), version);
        }
        let (v, q) = self.quarantine_notices[&node];
        if (v, q) != (version, quarantine) {
            // The card acted on this stale copy: set it back.
            self.stats.quarantine_notices_stale += 1;
            let me = self.ep.info().node;
            self.notify(me, quarantine_word(node, !q), v)?;
        }
        Ok(())
    }

    /// `node` was quarantined: cards drop what it sends, so no stream to it
    /// or from it can be acknowledged. Its streams end now (their messages
    /// reported unconfirmed) instead of after every retransmission; all of
    /// them when `node` is this one.
    fn abandon_streams_of(&mut self, node: u8) {
        if node == self.ep.info().node.0 {
            self.transport.abandon_all();
        } else {
            self.transport.abandon(node);
        }
    }

    /// Sends control message `word` to every node of the mesh, this one
    /// included, with `seq` in the header.
    fn notify_all(&mut self, word: u32, seq: u16) -> Result<(), DriverError> {
        let info = self.ep.info();
        for dest in 0..(info.width * info.height) as u8 {
            self.notify(NodeId(dest), word, seq)?;
        }
        Ok(())
    }

    fn notify(&mut self, dest: NodeId, word: u32, seq: u16) -> Result<(), DriverError> {
        let h = PacketHeader {
            kind: PacketKind::Control,
            ..PacketHeader::unicast(dest, seq, 1)
        };
        self.send_retrying(&h, &[word as u64])
    }

    fn send_retrying(&mut self, h: &PacketHeader, payload: &[u64]) -> Result<(), DriverError> {
        for _ in 0..10_000 {
            match self.ep.send(h, payload) {
                Err(DriverError::RingFull { .. }) => {
                    self.ep.reclaim_tx()?;
                    self.ep.device().advance_time(4)?;
                }
                r => return r,
            }
        }
        Err(DriverError::Timeout {
            what: "a free tx descriptor",
            cycles: 40_000,
        })
    }

    fn send_call(&mut self, seq: u16) -> Result<(), DriverError> {
        let now = self.ep.device().now();
        let Some(c) = self.calls.get_mut(&seq) else {
            return Ok(());
        };
        c.attempts += 1;
        c.sent_at = now;
        c.sent = true;
        let h = PacketHeader {
            kind: PacketKind::ServiceRequest,
            service: c.service.get(),
            ..PacketHeader::unicast(NodeId(0), seq, c.payload.len() as u8)
        };
        let payload = c.payload.clone();
        self.send_retrying(&h, &payload)
    }

    fn finish(&mut self, seq: u16, result: Result<Vec<u64>, CallError>, replica: Option<u8>) {
        let Some(c) = self.calls.remove(&seq) else {
            return;
        };
        match result {
            Ok(_) => self.stats.completed += 1,
            Err(_) => self.stats.failed += 1,
        }
        self.done.insert(seq);
        self.done_order.push_back(seq);
        if self.done_order.len() > 4096 {
            if let Some(old) = self.done_order.pop_front() {
                self.done.remove(&old);
            }
        }
        self.completions.push(Completion {
            seq,
            service: c.service.get(),
            result,
            replica,
            attempts: c.attempts,
            started: c.started,
            finished: self.ep.device().now(),
        });
    }

    fn serve(&mut self, p: &Received) -> Result<(), DriverError> {
        let h = p.header;
        let Ok(id) = ServiceId::new(h.service as u32) else {
            self.stats.ignored += 1;
            return Ok(());
        };
        let key = (h.src, h.seq, h.service);
        let reply = if let Some(r) = self.cache.get(&key) {
            self.stats.served_again += 1;
            r.clone()
        } else {
            let Some(svc) = self.services.get_mut(&id) else {
                self.stats.ignored += 1;
                return Ok(());
            };
            let r = svc.handle(NodeId(h.src), &p.payload);
            let load = svc.load();
            self.cache.insert(key, r.clone());
            self.cache_order.push_back(key);
            if self.cache_order.len() > REPLY_CACHE {
                if let Some(old) = self.cache_order.pop_front() {
                    self.cache.remove(&old);
                }
            }
            let mut pres = self.ep.presence(id)?;
            if pres.load != load {
                pres.load = load;
                self.ep.set_presence(id, pres)?;
            }
            r
        };
        self.stats.served += 1;
        let rh = PacketHeader {
            kind: PacketKind::Ack,
            service: h.service,
            ..PacketHeader::unicast(NodeId(h.src), h.seq, reply.len() as u8)
        };
        self.send_retrying(&rh, &reply)
    }

    fn on_control(&mut self, p: &Received) -> Result<(), DriverError> {
        let word = p.payload.first().copied().unwrap_or(0) as u32;
        let arg = CTRL_ARG.get(word) as u8;
        match ControlOp::from_code(CTRL_OPCODE.get(word)) {
            Some(ControlOp::Nack) => {}
            Some(ControlOp::HostDown) => return self.redirect_rules_off(arg),
            Some(op @ (ControlOp::Quarantine | ControlOp::Release)) => {
                // The card already acted; the control plane leaves a
                // quarantined node out of the graph.
                let version = p.header.seq;
                return self.on_quarantine_notice(version, arg, op == ControlOp::Quarantine);
            }
            _ => return Ok(()),
        }
        let h = p.header;
        if NackReason::from_code(arg as u32) == Some(NackReason::HostDown)
            && self.announced_down.insert(h.src)
        {
            // The replica's card refused because its host is dead: every
            // node hears it now, not only on its own next refusal.
            self.stats.host_down_sent += 1;
            self.notify_all(control_word(ControlOp::HostDown, h.src), 0)?;
        }
        if let Some(c) = self.calls.get(&h.seq) {
            if c.service.get() == h.service {
                // The card switched the rule (or invalidated it); resend now
                // and look for a fresh set of replicas in the background.
                self.stats.resent_on_nack += 1;
                let svc = c.service;
                let rule = self.ep.rule(svc)?;
                self.queue_search(svc);
                if rule.valid {
                    self.send_call(h.seq)?;
                } else if let Some(c) = self.calls.get_mut(&h.seq) {
                    c.sent = false; // wait for the search
                    self.known.insert(svc, false);
                }
            }
        }
        Ok(())
    }

    /// `node`'s host is down: every valid rule whose current replica is
    /// `node` moves to its fallback, or, with none left, is invalidated and
    /// a search starts (calls waiting on it are sent once it ends).
    fn redirect_rules_off(&mut self, node: u8) -> Result<(), DriverError> {
        for svc in ServiceId::all() {
            let rule = self.ep.rule(svc)?;
            if rule.current() != Some(node) {
                continue;
            }
            self.stats.rules_redirected += 1;
            match rule.fallback {
                Some(f) if !rule.use_fallback && f != node => {
                    self.ep.set_rule(
                        svc,
                        Rule {
                            use_fallback: true,
                            ..rule
                        },
                    )?;
                    self.queue_search(svc);
                }
                _ => {
                    self.ep.set_rule(svc, Rule::default())?;
                    self.known.insert(svc, false);
                    self.queue_search(svc);
                    for c in self.calls.values_mut().filter(|c| c.service == svc) {
                        c.sent = false;
                    }
                }
            }
        }
        Ok(())
    }

    /// Looks for a fresh set of replicas in the background, unless a search
    /// for `svc` is already queued or running.
    fn queue_search(&mut self, svc: ServiceId) {
        if !self.search_queue.iter().any(|(s, _)| *s == svc)
            && self.searching.map(|(s, _)| s) != Some(svc)
        {
            self.search_queue.push_back((svc, true));
        }
    }

    fn drive_search(&mut self) -> Result<(), DriverError> {
        if let Some((svc, background)) = self.searching {
            let st = self.ep.search_status()?;
            match st.state {
                SearchState::Running | SearchState::Idle => return Ok(()),
                SearchState::Found | SearchState::NotFound => {
                    self.searching = None;
                    let found = st.best.map(|(n, _)| n);
                    let scope = self
                        .cfg
                        .policy
                        .steps
                        .get(st.step as usize)
                        .map(crate::policy::step_name)
                        .unwrap_or_default();
                    self.searches.push(SearchReport {
                        service: svc.get(),
                        replica: found,
                        fallback: st.second.map(|(n, _)| n),
                        step: st.step,
                        scope,
                        cycles: st.cycles,
                        answers: st.answers,
                        background,
                    });
                    if found.is_some() {
                        self.known.insert(svc, true);
                        self.search_retries.remove(&svc);
                    } else if background
                        && !self.ep.rule(svc)?.valid
                        && self.calls.values().any(|c| c.service == svc && !c.sent)
                        && self.search_retries.get(&svc).copied().unwrap_or(0) < SEARCH_RETRIES
                    {
                        // Calls wait on a rule that lost its replica. Many
                        // nodes search at once after a failure, and an
                        // answer that finds the replica's one-packet slot
                        // busy is dropped: ask again before failing them.
                        *self.search_retries.entry(svc).or_insert(0) += 1;
                        self.stats.search_retries += 1;
                        self.known.insert(svc, false);
                        self.search_queue.push_back((svc, true));
                    } else if !background || !self.ep.rule(svc)?.valid {
                        self.search_retries.remove(&svc);
                        self.known.remove(&svc);
                        let waiting: Vec<u16> = self
                            .calls
                            .iter()
                            .filter(|(_, c)| c.service == svc && !c.sent)
                            .map(|(s, _)| *s)
                            .collect();
                        for seq in waiting {
                            self.finish(seq, Err(CallError::NotFound(svc.get())), None);
                        }
                    }
                }
            }
        }
        if self.searching.is_none() {
            if let Some((svc, background)) = self.search_queue.pop_front() {
                self.ep.start_search(svc, self.cfg.policy.max_load, true)?;
                self.searching = Some((svc, background));
            }
        }
        Ok(())
    }

    /// One round of work: heartbeat, receive, serve, resend, search.
    pub fn poll(&mut self) -> Result<(), DriverError> {
        let start = self.ep.device().now();
        let r = self.poll_inner();
        let took = self.ep.device().now().saturating_sub(start);
        self.stats.max_poll_cycles = self.stats.max_poll_cycles.max(took);
        r
    }

    /// The control plane's round: link changes (only when the card raised
    /// the `link` cause), timers and table steps, adverts out.
    /// A look by the fault manager, when one is due; carries out what it
    /// isolates.
    fn drive_faults(&mut self) -> Result<(), DriverError> {
        use replimesh_spec::router_addr as ra;
        let now = self.ep.device().now();
        if !self.faults.as_ref().is_some_and(|f| f.due(now)) {
            return Ok(());
        }
        let mut obs = Observation {
            now,
            links_up: self.ep.router_read(ra::LINK_STATE)? as u8 & 0xf,
            forced_down: self.ep.router_read(ra::LINK_DOWN)? as u8 & 0xf,
            quarantined: self.ep.quarantined()?.into_iter().collect(),
            ..Default::default()
        };
        for k in 0..4u32 {
            obs.down_events[k as usize] = self.ep.router_read(ra::LINK_DOWN_EVENTS + k)?;
            obs.check_errors[k as usize] = self.ep.router_read(ra::LINK_CHECK_ERRORS + k)?;
        }
        if let Some(cp) = self.control.as_ref() {
            let members = cp.members().into_iter().map(|n| n.0).collect();
            obs.graph = Some((cp.view(), members));
            obs.adverts = cp.database().map(|(a, _)| (a.origin.0, a.links)).collect();
            obs.bad_adverts_from = cp
                .bad_adverts_from()
                .iter()
                .map(|(n, c)| (n.0, *c))
                .collect();
        }
        let acts = self.faults.as_mut().expect("checked").observe(obs);
        for act in acts {
            match act {
                Isolation::ForceLinkDown { port } => {
                    let forced = self.ep.router_read(ra::LINK_DOWN)?;
                    // Refused (and counted) when this node is quarantined.
                    let _ = self
                        .ep
                        .router_write(ra::LINK_DOWN, forced | 1 << port as u32);
                }
                Isolation::Quarantine { node } => self.propagate_quarantine(node, false)?,
            }
        }
        Ok(())
    }

    fn drive_control(&mut self) -> Result<(), DriverError> {
        let Some(cp) = self.control.as_mut() else {
            return Ok(());
        };
        let mut raised = false;
        while self.ep.device().take_event().is_some() {
            raised = true;
        }
        if raised && self.ep.ack_interrupts()? & IRQ_LINK != 0 {
            let links = self.ep.read(r::IRQ_LINK_UP)? as u8;
            let now = self.ep.device().now();
            cp.on_link_change(now, links);
        }
        let now = self.ep.device().now();
        cp.poll(now, &mut RouterWindow(&mut self.ep))?;
        self.adverts_out.extend(cp.take_outgoing());
        while let Some((dest, payload)) = self.adverts_out.pop_front() {
            let h = PacketHeader {
                kind: PacketKind::Control,
                ..PacketHeader::unicast(dest, 0, payload.len() as u8)
            };
            match self.ep.send(&h, &payload) {
                Ok(()) => {}
                Err(DriverError::RingFull { .. }) => {
                    self.adverts_out.push_front((dest, payload));
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn poll_inner(&mut self) -> Result<(), DriverError> {
        self.ep.heartbeat()?;
        self.ep.reclaim_tx()?;
        for p in self.ep.recv_batch(64)? {
            let h = p.header;
            match h.kind {
                PacketKind::Unicast if h.service == TRANSPORT_SERVICE => {
                    self.transport.on_data(h.src, h.seq, &p.payload)
                }
                PacketKind::Ack if h.service == TRANSPORT_SERVICE => {
                    let now = self.ep.device().now();
                    self.transport.on_ack(now, h.src, h.seq, &p.payload)
                }
                PacketKind::Unicast => self.serve(&p)?,
                PacketKind::Ack => {
                    let seq = p.header.seq;
                    match self.calls.get(&seq) {
                        Some(c) if c.service.get() == p.header.service => {
                            self.announced_down.remove(&p.header.src);
                            self.finish(seq, Ok(p.payload.clone()), Some(p.header.src));
                        }
                        _ if self.done.contains(&seq) => self.stats.duplicate_replies += 1,
                        _ => self.stats.ignored += 1,
                    }
                }
                PacketKind::Control if is_advert(&p.payload) => {
                    let now = self.ep.device().now();
                    if let Some(cp) = self.control.as_mut() {
                        cp.on_advert(now, NodeId(h.src), &p.payload);
                    } else {
                        self.stats.ignored += 1;
                    }
                }
                PacketKind::Control => self.on_control(&p)?,
                _ => self.stats.ignored += 1,
            }
        }
        self.drive_search()?;
        self.drive_control()?;
        self.drive_faults()?;
        let now = self.ep.device().now();
        let mut to_send = vec![];
        let mut to_fail = vec![];
        let mut to_search = vec![];
        for (seq, c) in &self.calls {
            if self.known.get(&c.service) != Some(&true) {
                continue;
            }
            if !c.sent {
                to_send.push(*seq);
            } else if now.saturating_sub(c.sent_at) > self.cfg.retry_cycles {
                if c.attempts >= self.cfg.max_attempts {
                    to_fail.push((*seq, c.service.get(), c.attempts));
                } else {
                    to_send.push(*seq);
                    self.stats.resent_on_timeout += 1;
                    if c.attempts >= 2 {
                        // Two silent sends: the replica may be gone without
                        // a refusal (quarantined, or its card unreachable),
                        // and the rule may have no fallback. Search again;
                        // the card installs what it finds.
                        to_search.push(c.service);
                    }
                }
            }
        }
        for svc in to_search {
            self.stats.searches_on_timeout += 1;
            self.queue_search(svc);
        }
        for (seq, service, attempts) in to_fail {
            self.finish(seq, Err(CallError::NoReply { service, attempts }), None);
        }
        for seq in to_send {
            self.send_call(seq)?;
        }
        self.transmit()
    }
}

/// A control message's word: `op` about `node`.
fn control_word(op: ControlOp, node: u8) -> u32 {
    CTRL_OPCODE.set(0, op as u32).expect("fits") | (node as u32) << 8
}

/// A quarantine (or release) notice's word for `node`.
fn quarantine_word(node: u8, release: bool) -> u32 {
    let op = if release {
        ControlOp::Release
    } else {
        ControlOp::Quarantine
    };
    control_word(op, node)
}
