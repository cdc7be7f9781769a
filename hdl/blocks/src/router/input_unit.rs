//! One router input: the FIFO, the route lookup on the head flit, the
//! wormhole lock that keeps a packet's flits on one output, and the drops.

use super::header::RoutingWord;
use crate::common::dist_ram::DistRam;
use crate::common::fifo::FlitFifo;
use crate::router::RouterParams;
use rust_hdl::prelude::*;

/// Input side of one router port.
#[derive(LogicBlock)]
pub struct InputUnit<const W: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// Routing may start (the route table is initialised).
    pub enable: Signal<In, Bit>,
    /// This router's node id, stamped as the source of local packets.
    pub my_id: Signal<In, Bits<8>>,
    /// This is the local (host) port: stamp the source id on head flits.
    pub is_local: Signal<In, Bit>,
    /// Ports that are down or do not exist (bit per port N,E,S,W,L).
    pub ports_down: Signal<In, Bits<5>>,
    /// Link from the neighbour: a flit is valid.
    pub link_valid: Signal<In, Bit>,
    /// Link from the neighbour: tail flit.
    pub link_last: Signal<In, Bit>,
    /// Link from the neighbour: flit.
    pub link_data: Signal<In, Bits<W>>,
    /// Credit back to the neighbour: one FIFO slot freed (registered).
    pub credit_out: Signal<Out, Bit>,
    /// Route table write strobe (all inputs hold a copy).
    pub tbl_we: Signal<In, Bit>,
    /// Route table write address (destination).
    pub tbl_waddr: Signal<In, Bits<8>>,
    /// Route table entry: `alternate << 3 | primary`.
    pub tbl_wdata: Signal<In, Bits<6>>,
    /// One-hot output this input's head flit wants (zero: none).
    pub req: Signal<Out, Bits<5>>,
    /// The switch took the flit this cycle.
    pub grant: Signal<In, Bit>,
    /// Flit offered to the switch (head flits rewritten).
    pub flit_data: Signal<Out, Bits<W>>,
    /// Tail flag of the flit offered.
    pub flit_last: Signal<Out, Bit>,
    /// Pulse: a head flit won its output.
    pub routed_head: Signal<Out, Bit>,
    /// Pulse: the routed head carried the trace flag.
    pub trace_hit: Signal<Out, Bit>,
    /// Pulse: dropped, TTL ran out.
    pub drop_ttl: Signal<Out, Bit>,
    /// Pulse: dropped, primary and alternate port down.
    pub drop_unroutable: Signal<Out, Bit>,
    /// Pulse: dropped, destination outside the mesh or kind not forwarded.
    pub drop_malformed: Signal<Out, Bit>,
    /// Pulse: a flit arrived with the FIFO full (a neighbour ignored credits).
    pub overflow: Signal<Out, Bit>,
    fifo: FlitFifo<W>,
    route_tbl: DistRam<Bits<6>>,
    hdr: RoutingWord<W>,
    locked: DFF<Bit>,
    lock_port: DFF<Bits<5>>,
    dropping: DFF<Bit>,
    credit: DFF<Bit>,
    prim_oh: Signal<Local, Bits<5>>,
    alt_oh: Signal<Local, Bits<5>>,
    chosen: Signal<Local, Bits<5>>,
    dest_ok: Signal<Local, Bit>,
    active: Signal<Local, Bit>,
    at_head: Signal<Local, Bit>,
    bad_header: Signal<Local, Bit>,
    no_port: Signal<Local, Bit>,
    ttl_out: Signal<Local, Bit>,
    head_drop: Signal<Local, Bit>,
    head_go: Signal<Local, Bit>,
    x_mask: Constant<Bits<8>>,
    x_bits: Constant<Bits<8>>,
    mesh_w: Constant<Bits<8>>,
    mesh_h: Constant<Bits<8>>,
    one5: Constant<Bits<5>>,
    zero5: Constant<Bits<5>>,
    local_oh: Constant<Bits<5>>,
}

impl<const W: usize> InputUnit<W> {
    /// An input with a `fifo_depth`-flit buffer for a router described by `p`.
    pub fn new(p: &RouterParams) -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            enable: Default::default(),
            is_local: Default::default(),
            ports_down: Default::default(),
            link_valid: Default::default(),
            link_last: Default::default(),
            link_data: Default::default(),
            credit_out: Default::default(),
            tbl_we: Default::default(),
            tbl_waddr: Default::default(),
            tbl_wdata: Default::default(),
            req: Default::default(),
            grant: Default::default(),
            flit_data: Default::default(),
            flit_last: Default::default(),
            routed_head: Default::default(),
            trace_hit: Default::default(),
            drop_ttl: Default::default(),
            drop_unroutable: Default::default(),
            drop_malformed: Default::default(),
            overflow: Default::default(),
            fifo: FlitFifo::new(p.fifo_depth),
            route_tbl: DistRam::new(p.geometry.table_entries() as usize),
            hdr: Default::default(),
            locked: Default::default(),
            lock_port: Default::default(),
            dropping: Default::default(),
            credit: Default::default(),
            prim_oh: Default::default(),
            alt_oh: Default::default(),
            chosen: Default::default(),
            dest_ok: Default::default(),
            active: Default::default(),
            at_head: Default::default(),
            bad_header: Default::default(),
            no_port: Default::default(),
            ttl_out: Default::default(),
            head_drop: Default::default(),
            head_go: Default::default(),
            my_id: Default::default(),
            x_mask: Constant::new(((1u64 << p.geometry.x_bits()) - 1).to_bits()),
            x_bits: Constant::new((p.geometry.x_bits() as u64).to_bits()),
            mesh_w: Constant::new((p.geometry.width() as u64).to_bits()),
            mesh_h: Constant::new((p.geometry.height() as u64).to_bits()),
            one5: Constant::new(1u64.to_bits()),
            zero5: Constant::new(0u64.to_bits()),
            local_oh: Constant::new(0b10000u64.to_bits()),
        }
    }
}

impl<const W: usize> Logic for InputUnit<W> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, locked, lock_port, dropping, credit);
        clock!(self, clock, fifo);
        self.route_tbl.clock.next = self.clock.val();
        self.fifo.reset.next = self.reset.val();
        // Link side: every valid flit enters the FIFO.
        self.fifo.push.next = self.link_valid.val();
        self.fifo.push_data.next = self.link_data.val();
        self.fifo.push_last.next = self.link_last.val();
        self.overflow.next = self.fifo.overflow.val();
        // Route table copy, written by the router.
        self.route_tbl.write_enable.next = self.tbl_we.val();
        self.route_tbl.write_address.next = self.tbl_waddr.val();
        self.route_tbl.write_data.next = self.tbl_wdata.val();
        // Head flit decode and lookup.
        self.hdr.flit.next = self.fifo.head_data.val();
        self.route_tbl.read_address.next = self.hdr.dest.val();
        self.dest_ok.next = ((self.hdr.dest.val() & self.x_mask.val()) < self.mesh_w.val())
            && ((self.hdr.dest.val() >> self.x_bits.val()) < self.mesh_h.val());
        self.prim_oh.next = self.one5.val() << self.route_tbl.read_data.val().get_bits::<3>(0);
        self.alt_oh.next = self.one5.val() << self.route_tbl.read_data.val().get_bits::<3>(3);
        self.chosen.next = self.zero5.val();
        if (self.prim_oh.val() & !self.ports_down.val()).any() {
            self.chosen.next = self.prim_oh.val();
        } else if (self.alt_oh.val() & !self.ports_down.val()).any() {
            self.chosen.next = self.alt_oh.val();
        }
        // Rewrite: the ingress router stamps the source; each hop onto a
        // mesh link spends one TTL.
        self.hdr.new_src.next = self.hdr.src.val();
        if self.is_local.val() {
            self.hdr.new_src.next = self.my_id.val();
        }
        self.hdr.new_ttl.next = self.hdr.ttl.val();
        if self.chosen.val() != self.local_oh.val() {
            self.hdr.new_ttl.next = self.hdr.ttl.val() - self.one5.val();
        }
        self.flit_data.next = self.fifo.head_data.val();
        self.flit_last.next = self.fifo.head_last.val();
        // What the head of the FIFO is doing this cycle. Computed apart from
        // `grant`, so the request does not depend on the switch's answer
        // (Verilator orders the blocks without a false loop).
        self.active.next = !self.fifo.empty.val() && self.enable.val();
        self.at_head.next = self.active.val() && !self.locked.q.val() && !self.dropping.q.val();
        self.bad_header.next = !self.dest_ok.val() || !self.hdr.forwardable.val();
        self.no_port.next = !self.chosen.val().any();
        self.ttl_out.next = !self.hdr.ttl.val().any() && (self.chosen.val() != self.local_oh.val());
        self.drop_malformed.next = self.at_head.val() && self.bad_header.val();
        self.drop_unroutable.next =
            self.at_head.val() && !self.bad_header.val() && self.no_port.val();
        self.drop_ttl.next = self.at_head.val()
            && !self.bad_header.val()
            && !self.no_port.val()
            && self.ttl_out.val();
        self.head_drop.next =
            self.drop_malformed.val() || self.drop_unroutable.val() || self.drop_ttl.val();
        self.head_go.next = self.at_head.val() && !self.head_drop.val();
        self.req.next = self.zero5.val();
        if self.head_go.val() {
            self.req.next = self.chosen.val();
        }
        if self.active.val() && self.locked.q.val() {
            self.req.next = self.lock_port.q.val();
        }
        if self.at_head.val() {
            self.flit_data.next = self.hdr.rewritten.val();
        }
        // What the switch's answer does.
        self.fifo.pop.next = (self.active.val() && self.dropping.q.val())
            || self.head_drop.val()
            || (self.grant.val()
                && (self.head_go.val() || (self.active.val() && self.locked.q.val())));
        self.routed_head.next = self.grant.val() && self.head_go.val();
        self.trace_hit.next = self.grant.val() && self.head_go.val() && self.hdr.trace.val();
        if self.head_drop.val() {
            self.dropping.d.next = !self.fifo.head_last.val();
        }
        if self.active.val() && self.dropping.q.val() && self.fifo.head_last.val() {
            self.dropping.d.next = false;
        }
        if self.grant.val() && self.head_go.val() {
            self.locked.d.next = !self.fifo.head_last.val();
            self.lock_port.d.next = self.chosen.val();
        }
        if self.grant.val() && self.active.val() && self.locked.q.val() && self.fifo.head_last.val()
        {
            self.locked.d.next = false;
        }
        self.credit.d.next = self.fifo.pop.val();
        self.credit_out.next = self.credit.q.val();
        if self.reset.val() {
            self.locked.d.next = false;
            self.dropping.d.next = false;
            self.credit.d.next = false;
        }
    }
}
