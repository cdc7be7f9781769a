//! A node's endpoint: the host's register window, the TX and RX engines
//! that move packets between rings in host memory and the router's local
//! port, interrupts and counters.
//!
//! ```text
//!  host bus ──> RegFile ──(ring, window, irq registers)──┬─> TxEngine ──DMA──> host memory
//!                 ^  (status, indices, counters)         │       └──flits──> router local in
//!                 └── EpCounters <── events ──┬──────────┤
//!                     IrqModerator <──────────┘          └─> RxEngine <──DMA──> host memory
//!                                                               ^ FlitFifo <── router local out
//! ```
//!
//! A packet the mesh cut on a failed link reaches the endpoint with an
//! error-marked tail (`from_router_err`). The mark travels with the tail
//! through the RX FIFO; the service unit does not act on such a packet, and
//! the RX engine completes its descriptor with cause `link_cut` instead of
//! delivering it (docs/fault-tolerance.md).
//!
//! The leaves' Verilog is rendered from Rust with constants from the spec
//! (see `docs/adr/0005-register-map-generator.md`); this block wires them
//! and vetoes doorbell values past the ring and bad ring sizes.

pub mod counters;
pub mod dma;
pub mod irq;
pub mod regfile;
pub mod rx;
pub mod service;
pub mod tx;

use crate::common::fifo::FlitFifo;
use crate::common::glue::{FlagOnTop, Widen};
use crate::router::{LinkRx, LinkTx};
use counters::EpCounters;
use dma::DmaPort;
use irq::IrqModerator;
use regfile::{IdValues, RegFile};
use replimesh_spec::regmap::{self as spec, ErrorCause, RegSpec};
use replimesh_spec::MeshGeometry;
use rust_hdl::prelude::*;
use rx::RxEngine;
use service::ServiceUnit;
use tx::TxEngine;

/// Generation-time parameters of an endpoint.
#[derive(Debug, Clone, Copy)]
pub struct EndpointParams {
    /// What the ID block reports.
    pub id: IdValues,
    /// Depth of the router's local input FIFO (the service unit's credits).
    pub router_fifo_depth: usize,
    /// The mesh (the service unit checks scopes and node ids against it).
    pub geometry: MeshGeometry,
}

/// One node's endpoint (64-bit flits).
#[derive(LogicBlock)]
pub struct Endpoint {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// This node's id.
    pub node_id: Signal<In, Bits<8>>,
    /// Register bus: this endpoint is addressed.
    pub sel: Signal<In, Bit>,
    /// Register bus: byte offset in the window.
    pub addr: Signal<In, Bits<16>>,
    /// Register bus: write data.
    pub wdata: Signal<In, Bits<32>>,
    /// Register bus: write.
    pub we: Signal<In, Bit>,
    /// Register bus: read.
    pub re: Signal<In, Bit>,
    /// Register bus: answered (registered).
    pub ack: Signal<Out, Bit>,
    /// Register bus: read data (registered).
    pub rdata: Signal<Out, Bits<32>>,
    /// Register bus: rejected (registered).
    pub error: Signal<Out, Bit>,
    /// TX engine's DMA port.
    pub tx_dma: DmaPort,
    /// RX engine's DMA port.
    pub rx_dma: DmaPort,
    /// Flits to the router's local input.
    pub to_router: LinkTx<64>,
    /// Flits from the router's local output.
    pub from_router: LinkRx<64>,
    /// With `from_router.last`: the tail closes a worm the mesh cut.
    pub from_router_err: Signal<In, Bit>,
    /// This node's router's mesh link states (bits N, E, S, W): the `link`
    /// interrupt cause and the `irq.link_up` register.
    pub link_up: Signal<In, Bits<4>>,
    /// Interrupt pulse.
    pub irq: Signal<Out, Bit>,
    /// This node is quarantined: the card refuses its host's router writes.
    pub quarantined: Signal<Out, Bit>,
    /// Pulse from the card: a router write of this node's host was refused
    /// (quarantine); counted and reported in the error block.
    pub router_refused: Signal<In, Bit>,
    rf: RegFile,
    tx: TxEngine,
    rx: RxEngine,
    /// RX FIFO: the flit, and the cut mark in bit 64.
    fifo: FlitFifo<65>,
    txq: FlitFifo<64>,
    svc: ServiceUnit,
    cut_mark: FlagOnTop<64, 65>,
    is_svc: Signal<Local, Bit>,
    svc_lo: Constant<Bits<16>>,
    svc_hi: Constant<Bits<16>>,
    irqm: IrqModerator,
    cnt: EpCounters,
    addr32: Widen<16, 32>,
    link32: Widen<4, 32>,
    is_tx_prod: Signal<Local, Bit>,
    is_rx_cons: Signal<Local, Bit>,
    is_size: Signal<Local, Bit>,
    bad_size: Signal<Local, Bit>,
    reg_err: Signal<Local, Bit>,
    o_tx_prod: Constant<Bits<16>>,
    o_rx_cons: Constant<Bits<16>>,
    o_tx_size: Constant<Bits<16>>,
    o_rx_size: Constant<Bits<16>>,
    max_ring: Constant<Bits<32>>,
    c_index: Constant<Bits<8>>,
    c_size: Constant<Bits<8>>,
    c_ro: Constant<Bits<8>>,
    c_unmapped: Constant<Bits<8>>,
    c_quar: Constant<Bits<8>>,
    zero32: Constant<Bits<32>>,
    one32: Constant<Bits<32>>,
    two32: Constant<Bits<32>>,
    three32: Constant<Bits<32>>,
}

/// Window offset of `reg` in `block`, from the spec.
fn offset(block: &spec::BlockSpec, reg: &RegSpec) -> Constant<Bits<16>> {
    let base = spec::placed(block)
        .expect("block placed in the window")
        .base;
    Constant::new(((base + reg.offset) as u64).to_bits())
}

fn cause(c: ErrorCause) -> Constant<Bits<8>> {
    Constant::new((c as u64).to_bits())
}

impl Endpoint {
    /// An endpoint with `p`.
    pub fn new(p: EndpointParams) -> Self {
        let svc_block = spec::placed(&spec::SERVICE_BLOCK).expect("service block placed");
        Self {
            clock: Default::default(),
            reset: Default::default(),
            node_id: Default::default(),
            sel: Default::default(),
            addr: Default::default(),
            wdata: Default::default(),
            we: Default::default(),
            re: Default::default(),
            ack: Default::default(),
            rdata: Default::default(),
            error: Default::default(),
            tx_dma: Default::default(),
            rx_dma: Default::default(),
            to_router: Default::default(),
            from_router: Default::default(),
            from_router_err: Default::default(),
            link_up: Default::default(),
            irq: Default::default(),
            quarantined: Default::default(),
            router_refused: Default::default(),
            rf: RegFile::new(p.id),
            tx: TxEngine::new(p.router_fifo_depth, spec::MAX_PACKET_BYTES_VALUE),
            rx: Default::default(),
            // Holds what the router may send on its initial credits.
            fifo: FlitFifo::new(p.router_fifo_depth),
            // Host packets wait here for the service unit (rule lookup,
            // quarantine gate); the TX engine's credits are its slots.
            txq: FlitFifo::new(p.router_fifo_depth),
            svc: ServiceUnit::new(p.geometry, p.router_fifo_depth),
            cut_mark: Default::default(),
            is_svc: Default::default(),
            svc_lo: Constant::new((svc_block.base as u64).to_bits()),
            svc_hi: Constant::new(((svc_block.base + svc_block.spec.span) as u64).to_bits()),
            irqm: Default::default(),
            cnt: EpCounters::new(),
            addr32: Default::default(),
            link32: Default::default(),
            is_tx_prod: Default::default(),
            is_rx_cons: Default::default(),
            is_size: Default::default(),
            bad_size: Default::default(),
            reg_err: Default::default(),
            o_tx_prod: offset(&spec::TX_RING_BLOCK, &spec::tx_ring::PRODUCER),
            o_rx_cons: offset(&spec::RX_RING_BLOCK, &spec::rx_ring::CONSUMER),
            o_tx_size: offset(&spec::TX_RING_BLOCK, &spec::tx_ring::SIZE),
            o_rx_size: offset(&spec::RX_RING_BLOCK, &spec::rx_ring::SIZE),
            max_ring: Constant::new(1024u64.to_bits()),
            c_index: cause(ErrorCause::RingIndex),
            c_size: cause(ErrorCause::RingSize),
            c_ro: cause(ErrorCause::RegReadOnly),
            c_unmapped: cause(ErrorCause::RegUnmapped),
            c_quar: cause(ErrorCause::Quarantined),
            zero32: Constant::new(0u64.to_bits()),
            one32: Constant::new(1u64.to_bits()),
            two32: Constant::new(2u64.to_bits()),
            three32: Constant::new(3u64.to_bits()),
        }
    }
}

impl Logic for Endpoint {
    #[hdl_gen]
    fn update(&mut self) {
        // Register bus.
        self.rf.clock.next = self.clock.val();
        self.rf.reset.next = self.reset.val();
        self.rf.node_id.next = self.node_id.val();
        self.is_svc.next =
            (self.addr.val() >= self.svc_lo.val()) && (self.addr.val() < self.svc_hi.val());
        self.rf.sel.next = self.sel.val() && !self.is_svc.val();
        self.rf.addr.next = self.addr.val();
        self.rf.wdata.next = self.wdata.val();
        self.rf.we.next = self.we.val();
        self.rf.re.next = self.re.val();
        self.svc.clock.next = self.clock.val();
        self.svc.reset.next = self.reset.val();
        self.svc.node_id.next = self.node_id.val();
        self.svc.bus_sel.next = self.sel.val() && self.is_svc.val();
        self.svc.bus_addr.next = self.addr.val();
        self.svc.bus_wdata.next = self.wdata.val();
        self.svc.bus_we.next = self.we.val();
        self.svc.bus_re.next = self.re.val();
        self.ack.next = self.rf.ack.val() || self.svc.bus_ack.val();
        self.rdata.next = self.rf.rdata.val() | self.svc.bus_rdata.val();
        self.error.next = self.rf.error.val() || self.svc.bus_error.val();
        // Doorbells must name a slot of the ring; sizes a power of two in 2..=1024.
        self.is_tx_prod.next = self.addr.val() == self.o_tx_prod.val();
        self.is_rx_cons.next = self.addr.val() == self.o_rx_cons.val();
        self.is_size.next =
            (self.addr.val() == self.o_tx_size.val()) || (self.addr.val() == self.o_rx_size.val());
        self.bad_size.next = (self.wdata.val() != self.zero32.val())
            && (((self.wdata.val() & (self.wdata.val() - self.one32.val())) != self.zero32.val())
                || (self.wdata.val() > self.max_ring.val())
                || (self.wdata.val() == self.one32.val()));
        self.rf.veto.next = (self.is_tx_prod.val()
            && (self.wdata.val() >= self.rf.tx_ring_size.val()))
            || (self.is_rx_cons.val() && (self.wdata.val() >= self.rf.rx_ring_size.val()))
            || (self.is_size.val() && self.bad_size.val());
        // TX engine.
        self.tx.clock.next = self.clock.val();
        self.tx.reset.next = self.reset.val();
        self.tx.enable.next = self.rf.ep_ctrl_control.val();
        self.tx.base_lo.next = self.rf.tx_ring_base_lo.val();
        self.tx.base_hi.next = self.rf.tx_ring_base_hi.val();
        self.tx.size.next = self.rf.tx_ring_size.val();
        self.tx.producer.next = self.rf.tx_ring_producer.val();
        self.tx.mirror_lo.next = self.rf.tx_ring_mirror_lo.val();
        self.tx.mirror_hi.next = self.rf.tx_ring_mirror_hi.val();
        self.tx.win_lo.next = self.rf.ep_ctrl_dma_base_lo.val();
        self.tx.win_hi.next = self.rf.ep_ctrl_dma_base_hi.val();
        self.tx.win_size.next = self.rf.ep_ctrl_dma_size.val();
        self.tx.ring_reset.next =
            self.rf.wr_strobe.val() && (self.addr.val() == self.o_tx_size.val());
        self.rf.tx_ring_consumer.next = self.tx.consumer.val();
        self.tx_dma.valid.next = self.tx.dma.valid.val();
        self.tx_dma.write.next = self.tx.dma.write.val();
        self.tx_dma.addr.next = self.tx.dma.addr.val();
        self.tx_dma.wdata.next = self.tx.dma.wdata.val();
        self.tx_dma.wstrb.next = self.tx.dma.wstrb.val();
        self.tx.dma.rsp_valid.next = self.tx_dma.rsp_valid.val();
        self.tx.dma.rsp_data.next = self.tx_dma.rsp_data.val();
        self.tx.dma.rsp_err.next = self.tx_dma.rsp_err.val();
        self.txq.clock.next = self.clock.val();
        self.txq.reset.next = self.reset.val();
        self.txq.push.next = self.tx.inj_valid.val();
        self.txq.push_last.next = self.tx.inj_last.val();
        self.txq.push_data.next = self.tx.inj_data.val();
        self.txq.pop.next = self.svc.txq_pop.val();
        self.tx.inj_credit.next = self.svc.txq_pop.val();
        self.svc.txq_valid.next = !self.txq.empty.val();
        self.svc.txq_data.next = self.txq.head_data.val();
        self.svc.txq_last.next = self.txq.head_last.val();
        self.to_router.valid.next = self.svc.inj_valid.val();
        self.to_router.last.next = self.svc.inj_last.val();
        self.to_router.data.next = self.svc.inj_data.val();
        self.svc.inj_credit.next = self.to_router.credit.val();
        // RX path.
        self.fifo.clock.next = self.clock.val();
        self.fifo.reset.next = self.reset.val();
        self.fifo.push.next = self.from_router.valid.val();
        self.cut_mark.low.next = self.from_router.data.val();
        self.cut_mark.flag.next = self.from_router_err.val();
        self.fifo.push_data.next = self.cut_mark.wide.val();
        self.fifo.push_last.next = self.from_router.last.val();
        self.fifo.pop.next = self.svc.rxq_pop.val();
        self.from_router.credit.next = self.svc.rxq_pop.val();
        self.svc.rxq_valid.next = !self.fifo.empty.val();
        self.svc.rxq_data.next = self.fifo.head_data.val().get_bits::<64>(0);
        self.svc.rxq_last.next = self.fifo.head_last.val();
        self.svc.rxq_err.next = self.fifo.head_data.val().get_bit(64);
        self.svc.eng_pop.next = self.rx.pop.val();
        self.rx.clock.next = self.clock.val();
        self.rx.reset.next = self.reset.val();
        self.rx.enable.next = self.rf.ep_ctrl_control.val();
        self.rx.base_lo.next = self.rf.rx_ring_base_lo.val();
        self.rx.base_hi.next = self.rf.rx_ring_base_hi.val();
        self.rx.size.next = self.rf.rx_ring_size.val();
        self.rx.consumer.next = self.rf.rx_ring_consumer.val();
        self.rx.mirror_lo.next = self.rf.rx_ring_mirror_lo.val();
        self.rx.mirror_hi.next = self.rf.rx_ring_mirror_hi.val();
        self.rx.win_lo.next = self.rf.ep_ctrl_dma_base_lo.val();
        self.rx.win_hi.next = self.rf.ep_ctrl_dma_base_hi.val();
        self.rx.win_size.next = self.rf.ep_ctrl_dma_size.val();
        self.rx.ring_reset.next =
            self.rf.wr_strobe.val() && (self.addr.val() == self.o_rx_size.val());
        self.rx.head_valid.next = self.svc.eng_valid.val();
        self.rx.head_data.next = self.svc.eng_data.val();
        self.rx.head_last.next = self.svc.eng_last.val();
        self.rx.head_err.next = self.svc.eng_err.val();
        self.rf.rx_ring_producer.next = self.rx.producer.val();
        self.rx_dma.valid.next = self.rx.dma.valid.val();
        self.rx_dma.write.next = self.rx.dma.write.val();
        self.rx_dma.addr.next = self.rx.dma.addr.val();
        self.rx_dma.wdata.next = self.rx.dma.wdata.val();
        self.rx_dma.wstrb.next = self.rx.dma.wstrb.val();
        self.rx.dma.rsp_valid.next = self.rx_dma.rsp_valid.val();
        self.rx.dma.rsp_data.next = self.rx_dma.rsp_data.val();
        self.rx.dma.rsp_err.next = self.rx_dma.rsp_err.val();
        // Status.
        self.rf.ep_ctrl_status.next = self.zero32.val();
        if self.tx.busy.val() && self.rx.busy.val() {
            self.rf.ep_ctrl_status.next = self.three32.val();
        } else if self.tx.busy.val() {
            self.rf.ep_ctrl_status.next = self.one32.val();
        } else if self.rx.busy.val() {
            self.rf.ep_ctrl_status.next = self.two32.val();
        }
        // Counters and the error block.
        self.reg_err.next = self.rf.err_ro.val()
            || self.rf.err_unmapped.val()
            || self.rf.err_veto.val()
            || self.svc.err_pulse.val()
            || self.router_refused.val();
        self.quarantined.next = self.svc.self_quarantined.val();
        self.addr32.narrow.next = self.addr.val();
        self.cnt.clock.next = self.clock.val();
        self.cnt.reset.next = self.reset.val();
        self.cnt.tx_sent.next = self.tx.ev_sent.val();
        self.cnt.tx_len.next = self.tx.sent_bytes.val();
        self.cnt.rx_done.next = self.rx.ev_rx.val();
        self.cnt.rx_len.next = self.rx.rx_bytes.val();
        // A flit at a full FIFO (a router ignoring credits) is lost: a drop.
        // So is a flit at a full TX FIFO (an engine ignoring its credits).
        self.cnt.rx_drop.next =
            self.rx.ev_drop.val() || self.fifo.overflow.val() || self.txq.overflow.val();
        self.cnt.tx_err.next = self.tx.ev_err.val();
        self.cnt.tx_cause.next = self.tx.err_cause.val();
        self.cnt.tx_info.next = self.tx.err_info.val();
        self.cnt.tx_value.next = self.tx.err_value.val();
        self.cnt.rx_err.next = self.rx.ev_err.val();
        self.cnt.rx_cause.next = self.rx.err_cause.val();
        self.cnt.rx_info.next = self.rx.err_info.val();
        self.cnt.rx_value.next = self.rx.err_value.val();
        self.cnt.reg_err.next = self.reg_err.val();
        self.cnt.reg_cause.next = self.c_index.val();
        if self.router_refused.val() {
            self.cnt.reg_cause.next = self.c_quar.val();
        } else if self.svc.err_pulse.val() {
            self.cnt.reg_cause.next = self.svc.err_cause.val();
        } else if self.rf.err_ro.val() {
            self.cnt.reg_cause.next = self.c_ro.val();
        } else if self.rf.err_unmapped.val() {
            self.cnt.reg_cause.next = self.c_unmapped.val();
        } else if self.is_size.val() {
            self.cnt.reg_cause.next = self.c_size.val();
        }
        self.cnt.reg_info.next = self.addr32.wide.val();
        self.cnt.reg_value.next = self.wdata.val();
        self.rf.counters_tx_packets_total.next = self.cnt.tx_packets_total.val();
        self.rf.counters_tx_bytes_total.next = self.cnt.tx_bytes_total.val();
        self.rf.counters_rx_packets_total.next = self.cnt.rx_packets_total.val();
        self.rf.counters_rx_bytes_total.next = self.cnt.rx_bytes_total.val();
        self.rf.counters_rx_drops_total.next = self.cnt.rx_drops_total.val();
        self.rf.counters_err_tx_length_total.next = self.cnt.err_total[0].val();
        self.rf.counters_err_dma_window_total.next = self.cnt.err_total[1].val();
        self.rf.counters_err_ring_index_total.next = self.cnt.err_total[2].val();
        self.rf.counters_err_reg_read_only_total.next = self.cnt.err_total[3].val();
        self.rf.counters_err_reg_unmapped_total.next = self.cnt.err_total[4].val();
        self.rf.counters_err_rx_overflow_total.next = self.cnt.err_total[5].val();
        self.rf.counters_err_ring_size_total.next = self.cnt.err_total[6].val();
        self.rf.counters_err_rule_node_total.next = self.cnt.err_total[7].val();
        self.rf.counters_err_search_start_total.next = self.cnt.err_total[8].val();
        self.rf.counters_err_link_cut_total.next = self.cnt.err_total[9].val();
        self.rf.counters_err_quarantined_total.next = self.cnt.err_total[10].val();
        self.rf.error_cause.next = self.cnt.cause.val();
        self.rf.error_info.next = self.cnt.info.val();
        self.rf.error_value_lo.next = self.cnt.value_lo.val();
        self.rf.error_value_hi.next = self.cnt.value_hi.val();
        // Interrupts.
        self.irqm.clock.next = self.clock.val();
        self.irqm.reset.next = self.reset.val();
        self.irqm.ev_rx.next = self.rx.ev_rx.val();
        self.irqm.ev_tx.next = self.tx.ev_done.val();
        self.irqm.ev_err.next = self.tx.ev_err.val() || self.rx.ev_err.val() || self.reg_err.val();
        self.irqm.enable.next = self.rf.irq_enable.val();
        self.irqm.mod_count.next = self.rf.irq_moderation_count.val();
        self.irqm.mod_cycles.next = self.rf.irq_moderation_cycles.val();
        self.irqm.poll.next = self.rf.irq_poll_mode.val();
        self.irqm.link_up.next = self.link_up.val();
        self.link32.narrow.next = self.link_up.val();
        self.rf.irq_link_up.next = self.link32.wide.val();
        self.rf.irq_link_events_total.next = self.irqm.link_events_total.val();
        self.rf.irq_status_set.next = self.irqm.status_set.val();
        self.rf.irq_raised_total.next = self.irqm.raised_total.val();
        self.irq.next = self.irqm.irq.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cause_counters_are_wired_in_spec_order() {
        // err_total[k] feeds the counter of ErrorCause::ALL[k]; the wiring
        // above names them, so check the order it assumes.
        let names: Vec<_> = ErrorCause::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "tx_length",
                "dma_window",
                "ring_index",
                "reg_read_only",
                "reg_unmapped",
                "rx_overflow",
                "ring_size",
                "rule_node",
                "search_start",
                "link_cut",
                "quarantined"
            ]
        );
    }
}
