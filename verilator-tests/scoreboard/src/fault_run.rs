//! A fault campaign's harness: uniform traffic over the simulated fabric,
//! failures injected, the control plane played the way every node plays it
//! (recompute up*/down* tables from the link state, check them, load them
//! by the double scheme: router by router, into the spare VC's bank, each
//! switching to it at once; then wait until the old VC
//! drained and mark its bank loading), and the books closed against what a
//! failure may lose. Shared by the
//! fabric tests (`verilator-tests/fabric/tests/link_failure.rs`) and
//! `meshctl bench reroute`.

use crate::{make_packet, Finding, Pattern, Report, Scoreboard};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use replimesh_sim::{Delivered, Fabric, SimError};
use replimesh_spec::reconfig::OtherBank;
use replimesh_spec::routing::{check_deadlock_free, check_delivery, updown_tables, Faults};
use replimesh_spec::{MeshGeometry, NodeId, PortDir};
use std::collections::HashMap;

/// Cycles after a failure within which the routers have seen it on both
/// ends and the new tables are loaded (detection about 2 x 16 cycles, then
/// one configuration write per changed entry).
pub const ABSORB_CYCLES: u64 = 600;

/// Passes over every router's `vc_seen` the control plane makes before it
/// calls a VC that will not drain stuck (each pass is two configuration
/// accesses per router).
pub const DRAIN_PASSES: usize = 400;

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
    /// The VC (and bank) of the newest tables, at every live router.
    pub cur: u8,
    /// Passes over `vc_seen` the last change needed to see its old VC empty.
    pub last_drain_passes: usize,
    /// Where [`FaultRun::traffic`] sends (uniform unless set).
    pub pattern: Pattern,
    /// Switch the routers nearest the change first (as flooded link state
    /// reaches them: `meshctl bench reroute`), not in a random order (the
    /// tests: any order must be safe).
    pub nearest_first: bool,
    /// Routers next to the failures since the last change.
    changed: Vec<NodeId>,
    /// Cycles the last change took from its first bank write to the last
    /// router's switch (every node's writes go through the one simulated
    /// configuration bus, one after another).
    pub last_switch_cycles: u64,
}

impl FaultRun {
    /// A 64-bit-flit mesh with up*/down* tables for no faults loaded, ready
    /// for the double scheme: VC1's bank marked loading, nothing on VC1.
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
            cur: 0,
            last_drain_passes: 0,
            last_switch_cycles: 0,
            pattern: Pattern::Uniform,
            nearest_first: false,
            changed: Vec::new(),
        };
        for n in g.node_ids() {
            run.f.set_table_banks(n, 0, OtherBank::Loading)?;
        }
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

    /// Traffic of `pattern` between live, mutually reachable nodes for `cycles`.
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
                let Some(dest) = self.pattern.destination(&g, src, &mut self.rng) else {
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
    ///
    /// The double scheme (`docs/deadlock-freedom.md`): the spare VC is empty
    /// and its bank `loading` everywhere. Each live router, in a random
    /// order (or nearest the change first), gets the new tables written into
    /// that bank and switches to it (`cur` := spare, the old bank `old`): its
    /// heads move up to the new VC and its injected packets take it (a head
    /// on the new VC at a router not yet switched waits for it). Once every router has switched,
    /// nothing enters the old VC; when two passes over every router's
    /// `vc_seen` find it empty, its bank is marked `loading`, ready for the
    /// next change (the global rule: a bank is rewritten only when its VC is
    /// empty everywhere). Traffic keeps moving throughout.
    pub fn reroute(&mut self) -> Result<(), FaultRunError> {
        let tables = updown_tables(&self.faults);
        check_deadlock_free(&self.faults, &tables)
            .map_err(|e| FaultRunError::Tables(e.to_string()))?;
        check_delivery(&self.faults, &tables).map_err(|e| FaultRunError::Tables(e.to_string()))?;
        let (old, new) = (self.cur, 1 - self.cur);
        let start = self.f.cycle();
        let mut order = self.live_routers()?;
        order.shuffle(&mut self.rng);
        if self.nearest_first && !self.changed.is_empty() {
            let g = self.f.geometry();
            let dist = |n: NodeId| {
                let (x, y) = g.coords(n).unwrap_or((0, 0));
                self.changed
                    .iter()
                    .filter_map(|&c| g.coords(c))
                    .map(|(cx, cy)| x.abs_diff(cx) + y.abs_diff(cy))
                    .min()
                    .unwrap_or(0)
            };
            order.sort_by_key(|&n| dist(n));
        }
        // Each router switches as soon as its own bank is loaded: nothing
        // routes by a bank while it is `loading`, and a head that reaches a
        // router not yet switched on the new VC waits there for it.
        for &n in &order {
            self.f.load_bank(n, new, &tables)?;
            self.f.set_table_banks(n, new, OtherBank::Old)?;
        }
        self.changed.clear();
        self.cur = new;
        self.last_switch_cycles = self.f.cycle() - start;
        self.last_drain_passes = self.wait_drained(old)?;
        // The old bank, empty and `loading` everywhere, catches up with the
        // new tables off the critical path, so that the next change writes
        // only the entries that change then.
        for &n in &order {
            self.f.set_table_banks(n, new, OtherBank::Loading)?;
            self.f.load_bank(n, old, &tables)?;
        }
        Ok(())
    }

    /// Routers not killed.
    fn live_routers(&self) -> Result<Vec<NodeId>, FaultRunError> {
        let mut live = Vec::new();
        for n in self.f.geometry().node_ids() {
            if !self.f.is_killed(n)? {
                live.push(n);
            }
        }
        Ok(live)
    }

    /// Reads and clears `vc`'s `vc_seen` bit at every live router, pass after
    /// pass, until one pass finds it clear everywhere: then the VC was empty
    /// at the end of the pass before (anything on it then would have been at
    /// some router, or on a link into one, from before that router's clear
    /// to its read), and nothing enters it any more. Returns the passes.
    fn wait_drained(&mut self, vc: u8) -> Result<usize, FaultRunError> {
        let live = self.live_routers()?;
        let bit = 1 << vc;
        for &n in &live {
            self.f.vc_seen(n, bit)?;
        }
        for pass in 1..=DRAIN_PASSES {
            let mut seen = false;
            for &n in &live {
                seen |= self.f.vc_seen(n, bit)? & bit != 0;
            }
            if !seen {
                return Ok(pass);
            }
        }
        Err(FaultRunError::Books(format!(
            "VC{vc} still held packets after {DRAIN_PASSES} passes over vc_seen"
        )))
    }

    /// Cuts both directions of a link; the control plane learns of it.
    pub fn cut(&mut self, node: NodeId, port: PortDir) -> Result<(), FaultRunError> {
        self.f.cut_link(node, port)?;
        self.changed.push(node);
        self.faults
            .set_link_down(node, port)
            .map_err(|e| FaultRunError::Tables(e.to_string()))?;
        self.unseen_bound += unseen_per_cut(self.f.fifo_depth());
        Ok(())
    }

    /// Kills a router; the control plane learns of it.
    pub fn kill(&mut self, node: NodeId) -> Result<(), FaultRunError> {
        self.f.kill_router(node)?;
        self.changed.push(node);
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
