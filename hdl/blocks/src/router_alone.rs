//! One router alone, as the top of its own Verilog file: the unit that area and
//! Fmax are reported for (`bitstreams/`). It is the same `Router` the mesh
//! instantiates, with its node id and coordinates tied to the constants the
//! mesh would wire for an interior node, and every link and the configuration
//! bus brought out as ports.

use crate::router::{LinkRx, LinkTx, Router, RouterParams};
use replimesh_spec::MeshGeometry;
use rust_hdl::prelude::*;

/// A single router with all five links and the configuration bus as ports.
#[derive(LogicBlock)]
pub struct RouterAlone<const W: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// Links in, `N, E, S, W, L`.
    pub rx: Vec<LinkRx<W>>,
    /// Links out, `N, E, S, W, L`.
    pub tx: Vec<LinkTx<W>>,
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
            rx: (0..5).map(|_| Default::default()).collect(),
            tx: (0..5).map(|_| Default::default()).collect(),
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
        self.router.n_rx.valid.next = self.rx[0].valid.val();
        self.router.n_rx.last.next = self.rx[0].last.val();
        self.router.n_rx.data.next = self.rx[0].data.val();
        self.rx[0].credit.next = self.router.n_rx.credit.val();
        self.router.e_rx.valid.next = self.rx[1].valid.val();
        self.router.e_rx.last.next = self.rx[1].last.val();
        self.router.e_rx.data.next = self.rx[1].data.val();
        self.rx[1].credit.next = self.router.e_rx.credit.val();
        self.router.s_rx.valid.next = self.rx[2].valid.val();
        self.router.s_rx.last.next = self.rx[2].last.val();
        self.router.s_rx.data.next = self.rx[2].data.val();
        self.rx[2].credit.next = self.router.s_rx.credit.val();
        self.router.w_rx.valid.next = self.rx[3].valid.val();
        self.router.w_rx.last.next = self.rx[3].last.val();
        self.router.w_rx.data.next = self.rx[3].data.val();
        self.rx[3].credit.next = self.router.w_rx.credit.val();
        self.router.l_rx.valid.next = self.rx[4].valid.val();
        self.router.l_rx.last.next = self.rx[4].last.val();
        self.router.l_rx.data.next = self.rx[4].data.val();
        self.rx[4].credit.next = self.router.l_rx.credit.val();
        self.tx[0].valid.next = self.router.n_tx.valid.val();
        self.tx[0].last.next = self.router.n_tx.last.val();
        self.tx[0].data.next = self.router.n_tx.data.val();
        self.router.n_tx.credit.next = self.tx[0].credit.val();
        self.tx[1].valid.next = self.router.e_tx.valid.val();
        self.tx[1].last.next = self.router.e_tx.last.val();
        self.tx[1].data.next = self.router.e_tx.data.val();
        self.router.e_tx.credit.next = self.tx[1].credit.val();
        self.tx[2].valid.next = self.router.s_tx.valid.val();
        self.tx[2].last.next = self.router.s_tx.last.val();
        self.tx[2].data.next = self.router.s_tx.data.val();
        self.router.s_tx.credit.next = self.tx[2].credit.val();
        self.tx[3].valid.next = self.router.w_tx.valid.val();
        self.tx[3].last.next = self.router.w_tx.last.val();
        self.tx[3].data.next = self.router.w_tx.data.val();
        self.router.w_tx.credit.next = self.tx[3].credit.val();
        self.tx[4].valid.next = self.router.l_tx.valid.val();
        self.tx[4].last.next = self.router.l_tx.last.val();
        self.tx[4].data.next = self.router.l_tx.data.val();
        self.router.l_tx.credit.next = self.tx[4].credit.val();
    }
}
