//! The exactly-once, right-payload, in-order checker.

use replimesh_regs::PacketHeader;
use replimesh_sim::Delivered;
use replimesh_spec::NodeId;
use std::collections::HashMap;

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
    next_seq: HashMap<(u8, u8), u16>,
    next_expected: HashMap<(u8, u8), u16>,
    strict_order: bool,
    findings: Vec<Finding>,
    sent: u64,
    delivered: u64,
}

/// What the scoreboard saw.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Packets sent.
    pub sent: u64,
    /// Packets delivered correctly.
    pub delivered: u64,
    /// Everything wrong, including losses.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Every packet delivered exactly once, intact, in order.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty() && self.sent == self.delivered
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

    /// Checks a delivered packet; returns its send cycle when it was expected.
    pub fn on_deliver(&mut self, d: &Delivered) -> Option<u64> {
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
            if *next != h.seq {
                self.findings.push(Finding::OutOfOrder {
                    src: h.src,
                    dest: h.dest,
                    seq: h.seq,
                    expected: *next,
                });
            }
            *next = h.seq.wrapping_add(1);
        }
        self.delivered += 1;
        Some(exp.sent_cycle)
    }

    /// Packets sent and not yet delivered.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
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
        Report {
            sent: self.sent,
            delivered: self.delivered,
            findings: self.findings,
        }
    }
}
