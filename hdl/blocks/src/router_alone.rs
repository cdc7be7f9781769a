//! One router alone, as the top of its own Verilog file: the unit that area and
//! Fmax are reported for (`bitstreams/`). It is the same `Router` the mesh
//! instantiates, with its node id and coordinates tied to the constants the
//! mesh would wire for an interior node, and every link and the configuration
//! bus brought out as ports.

use crate::router::{LinkRx, LinkTx, MeshRx, MeshTx, Router, RouterParams};
use replimesh_spec::MeshGeometry;
use rust_hdl::prelude::*;

/// A single router with all five links and the configuration bus as ports.
#[derive(LogicBlock)]
pub struct RouterAlone<const W: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// Mesh links in, `N, E, S, W`.
    pub rx: Vec<MeshRx<W>>,
    /// Mesh links out, `N, E, S, W`.
    pub tx: Vec<MeshTx<W>>,
    /// Local link in.
    pub l_rx: LinkRx<W>,
    /// Local link out.
    pub l_tx: LinkTx<W>,
    /// Local link out: error-marked tail.
    pub l_err: Signal<Out, Bit>,
    /// Which mesh links are up.
    pub link_up: Signal<Out, Bits<4>>,
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
    /// The router answered the last access.
    pub cfg_hit: Signal<Out, Bit>,
    /// Read data of the last access.
    pub cfg_rdata: Signal<Out, Bits<32>>,
    /// The last access was rejected.
    pub cfg_error: Signal<Out, Bit>,
    router: Router<W>,
    id: Constant<Bits<8>>,
    x: Constant<Bits<8>>,
    y: Constant<Bits<8>>,
}

impl<const W: usize> RouterAlone<W> {
    /// The router of node `(1, 1)` of `geometry` (an interior node when the
    /// mesh is at least 3×3, so no port is tied off by position), with or
    /// without the fan-out logic (`RouterParams::multicast`).
    pub fn new(geometry: MeshGeometry, fifo_depth: usize, multicast: bool) -> Self {
        let (x, y) = (1, 1);
        let c8 = |v: u32| Constant::new((v as u64).to_bits());
        Self {
            clock: Default::default(),
            reset: Default::default(),
            rx: (0..4).map(|_| Default::default()).collect(),
            tx: (0..4).map(|_| Default::default()).collect(),
            l_rx: Default::default(),
            l_tx: Default::default(),
            l_err: Default::default(),
            link_up: Default::default(),
            cfg_node: Default::default(),
            cfg_addr: Default::default(),
            cfg_wdata: Default::default(),
            cfg_we: Default::default(),
            cfg_re: Default::default(),
            cfg_hit: Default::default(),
            cfg_rdata: Default::default(),
            cfg_error: Default::default(),
            router: Router::new(RouterParams {
                geometry,
                fifo_depth,
                multicast,
            }),
            id: c8(geometry.node_id(x, y).0 as u32),
            x: c8(x),
            y: c8(y),
        }
    }
}

impl<const W: usize> Logic for RouterAlone<W> {
    #[hdl_gen]
    fn update(&mut self) {
        self.router.clock.next = self.clock.val();
        self.router.reset.next = self.reset.val();
        self.router.node_id.next = self.id.val();
        self.router.node_x.next = self.x.val();
        self.router.node_y.next = self.y.val();
        self.router.cfg_node.next = self.cfg_node.val();
        self.router.cfg_addr.next = self.cfg_addr.val();
        self.router.cfg_wdata.next = self.cfg_wdata.val();
        self.router.cfg_we.next = self.cfg_we.val();
        self.router.cfg_re.next = self.cfg_re.val();
        self.cfg_hit.next = self.router.cfg_hit.val();
        self.cfg_rdata.next = self.router.cfg_rdata.val();
        self.cfg_error.next = self.router.cfg_error.val();
        self.router.kill.next = false;
        self.router.n_rx.valid.next = self.rx[0].valid.val();
        self.router.n_rx.vc.next = self.rx[0].vc.val();
        self.router.n_rx.last.next = self.rx[0].last.val();
        self.router.n_rx.err.next = self.rx[0].err.val();
        self.router.n_rx.data.next = self.rx[0].data.val();
        self.router.n_rx.hb.next = self.rx[0].hb.val();
        self.router.n_rx.ready.next = self.rx[0].ready.val();
        self.router.n_rx.par.next = self.rx[0].par.val();
        self.rx[0].credit.next = self.router.n_rx.credit.val();
        self.rx[0].credit1.next = self.router.n_rx.credit1.val();
        self.tx[0].valid.next = self.router.n_tx.valid.val();
        self.tx[0].vc.next = self.router.n_tx.vc.val();
        self.tx[0].last.next = self.router.n_tx.last.val();
        self.tx[0].err.next = self.router.n_tx.err.val();
        self.tx[0].data.next = self.router.n_tx.data.val();
        self.tx[0].hb.next = self.router.n_tx.hb.val();
        self.tx[0].ready.next = self.router.n_tx.ready.val();
        self.tx[0].par.next = self.router.n_tx.par.val();
        self.router.n_tx.credit.next = self.tx[0].credit.val();
        self.router.n_tx.credit1.next = self.tx[0].credit1.val();
        self.router.e_rx.valid.next = self.rx[1].valid.val();
        self.router.e_rx.vc.next = self.rx[1].vc.val();
        self.router.e_rx.last.next = self.rx[1].last.val();
        self.router.e_rx.err.next = self.rx[1].err.val();
        self.router.e_rx.data.next = self.rx[1].data.val();
        self.router.e_rx.hb.next = self.rx[1].hb.val();
        self.router.e_rx.ready.next = self.rx[1].ready.val();
        self.router.e_rx.par.next = self.rx[1].par.val();
        self.rx[1].credit.next = self.router.e_rx.credit.val();
        self.rx[1].credit1.next = self.router.e_rx.credit1.val();
        self.tx[1].valid.next = self.router.e_tx.valid.val();
        self.tx[1].vc.next = self.router.e_tx.vc.val();
        self.tx[1].last.next = self.router.e_tx.last.val();
        self.tx[1].err.next = self.router.e_tx.err.val();
        self.tx[1].data.next = self.router.e_tx.data.val();
        self.tx[1].hb.next = self.router.e_tx.hb.val();
        self.tx[1].ready.next = self.router.e_tx.ready.val();
        self.tx[1].par.next = self.router.e_tx.par.val();
        self.router.e_tx.credit.next = self.tx[1].credit.val();
        self.router.e_tx.credit1.next = self.tx[1].credit1.val();
        self.router.s_rx.valid.next = self.rx[2].valid.val();
        self.router.s_rx.vc.next = self.rx[2].vc.val();
        self.router.s_rx.last.next = self.rx[2].last.val();
        self.router.s_rx.err.next = self.rx[2].err.val();
        self.router.s_rx.data.next = self.rx[2].data.val();
        self.router.s_rx.hb.next = self.rx[2].hb.val();
        self.router.s_rx.ready.next = self.rx[2].ready.val();
        self.router.s_rx.par.next = self.rx[2].par.val();
        self.rx[2].credit.next = self.router.s_rx.credit.val();
        self.rx[2].credit1.next = self.router.s_rx.credit1.val();
        self.tx[2].valid.next = self.router.s_tx.valid.val();
        self.tx[2].vc.next = self.router.s_tx.vc.val();
        self.tx[2].last.next = self.router.s_tx.last.val();
        self.tx[2].err.next = self.router.s_tx.err.val();
        self.tx[2].data.next = self.router.s_tx.data.val();
        self.tx[2].hb.next = self.router.s_tx.hb.val();
        self.tx[2].ready.next = self.router.s_tx.ready.val();
        self.tx[2].par.next = self.router.s_tx.par.val();
        self.router.s_tx.credit.next = self.tx[2].credit.val();
        self.router.s_tx.credit1.next = self.tx[2].credit1.val();
        self.router.w_rx.valid.next = self.rx[3].valid.val();
        self.router.w_rx.vc.next = self.rx[3].vc.val();
        self.router.w_rx.last.next = self.rx[3].last.val();
        self.router.w_rx.err.next = self.rx[3].err.val();
        self.router.w_rx.data.next = self.rx[3].data.val();
        self.router.w_rx.hb.next = self.rx[3].hb.val();
        self.router.w_rx.ready.next = self.rx[3].ready.val();
        self.router.w_rx.par.next = self.rx[3].par.val();
        self.rx[3].credit.next = self.router.w_rx.credit.val();
        self.rx[3].credit1.next = self.router.w_rx.credit1.val();
        self.tx[3].valid.next = self.router.w_tx.valid.val();
        self.tx[3].vc.next = self.router.w_tx.vc.val();
        self.tx[3].last.next = self.router.w_tx.last.val();
        self.tx[3].err.next = self.router.w_tx.err.val();
        self.tx[3].data.next = self.router.w_tx.data.val();
        self.tx[3].hb.next = self.router.w_tx.hb.val();
        self.tx[3].ready.next = self.router.w_tx.ready.val();
        self.tx[3].par.next = self.router.w_tx.par.val();
        self.router.w_tx.credit.next = self.tx[3].credit.val();
        self.router.w_tx.credit1.next = self.tx[3].credit1.val();
        self.router.l_rx.valid.next = self.l_rx.valid.val();
        self.router.l_rx.last.next = self.l_rx.last.val();
        self.router.l_rx.data.next = self.l_rx.data.val();
        self.l_rx.credit.next = self.router.l_rx.credit.val();
        self.l_tx.valid.next = self.router.l_tx.valid.val();
        self.l_tx.last.next = self.router.l_tx.last.val();
        self.l_tx.data.next = self.router.l_tx.data.val();
        self.l_err.next = self.router.l_err.val();
        self.link_up.next = self.router.link_up.val();
        self.router.l_tx.credit.next = self.l_tx.credit.val();
    }
}
