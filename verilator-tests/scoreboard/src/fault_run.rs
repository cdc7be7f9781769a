//! A fault campaign's harness: uniform traffic over the simulated fabric,
//! failures injected, the control plane played the way every node plays it
//! (recompute up*/down* tables from the link state, check them, load them),
//! and the books closed against what a failure may lose. Shared by the
//! fabric tests (`verilator-tests/fabric/tests/link_failure.rs`) and
//! `meshctl bench reroute`.

use crate::{make_packet, Finding, Pattern, Report, Scoreboard};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use replimesh_sim::{Delivered, Fabric, SimError};
use replimesh_spec::routing::{check_deadlock_free, check_delivery, updown_tables, Faults};
use replimesh_spec::{MeshGeometry, NodeId, PortDir};
use std::collections::HashMap;

/// Cycles after a failure within which the routers have seen it on both
/// ends and the new tables are loaded (detection about 2 x 16 cycles, then
/// one configuration write per changed entry).
pub const ABSORB_CYCLES: u64 = 600;

/// Packets a cut link may swallow with no counter seeing them: those wholly
/// on its wires before the senders noticed, at most each sender's credits
/// (one input FIFO of `fifo_depth` flits) per direction, in packets of at
/// least two flits.
pub const fn unseen_per_cut(fifo_depth: usize) -> usize {
    2 * fifo_depth / 2
}

/// What went wrong in a fault run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FaultRunError {
    /// The bridge failed.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// The control plane's tables failed their own check.
    #[error("tables refused: {0}")]
    Tables(String),
    /// The books did not balance.
    #[error("{0}")]
    Books(String),
    /// The scoreboard saw a delivery it cannot explain.
    #[error("bad delivery: {0}")]
    Delivery(String),
}

/// One simulated mesh under uniform traffic, with its failures and books.
pub struct FaultRun {
    /// The fabric.
    pub f: Fabric,
    /// Every packet's books (order demanded, gaps allowed).
    pub sb: Scoreboard,
    /// Traffic randomness.
    pub rng: SmallRng,
    /// Cycle each packet was queued at its source.
    pub sent_at: HashMap<(u8, u8, u16), u64>,
    /// The link state the control plane knows.
    pub faults: Faults,
    /// Packets offered per node per cycle.
    pub load: f64,
    /// Payload flits per packet, 1 to this (0: header-only packets).
    pub max_payload: usize,
    /// Packets a failure may swallow without any counter seeing them: those
    /// wholly on a cut wire before the sender noticed (its credits' worth
    /// per cut direction), or inside a killed router.
    pub unseen_bound: usize,
    /// Packets sent on purpose to a dead or unreachable node.
    pub expected_unroutable: u32,
    /// Every good delivery: `(src, dest, seq, tail cycle)`.
    pub deliveries: Vec<(u8, u8, u16, u64)>,
}

impl FaultRun {
    /// A 64-bit-flit mesh with up*/down* tables for no faults loaded.
    pub fn new(
        g: MeshGeometry,
        seed: u64,
        load: f64,
        max_payload: usize,
    ) -> Result<FaultRun, FaultRunError> {
        let mut run = FaultRun {
            f: Fabric::new(g, 64)?,
            sb: Scoreboard::lossy(),
            rng: SmallRng::seed_from_u64(seed),
            sent_at: HashMap::new(),
            faults: Faults::new(g),
            load,
            max_payload,
            unseen_bound: 0,
            expected_unroutable: 0,
            deliveries: Vec::new(),
        };
        run.reroute()?;
        Ok(run)
    }

    fn take(&mut self, d: &Delivered) -> Result<(), FaultRunError> {
        if d.cut {
            self.sb.on_deliver(d);
            return Ok(());
        }
        if self.sb.on_deliver(d).is_none() {
            return Err(FaultRunError::Delivery(format!("{d:?}")));
        }
        if let Ok(h) = &d.header {
            self.deliveries.push((h.src, h.dest, h.seq, d.tail_cycle));
        }
        Ok(())
    }

    /// One cycle, deliveries taken.
    pub fn step(&mut self) -> Result<(), FaultRunError> {
        self.f.step()?;
        for d in self.f.drain_delivered() {
            self.take(&d)?;
        }
        Ok(())
    }

    /// Queues one packet of `flits` flits from `src` to `dest`.
    pub fn send(&mut self, src: NodeId, dest: NodeId, flits: usize) -> Result<(), FaultRunError> {
        let p = make_packet(&mut self.sb, &self.f, src, dest, flits);
        let key = (p.header.src, p.header.dest, p.header.seq);
        self.sent_at.insert(key, self.f.cycle());
        self.f.send(src, &p)?;
        Ok(())
    }

    /// Uniform traffic between live, mutually reachable nodes for `cycles`.
    pub fn traffic(&mut self, cycles: u64) -> Result<(), FaultRunError> {
        let g = self.f.geometry();
        for _ in 0..cycles {
            for i in 0..g.nodes() as usize {
                let src = g.id_at(i);
                if !self.faults.is_live(src) || self.f.queued_flits(src) >= 24 {
                    continue;
                }
                if !self.rng.gen_bool(self.load) {
                    continue;
                }
                let Some(dest) = Pattern::Uniform.destination(&g, src, &mut self.rng) else {
                    continue;
                };
                if self.faults.is_live(dest) && self.faults.reachable(src, dest) {
                    let flits = match self.max_payload {
                        0 => 1,
                        m => 1 + self.rng.gen_range(1..=m),
                    };
                    self.send(src, dest, flits)?;
                }
            }
            self.step()?;
        }
        Ok(())
    }

    /// What every node's control plane does after a change of link state:
    /// the same tables everywhere, checked before they are written.
    pub fn reroute(&mut self) -> Result<(), FaultRunError> {
        let tables = updown_tables(&self.faults);
        check_deadlock_free(&self.faults, &tables)
            .map_err(|e| FaultRunError::Tables(e.to_string()))?;
        check_delivery(&self.faults, &tables).map_err(|e| FaultRunError::Tables(e.to_string()))?;
        self.f.load_tables(&tables)?;
        Ok(())
    }

    /// Cuts both directions of a link; the control plane learns of it.
    pub fn cut(&mut self, node: NodeId, port: PortDir) -> Result<(), FaultRunError> {
        self.f.cut_link(node, port)?;
        self.faults
            .set_link_down(node, port)
            .map_err(|e| FaultRunError::Tables(e.to_string()))?;
        self.unseen_bound += unseen_per_cut(self.f.fifo_depth());
        Ok(())
    }

    /// Kills a router; the control plane learns of it.
    pub fn kill(&mut self, node: NodeId) -> Result<(), FaultRunError> {
        self.f.kill_router(node)?;
        self.faults
            .set_router_dead(node)
            .map_err(|e| FaultRunError::Tables(e.to_string()))?;
        // Its five buffers and its host's queue.
        self.unseen_bound += (5 * self.f.fifo_depth() + 24) / 2 + 4 * self.f.fifo_depth();
        Ok(())
    }

    /// Stops injecting and steps until nothing has moved for a while and no
    /// host has anything queued. `Ok(false)`: still busy after `max_cycles`
    /// (a deadlock).
    pub fn drain(&mut self, max_cycles: u64) -> Result<bool, FaultRunError> {
        let mut quiet = 0;
        for _ in 0..max_cycles {
            let before = self.sb.outstanding();
            self.step()?;
            quiet = if self.sb.outstanding() == before && self.f.host_flits_pending() == 0 {
                quiet + 1
            } else {
                0
            };
            if quiet >= 128 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Closes the books and checks them: only losses (and overtakes), only
    /// of packets sent before `absorbed` (the failure's moment plus its
    /// absorption), no more than the routers counted plus what may vanish
    /// unseen; no packet looped, none found no route unless sent to a dead
    /// or unreachable node on purpose.
    pub fn check(mut self, absorbed: u64) -> Result<Report, FaultRunError> {
        let (mut counted, mut unroutable, mut ttl) = (0, 0, 0);
        for n in self.f.geometry().node_ids().collect::<Vec<_>>() {
            if self.f.is_killed(n)? {
                continue;
            }
            let c = self.f.counters(n)?;
            counted += (c.cut_tails + c.cut_drops) as usize;
            unroutable += c.drop_unroutable;
            ttl += c.drop_ttl;
        }
        let books = |m: String| Err(FaultRunError::Books(m));
        if ttl != 0 {
            return books(format!("{ttl} packets looped until their TTL ran out"));
        }
        if unroutable != self.expected_unroutable {
            return books(format!(
                "{unroutable} packets found no route ({} expected)",
                self.expected_unroutable
            ));
        }
        let unseen = self.unseen_bound;
        let sent_at = std::mem::take(&mut self.sent_at);
        let report = self.sb.finish();
        let sent = |k: &(u8, u8, u16)| sent_at.get(k).copied().unwrap_or(u64::MAX);
        for finding in &report.findings {
            let Finding::Lost { src, dest, seq } = finding else {
                return books(format!("{finding:?}"));
            };
            let at = sent(&(*src, *dest, *seq));
            if at >= absorbed {
                return books(format!(
                    "packet {src}->{dest} #{seq} sent at {at}, after the failure was absorbed ({absorbed}), was lost"
                ));
            }
        }
        for k in report.reordered.iter().chain(report.cut.iter()) {
            if sent_at.contains_key(k) && sent(k) >= absorbed {
                return books(format!(
                    "packet {k:?} sent at {}, overtaken or cut",
                    sent(k)
                ));
            }
        }
        let lost = lost(&report);
        if lost > counted + unseen {
            return books(format!(
                "{lost} lost, {counted} counted by the routers, {unseen} may vanish unseen"
            ));
        }
        Ok(report)
    }
}

/// Packets a report counts as lost: never arrived, or arrived cut.
pub fn lost(r: &Report) -> usize {
    r.findings.len() + r.cut.len()
}
