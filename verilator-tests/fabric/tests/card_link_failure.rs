//! Link failures on the card (mesh plus endpoints, the generated Verilog):
//! a packet the failure cuts mid-worm reaches its endpoint with a cut mark
//! and completes with cause `link_cut`: counted, never handed to the host as
//! data. Everything else is delivered exactly once, intact and in order, on
//! the routes the control plane (played here as every node would play it)
//! loads after the failure by the double scheme, each node writing its own
//! router's spare bank and `table_banks` and reading its `vc_seen` through
//! its own window. The scoreboard checks every packet.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use replimesh_driver::{Device, Endpoint, EndpointConfig};
use replimesh_regs::PacketHeader;
use replimesh_scoreboard::fault_run::unseen_per_cut;
use replimesh_scoreboard::{payload_flit, Scoreboard};
use replimesh_sim::card::{CardSim, SharedCard, SimDevice};
use replimesh_sim::Delivered;
use replimesh_spec::reconfig::OtherBank;
use replimesh_spec::regmap::ErrorCause;
use replimesh_spec::routing::{check_deadlock_free, check_delivery, updown_tables, Faults};
use replimesh_spec::{MeshGeometry, NodeId, PortDir};

/// Cycles the host loop advances between polls.
const POLL: u64 = 8;
/// Router input FIFO depth of the card models (flits).
const FIFO_DEPTH: usize = 8;

struct Run {
    card: SharedCard,
    eps: Vec<Endpoint<SimDevice>>,
    ids: Vec<NodeId>,
    sb: Scoreboard,
    queues: Vec<Vec<(PacketHeader, Vec<u64>)>>,
    rng: SmallRng,
}

impl Run {
    fn new(g: MeshGeometry, seed: u64) -> Run {
        let card = CardSim::new(g).expect("card model built");
        // The control plane's tables for the whole mesh, before any traffic
        // (as the bare-mesh fault runs start).
        card.borrow_mut()
            .load_tables(&updown_tables(&Faults::new(g)))
            .unwrap();
        let cfg = EndpointConfig {
            tx_entries: 16,
            rx_entries: 32,
            ..Default::default()
        };
        let eps: Vec<_> = CardSim::devices(&card)
            .into_iter()
            .map(|d| Endpoint::open(d, cfg).expect("endpoint opens"))
            .collect();
        let ids = eps.iter().map(|e| e.info().node).collect();
        let mut run = Run {
            card,
            eps,
            ids,
            sb: Scoreboard::lossy(),
            queues: vec![vec![]; g.nodes() as usize],
            rng: SmallRng::seed_from_u64(seed),
        };
        // Into the double scheme's steady state: the spare VC empty, its
        // bank loading, so that a change needs no preparation.
        let spare = run.card.borrow_mut().enter_double_scheme().unwrap();
        run.wait_drained(spare);
        run
    }

    /// Passes over every router's `vc_seen` until one finds `vc` clear
    /// everywhere, serving the hosts between passes; then ends the change.
    fn wait_drained(&mut self, vc: u8) {
        let card = self.card.clone();
        let drained = CardSim::drain_change(&card, vc, 2_000, || self.poll()).unwrap();
        assert!(drained, "VC{vc} did not drain");
    }

    fn queue(&mut self, src: usize, dest: NodeId, len: usize) {
        let s = self.ids[src];
        let seq = self.sb.next_seq(s, dest);
        let mut h = PacketHeader::unicast(dest, seq, len as u8);
        h.src = s.0;
        let payload: Vec<u64> = (0..len)
            .map(|i| payload_flit(s, dest, seq, i, 64))
            .collect();
        let now = self.eps[0].device().now();
        self.sb.on_send(h, payload.clone(), now);
        self.queues[src].push((h, payload));
    }

    /// `cycles` of traffic: every node offers a packet with probability
    /// `load` per poll to a random other node, and the nodes named in
    /// `streams` keep long packets flowing to their partner.
    fn traffic(&mut self, cycles: u64, load: f64, streams: &[(usize, NodeId)]) {
        let end = self.eps[0].device().now() + cycles;
        while self.eps[0].device().now() < end {
            let n = self.ids.len();
            for src in 0..n {
                if self.rng.gen_bool(load) {
                    let mut dest = self.ids[self.rng.gen_range(0..n)];
                    while dest == self.ids[src] {
                        dest = self.ids[self.rng.gen_range(0..n)];
                    }
                    let len = self.rng.gen_range(1..=8);
                    self.queue(src, dest, len);
                }
            }
            for &(src, dest) in streams {
                if self.queues[src].len() < 2 {
                    self.queue(src, dest, 24);
                }
            }
            self.poll();
        }
    }

    fn poll(&mut self) {
        let now = self.eps[0].device().now();
        for (i, ep) in self.eps.iter_mut().enumerate() {
            if !self.queues[i].is_empty() {
                let k = self.queues[i].len().min(8);
                let n = ep.send_batch(&self.queues[i][..k]).unwrap();
                self.queues[i].drain(..n);
            }
            for p in ep.recv_batch(32).unwrap() {
                self.sb
                    .on_deliver(&Delivered::from_host(self.ids[i], p, now));
            }
        }
        self.eps[0].device().advance_time(POLL).unwrap();
    }

    /// Polls until every queue is empty and nothing has arrived for a while.
    fn drain(&mut self, limit: u64) {
        let start = self.eps[0].device().now();
        let mut quiet = 0;
        let mut last = self.sb.outstanding();
        while quiet < 3_000 {
            assert!(
                self.eps[0].device().now() - start < limit,
                "did not drain in {limit} cycles: {} outstanding",
                self.sb.outstanding()
            );
            self.poll();
            let o = self.sb.outstanding();
            if o == last && self.queues.iter().all(|q| q.is_empty()) {
                quiet += POLL;
            } else {
                quiet = 0;
            }
            last = o;
        }
    }

    /// Cuts the link, then plays the control plane: every node learns the
    /// same link state, computes the same up*/down* tables, checks them,
    /// writes them into its own router's spare bank and switches; once the
    /// old VC has drained everywhere, the old bank is marked loading.
    fn cut_and_reroute(&mut self, faults: &mut Faults, node: usize, port: PortDir) {
        self.card.borrow_mut().cut_link(node, port).unwrap();
        // Both routers notice (timeout, then the far end's silence).
        self.traffic(64, 0.02, &[]);
        faults.set_link_down(self.ids[node], port).unwrap();
        let tables = updown_tables(faults);
        check_deadlock_free(faults, &tables).expect("deadlock-free tables");
        check_delivery(faults, &tables).expect("every live pair routed");
        let old = self.card.borrow_mut().switch_tables(&tables).unwrap();
        self.wait_drained(old);
    }

    fn link_cut_completions(&mut self) -> u32 {
        self.eps
            .iter_mut()
            .map(|ep| ep.counters().unwrap().error(ErrorCause::LinkCut))
            .sum()
    }
}

#[test]
fn packets_cut_by_a_failed_link_complete_as_link_cut_and_the_rest_arrive_intact() {
    let g = MeshGeometry::new(4, 4).unwrap();
    let mut total_cut = 0;
    // Row and column links, in the middle of the mesh and on its edge, each
    // crossed by long worms when it dies.
    for (seed, node, port, streams) in [
        (1, 5, PortDir::E, vec![(4, NodeId(7)), (5, NodeId(6))]),
        (2, 6, PortDir::S, vec![(2, NodeId(14)), (6, NodeId(10))]),
        (3, 9, PortDir::W, vec![(11, NodeId(8)), (10, NodeId(8))]),
        (4, 1, PortDir::S, vec![(1, NodeId(13)), (0, NodeId(9))]),
    ] {
        let mut run = Run::new(g, seed);
        let mut faults = Faults::new(g);
        run.traffic(1_500, 0.02, &streams);
        run.cut_and_reroute(&mut faults, node, port);
        // Every router switched to bank 1 and marked bank 0 loading, through
        // its own window.
        for i in 0..g.nodes() as usize {
            let banks = run.card.borrow_mut().table_banks(i).unwrap();
            assert_eq!(banks, (1, OtherBank::Loading), "router {i}");
        }
        run.traffic(1_500, 0.02, &streams);
        run.drain(200_000);
        let cut = run.link_cut_completions() as usize;
        let report = std::mem::take(&mut run.sb).finish();
        let what = format!("cut node {node} {port:?}");
        // Nothing wrong was delivered: no corruption, duplicate, misroute
        // or reordering; only losses.
        let wrong: Vec<_> = report
            .findings
            .iter()
            .filter(|f| !matches!(f, replimesh_scoreboard::Finding::Lost { .. }))
            .collect();
        assert!(wrong.is_empty(), "{what}: {wrong:?}");
        let lost = report.findings.len();
        eprintln!(
            "{what}: {} sent, {} delivered, {lost} lost, {cut} cut",
            report.sent, report.delivered
        );
        assert!(
            report.delivered > 200,
            "{what}: {} delivered",
            report.delivered
        );
        // Every cut completion is a lost packet, and what else was lost
        // was on the cut wire.
        assert!(cut <= lost, "{what}: {cut} cut completions, {lost} lost");
        assert!(
            lost - cut <= unseen_per_cut(FIFO_DEPTH),
            "{what}: {lost} lost, only {cut} reported cut"
        );
        // The drop counters agree with the completions.
        let drops: u32 = run
            .eps
            .iter_mut()
            .map(|e| e.counters().unwrap().rx_drops)
            .sum();
        assert_eq!(drops as usize, cut, "{what}: rx drops vs cut completions");
        let host_errors: u64 = run.eps.iter().map(|e| e.stats().rx_errors).sum();
        assert_eq!(
            host_errors as usize, cut,
            "{what}: the hosts saw every cut completion"
        );
        // After the reroute every pair still works: a packet across the
        // dead link's endpoints is delivered on the new route.
        let peer = g
            .index_of(g.neighbour(run.ids[node], port).unwrap())
            .unwrap();
        run.sb = Scoreboard::new();
        run.queue(node, run.ids[peer], 3);
        run.queue(peer, run.ids[node], 3);
        run.drain(50_000);
        let after = std::mem::take(&mut run.sb).finish();
        assert!(
            after.is_clean(),
            "{what}: after the reroute: {:?}",
            after.findings
        );
        assert_eq!(after.sent, 2);
        total_cut += cut;
    }
    // Long worms crossed both links as they died: the cut path is exercised.
    assert!(total_cut > 0, "no packet was cut mid-worm");
}
