//! End-to-end reliable delivery between nodes: per source–destination
//! sequence numbers, cumulative and selective acknowledgements, retransmit
//! on timeout with back-off, duplicate suppression, in-order delivery to the
//! application, and bounded buffers with backpressure (`docs/reliability.md`).
//!
//! The fabric delivers a flow in order while its route stays put, but a
//! packet on a link that dies is lost (the endpoint counts it as `link_cut`),
//! and a flow split across the old and new virtual channel of a table change
//! can arrive out of order. This layer makes a message stream between two
//! hosts exactly-once and in order across both.
//!
//! [`Transport`] is sans-IO: it never touches a device. The node runtime
//! feeds it the segments it receives and the time, and sends what
//! [`Transport::poll_transmit`] hands back; the unit tests drive it over a
//! channel that drops, duplicates and reorders.
//!
//! **Wire format** (inside the packet format, service id 0, which names no
//! service): a data segment is a `unicast` packet whose `seq` is the
//! message's sequence number and whose first payload flit holds the stream
//! epoch (bits 47..0) and the opening flag (bit 48: no acknowledgement of
//! this epoch has come back yet); the message follows. An acknowledgement is an `ack`
//! packet whose `seq` is the next sequence number the receiver expects
//! (cumulative) and whose payload is the epoch (bits 47..0) with the
//! receiver's free room (bits 55..48: how many messages past `seq` it can
//! take now) and the resync flag (bit 56), then a bitmap of the 64 sequence
//! numbers after `seq` that were received out of order (selective). The sender keeps at most that room on the wire, so a slow
//! reader slows its senders instead of making them retransmit; at zero room
//! the oldest message still goes out once per timeout, as a probe.
//!
//! **Giving up.** A segment unacknowledged after `max_attempts` sends ends
//! the stream's epoch: every message still unacknowledged to that peer is
//! reported [`Unconfirmed`] (delivered at most once, perhaps not at all: the
//! acknowledgement of one that did arrive may be what was lost), and the
//! next message starts a new epoch at sequence 0. The receiver resets its
//! side of the stream on the first segment of a newer epoch, so a gap is
//! never waited for forever.
//!
//! **A receiver that restarted** has no state for the streams its peers
//! keep running to it. A segment of a stream it does not know, past
//! sequence 0 and not opening (so an earlier run of the receiver
//! acknowledged part of the stream, and the gap before it would never
//! fill), is not held: it answers with a *resync* acknowledgement, and the
//! sender renumbers everything still unacknowledged from 0 in a new epoch.
//! An opening segment is held as usual: nothing of its epoch was
//! acknowledged, so everything before it will be sent again. The
//! messages the old run received but had not acknowledged may arrive
//! again, once, at the new run: at-least-once across a restart of the
//! receiver, as without stable storage it must be.
//!
//! Epochs are 48 bits wide and never wrap in practice: a restarted runtime
//! starts from its start time ([`Transport::with_first_epoch`]), which is
//! past every epoch its previous run used.

use std::collections::{BTreeMap, VecDeque};

/// The service id that carries the transport (no service has it).
pub const TRANSPORT_SERVICE: u8 = 0;

/// Largest window: the selective-ack bitmap covers 64 sequence numbers.
pub const MAX_WINDOW: u16 = 64;

/// The epoch's bits in the first payload word of a segment.
const EPOCH_MASK: u64 = (1 << 48) - 1;
/// Where an acknowledgement's room sits in its first word.
const ROOM_SHIFT: u32 = 48;
/// The resync flag of an acknowledgement: the receiver knows no stream.
const RESYNC: u64 = 1 << 56;
/// The opening flag of a data segment: no acknowledgement of its epoch
/// has reached the sender yet.
const OPENING: u64 = 1 << 48;

/// Settings of the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportConfig {
    /// Messages sent and not yet acknowledged, per peer (1..=64). Also the
    /// receiver's reorder buffer per peer.
    pub window: u16,
    /// Retransmission timeout before the first round trip was measured.
    /// After that it is the smoothed round trip plus four times its mean
    /// deviation (Jacobson and Karels, as TCP's RFC 6298), measured only on
    /// segments sent once (Karn), and never below `min_retransmit_cycles`.
    /// Each further send of one segment doubles it, up to 8×.
    pub retransmit_cycles: u64,
    /// The floor of the measured timeout.
    pub min_retransmit_cycles: u64,
    /// Sends of one segment before the stream's epoch is given up.
    pub max_attempts: u32,
    /// Messages delivered in order and not yet taken by the application; a
    /// full queue accepts no new data (the sender's window fills: backpressure).
    pub rx_capacity: usize,
    /// Largest message, in 64-bit words.
    pub max_message_words: usize,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            window: 16,
            retransmit_cycles: 3_000,
            min_retransmit_cycles: 1_500,
            max_attempts: 12,
            rx_capacity: 256,
            max_message_words: 30,
        }
    }
}

/// Why a message was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The window to this peer is full: retry once acknowledgements arrive.
    #[error("node {dest}: {window} messages unacknowledged, the window is full")]
    WindowFull {
        /// Peer.
        dest: u8,
        /// The window.
        window: u16,
    },
    /// The message does not fit one segment.
    #[error("message of {words} words, at most {max} fit one segment")]
    TooLong {
        /// Its length.
        words: usize,
        /// The limit.
        max: usize,
    },
    /// A node does not send to itself through the fabric.
    #[error("node {0} is this node")]
    ToSelf(u8),
}

/// A message delivered to the application, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Sender.
    pub src: u8,
    /// Stream epoch.
    pub epoch: u64,
    /// Sequence number within the epoch.
    pub seq: u16,
    /// The message.
    pub payload: Vec<u64>,
}

/// A message the transport gave up on: delivered at most once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unconfirmed {
    /// Peer.
    pub dest: u8,
    /// Stream epoch it was last sent in.
    pub epoch: u64,
    /// Its sequence number in that epoch (a resync renumbers a message, so
    /// this is not always what [`Transport::send`] returned).
    pub seq: u16,
    /// The message, for an application that sends it again.
    pub payload: Vec<u64>,
}

/// What the runtime puts on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A message (first send or retransmission).
    Data {
        /// Peer.
        dest: u8,
        /// Sequence number.
        seq: u16,
        /// Payload flits: the epoch word, then the message.
        payload: Vec<u64>,
    },
    /// An acknowledgement.
    Ack {
        /// Peer.
        dest: u8,
        /// Next sequence number expected.
        next: u16,
        /// The epoch word and the selective bitmap.
        payload: [u64; 2],
    },
}

impl Segment {
    /// The peer it goes to.
    pub fn dest(&self) -> u8 {
        match self {
            Segment::Data { dest, .. } | Segment::Ack { dest, .. } => *dest,
        }
    }
}

/// Counters of the transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TransportStats {
    /// Messages accepted from the application.
    pub sent: u64,
    /// Data segments sent again after a timeout.
    pub retransmits: u64,
    /// Messages delivered to the application.
    pub delivered: u64,
    /// Data segments received that were delivered already (dropped, acked).
    pub duplicates: u64,
    /// Data segments received out of order and held until the gap filled.
    pub reordered: u64,
    /// Data segments past the window or with no room (dropped, unacked).
    pub out_of_window: u64,
    /// Segments of an older epoch, or malformed (dropped).
    pub stale: u64,
    /// Acknowledgements sent.
    pub acks_sent: u64,
    /// Epochs given up (each reports its unacknowledged messages).
    pub epochs_given_up: u64,
    /// Messages reported [`Unconfirmed`].
    pub unconfirmed: u64,
    /// Segments of a stream this end did not know, answered with a resync
    /// (the peer had kept a stream to an earlier run of this end).
    pub resyncs_asked: u64,
    /// Streams renumbered from 0 in a new epoch on a peer's resync.
    pub resyncs: u64,
    /// Sends refused because the window was full.
    pub backpressured: u64,
}

#[derive(Debug)]
struct Outstanding {
    seq: u16,
    payload: Vec<u64>,
    acked: bool,
    attempts: u32,
    /// `None`: not on the wire yet (new, or handed back by the runtime).
    sent_at: Option<u64>,
}

#[derive(Debug, Default)]
struct Peer {
    tx_epoch: u64,
    tx_next: u16,
    unacked: VecDeque<Outstanding>,
    rx_epoch: Option<u64>,
    /// A resync to send for this epoch of the peer's stream.
    resync_due: Option<u64>,
    /// Whether an acknowledgement of `tx_epoch` has come back.
    tx_heard: bool,
    rx_next: u16,
    /// Segments that arrived ahead of a gap, by sequence number (all within
    /// the window past `rx_next`).
    rx_held: BTreeMap<u16, Vec<u64>>,
    ack_due: bool,
    /// What the peer last said it can take past its cumulative ack.
    peer_room: Option<u16>,
    /// What this end last told the peer it can take.
    told_room: u16,
    /// Smoothed round trip and its mean deviation, in cycles (×8 and ×4
    /// fixed point, as RFC 6298 keeps them); `None` before the first sample.
    srtt8: Option<(u64, u64)>,
}

impl Peer {
    fn starting(tx_epoch: u64) -> Peer {
        Peer {
            tx_epoch,
            ..Default::default()
        }
    }

    /// The retransmission timeout of a segment sent once; [`backoff`] gives
    /// it for later sends.
    fn rto(&self, cfg: &TransportConfig) -> u64 {
        match self.srtt8 {
            None => cfg.retransmit_cycles,
            Some((srtt8, rttvar4)) => {
                (srtt8 / 8 + rttvar4).clamp(cfg.min_retransmit_cycles, 8 * cfg.retransmit_cycles)
            }
        }
    }

    fn sample(&mut self, rtt: u64) {
        self.srtt8 = Some(match self.srtt8 {
            None => (rtt * 8, rtt * 2),
            Some((srtt8, rttvar4)) => {
                let srtt = srtt8 / 8;
                let dev = srtt.abs_diff(rtt);
                // rttvar = 3/4 rttvar + 1/4 |srtt - rtt|; srtt = 7/8 srtt + 1/8 rtt.
                (srtt8 - srtt + rtt, rttvar4 - rttvar4 / 4 + dev)
            }
        });
    }
}

/// Gives up `p`'s epoch: its unacknowledged messages are reported, the next
/// message starts a new epoch at 0.
fn end_epoch(
    dest: u8,
    p: &mut Peer,
    unconfirmed: &mut Vec<Unconfirmed>,
    stats: &mut TransportStats,
) {
    for o in p.unacked.drain(..) {
        unconfirmed.push(Unconfirmed {
            dest,
            epoch: p.tx_epoch,
            seq: o.seq,
            payload: o.payload,
        });
        stats.unconfirmed += 1;
    }
    stats.epochs_given_up += 1;
    p.tx_epoch += 1;
    p.tx_next = 0;
    p.peer_room = None;
    p.tx_heard = false;
}

/// The timeout `rto` doubled for each send after the first, up to 8×.
fn backoff(rto: u64, attempts: u32) -> u64 {
    rto << attempts.saturating_sub(1).min(3)
}

/// Distance from `a` forward to `b` in the 16-bit sequence space.
fn ahead(a: u16, b: u16) -> u16 {
    b.wrapping_sub(a)
}

/// One node's end of every stream it has.
#[derive(Debug)]
pub struct Transport {
    me: u8,
    cfg: TransportConfig,
    peers: BTreeMap<u8, Peer>,
    delivered: VecDeque<Message>,
    unconfirmed: Vec<Unconfirmed>,
    stats: TransportStats,
    first_epoch: u64,
}

impl Transport {
    /// Node `me`'s transport; `cfg.window` is clamped to 1..=64.
    pub fn new(me: u8, mut cfg: TransportConfig) -> Self {
        cfg.window = cfg.window.clamp(1, MAX_WINDOW);
        cfg.max_attempts = cfg.max_attempts.max(1);
        Self {
            me,
            cfg,
            peers: BTreeMap::new(),
            delivered: VecDeque::new(),
            unconfirmed: vec![],
            stats: TransportStats::default(),
            first_epoch: 0,
        }
    }

    /// Starts every stream at epoch `epoch` (48 bits) instead of 0. A
    /// runtime that restarts passes something that grows faster with time
    /// than give-ups can (its start cycle over 256: a give-up takes many
    /// timeouts): its peers still hold the old run's epoch for it, and take
    /// the new streams only from a newer one.
    pub fn with_first_epoch(mut self, epoch: u64) -> Self {
        self.first_epoch = epoch & EPOCH_MASK;
        self
    }

    /// Settings in force.
    pub fn config(&self) -> TransportConfig {
        self.cfg
    }

    /// Counters.
    pub fn stats(&self) -> TransportStats {
        self.stats
    }

    /// Takes `payload` for `dest`; returns its sequence number. It goes on
    /// the wire at the next [`Self::poll_transmit`].
    pub fn send(&mut self, dest: u8, payload: Vec<u64>) -> Result<u16, SendError> {
        if dest == self.me {
            return Err(SendError::ToSelf(dest));
        }
        if payload.len() > self.cfg.max_message_words {
            return Err(SendError::TooLong {
                words: payload.len(),
                max: self.cfg.max_message_words,
            });
        }
        let window = self.cfg.window;
        let first = self.first_epoch;
        let p = self
            .peers
            .entry(dest)
            .or_insert_with(|| Peer::starting(first));
        if p.unacked.len() >= window as usize {
            self.stats.backpressured += 1;
            return Err(SendError::WindowFull { dest, window });
        }
        let seq = p.tx_next;
        p.tx_next = p.tx_next.wrapping_add(1);
        p.unacked.push_back(Outstanding {
            seq,
            payload,
            acked: false,
            attempts: 0,
            sent_at: None,
        });
        self.stats.sent += 1;
        Ok(seq)
    }

    /// Messages to `dest` not acknowledged yet.
    pub fn unacked(&self, dest: u8) -> usize {
        self.peers.get(&dest).map_or(0, |p| p.unacked.len())
    }

    /// Messages not acknowledged yet, to every peer.
    pub fn unacked_total(&self) -> usize {
        self.peers.values().map(|p| p.unacked.len()).sum()
    }

    /// A data segment from `src` (a `unicast` packet of [`TRANSPORT_SERVICE`]).
    pub fn on_data(&mut self, src: u8, seq: u16, payload: &[u64]) {
        let Some((&word, msg)) = payload.split_first() else {
            self.stats.stale += 1;
            return;
        };
        if word & !(EPOCH_MASK | OPENING) != 0 || src == self.me {
            self.stats.stale += 1;
            return;
        }
        let (epoch, opening) = (word & EPOCH_MASK, word & OPENING != 0);
        let window = self.cfg.window;
        let room = self.cfg.rx_capacity.saturating_sub(self.delivered.len());
        let first = self.first_epoch;
        let p = self
            .peers
            .entry(src)
            .or_insert_with(|| Peer::starting(first));
        match p.rx_epoch {
            Some(cur) if cur == epoch => {}
            Some(cur) if epoch < cur => {
                self.stats.stale += 1;
                return;
            }
            None if seq != 0 && !opening => {
                // A stream kept from before this end started: its start is
                // gone, so have the sender renumber it.
                self.stats.resyncs_asked += 1;
                p.resync_due = Some(epoch);
                return;
            }
            _ => {
                // A new stream (or the sender gave the old one up): start it.
                p.rx_epoch = Some(epoch);
                p.rx_next = 0;
                p.rx_held.clear();
            }
        }
        let off = ahead(p.rx_next, seq);
        if off >= 0x8000 {
            // Behind: delivered already; the ack for it was lost.
            self.stats.duplicates += 1;
            p.ack_due = true;
            return;
        }
        if off >= window || off as usize >= room {
            self.stats.out_of_window += 1;
            return;
        }
        p.ack_due = true;
        if p.rx_held.contains_key(&seq) {
            self.stats.duplicates += 1;
            return;
        }
        if off > 0 {
            self.stats.reordered += 1;
        }
        p.rx_held.insert(seq, msg.to_vec());
        while let Some(m) = p.rx_held.remove(&p.rx_next) {
            self.delivered.push_back(Message {
                src,
                epoch,
                seq: p.rx_next,
                payload: m,
            });
            self.stats.delivered += 1;
            p.rx_next = p.rx_next.wrapping_add(1);
        }
    }

    /// An acknowledgement from `src` (an `ack` packet of [`TRANSPORT_SERVICE`]).
    pub fn on_ack(&mut self, now: u64, src: u8, next: u16, payload: &[u64]) {
        let (Some(&word), Some(&sack)) = (payload.first(), payload.get(1)) else {
            self.stats.stale += 1;
            return;
        };
        let Some(p) = self.peers.get_mut(&src) else {
            self.stats.stale += 1;
            return;
        };
        if word >> (ROOM_SHIFT + 9) != 0 || word & EPOCH_MASK != p.tx_epoch {
            self.stats.stale += 1;
            return;
        }
        if word & RESYNC != 0 {
            // The peer knows no stream (it restarted): everything not yet
            // acknowledged goes again from 0 in a new epoch.
            p.tx_epoch += 1;
            for (i, o) in p.unacked.iter_mut().enumerate() {
                o.seq = i as u16;
                o.acked = false;
                o.attempts = 0;
                o.sent_at = None;
            }
            p.tx_next = p.unacked.len() as u16;
            p.peer_room = None;
            p.tx_heard = false;
            self.stats.resyncs += 1;
            return;
        }
        p.tx_heard = true;
        let room = ((word >> ROOM_SHIFT) & 0xff) as u16;
        let Some(base) = p.unacked.front().map(|o| o.seq) else {
            return; // everything acknowledged already
        };
        // `next` may not pass what was sent.
        let acked = ahead(base, next);
        if acked as usize > p.unacked.len() {
            self.stats.stale += 1;
            return;
        }
        p.peer_room = Some(room);
        // Round-trip samples: only from segments sent once (Karn), and only
        // at their first acknowledgement, cumulative or selective (a segment
        // held behind a gap is acknowledged cumulatively only once the gap
        // fills, which says nothing about the round trip).
        let mut samples = vec![];
        for _ in 0..acked {
            if let Some(o) = p.unacked.pop_front() {
                if let (false, 1, Some(t)) = (o.acked, o.attempts, o.sent_at) {
                    samples.push(now.saturating_sub(t));
                }
            }
        }
        for o in p.unacked.iter_mut() {
            let bit = ahead(next, o.seq);
            if !o.acked && (1..=64).contains(&bit) && sack >> (bit - 1) & 1 == 1 {
                o.acked = true;
                if let (1, Some(t)) = (o.attempts, o.sent_at) {
                    samples.push(now.saturating_sub(t));
                }
            }
        }
        for rtt in samples {
            p.sample(rtt);
        }
    }

    /// What to put on the wire now: acknowledgements due, new messages, and
    /// retransmissions whose timer ran out. Gives up epochs whose oldest
    /// segment ran out of attempts.
    pub fn poll_transmit(&mut self, now: u64) -> Vec<Segment> {
        let mut out = vec![];
        let cfg = self.cfg;
        let free = cfg.rx_capacity.saturating_sub(self.delivered.len());
        let room = free.min(cfg.window as usize) as u64;
        for (&dest, p) in self.peers.iter_mut() {
            if p.ack_due {
                p.ack_due = false;
                p.told_room = room as u16;
                let mut sack = 0u64;
                for &held in p.rx_held.keys() {
                    let off = ahead(p.rx_next, held);
                    if (1..=64).contains(&off) {
                        sack |= 1 << (off - 1);
                    }
                }
                out.push(Segment::Ack {
                    dest,
                    next: p.rx_next,
                    payload: [p.rx_epoch.unwrap_or(0) | room << ROOM_SHIFT, sack],
                });
                self.stats.acks_sent += 1;
            }
            if let Some(epoch) = p.resync_due.take() {
                out.push(Segment::Ack {
                    dest,
                    next: 0,
                    payload: [epoch | RESYNC, 0],
                });
                self.stats.acks_sent += 1;
            }
            let rto = p.rto(&cfg);
            let given_up = p.unacked.iter().any(|o| {
                !o.acked
                    && o.attempts >= cfg.max_attempts
                    && o.sent_at
                        .is_some_and(|t| now >= t + backoff(rto, o.attempts))
            });
            if given_up {
                end_epoch(dest, p, &mut self.unconfirmed, &mut self.stats);
                continue;
            }
            // The oldest message always may go (a probe when there is no room).
            let may = p.peer_room.map_or(cfg.window, |r| r.max(1)) as usize;
            for o in p.unacked.iter_mut().take(may) {
                let due = match o.sent_at {
                    None => true,
                    Some(t) => now >= t + backoff(rto, o.attempts),
                };
                if o.acked || !due {
                    continue;
                }
                if o.attempts > 0 {
                    self.stats.retransmits += 1;
                }
                o.attempts += 1;
                o.sent_at = Some(now);
                let mut payload = Vec::with_capacity(o.payload.len() + 1);
                payload.push(p.tx_epoch | if p.tx_heard { 0 } else { OPENING });
                payload.extend_from_slice(&o.payload);
                out.push(Segment::Data {
                    dest,
                    seq: o.seq,
                    payload,
                });
            }
        }
        out
    }

    /// A segment from [`Self::poll_transmit`] that could not be sent (the
    /// TX ring was full): it goes first at the next poll, the attempt not
    /// counted.
    pub fn unsent(&mut self, seg: &Segment) {
        match seg {
            Segment::Ack { dest, payload, .. } => {
                if let Some(p) = self.peers.get_mut(dest) {
                    if payload[0] & RESYNC != 0 {
                        p.resync_due = Some(payload[0] & EPOCH_MASK);
                    } else {
                        p.ack_due = true;
                    }
                }
                self.stats.acks_sent -= 1;
            }
            Segment::Data { dest, seq, .. } => {
                if let Some(o) = self
                    .peers
                    .get_mut(dest)
                    .and_then(|p| p.unacked.iter_mut().find(|o| o.seq == *seq))
                {
                    if o.attempts > 1 {
                        self.stats.retransmits -= 1;
                    }
                    o.attempts -= 1;
                    o.sent_at = None;
                }
            }
        }
    }

    /// Ends the stream to `dest` now, as if its oldest segment had run out
    /// of attempts: every message unacknowledged to it is reported
    /// [`Unconfirmed`], and the next starts a new epoch. For a peer known to
    /// be unable to answer (quarantined, or this node itself is), rather
    /// than retransmitting into a card that drops everything. Nothing
    /// happens when nothing is unacknowledged.
    pub fn abandon(&mut self, dest: u8) {
        if let Some(p) = self.peers.get_mut(&dest) {
            if !p.unacked.is_empty() {
                end_epoch(dest, p, &mut self.unconfirmed, &mut self.stats);
            }
        }
    }

    /// [`Self::abandon`] for every peer.
    pub fn abandon_all(&mut self) {
        let peers: Vec<u8> = self.peers.keys().copied().collect();
        for d in peers {
            self.abandon(d);
        }
    }

    /// Messages delivered in order since the last take. Taking any tells
    /// every sender about the room it made (an ack at the next poll).
    pub fn take_delivered(&mut self) -> Vec<Message> {
        if !self.delivered.is_empty() {
            self.reopened();
        }
        self.delivered.drain(..).collect()
    }

    /// Takes the oldest delivered message, if any (a reader that takes one
    /// at a time).
    pub fn take_one(&mut self) -> Option<Message> {
        let m = self.delivered.pop_front()?;
        self.reopened();
        Some(m)
    }

    /// Room was made: the senders last told less than a full window hear
    /// about it now (the others were not held back by it).
    fn reopened(&mut self) {
        let window = self.cfg.window;
        for p in self.peers.values_mut() {
            if p.rx_epoch.is_some() && p.told_room < window {
                p.ack_due = true;
            }
        }
    }

    /// Messages given up since the last take.
    pub fn take_unconfirmed(&mut self) -> Vec<Unconfirmed> {
        std::mem::take(&mut self.unconfirmed)
    }

    /// Whether nothing is waiting: no message unacknowledged, no ack due.
    pub fn is_idle(&self) -> bool {
        self.peers
            .values()
            .all(|p| p.unacked.is_empty() && !p.ack_due && p.resync_due.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    /// A channel that drops, duplicates and delays (hence reorders) each
    /// segment with the given probabilities; at most `delay` rounds late.
    struct Lossy {
        rng: SmallRng,
        drop: f64,
        dup: f64,
        delay: u64,
        wire: Vec<(u64, u8, Segment)>,
    }

    impl Lossy {
        fn put(&mut self, now: u64, from: u8, seg: Segment) {
            if self.rng.gen_bool(self.drop) {
                return;
            }
            let copies = if self.rng.gen_bool(self.dup) { 2 } else { 1 };
            for _ in 0..copies {
                let at = now + 1 + self.rng.gen_range(0..=self.delay);
                self.wire.push((at, from, seg.clone()));
            }
        }

        fn take(&mut self, now: u64) -> Vec<(u8, Segment)> {
            let (due, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.wire)
                .into_iter()
                .partition(|(t, ..)| *t <= now);
            self.wire = rest;
            due.into_iter().map(|(_, f, s)| (f, s)).collect()
        }
    }

    fn deliver(t: &mut Transport, now: u64, from: u8, seg: Segment) {
        match seg {
            Segment::Data { seq, payload, .. } => t.on_data(from, seq, &payload),
            Segment::Ack { next, payload, .. } => t.on_ack(now, from, next, &payload),
        }
    }

    fn cfg() -> TransportConfig {
        TransportConfig {
            window: 8,
            retransmit_cycles: 20,
            min_retransmit_cycles: 20,
            max_attempts: 50,
            rx_capacity: 16,
            max_message_words: 4,
        }
    }

    /// Runs `n` messages from node 1 to node 2 over `ch`, the receiving
    /// application taking one message per `take_every` rounds; returns the
    /// messages delivered, the ones reported unconfirmed and both ends.
    fn run(
        n: u16,
        ch: &mut Lossy,
        cfg: TransportConfig,
        take_every: u64,
        rounds: u64,
    ) -> (
        Vec<Message>,
        Vec<Unconfirmed>,
        Vec<u16>,
        Transport,
        Transport,
    ) {
        let mut a = Transport::new(1, cfg);
        let mut b = Transport::new(2, cfg);
        let mut accepted = vec![];
        let mut next = 0u16;
        let mut got = vec![];
        for now in 0..rounds {
            while next < n {
                match a.send(2, vec![next as u64, !(next as u64)]) {
                    Ok(seq) => {
                        accepted.push(seq);
                        next += 1;
                    }
                    Err(SendError::WindowFull { .. }) => break,
                    Err(e) => panic!("{e}"),
                }
                assert!(a.unacked(2) <= cfg.window as usize, "window bound");
            }
            for s in a.poll_transmit(now) {
                ch.put(now, 1, s);
            }
            for s in b.poll_transmit(now) {
                ch.put(now, 2, s);
            }
            for (from, s) in ch.take(now) {
                if from == 1 {
                    deliver(&mut b, now, 1, s);
                } else {
                    deliver(&mut a, now, 2, s);
                }
            }
            assert!(b.delivered.len() <= cfg.rx_capacity, "rx bound");
            if now % take_every == 0 {
                if let Some(m) = b.take_one() {
                    got.push(m);
                }
            }
            if next == n && a.is_idle() && b.delivered.is_empty() {
                break;
            }
        }
        got.extend(b.take_delivered());
        let lost = a.take_unconfirmed();
        (got, lost, accepted, a, b)
    }

    #[test]
    fn a_perfect_channel_delivers_everything_in_order_without_retransmits() {
        let mut ch = Lossy {
            rng: SmallRng::seed_from_u64(1),
            drop: 0.0,
            dup: 0.0,
            delay: 0,
            wire: vec![],
        };
        let (got, lost, _, a, _) = run(200, &mut ch, cfg(), 1, 10_000);
        assert!(lost.is_empty());
        assert_eq!(got.len(), 200);
        for (i, m) in got.iter().enumerate() {
            assert_eq!(m.payload, vec![i as u64, !(i as u64)]);
        }
        assert_eq!(a.stats().retransmits, 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Drops, duplicates, reordering and a slow reader: every message
        /// arrives exactly once, in order, intact; the windows and the
        /// receive queue stay within their bounds.
        #[test]
        fn lossy_channels_deliver_exactly_once_in_order(
            seed in any::<u64>(),
            drop in 0.0f64..0.4,
            dup in 0.0f64..0.3,
            delay in 0u64..12,
            take_every in 1u64..4,
        ) {
            let mut ch = Lossy { rng: SmallRng::seed_from_u64(seed), drop, dup, delay, wire: vec![] };
            let (got, lost, _, a, b) = run(300, &mut ch, cfg(), take_every, 400_000);
            prop_assert!(lost.is_empty(), "gave up on {:?}", lost.first());
            prop_assert_eq!(got.len(), 300);
            for (i, m) in got.iter().enumerate() {
                prop_assert_eq!(m.seq, i as u16);
                prop_assert_eq!(&m.payload, &vec![i as u64, !(i as u64)]);
            }
            prop_assert_eq!(b.stats().delivered, 300);
            if drop > 0.1 {
                prop_assert!(a.stats().retransmits > 0);
            }
        }

        /// A peer that stops answering: after `max_attempts` the sender
        /// reports every unacknowledged message, and the next epoch's
        /// messages are delivered once the channel works again, with
        /// nothing delivered twice.
        #[test]
        fn a_dead_peer_is_given_up_and_the_next_epoch_starts_clean(seed in any::<u64>(), cut_at in 0u64..200) {
            let c = TransportConfig { max_attempts: 3, ..cfg() };
            let mut a = Transport::new(1, c);
            let mut b = Transport::new(2, c);
            let mut ch = Lossy { rng: SmallRng::seed_from_u64(seed), drop: 0.05, dup: 0.05, delay: 3, wire: vec![] };
            let mut sent = 0u64;
            let mut got: Vec<Message> = vec![];
            let mut lost: Vec<Unconfirmed> = vec![];
            let mut by_seq: BTreeMap<(u64, u16), u64> = BTreeMap::new();
            for now in 0..30_000u64 {
                let dead = now >= cut_at && now < cut_at + 2_000;
                if sent < 400 {
                    if let Ok(seq) = a.send(2, vec![sent]) {
                        by_seq.insert((a.peers[&2].tx_epoch, seq), sent);
                        sent += 1;
                    }
                }
                for s in a.poll_transmit(now) {
                    if !dead { ch.put(now, 1, s); }
                }
                for s in b.poll_transmit(now) {
                    if !dead { ch.put(now, 2, s); }
                }
                for (from, s) in ch.take(now) {
                    if from == 1 { deliver(&mut b, now, 1, s) } else { deliver(&mut a, now, 2, s) }
                }
                got.extend(b.take_delivered());
                lost.extend(a.take_unconfirmed());
                if sent == 400 && a.is_idle() { break; }
            }
            prop_assert!(a.is_idle());
            let mut seen = std::collections::BTreeSet::new();
            for m in &got {
                let v = by_seq[&(m.epoch, m.seq)];
                prop_assert_eq!(&m.payload, &vec![v]);
                prop_assert!(seen.insert(v), "message {} delivered twice", v);
            }
            let unconfirmed: std::collections::BTreeSet<u64> =
                lost.iter().map(|u| by_seq[&(u.epoch, u.seq)]).collect();
            for v in 0..400u64 {
                prop_assert!(seen.contains(&v) || unconfirmed.contains(&v), "message {} neither delivered nor reported", v);
            }
            // In order within each epoch.
            let mut last: BTreeMap<u64, u16> = BTreeMap::new();
            for m in &got {
                if let Some(&p) = last.get(&m.epoch) { prop_assert!(ahead(p, m.seq) == 1); }
                last.insert(m.epoch, m.seq);
            }
        }
    }

    #[test]
    fn bad_input_is_refused_or_dropped_and_counted() {
        let mut t = Transport::new(3, cfg());
        assert_eq!(t.send(3, vec![]), Err(SendError::ToSelf(3)));
        assert!(matches!(
            t.send(1, vec![0; 5]),
            Err(SendError::TooLong { words: 5, max: 4 })
        ));
        for _ in 0..8 {
            t.send(1, vec![1]).unwrap();
        }
        assert!(matches!(
            t.send(1, vec![1]),
            Err(SendError::WindowFull { dest: 1, window: 8 })
        ));
        // No epoch word; a word with high bits set; an ack for nothing sent;
        // an ack acknowledging more than was sent; a segment far ahead.
        t.on_data(1, 0, &[]);
        t.on_data(1, 0, &[1 << 50, 5]);
        t.on_ack(0, 2, 0, &[0, 0]);
        t.on_ack(0, 1, 40, &[0, 0]);
        assert_eq!(t.stats().stale, 4);
        assert_eq!(t.unacked(1), 8);
        // A segment far ahead in a stream that opened just now is held no
        // further than the window; one of a stream this end never knew
        // starts a resync.
        t.on_data(1, 9, &[OPENING, 7]);
        assert_eq!(t.stats().out_of_window, 1);
        t.on_data(4, 9, &[0, 7]);
        assert_eq!(t.stats().resyncs_asked, 1);
        assert!(t.take_delivered().is_empty());
    }

    #[test]
    fn selective_acks_spare_the_segments_that_arrived() {
        let mut a = Transport::new(1, cfg());
        let mut b = Transport::new(2, cfg());
        for i in 0..4 {
            a.send(2, vec![i]).unwrap();
        }
        let segs = a.poll_transmit(0);
        assert_eq!(segs.len(), 4);
        // Segment 0 is lost; 1..3 arrive.
        for s in segs.into_iter().skip(1) {
            deliver(&mut b, 1, 1, s);
        }
        assert!(b.take_delivered().is_empty());
        for s in b.poll_transmit(1) {
            deliver(&mut a, 2, 2, s);
        }
        // Only segment 0 is sent again.
        let again = a.poll_transmit(100);
        assert_eq!(again.len(), 1);
        assert!(matches!(again[0], Segment::Data { seq: 0, .. }));
        deliver(&mut b, 101, 1, again[0].clone());
        let got: Vec<u64> = b.take_delivered().iter().map(|m| m.payload[0]).collect();
        assert_eq!(got, vec![0, 1, 2, 3]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// The receiver restarts (a fresh transport) in the middle of a
        /// stream over a lossy channel: the sender is asked to resync and
        /// nothing is given up; the old run got a prefix in order, the new
        /// run everything from at most there on, in order, once each.
        #[test]
        fn a_restarted_receiver_resyncs_the_stream_and_nothing_is_given_up(
            seed in any::<u64>(),
            restart_at in 50u64..1_500,
            drop in 0.0f64..0.2,
        ) {
            let mut ch = Lossy { rng: SmallRng::seed_from_u64(seed), drop, dup: 0.05, delay: 4, wire: vec![] };
            let mut a = Transport::new(1, cfg());
            let mut b = Transport::new(2, cfg());
            let (mut old, mut new) = (vec![], vec![]);
            let mut next = 0u64;
            for now in 0..200_000u64 {
                if now == restart_at {
                    old.extend(b.take_delivered());
                    b = Transport::new(2, cfg()).with_first_epoch(1_000);
                }
                while next < 300 && a.send(2, vec![next, !next]).is_ok() {
                    next += 1;
                }
                for s in a.poll_transmit(now) { ch.put(now, 1, s); }
                for s in b.poll_transmit(now) { ch.put(now, 2, s); }
                for (from, s) in ch.take(now) {
                    if from == 1 { deliver(&mut b, now, 1, s) } else { deliver(&mut a, now, 2, s) }
                }
                let got = b.take_delivered();
                if now < restart_at { old.extend(got) } else { new.extend(got) }
                if next == 300 && a.is_idle() && now > restart_at { break; }
            }
            prop_assert!(a.take_unconfirmed().is_empty(), "gave up on a live peer");
            for m in old.iter().chain(&new) {
                prop_assert_eq!(m.payload[1], !m.payload[0]);
            }
            let old: Vec<u64> = old.iter().map(|m| m.payload[0]).collect();
            let new: Vec<u64> = new.iter().map(|m| m.payload[0]).collect();
            prop_assert_eq!(&old, &(0..old.len() as u64).collect::<Vec<_>>());
            let from = new.first().copied().unwrap_or(300);
            prop_assert!(from <= old.len() as u64, "gap at the restart: old got {}, new starts at {}", old.len(), from);
            prop_assert_eq!(&new, &(from..300).collect::<Vec<_>>());
        }
    }

    #[test]
    fn an_abandoned_stream_reports_its_messages_and_the_next_epoch_is_taken() {
        let mut a = Transport::new(1, cfg());
        let mut b = Transport::new(2, cfg());
        for i in 0..3 {
            a.send(2, vec![i]).unwrap();
        }
        let lost = a.poll_transmit(0);
        assert_eq!(lost.len(), 3, "on the wire, never to arrive");
        a.abandon(2);
        let gone: Vec<u64> = a.take_unconfirmed().iter().map(|u| u.payload[0]).collect();
        assert_eq!(gone, vec![0, 1, 2]);
        assert!(a.is_idle());
        a.abandon(2);
        assert_eq!(a.stats().epochs_given_up, 1, "nothing left to abandon");
        a.send(2, vec![7]).unwrap();
        for s in a.poll_transmit(1) {
            deliver(&mut b, 1, 1, s);
        }
        let got: Vec<(u64, u16, u64)> = b
            .take_delivered()
            .iter()
            .map(|m| (m.epoch, m.seq, m.payload[0]))
            .collect();
        assert_eq!(got, vec![(1, 0, 7)]);
    }

    #[test]
    fn a_stream_the_receiver_does_not_know_is_renumbered_from_zero() {
        let mut a = Transport::new(1, cfg());
        let mut b = Transport::new(2, cfg());
        let exchange = |a: &mut Transport, b: &mut Transport, now: u64| {
            for s in a.poll_transmit(now) {
                deliver(b, now, 1, s);
            }
            for s in b.poll_transmit(now) {
                deliver(a, now, 2, s);
            }
        };
        for i in 0..3 {
            a.send(2, vec![i]).unwrap();
        }
        exchange(&mut a, &mut b, 0);
        assert_eq!(b.take_delivered().len(), 3);
        assert_eq!(a.unacked(2), 0);
        // The receiver restarts; the stream goes on at sequence 3.
        let mut b = Transport::new(2, cfg()).with_first_epoch(7);
        assert_eq!(a.send(2, vec![3]), Ok(3));
        a.send(2, vec![4]).unwrap();
        exchange(&mut a, &mut b, 10);
        assert!(b.take_delivered().is_empty(), "not held behind a gap");
        assert_eq!((b.stats().resyncs_asked, a.stats().resyncs), (2, 1));
        exchange(&mut a, &mut b, 20);
        let got: Vec<(u64, u16, u64)> = b
            .take_delivered()
            .iter()
            .map(|m| (m.epoch, m.seq, m.payload[0]))
            .collect();
        assert_eq!(got, vec![(1, 0, 3), (1, 1, 4)]);
        assert!(a.is_idle());
        assert_eq!(a.stats().epochs_given_up, 0);
    }

    /// The timeout follows the measured round trip: 1000 cycles before any
    /// sample, about the round trip (50) once it is known.
    #[test]
    fn the_timeout_follows_the_measured_round_trip() {
        let c = TransportConfig {
            retransmit_cycles: 1_000,
            min_retransmit_cycles: 10,
            ..cfg()
        };
        let mut a = Transport::new(1, c);
        let mut b = Transport::new(2, c);
        a.send(2, vec![0]).unwrap();
        assert_eq!(a.poll_transmit(0).len(), 1);
        assert!(a.poll_transmit(900).is_empty(), "no sample yet: 1000");
        assert_eq!(a.poll_transmit(1_000).len(), 1, "resent at 1000");
        let mut now = 10_000;
        for i in 1..=12 {
            a.send(2, vec![i]).unwrap();
            for s in a.poll_transmit(now) {
                deliver(&mut b, now + 25, 1, s);
            }
            for s in b.poll_transmit(now + 25) {
                deliver(&mut a, now + 50, 2, s);
            }
            now += 1_000;
        }
        assert_eq!(a.unacked(2), 0);
        a.send(2, vec![99]).unwrap();
        assert_eq!(a.poll_transmit(now).len(), 1);
        assert!(
            a.poll_transmit(now + 45).is_empty(),
            "not before the round trip"
        );
        assert_eq!(a.poll_transmit(now + 100).len(), 1, "soon after it");
    }
}
