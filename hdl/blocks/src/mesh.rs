//! A W×H mesh of routers, each with its local port brought out to the top,
//! and one configuration bus that reaches every router by node id.

use crate::router::{LinkRx, LinkTx, Router, RouterParams};
use replimesh_spec::MeshGeometry;
use rust_hdl::prelude::*;

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
            // Local port.
            self.routers[k].l_rx.valid.next = self.inject[k].valid.val();
            self.routers[k].l_rx.last.next = self.inject[k].last.val();
            self.routers[k].l_rx.data.next = self.inject[k].data.val();
            self.inject[k].credit.next = self.routers[k].l_rx.credit.val();
            self.eject[k].valid.next = self.routers[k].l_tx.valid.val();
            self.eject[k].last.next = self.routers[k].l_tx.last.val();
            self.eject[k].data.next = self.routers[k].l_tx.data.val();
            self.routers[k].l_tx.credit.next = self.eject[k].credit.val();
            // Mesh ports default to idle; the link loops below join them.
            self.routers[k].n_rx.valid.next = false;
            self.routers[k].n_rx.last.next = false;
            self.routers[k].n_rx.data.next = self.zero_w.val();
            self.routers[k].n_tx.credit.next = false;
            self.routers[k].e_rx.valid.next = false;
            self.routers[k].e_rx.last.next = false;
            self.routers[k].e_rx.data.next = self.zero_w.val();
            self.routers[k].e_tx.credit.next = false;
            self.routers[k].s_rx.valid.next = false;
            self.routers[k].s_rx.last.next = false;
            self.routers[k].s_rx.data.next = self.zero_w.val();
            self.routers[k].s_tx.credit.next = false;
            self.routers[k].w_rx.valid.next = false;
            self.routers[k].w_rx.last.next = false;
            self.routers[k].w_rx.data.next = self.zero_w.val();
            self.routers[k].w_tx.credit.next = false;
        }
        for w in (self._w)..(self._w + 1) {
            for y in 0..(self._h) {
                for x in 0..(self._w - 1) {
                    // Eastbound (x,y) -> (x+1,y).
                    self.routers[y * w + x + 1].w_rx.valid.next =
                        self.routers[y * w + x].e_tx.valid.val();
                    self.routers[y * w + x + 1].w_rx.last.next =
                        self.routers[y * w + x].e_tx.last.val();
                    self.routers[y * w + x + 1].w_rx.data.next =
                        self.routers[y * w + x].e_tx.data.val();
                    self.routers[y * w + x].e_tx.credit.next =
                        self.routers[y * w + x + 1].w_rx.credit.val();
                    // Westbound (x+1,y) -> (x,y).
                    self.routers[y * w + x].e_rx.valid.next =
                        self.routers[y * w + x + 1].w_tx.valid.val();
                    self.routers[y * w + x].e_rx.last.next =
                        self.routers[y * w + x + 1].w_tx.last.val();
                    self.routers[y * w + x].e_rx.data.next =
                        self.routers[y * w + x + 1].w_tx.data.val();
                    self.routers[y * w + x + 1].w_tx.credit.next =
                        self.routers[y * w + x].e_rx.credit.val();
                }
            }
            for y in 0..(self._h - 1) {
                for x in 0..(self._w) {
                    // Southbound (x,y) -> (x,y+1).
                    self.routers[(y + 1) * w + x].n_rx.valid.next =
                        self.routers[y * w + x].s_tx.valid.val();
                    self.routers[(y + 1) * w + x].n_rx.last.next =
                        self.routers[y * w + x].s_tx.last.val();
                    self.routers[(y + 1) * w + x].n_rx.data.next =
                        self.routers[y * w + x].s_tx.data.val();
                    self.routers[y * w + x].s_tx.credit.next =
                        self.routers[(y + 1) * w + x].n_rx.credit.val();
                    // Northbound (x,y+1) -> (x,y).
                    self.routers[y * w + x].s_rx.valid.next =
                        self.routers[(y + 1) * w + x].n_tx.valid.val();
                    self.routers[y * w + x].s_rx.last.next =
                        self.routers[(y + 1) * w + x].n_tx.last.val();
                    self.routers[y * w + x].s_rx.data.next =
                        self.routers[(y + 1) * w + x].n_tx.data.val();
                    self.routers[(y + 1) * w + x].n_tx.credit.next =
                        self.routers[y * w + x].s_rx.credit.val();
                }
            }
        }
    }
}
