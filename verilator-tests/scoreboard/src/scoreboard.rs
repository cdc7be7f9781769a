//! The exactly-once, right-payload, in-order checker.
//!
//! Unicast packets are keyed by (src, dest, seq). Fan-out packets (multicast,
//! scoped broadcast, discovery request) expect one copy at each receiver: a
//! copy is keyed by (src, kind, dest-or-group, seq, receiving node), and the
//! checker reports a second copy at a node (duplicate), a copy at a node
//! that is not a receiver, and at the end every receiver that got nothing.

use replimesh_regs::PacketHeader;
use replimesh_sim::Delivered;
use replimesh_spec::{NodeId, PacketKind};
use std::collections::{BTreeSet, HashMap};

/// Something the scoreboard objects to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Delivered at a node other than its destination.
    WrongNode { src: u8, dest: u8, seq: u16, at: u8 },
    /// Delivered but never sent (or delivered twice).
    Unexpected { src: u8, dest: u8, seq: u16 },
    /// Payload or header differs from what was sent.
    Corrupted {
        src: u8,
        dest: u8,
        seq: u16,
        what: String,
    },
    /// Overtook an earlier packet of the same source–destination pair.
    OutOfOrder {
        src: u8,
        dest: u8,
        seq: u16,
        expected: u16,
    },
    /// The header could not be decoded.
    Undecodable { at: u8, error: String },
    /// Sent, never delivered.
    Lost { src: u8, dest: u8, seq: u16 },
    /// A fan-out packet arrived twice at the same node.
    Duplicate { src: u8, dest: u8, seq: u16, at: u8 },
    /// A fan-out copy arrived at a node that is not a member / not in scope.
    NotMember { src: u8, dest: u8, seq: u16, at: u8 },
    /// A fan-out receiver never got its copy.
    LostCopy { src: u8, dest: u8, seq: u16, at: u8 },
}

/// Identity of a fan-out packet: (src, kind, dest or group, seq).
type FanKey = (u8, u8, u8, u16);

#[derive(Debug, Clone)]
struct FanExpect {
    header: PacketHeader,
    payload: Vec<u64>,
    sent_cycle: u64,
    /// The receiver sets the packet may legitimately reach (one, or old and
    /// new tree while a group entry is rewritten under traffic).
    alternatives: Vec<BTreeSet<u8>>,
    got: BTreeSet<u8>,
}

#[derive(Debug, Clone)]
struct Expect {
    header: PacketHeader,
    payload: Vec<u64>,
    sent_cycle: u64,
}

/// Tracks every packet from send to delivery.
#[derive(Debug, Default)]
pub struct Scoreboard {
    outstanding: HashMap<(u8, u8, u16), Expect>,
    fanout: HashMap<FanKey, FanExpect>,
    fan_seq: HashMap<(u8, u8, u8), u16>,
    copies_expected: u64,
    copies_delivered: u64,
    next_seq: HashMap<(u8, u8), u16>,
    next_expected: HashMap<(u8, u8), u16>,
    strict_order: bool,
    lossy: bool,
    findings: Vec<Finding>,
    sent: u64,
    delivered: u64,
    cut: Vec<(u8, u8, u16)>,
    reordered: Vec<(u8, u8, u16)>,
}

/// What the scoreboard saw.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Packets sent.
    pub sent: u64,
    /// Packets delivered correctly (a fan-out packet counts once every
    /// receiver of one of its alternatives has its copy).
    pub delivered: u64,
    /// Fan-out copies expected (for packets with several alternatives: the
    /// size of the alternative that was delivered, or the largest).
    pub copies_expected: u64,
    /// Fan-out copies delivered correctly.
    pub copies_delivered: u64,
    /// Everything wrong, including losses.
    pub findings: Vec<Finding>,
    /// Unicast packets that arrived with an error-marked tail (cut by a
    /// failure on their way): reported lost by the fabric, not delivered.
    /// `(src, dest, seq)`, in arrival order.
    pub cut: Vec<(u8, u8, u16)>,
    /// With [`Scoreboard::lossy`]: packets that arrived after a later one
    /// of the same pair (a reroute let the later one overtake). Listed, not
    /// findings: the test judges them (e.g. only around a failure).
    pub reordered: Vec<(u8, u8, u16)>,
}

impl Report {
    /// Every packet delivered exactly once (every fan-out copy exactly once
    /// at each receiver and nowhere else), intact, in order.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
            && self.sent == self.delivered
            && self.copies_expected == self.copies_delivered
    }
}

impl Scoreboard {
    /// A scoreboard that also demands per-pair order.
    pub fn new() -> Self {
        Self {
            strict_order: true,
            ..Default::default()
        }
    }

    /// A scoreboard that accepts reordering (routes rewritten under traffic).
    pub fn unordered() -> Self {
        Self::default()
    }

    /// For runs with failures: per-pair order is still demanded (sequence
    /// numbers only grow), but a gap is allowed; what never arrives is
    /// reported `Lost` by [`Scoreboard::finish`], and packets that arrive
    /// cut are listed in [`Report::cut`].
    pub fn lossy() -> Self {
        Self {
            strict_order: true,
            lossy: true,
            ..Default::default()
        }
    }

    /// Next sequence number for `src -> dest`.
    pub fn next_seq(&mut self, src: NodeId, dest: NodeId) -> u16 {
        let s = self.next_seq.entry((src.0, dest.0)).or_insert(0);
        let v = *s;
        *s = s.wrapping_add(1);
        v
    }

    /// Records a packet handed to `src`'s port at `cycle`. `header.src` must
    /// already hold `src` (the router will stamp it so).
    pub fn on_send(&mut self, header: PacketHeader, payload: Vec<u64>, cycle: u64) {
        self.sent += 1;
        let key = (header.src, header.dest, header.seq);
        self.outstanding.insert(
            key,
            Expect {
                header,
                payload,
                sent_cycle: cycle,
            },
        );
    }

    /// Next sequence number for fan-out packets of `kind` from `src` to
    /// `dest` (a group id for multicast; broadcasts use their own space).
    pub fn next_fanout_seq(&mut self, src: NodeId, kind: PacketKind, dest: u8) -> u16 {
        let s = self.fan_seq.entry((src.0, kind as u8, dest)).or_insert(0);
        let v = *s;
        *s = s.wrapping_add(1);
        v
    }

    /// Records a fan-out packet handed to its source's port at `cycle`, to be
    /// received once by each of `receivers` and by no one else.
    pub fn on_send_fanout(
        &mut self,
        header: PacketHeader,
        payload: Vec<u64>,
        cycle: u64,
        receivers: &[NodeId],
    ) {
        self.on_send_fanout_either(header, payload, cycle, &[receivers.to_vec()]);
    }

    /// As [`Scoreboard::on_send_fanout`], for a packet that may follow any one
    /// of several trees (a group entry rewritten while it is in flight): it
    /// must reach exactly the receivers of one alternative, each once.
    pub fn on_send_fanout_either(
        &mut self,
        header: PacketHeader,
        payload: Vec<u64>,
        cycle: u64,
        alternatives: &[Vec<NodeId>],
    ) {
        self.sent += 1;
        let key = (header.src, header.kind as u8, header.dest, header.seq);
        self.fanout.insert(
            key,
            FanExpect {
                header,
                payload,
                sent_cycle: cycle,
                alternatives: alternatives
                    .iter()
                    .map(|a| a.iter().map(|n| n.0).collect())
                    .collect(),
                got: BTreeSet::new(),
            },
        );
    }

    fn on_deliver_fanout(&mut self, d: &Delivered, h: PacketHeader) -> Option<u64> {
        let key = (h.src, h.kind as u8, h.dest, h.seq);
        let at = d.node.0;
        let (src, dest, seq) = (h.src, h.dest, h.seq);
        let Some(exp) = self.fanout.get_mut(&key) else {
            self.findings.push(Finding::Unexpected { src, dest, seq });
            return None;
        };
        if !exp.alternatives.iter().any(|a| a.contains(&at)) {
            self.findings
                .push(Finding::NotMember { src, dest, seq, at });
            return None;
        }
        if !exp.got.insert(at) {
            self.findings
                .push(Finding::Duplicate { src, dest, seq, at });
            return None;
        }
        let mut expect_h = exp.header;
        expect_h.ttl = h.ttl;
        if expect_h != h || exp.payload != d.payload {
            self.findings.push(Finding::Corrupted {
                src,
                dest,
                seq,
                what: if expect_h != h {
                    format!("header {h:?} at {at}")
                } else {
                    format!("payload at {at}")
                },
            });
            return None;
        }
        self.copies_delivered += 1;
        let sent = exp.sent_cycle;
        let got = &exp.got;
        let complete = exp.alternatives.iter().any(|a| a == got);
        let more_possible = exp
            .alternatives
            .iter()
            .any(|a| a.len() > got.len() && a.is_superset(got));
        if complete && !more_possible {
            // Every receiver of the only tree that explains it has its copy.
            self.copies_expected += got.len() as u64;
            self.fanout.remove(&key);
            self.delivered += 1;
        }
        Some(sent)
    }

    /// Checks a delivered packet; returns its send cycle when it was expected.
    pub fn on_deliver(&mut self, d: &Delivered) -> Option<u64> {
        if d.cut {
            // The fabric marked it: a reported loss, never a delivery.
            if let Ok(h) = &d.header {
                let key = (h.src, h.dest, h.seq);
                if !h.kind.is_fanout() && self.outstanding.remove(&key).is_some() {
                    self.cut.push(key);
                    return None;
                }
            }
            self.cut.push((u8::MAX, d.node.0, u16::MAX));
            return None;
        }
        let h = match &d.header {
            Ok(h) => *h,
            Err(e) => {
                self.findings.push(Finding::Undecodable {
                    at: d.node.0,
                    error: e.to_string(),
                });
                return None;
            }
        };
        if h.kind.is_fanout() {
            return self.on_deliver_fanout(d, h);
        }
        let key = (h.src, h.dest, h.seq);
        let Some(exp) = self.outstanding.remove(&key) else {
            self.findings.push(Finding::Unexpected {
                src: h.src,
                dest: h.dest,
                seq: h.seq,
            });
            return None;
        };
        if d.node.0 != h.dest {
            self.findings.push(Finding::WrongNode {
                src: h.src,
                dest: h.dest,
                seq: h.seq,
                at: d.node.0,
            });
            return None;
        }
        // The router spends TTL per hop; everything else must be untouched.
        let mut expect_h = exp.header;
        expect_h.ttl = h.ttl;
        if expect_h != h || exp.payload != d.payload {
            self.findings.push(Finding::Corrupted {
                src: h.src,
                dest: h.dest,
                seq: h.seq,
                what: if expect_h != h {
                    format!("header {h:?}")
                } else {
                    "payload".into()
                },
            });
            return None;
        }
        if self.strict_order {
            let next = self.next_expected.entry((h.src, h.dest)).or_insert(0);
            let in_order = if self.lossy {
                h.seq.wrapping_sub(*next) < u16::MAX / 2
            } else {
                *next == h.seq
            };
            if !in_order && self.lossy {
                self.reordered.push((h.src, h.dest, h.seq));
            } else if !in_order {
                self.findings.push(Finding::OutOfOrder {
                    src: h.src,
                    dest: h.dest,
                    seq: h.seq,
                    expected: *next,
                });
            }
            if in_order {
                *next = h.seq.wrapping_add(1);
            }
        }
        self.delivered += 1;
        Some(exp.sent_cycle)
    }

    /// Packets sent and not yet delivered (fan-out packets until every
    /// receiver has its copy).
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
            + self
                .fanout
                .values()
                .filter(|e| !e.alternatives.contains(&e.got))
                .count()
    }

    /// Closes the books: whatever is outstanding is lost.
    pub fn finish(mut self) -> Report {
        let mut lost: Vec<_> = self.outstanding.keys().copied().collect();
        lost.sort();
        self.findings
            .extend(
                lost.into_iter()
                    .map(|(src, dest, seq)| Finding::Lost { src, dest, seq }),
            );
        let mut fan: Vec<_> = self.fanout.into_iter().collect();
        fan.sort_by_key(|(k, _)| *k);
        for ((src, _, dest, seq), exp) in fan {
            if exp.alternatives.contains(&exp.got) {
                // Complete for one tree (a smaller one, or no receivers).
                self.copies_expected += exp.got.len() as u64;
                self.delivered += 1;
                continue;
            }
            // Judge against the alternative closest to what arrived.
            let best = exp
                .alternatives
                .iter()
                .min_by_key(|a| a.symmetric_difference(&exp.got).count())
                .cloned()
                .unwrap_or_default();
            self.copies_expected += best.len() as u64;
            for &at in best.difference(&exp.got) {
                self.findings.push(Finding::LostCopy { src, dest, seq, at });
            }
            for &at in exp.got.difference(&best) {
                // A mix of two trees: a copy no single tree explains.
                self.findings
                    .push(Finding::NotMember { src, dest, seq, at });
            }
        }
        Report {
            sent: self.sent,
            delivered: self.delivered,
            copies_expected: self.copies_expected,
            copies_delivered: self.copies_delivered,
            findings: self.findings,
            cut: self.cut,
            reordered: self.reordered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use replimesh_regs::PacketHeader;
    use replimesh_spec::GroupId;

    fn mc(seq: u16) -> PacketHeader {
        let mut h = PacketHeader::multicast(GroupId(3), seq, 1, false);
        h.src = 5;
        h
    }

    fn copy(h: PacketHeader, at: u8, payload: Vec<u64>) -> Delivered {
        Delivered {
            node: NodeId(at),
            cut: false,
            header: Ok(h),
            payload,
            head_cycle: 10,
            tail_cycle: 11,
        }
    }

    fn members(ids: &[u8]) -> Vec<NodeId> {
        ids.iter().map(|i| NodeId(*i)).collect()
    }

    #[test]
    fn fanout_copies_once_each_is_clean() {
        let mut sb = Scoreboard::new();
        sb.on_send_fanout(mc(0), vec![7], 0, &members(&[1, 2, 3]));
        for at in [2, 1, 3] {
            assert!(sb.on_deliver(&copy(mc(0), at, vec![7])).is_some());
        }
        let r = sb.finish();
        assert!(r.is_clean(), "{:?}", r.findings);
        assert_eq!((r.copies_expected, r.copies_delivered), (3, 3));
    }

    #[test]
    fn reports_duplicate_non_member_lost_and_corrupt_copies() {
        let mut sb = Scoreboard::new();
        sb.on_send_fanout(mc(0), vec![7], 0, &members(&[1, 2, 3]));
        sb.on_deliver(&copy(mc(0), 1, vec![7]));
        sb.on_deliver(&copy(mc(0), 1, vec![7])); // duplicate
        sb.on_deliver(&copy(mc(0), 9, vec![7])); // not a member
        sb.on_deliver(&copy(mc(0), 2, vec![8])); // corrupted payload
        let r = sb.finish(); // 3 never arrives: lost
        assert!(!r.is_clean());
        let has = |f: &dyn Fn(&Finding) -> bool| r.findings.iter().any(f);
        assert!(has(&|f| matches!(f, Finding::Duplicate { at: 1, .. })));
        assert!(has(&|f| matches!(f, Finding::NotMember { at: 9, .. })));
        assert!(has(&|f| matches!(f, Finding::Corrupted { .. })));
        assert!(has(&|f| matches!(f, Finding::LostCopy { at: 3, .. })));
    }

    #[test]
    fn either_tree_is_accepted_but_not_a_mix() {
        let old = members(&[1, 2]);
        let new = members(&[1, 2, 4]);
        let other = members(&[6]);
        let mut sb = Scoreboard::new();
        // Packet 0 follows the old tree, packet 1 the new one.
        sb.on_send_fanout_either(mc(0), vec![], 0, &[old.clone(), new.clone()]);
        sb.on_send_fanout_either(mc(1), vec![], 0, &[old.clone(), new.clone()]);
        for at in [1, 2] {
            sb.on_deliver(&copy(mc(0), at, vec![]));
        }
        for at in [4, 1, 2] {
            sb.on_deliver(&copy(mc(1), at, vec![]));
        }
        assert_eq!(sb.outstanding(), 0);
        let r = sb.finish();
        assert!(r.is_clean(), "{:?}", r.findings);
        assert_eq!(r.copies_expected, 5);
        // A mix of two trees: half of each.
        let mut sb = Scoreboard::new();
        sb.on_send_fanout_either(mc(0), vec![], 0, &[old, other]);
        sb.on_deliver(&copy(mc(0), 1, vec![]));
        sb.on_deliver(&copy(mc(0), 6, vec![]));
        let r = sb.finish();
        assert!(!r.is_clean());
    }
}
