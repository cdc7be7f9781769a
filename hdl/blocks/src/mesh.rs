//! A W×H mesh of routers, each with its local port brought out to the top,
//! and one configuration bus that reaches every router by node id.
//!
//! Fault injection: per node, inputs that kill the router, cut its outgoing
//! link directions or flip a bit on them. They exist for simulation; the
//! card (the synthesized design) ties them low, so synthesis folds the
//! gating away (docs/fault-tolerance.md).

use crate::router::{LinkRx, LinkTx, Router, RouterParams};
use replimesh_spec::MeshGeometry;
use rust_hdl::prelude::*;

/// Fault controls of one node (simulation only).
#[derive(LogicInterface, Default)]
pub struct FaultCtl {
    /// The router is dead: held in reset, silent on every link.
    pub kill: Signal<In, Bit>,
    /// Outgoing directions cut, bit per port N, E, S, W: every wire leaving
    /// this router on that port reads zero at the neighbour (the credit it
    /// returns included).
    pub cut: Signal<In, Bits<4>>,
    /// Outgoing directions corrupted, bit per port: flit bit 0 inverted on
    /// the wire (the parity check at the neighbour fails).
    pub corrupt: Signal<In, Bits<4>>,
}

/// The fabric: routers joined N–S and E–W; local ports exposed.
#[derive(LogicBlock)]
pub struct Mesh<const W: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// Per node (dense index `y * width + x`): flits from the host.
    pub inject: Vec<LinkRx<W>>,
    /// Per node: flits to the host.
    pub eject: Vec<LinkTx<W>>,
    /// Per node: with the tail on `eject`, the packet was cut by a failure.
    pub eject_err: Vec<Signal<Out, Bit>>,
    /// Per node: which of its router's mesh links are up (bits N, E, S, W).
    pub link_up: Vec<Signal<Out, Bits<4>>>,
    /// Per node: fault injection.
    pub faults: Vec<FaultCtl>,
    /// Configuration bus: node addressed.
    pub cfg_node: Signal<In, Bits<8>>,
    /// Configuration bus: register word address.
    pub cfg_addr: Signal<In, Bits<16>>,
    /// Configuration bus: write data.
    pub cfg_wdata: Signal<In, Bits<32>>,
    /// Configuration bus: write strobe.
    pub cfg_we: Signal<In, Bit>,
    /// Configuration bus: read strobe.
    pub cfg_re: Signal<In, Bit>,
    /// Read data, one cycle after `cfg_re`.
    pub cfg_rdata: Signal<Out, Bits<32>>,
    /// The access one cycle ago was rejected (bad node, address or value).
    pub cfg_error: Signal<Out, Bit>,
    routers: Vec<Router<W>>,
    ids: Vec<Constant<Bits<8>>>,
    xs: Vec<Constant<Bits<8>>>,
    ys: Vec<Constant<Bits<8>>>,
    pending: DFF<Bit>,
    zero_w: Constant<Bits<W>>,
    one_w: Constant<Bits<W>>,
    zero32: Constant<Bits<32>>,
    _w: usize,
    _h: usize,
    _n: usize,
}

impl<const W: usize> Mesh<W> {
    /// A mesh of `geometry` with `fifo_depth`-flit input buffers.
    pub fn new(geometry: MeshGeometry, fifo_depth: usize) -> Self {
        Self::with_fanout(geometry, fifo_depth, true)
    }

    /// As [`Mesh::new`], choosing whether the routers carry the fan-out
    /// logic (`RouterParams::multicast`).
    pub fn with_fanout(geometry: MeshGeometry, fifo_depth: usize, multicast: bool) -> Self {
        let n = geometry.nodes() as usize;
        Self {
            clock: Default::default(),
            reset: Default::default(),
            inject: (0..n).map(|_| Default::default()).collect(),
            eject: (0..n).map(|_| Default::default()).collect(),
            eject_err: (0..n).map(|_| Default::default()).collect(),
            link_up: (0..n).map(|_| Default::default()).collect(),
            faults: (0..n).map(|_| Default::default()).collect(),
            cfg_node: Default::default(),
            cfg_addr: Default::default(),
            cfg_wdata: Default::default(),
            cfg_we: Default::default(),
            cfg_re: Default::default(),
            cfg_rdata: Default::default(),
            cfg_error: Default::default(),
            routers: (0..n)
                .map(|_| {
                    Router::new(RouterParams {
                        geometry,
                        fifo_depth,
                        multicast,
                    })
                })
                .collect(),
            ids: (0..n)
                .map(|i| Constant::new((geometry.id_at(i).0 as u64).to_bits()))
                .collect(),
            xs: (0..n)
                .map(|i| Constant::new(((i as u64) % geometry.width() as u64).to_bits()))
                .collect(),
            ys: (0..n)
                .map(|i| Constant::new(((i as u64) / geometry.width() as u64).to_bits()))
                .collect(),
            pending: Default::default(),
            zero_w: Constant::new(0u64.to_bits()),
            one_w: Constant::new(1u64.to_bits()),
            zero32: Constant::new(0u64.to_bits()),
            _w: geometry.width() as usize,
            _h: geometry.height() as usize,
            _n: n,
        }
    }
}

impl<const W: usize> Logic for Mesh<W> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, pending);
        self.pending.d.next = (self.cfg_we.val() || self.cfg_re.val()) && !self.reset.val();
        self.cfg_rdata.next = self.zero32.val();
        self.cfg_error.next = self.pending.q.val();
        for k in 0..(self._n) {
            self.routers[k].clock.next = self.clock.val();
            self.routers[k].reset.next = self.reset.val();
            self.routers[k].node_id.next = self.ids[k].val();
            self.routers[k].node_x.next = self.xs[k].val();
            self.routers[k].node_y.next = self.ys[k].val();
            self.routers[k].cfg_node.next = self.cfg_node.val();
            self.routers[k].cfg_addr.next = self.cfg_addr.val();
            self.routers[k].cfg_wdata.next = self.cfg_wdata.val();
            self.routers[k].cfg_we.next = self.cfg_we.val();
            self.routers[k].cfg_re.next = self.cfg_re.val();
            if self.routers[k].cfg_hit.val() {
                self.cfg_rdata.next = self.routers[k].cfg_rdata.val();
                self.cfg_error.next = self.routers[k].cfg_error.val();
            }
            self.routers[k].kill.next = self.faults[k].kill.val();
            // Local port.
            self.routers[k].l_rx.valid.next = self.inject[k].valid.val();
            self.routers[k].l_rx.last.next = self.inject[k].last.val();
            self.routers[k].l_rx.data.next = self.inject[k].data.val();
            self.inject[k].credit.next = self.routers[k].l_rx.credit.val();
            self.eject[k].valid.next = self.routers[k].l_tx.valid.val();
            self.eject[k].last.next = self.routers[k].l_tx.last.val();
            self.eject[k].data.next = self.routers[k].l_tx.data.val();
            self.eject_err[k].next = self.routers[k].l_err.val();
            self.link_up[k].next = self.routers[k].link_up.val();
            self.routers[k].l_tx.credit.next = self.eject[k].credit.val();
            // Mesh ports default to silent (a mesh edge); the link loops
            // below join them.
            self.routers[k].n_rx.valid.next = false;
            self.routers[k].n_rx.vc.next = false;
            self.routers[k].n_rx.last.next = false;
            self.routers[k].n_rx.err.next = false;
            self.routers[k].n_rx.data.next = self.zero_w.val();
            self.routers[k].n_rx.hb.next = false;
            self.routers[k].n_rx.ready.next = false;
            self.routers[k].n_rx.par.next = false;
            self.routers[k].n_tx.credit.next = false;
            self.routers[k].n_tx.credit1.next = false;
            self.routers[k].e_rx.valid.next = false;
            self.routers[k].e_rx.vc.next = false;
            self.routers[k].e_rx.last.next = false;
            self.routers[k].e_rx.err.next = false;
            self.routers[k].e_rx.data.next = self.zero_w.val();
            self.routers[k].e_rx.hb.next = false;
            self.routers[k].e_rx.ready.next = false;
            self.routers[k].e_rx.par.next = false;
            self.routers[k].e_tx.credit.next = false;
            self.routers[k].e_tx.credit1.next = false;
            self.routers[k].s_rx.valid.next = false;
            self.routers[k].s_rx.vc.next = false;
            self.routers[k].s_rx.last.next = false;
            self.routers[k].s_rx.err.next = false;
            self.routers[k].s_rx.data.next = self.zero_w.val();
            self.routers[k].s_rx.hb.next = false;
            self.routers[k].s_rx.ready.next = false;
            self.routers[k].s_rx.par.next = false;
            self.routers[k].s_tx.credit.next = false;
            self.routers[k].s_tx.credit1.next = false;
            self.routers[k].w_rx.valid.next = false;
            self.routers[k].w_rx.vc.next = false;
            self.routers[k].w_rx.last.next = false;
            self.routers[k].w_rx.err.next = false;
            self.routers[k].w_rx.data.next = self.zero_w.val();
            self.routers[k].w_rx.hb.next = false;
            self.routers[k].w_rx.ready.next = false;
            self.routers[k].w_rx.par.next = false;
            self.routers[k].w_tx.credit.next = false;
            self.routers[k].w_tx.credit1.next = false;
        }
        // One direction of one link: router `a` port `pa` to router `b` port
        // `pb`, through the fault controls of `a`.
        for w in (self._w)..(self._w + 1) {
            for y in 0..(self._h) {
                for x in 0..(self._w - 1) {
                    // Eastbound (x,y) -> (x+1,y): E (1) of a into W (3) of b.
                    self.routers[y * w + x + 1].w_rx.valid.next =
                        self.routers[y * w + x].e_tx.valid.val();
                    self.routers[y * w + x + 1].w_rx.vc.next =
                        self.routers[y * w + x].e_tx.vc.val();
                    self.routers[y * w + x + 1].w_rx.last.next =
                        self.routers[y * w + x].e_tx.last.val();
                    self.routers[y * w + x + 1].w_rx.err.next =
                        self.routers[y * w + x].e_tx.err.val();
                    self.routers[y * w + x + 1].w_rx.data.next =
                        self.routers[y * w + x].e_tx.data.val();
                    self.routers[y * w + x + 1].w_rx.hb.next =
                        self.routers[y * w + x].e_tx.hb.val();
                    self.routers[y * w + x + 1].w_rx.ready.next =
                        self.routers[y * w + x].e_tx.ready.val();
                    self.routers[y * w + x + 1].w_rx.par.next =
                        self.routers[y * w + x].e_tx.par.val();
                    self.routers[y * w + x + 1].w_tx.credit.next =
                        self.routers[y * w + x].e_rx.credit.val();
                    self.routers[y * w + x + 1].w_tx.credit1.next =
                        self.routers[y * w + x].e_rx.credit1.val();
                    if self.faults[y * w + x].corrupt.val().get_bit(1) {
                        self.routers[y * w + x + 1].w_rx.data.next =
                            self.routers[y * w + x].e_tx.data.val() ^ self.one_w.val();
                    }
                    if self.faults[y * w + x].cut.val().get_bit(1) {
                        self.routers[y * w + x + 1].w_rx.valid.next = false;
                        self.routers[y * w + x + 1].w_rx.vc.next = false;
                        self.routers[y * w + x + 1].w_rx.last.next = false;
                        self.routers[y * w + x + 1].w_rx.err.next = false;
                        self.routers[y * w + x + 1].w_rx.data.next = self.zero_w.val();
                        self.routers[y * w + x + 1].w_rx.hb.next = false;
                        self.routers[y * w + x + 1].w_rx.ready.next = false;
                        self.routers[y * w + x + 1].w_rx.par.next = false;
                        self.routers[y * w + x + 1].w_tx.credit.next = false;
                        self.routers[y * w + x + 1].w_tx.credit1.next = false;
                    }
                    // Westbound (x+1,y) -> (x,y): W (3) of a into E (1) of b.
                    self.routers[y * w + x].e_rx.valid.next =
                        self.routers[y * w + x + 1].w_tx.valid.val();
                    self.routers[y * w + x].e_rx.vc.next =
                        self.routers[y * w + x + 1].w_tx.vc.val();
                    self.routers[y * w + x].e_rx.last.next =
                        self.routers[y * w + x + 1].w_tx.last.val();
                    self.routers[y * w + x].e_rx.err.next =
                        self.routers[y * w + x + 1].w_tx.err.val();
                    self.routers[y * w + x].e_rx.data.next =
                        self.routers[y * w + x + 1].w_tx.data.val();
                    self.routers[y * w + x].e_rx.hb.next =
                        self.routers[y * w + x + 1].w_tx.hb.val();
                    self.routers[y * w + x].e_rx.ready.next =
                        self.routers[y * w + x + 1].w_tx.ready.val();
                    self.routers[y * w + x].e_rx.par.next =
                        self.routers[y * w + x + 1].w_tx.par.val();
                    self.routers[y * w + x].e_tx.credit.next =
                        self.routers[y * w + x + 1].w_rx.credit.val();
                    self.routers[y * w + x].e_tx.credit1.next =
                        self.routers[y * w + x + 1].w_rx.credit1.val();
                    if self.faults[y * w + x + 1].corrupt.val().get_bit(3) {
                        self.routers[y * w + x].e_rx.data.next =
                            self.routers[y * w + x + 1].w_tx.data.val() ^ self.one_w.val();
                    }
                    if self.faults[y * w + x + 1].cut.val().get_bit(3) {
                        self.routers[y * w + x].e_rx.valid.next = false;
                        self.routers[y * w + x].e_rx.vc.next = false;
                        self.routers[y * w + x].e_rx.last.next = false;
                        self.routers[y * w + x].e_rx.err.next = false;
                        self.routers[y * w + x].e_rx.data.next = self.zero_w.val();
                        self.routers[y * w + x].e_rx.hb.next = false;
                        self.routers[y * w + x].e_rx.ready.next = false;
                        self.routers[y * w + x].e_rx.par.next = false;
                        self.routers[y * w + x].e_tx.credit.next = false;
                        self.routers[y * w + x].e_tx.credit1.next = false;
                    }
                }
            }
            for y in 0..(self._h - 1) {
                for x in 0..(self._w) {
                    // Southbound (x,y) -> (x,y+1): S (2) of a into N (0) of b.
                    self.routers[(y + 1) * w + x].n_rx.valid.next =
                        self.routers[y * w + x].s_tx.valid.val();
                    self.routers[(y + 1) * w + x].n_rx.vc.next =
                        self.routers[y * w + x].s_tx.vc.val();
                    self.routers[(y + 1) * w + x].n_rx.last.next =
                        self.routers[y * w + x].s_tx.last.val();
                    self.routers[(y + 1) * w + x].n_rx.err.next =
                        self.routers[y * w + x].s_tx.err.val();
                    self.routers[(y + 1) * w + x].n_rx.data.next =
                        self.routers[y * w + x].s_tx.data.val();
                    self.routers[(y + 1) * w + x].n_rx.hb.next =
                        self.routers[y * w + x].s_tx.hb.val();
                    self.routers[(y + 1) * w + x].n_rx.ready.next =
                        self.routers[y * w + x].s_tx.ready.val();
                    self.routers[(y + 1) * w + x].n_rx.par.next =
                        self.routers[y * w + x].s_tx.par.val();
                    self.routers[(y + 1) * w + x].n_tx.credit.next =
                        self.routers[y * w + x].s_rx.credit.val();
                    self.routers[(y + 1) * w + x].n_tx.credit1.next =
                        self.routers[y * w + x].s_rx.credit1.val();
                    if self.faults[y * w + x].corrupt.val().get_bit(2) {
                        self.routers[(y + 1) * w + x].n_rx.data.next =
                            self.routers[y * w + x].s_tx.data.val() ^ self.one_w.val();
                    }
                    if self.faults[y * w + x].cut.val().get_bit(2) {
                        self.routers[(y + 1) * w + x].n_rx.valid.next = false;
                        self.routers[(y + 1) * w + x].n_rx.vc.next = false;
                        self.routers[(y + 1) * w + x].n_rx.last.next = false;
                        self.routers[(y + 1) * w + x].n_rx.err.next = false;
                        self.routers[(y + 1) * w + x].n_rx.data.next = self.zero_w.val();
                        self.routers[(y + 1) * w + x].n_rx.hb.next = false;
                        self.routers[(y + 1) * w + x].n_rx.ready.next = false;
                        self.routers[(y + 1) * w + x].n_rx.par.next = false;
                        self.routers[(y + 1) * w + x].n_tx.credit.next = false;
                        self.routers[(y + 1) * w + x].n_tx.credit1.next = false;
                    }
                    // Northbound (x,y+1) -> (x,y): N (0) of a into S (2) of b.
                    self.routers[y * w + x].s_rx.valid.next =
                        self.routers[(y + 1) * w + x].n_tx.valid.val();
                    self.routers[y * w + x].s_rx.vc.next =
                        self.routers[(y + 1) * w + x].n_tx.vc.val();
                    self.routers[y * w + x].s_rx.last.next =
                        self.routers[(y + 1) * w + x].n_tx.last.val();
                    self.routers[y * w + x].s_rx.err.next =
                        self.routers[(y + 1) * w + x].n_tx.err.val();
                    self.routers[y * w + x].s_rx.data.next =
                        self.routers[(y + 1) * w + x].n_tx.data.val();
                    self.routers[y * w + x].s_rx.hb.next =
                        self.routers[(y + 1) * w + x].n_tx.hb.val();
                    self.routers[y * w + x].s_rx.ready.next =
                        self.routers[(y + 1) * w + x].n_tx.ready.val();
                    self.routers[y * w + x].s_rx.par.next =
                        self.routers[(y + 1) * w + x].n_tx.par.val();
                    self.routers[y * w + x].s_tx.credit.next =
                        self.routers[(y + 1) * w + x].n_rx.credit.val();
                    self.routers[y * w + x].s_tx.credit1.next =
                        self.routers[(y + 1) * w + x].n_rx.credit1.val();
                    if self.faults[(y + 1) * w + x].corrupt.val().get_bit(0) {
                        self.routers[y * w + x].s_rx.data.next =
                            self.routers[(y + 1) * w + x].n_tx.data.val() ^ self.one_w.val();
                    }
                    if self.faults[(y + 1) * w + x].cut.val().get_bit(0) {
                        self.routers[y * w + x].s_rx.valid.next = false;
                        self.routers[y * w + x].s_rx.vc.next = false;
                        self.routers[y * w + x].s_rx.last.next = false;
                        self.routers[y * w + x].s_rx.err.next = false;
                        self.routers[y * w + x].s_rx.data.next = self.zero_w.val();
                        self.routers[y * w + x].s_rx.hb.next = false;
                        self.routers[y * w + x].s_rx.ready.next = false;
                        self.routers[y * w + x].s_rx.par.next = false;
                        self.routers[y * w + x].s_tx.credit.next = false;
                        self.routers[y * w + x].s_tx.credit1.next = false;
                    }
                }
            }
        }
    }
}
