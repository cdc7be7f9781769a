//! The whole-mesh card: a W×H mesh with one endpoint per node. Each node's
//! endpoint is its own BAR window: bits 31..16 of the bus address pick the
//! window (dense node index `y * width + x`), bits 15..0 the offset in it.
//! Offsets inside the router block past its header reach that node's router
//! on the mesh configuration bus, so a node's runtime needs nothing outside
//! its own window. Each endpoint's two DMA ports and interrupt line are
//! brought out to the top, where the host side (the Verilator harness's root
//! complex, or a PCIe core) serves them.
//!
//! A quarantined node's host may read its router but not write it: the
//! write is answered as an error and counted in that endpoint's error block
//! (cause `quarantined`), so it cannot rewrite tables to steer other
//! nodes' traffic through itself.
//!
//! The mesh's fault-injection controls are brought out too, for the
//! simulation; a hardware top ties them to zero and synthesis removes them
//! (docs/fault-tolerance.md).

use crate::endpoint::dma::DmaPort;
use crate::endpoint::regfile::IdValues;
use crate::endpoint::{Endpoint, EndpointParams};
use crate::mesh::{FaultCtl, Mesh};
use replimesh_spec::regmap::{self as spec, ROUTER_CFG_OFFSET};
use replimesh_spec::MeshGeometry;
use rust_hdl::prelude::*;

/// The card.
#[derive(LogicBlock)]
pub struct Card {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// Host bus: window index << 16 | byte offset.
    pub bus_addr: Signal<In, Bits<32>>,
    /// Host bus: write data.
    pub bus_wdata: Signal<In, Bits<32>>,
    /// Host bus: write.
    pub bus_we: Signal<In, Bit>,
    /// Host bus: read.
    pub bus_re: Signal<In, Bit>,
    /// Host bus: read data, one cycle after the access.
    pub bus_rdata: Signal<Out, Bits<32>>,
    /// Host bus: the access one cycle ago was rejected.
    pub bus_error: Signal<Out, Bit>,
    /// Per node: the TX engine's DMA port.
    pub txd: Vec<DmaPort>,
    /// Per node: the RX engine's DMA port.
    pub rxd: Vec<DmaPort>,
    /// Per node: interrupt pulse.
    pub irq: Vec<Signal<Out, Bit>>,
    /// Per node: the mesh's fault-injection controls (simulation only; tie
    /// to zero on hardware).
    pub faults: Vec<FaultCtl>,
    mesh: Mesh<64>,
    eps: Vec<Endpoint>,
    ids: Vec<Constant<Bits<8>>>,
    idx: Vec<Constant<Bits<16>>>,
    node: Signal<Local, Bits<16>>,
    off: Signal<Local, Bits<16>>,
    is_router: Signal<Local, Bit>,
    node_ok: Signal<Local, Bit>,
    /// The addressed node is quarantined: its router takes no writes.
    node_quar: Signal<Local, Bit>,
    resp_router: DFF<Bit>,
    /// The last router write was refused (quarantine): answered as an error.
    resp_refused: DFF<Bit>,
    pending: DFF<Bit>,
    r_lo: Constant<Bits<16>>,
    r_hi: Constant<Bits<16>>,
    two16: Constant<Bits<16>>,
    zero8: Constant<Bits<8>>,
    zero32: Constant<Bits<32>>,
    _n: usize,
}

impl Card {
    /// A card with a mesh of `geometry`, router FIFOs of `fifo_depth` flits.
    pub fn new(geometry: MeshGeometry, fifo_depth: usize) -> Self {
        let n = geometry.nodes() as usize;
        let router = spec::placed(&spec::ROUTER_BLOCK).expect("router block placed");
        let id = IdValues {
            mesh_shape: geometry.width() | geometry.height() << 8 | 64 << 16,
            spec_hash: spec::spec_hash(),
        };
        Self {
            clock: Default::default(),
            reset: Default::default(),
            bus_addr: Default::default(),
            bus_wdata: Default::default(),
            bus_we: Default::default(),
            bus_re: Default::default(),
            bus_rdata: Default::default(),
            bus_error: Default::default(),
            txd: (0..n).map(|_| Default::default()).collect(),
            rxd: (0..n).map(|_| Default::default()).collect(),
            irq: (0..n).map(|_| Default::default()).collect(),
            faults: (0..n).map(|_| Default::default()).collect(),
            mesh: Mesh::new(geometry, fifo_depth),
            eps: (0..n)
                .map(|_| {
                    Endpoint::new(EndpointParams {
                        id,
                        router_fifo_depth: fifo_depth,
                        geometry,
                    })
                })
                .collect(),
            ids: (0..n)
                .map(|i| Constant::new((geometry.id_at(i).0 as u64).to_bits()))
                .collect(),
            idx: (0..n)
                .map(|i| Constant::new((i as u64).to_bits()))
                .collect(),
            node: Default::default(),
            off: Default::default(),
            is_router: Default::default(),
            node_ok: Default::default(),
            node_quar: Default::default(),
            resp_router: Default::default(),
            resp_refused: Default::default(),
            pending: Default::default(),
            r_lo: Constant::new(((router.base + ROUTER_CFG_OFFSET) as u64).to_bits()),
            r_hi: Constant::new(((router.base + router.spec.span) as u64).to_bits()),
            two16: Constant::new(2u64.to_bits()),
            zero8: Constant::new(0u64.to_bits()),
            zero32: Constant::new(0u64.to_bits()),
            _n: n,
        }
    }
}

impl Logic for Card {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, resp_router, resp_refused, pending);
        self.node.next = self.bus_addr.val().get_bits::<16>(16);
        self.off.next = self.bus_addr.val().get_bits::<16>(0);
        self.is_router.next =
            (self.off.val() >= self.r_lo.val()) && (self.off.val() < self.r_hi.val());
        self.mesh.clock.next = self.clock.val();
        self.mesh.reset.next = self.reset.val();
        self.mesh.cfg_node.next = self.zero8.val();
        self.mesh.cfg_addr.next = (self.off.val() - self.r_lo.val()) >> self.two16.val();
        self.mesh.cfg_wdata.next = self.bus_wdata.val();
        self.node_ok.next = false;
        self.node_quar.next = false;
        self.bus_rdata.next = self.zero32.val();
        self.bus_error.next = self.pending.q.val();
        if self.resp_router.q.val() {
            self.bus_rdata.next = self.mesh.cfg_rdata.val();
            self.bus_error.next = self.mesh.cfg_error.val() || self.resp_refused.q.val();
        }
        for k in 0..(self._n) {
            self.eps[k].clock.next = self.clock.val();
            self.eps[k].reset.next = self.reset.val();
            self.eps[k].node_id.next = self.ids[k].val();
            self.eps[k].sel.next = (self.node.val() == self.idx[k].val()) && !self.is_router.val();
            self.eps[k].addr.next = self.off.val();
            self.eps[k].wdata.next = self.bus_wdata.val();
            self.eps[k].we.next = self.bus_we.val();
            self.eps[k].re.next = self.bus_re.val();
            if self.node.val() == self.idx[k].val() {
                self.mesh.cfg_node.next = self.ids[k].val();
                self.node_ok.next = true;
                self.node_quar.next = self.eps[k].quarantined.val();
            }
            // A quarantined node's host may read its router, not write it:
            // it must not steer other nodes' traffic (issue 13's report).
            self.eps[k].router_refused.next = (self.node.val() == self.idx[k].val())
                && self.is_router.val()
                && self.bus_we.val()
                && self.eps[k].quarantined.val();
            if self.eps[k].ack.val() {
                self.bus_rdata.next = self.eps[k].rdata.val();
                self.bus_error.next = self.eps[k].error.val();
            }
            self.mesh.inject[k].valid.next = self.eps[k].to_router.valid.val();
            self.mesh.inject[k].last.next = self.eps[k].to_router.last.val();
            self.mesh.inject[k].data.next = self.eps[k].to_router.data.val();
            self.eps[k].to_router.credit.next = self.mesh.inject[k].credit.val();
            self.eps[k].from_router.valid.next = self.mesh.eject[k].valid.val();
            self.eps[k].from_router.last.next = self.mesh.eject[k].last.val();
            self.eps[k].from_router.data.next = self.mesh.eject[k].data.val();
            self.mesh.eject[k].credit.next = self.eps[k].from_router.credit.val();
            self.eps[k].from_router_err.next = self.mesh.eject_err[k].val();
            self.eps[k].link_up.next = self.mesh.link_up[k].val();
            self.mesh.faults[k].kill.next = self.faults[k].kill.val();
            self.mesh.faults[k].cut.next = self.faults[k].cut.val();
            self.mesh.faults[k].corrupt.next = self.faults[k].corrupt.val();
            self.txd[k].valid.next = self.eps[k].tx_dma.valid.val();
            self.txd[k].write.next = self.eps[k].tx_dma.write.val();
            self.txd[k].addr.next = self.eps[k].tx_dma.addr.val();
            self.txd[k].wdata.next = self.eps[k].tx_dma.wdata.val();
            self.txd[k].wstrb.next = self.eps[k].tx_dma.wstrb.val();
            self.eps[k].tx_dma.rsp_valid.next = self.txd[k].rsp_valid.val();
            self.eps[k].tx_dma.rsp_data.next = self.txd[k].rsp_data.val();
            self.eps[k].tx_dma.rsp_err.next = self.txd[k].rsp_err.val();
            self.rxd[k].valid.next = self.eps[k].rx_dma.valid.val();
            self.rxd[k].write.next = self.eps[k].rx_dma.write.val();
            self.rxd[k].addr.next = self.eps[k].rx_dma.addr.val();
            self.rxd[k].wdata.next = self.eps[k].rx_dma.wdata.val();
            self.rxd[k].wstrb.next = self.eps[k].rx_dma.wstrb.val();
            self.eps[k].rx_dma.rsp_valid.next = self.rxd[k].rsp_valid.val();
            self.eps[k].rx_dma.rsp_data.next = self.rxd[k].rsp_data.val();
            self.eps[k].rx_dma.rsp_err.next = self.rxd[k].rsp_err.val();
            self.irq[k].next = self.eps[k].irq.val();
        }
        self.mesh.cfg_we.next = self.bus_we.val()
            && self.is_router.val()
            && self.node_ok.val()
            && !self.node_quar.val();
        self.resp_refused.d.next =
            self.bus_we.val() && self.is_router.val() && self.node_ok.val() && self.node_quar.val();
        self.mesh.cfg_re.next = self.bus_re.val() && self.is_router.val() && self.node_ok.val();
        self.resp_router.d.next = self.is_router.val() && self.node_ok.val();
        self.pending.d.next = (self.bus_we.val() || self.bus_re.val()) && !self.reset.val();
    }
}
