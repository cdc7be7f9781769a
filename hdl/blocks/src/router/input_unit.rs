//! One router input: the FIFO, the route lookup on the head flit, the
//! wormhole lock that keeps a packet's flits on one output, the fan-out
//! sequencer, and the drops.
//!
//! Look-ahead classification: a head flit is decoded as it arrives from the
//! link (which comes straight from the neighbour's output register): route
//! table and group table lookups, broadcast rule, header checks and source
//! stamping. The results travel through the FIFO beside the flit as two tags
//! (`TagFifo`); at the FIFO head only the link-down choice between primary
//! and alternate, the TTL and the switch remain. That takes the two LUT-RAM
//! reads in series (FIFO, then route table) off the switch allocation path.
//!
//! Each input holds both route table banks (the double scheme,
//! docs/deadlock-freedom.md) and reads the one its `bank` input names; the
//! tag keeps which. A head whose tag came from another bank than the one
//! named now (the router switched meanwhile), or whose bank is being loaded
//! (`bank_wait`), is not routed: it waits at the FIFO head and looks its
//! entry up again, bounded like a head with no live port.
//!
//! Fan-out packets (multicast, scoped broadcast, discovery request) take an
//! output mask instead of one port: the group table entry `dest`, or the
//! broadcast rule. The input then acquires the mask's outputs in the fixed
//! channel order E, W, N, S, L, several at once when they all grant (each
//! output grants only when it is free and its neighbour's buffer is empty,
//! i.e. credits == depth), and
//! once it holds all of them streams the packet to every one in lockstep:
//! each flit leaves the FIFO once and is copied to every output the same
//! cycle. A fan-out packet is at most `fifo_depth` flits, so it never waits
//! for credit once it streams. See docs/fanout.md and docs/deadlock-freedom.md.

use super::fanout::{BroadcastMask, OrderedAcquire};
use super::header::{RoutingWord, TtlRewrite};
use crate::common::dist_ram::DistRam;
use crate::common::fifo::TagFifo;
use crate::common::glue::{FanTagPack, RouteTagPack};
use crate::router::RouterParams;
use replimesh_spec::GROUP_TABLE_ENTRIES;
use rust_hdl::prelude::*;

/// Header flits at `w` bits per flit.
fn header_flits(w: usize) -> usize {
    if w >= 64 {
        1
    } else {
        2
    }
}

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
    /// This router's column.
    pub node_x: Signal<In, Bits<8>>,
    /// This router's row.
    pub node_y: Signal<In, Bits<8>>,
    /// This input's own port, one-hot (N, E, S, W, L).
    pub in_port: Signal<In, Bits<5>>,
    /// Outputs a fan-out packet arriving here may use (the X-then-Y order:
    /// never back where it came from, never from Y to X).
    pub fan_legal: Signal<In, Bits<5>>,
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
    /// Link from the neighbour: the flit is an error-marked tail (a worm
    /// closed upstream by a failure).
    pub link_err: Signal<In, Bit>,
    /// The link in is open (its liveness monitor is `ARMED` or `UP`; always
    /// for the local port). When it closes with a worm half arrived, the
    /// worm is closed here: once the FIFO has drained, an error-marked tail
    /// follows the flits that made it.
    pub link_open: Signal<In, Bit>,
    /// Nothing from before a failure is left: FIFO empty, no worm to close,
    /// no credit pending. The link monitor offers the link again only then.
    pub rx_clear: Signal<Out, Bit>,
    /// Error mark of the flit offered (with `flit_last`).
    pub flit_err: Signal<Out, Bit>,
    /// Cycles a unicast head whose route has no live port waits for a new
    /// table entry (looked up again at the FIFO head) before it is dropped
    /// as unroutable. An entry of "no route" drops at once.
    pub wait_limit: Signal<In, Bits<16>>,
    /// Pulse: a head started waiting for a live route.
    pub head_wait: Signal<Out, Bit>,
    /// Pulse: a worm was closed with an error-marked tail (link in died).
    pub cut_tail: Signal<Out, Bit>,
    /// Pulse: the rest of a worm is dropped (every output it held died).
    pub cut_drop: Signal<Out, Bit>,
    /// Credit back to the neighbour: one FIFO slot freed (registered).
    pub credit_out: Signal<Out, Bit>,
    /// Route table write strobes, bit per bank (all inputs hold a copy of
    /// both banks; reset initialisation writes both at once).
    pub tbl_we: Signal<In, Bits<2>>,
    /// The bank heads are routed by now (the double scheme: `VcPort` derives
    /// it from this unit's VC and the router's `table_banks`).
    pub bank: Signal<In, Bit>,
    /// Heads wait at the FIFO head: their bank is being loaded.
    pub bank_wait: Signal<In, Bit>,
    /// This unit holds a flit (FIFO not empty) or an open worm.
    pub holds: Signal<Out, Bit>,
    /// Route table write address (destination).
    pub tbl_waddr: Signal<In, Bits<8>>,
    /// Route table entry: `alternate << 3 | primary`.
    pub tbl_wdata: Signal<In, Bits<6>>,
    /// Group table write strobe (all inputs hold a copy).
    pub grp_we: Signal<In, Bit>,
    /// Group table write address (group id).
    pub grp_waddr: Signal<In, Bits<8>>,
    /// Group table entry: output mask.
    pub grp_wdata: Signal<In, Bits<5>>,
    /// Outputs this input sends its current flit to: one-hot for unicast,
    /// the whole mask of a streaming fan-out packet (zero: none).
    pub req: Signal<Out, Bits<5>>,
    /// Outputs a waiting fan-out packet asks to acquire (see `OrderedAcquire`).
    pub fan_req: Signal<Out, Bits<5>>,
    /// Outputs free with an empty neighbour buffer (bit per output).
    pub fan_avail: Signal<In, Bits<5>>,
    /// Outputs whose fan-out arbiter picked this input this cycle.
    pub fan_granted: Signal<In, Bits<5>>,
    /// Outputs this input acquires this cycle.
    pub fan_take: Signal<Out, Bits<5>>,
    /// Pulse: fan-out packet dropped (bad group, bad mask, scope error, oversize).
    pub drop_fanout: Signal<Out, Bit>,
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
    /// The outputs the packet in flight (or the last one) was sent to: in
    /// the cycle after `trace_hit`, the traced head's outputs.
    pub sent_port: Signal<Out, Bits<5>>,
    /// Pulse: dropped, TTL ran out.
    pub drop_ttl: Signal<Out, Bit>,
    /// Pulse: dropped, primary and alternate port down.
    pub drop_unroutable: Signal<Out, Bit>,
    /// Pulse: dropped, destination outside the mesh or kind not forwarded.
    pub drop_malformed: Signal<Out, Bit>,
    /// Pulse: a flit arrived with the FIFO full (a neighbour ignored credits).
    pub overflow: Signal<Out, Bit>,
    fifo: TagFifo<W, 15, 12>,
    in_hdr: RoutingWord<W>,
    in_head: DFF<Bit>,
    rtag: RouteTagPack,
    ftag: FanTagPack,
    fan_err_in: Signal<Local, Bit>,
    h_raw: Signal<Local, Bits<5>>,
    stale: Signal<Local, Bit>,
    h_fan: Signal<Local, Bit>,
    h_fmask: Signal<Local, Bits<5>>,
    h_ttlcut: Signal<Local, Bit>,
    route_tbl0: DistRam<Bits<6>>,
    route_tbl1: DistRam<Bits<6>>,
    entry: Signal<Local, Bits<6>>,
    h_bank: Signal<Local, Bit>,
    route_stale: Signal<Local, Bit>,
    relook_bank: DFF<Bit>,
    group_tbl: DistRam<Bits<5>>,
    bmask: BroadcastMask,
    acq: OrderedAcquire,
    fan_start: Signal<Local, Bit>,
    cur_need: Signal<Local, Bits<5>>,
    cur_held: Signal<Local, Bits<5>>,
    hdr: TtlRewrite<W>,
    fan_wait: DFF<Bit>,
    fan_need: DFF<Bits<5>>,
    fan_held: DFF<Bits<5>>,
    fan_first: DFF<Bit>,
    fan_stream: DFF<Bit>,
    fan_cnt: DFF<Bits<8>>,
    is_fan: Signal<Local, Bit>,
    raw_mask: Signal<Local, Bits<5>>,
    fan_mask: Signal<Local, Bits<5>>,
    fan_err: Signal<Local, Bit>,
    fan_ttl_cut: Signal<Local, Bit>,
    fan_rest: Signal<Local, Bits<5>>,
    fan_cut: Signal<Local, Bit>,
    stream_go: Signal<Local, Bit>,
    fan_head_err: Signal<Local, Bit>,
    fan_orphan: Signal<Local, Bit>,
    ttl_keep: Signal<Local, Bits<5>>,
    loop_keep: Signal<Local, Bits<5>>,
    locked: DFF<Bit>,
    lock_port: DFF<Bits<5>>,
    dropping: DFF<Bit>,
    credit: DFF<Bit>,
    trunc: DFF<Bit>,
    relook_valid: DFF<Bit>,
    relook_p: DFF<Bits<5>>,
    relook_a: DFF<Bits<5>>,
    wait_cnt: DFF<Bits<16>>,
    cur_p: Signal<Local, Bits<5>>,
    cur_a: Signal<Local, Bits<5>>,
    none_route: Signal<Local, Bit>,
    blocked: Signal<Local, Bit>,
    steal: Signal<Local, Bit>,
    wait_out: Signal<Local, Bit>,
    one16: Constant<Bits<16>>,
    zero16: Constant<Bits<16>>,
    max16: Constant<Bits<16>>,
    synth: Signal<Local, Bit>,
    cut_up: Signal<Local, Bit>,
    err_tag: Signal<Local, Bits<15>>,
    one15: Constant<Bits<15>>,
    zero15: Constant<Bits<15>>,
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
    links5: Constant<Bits<5>>,
    all5: Constant<Bits<5>>,
    n_groups: Constant<Bits<8>>,
    max_len: Constant<Bits<8>>,
    last_cnt: Constant<Bits<8>>,
    one8: Constant<Bits<8>>,
    zero8: Constant<Bits<8>>,
    mc: Constant<Bit>,
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
            bank: Default::default(),
            bank_wait: Default::default(),
            holds: Default::default(),
            req: Default::default(),
            grant: Default::default(),
            flit_data: Default::default(),
            flit_last: Default::default(),
            routed_head: Default::default(),
            trace_hit: Default::default(),
            sent_port: Default::default(),
            drop_ttl: Default::default(),
            drop_unroutable: Default::default(),
            drop_malformed: Default::default(),
            overflow: Default::default(),
            fifo: TagFifo::new(p.fifo_depth),
            in_hdr: Default::default(),
            in_head: Default::default(),
            rtag: Default::default(),
            ftag: Default::default(),
            fan_err_in: Default::default(),
            h_raw: Default::default(),
            stale: Default::default(),
            h_fan: Default::default(),
            h_fmask: Default::default(),
            h_ttlcut: Default::default(),
            route_tbl0: DistRam::new(p.geometry.table_entries() as usize),
            route_tbl1: DistRam::new(p.geometry.table_entries() as usize),
            entry: Default::default(),
            h_bank: Default::default(),
            route_stale: Default::default(),
            relook_bank: Default::default(),
            group_tbl: DistRam::new(GROUP_TABLE_ENTRIES as usize),
            bmask: BroadcastMask::new(&p.geometry),
            acq: Default::default(),
            fan_start: Default::default(),
            cur_need: Default::default(),
            cur_held: Default::default(),
            hdr: Default::default(),
            fan_wait: Default::default(),
            fan_need: Default::default(),
            fan_held: Default::default(),
            fan_first: Default::default(),
            fan_stream: Default::default(),
            fan_cnt: Default::default(),
            is_fan: Default::default(),
            raw_mask: Default::default(),
            fan_mask: Default::default(),
            fan_err: Default::default(),
            fan_ttl_cut: Default::default(),
            fan_rest: Default::default(),
            fan_cut: Default::default(),
            stream_go: Default::default(),
            fan_head_err: Default::default(),
            fan_orphan: Default::default(),
            ttl_keep: Default::default(),
            loop_keep: Default::default(),
            node_x: Default::default(),
            node_y: Default::default(),
            in_port: Default::default(),
            fan_legal: Default::default(),
            grp_we: Default::default(),
            grp_waddr: Default::default(),
            grp_wdata: Default::default(),
            fan_req: Default::default(),
            fan_avail: Default::default(),
            fan_granted: Default::default(),
            fan_take: Default::default(),
            drop_fanout: Default::default(),
            locked: Default::default(),
            lock_port: Default::default(),
            dropping: Default::default(),
            credit: Default::default(),
            trunc: Default::default(),
            relook_valid: Default::default(),
            relook_p: Default::default(),
            relook_a: Default::default(),
            wait_cnt: Default::default(),
            cur_p: Default::default(),
            cur_a: Default::default(),
            none_route: Default::default(),
            blocked: Default::default(),
            steal: Default::default(),
            wait_out: Default::default(),
            one16: Constant::new(1u64.to_bits()),
            zero16: Constant::new(0u64.to_bits()),
            max16: Constant::new(0xffffu64.to_bits()),
            wait_limit: Default::default(),
            head_wait: Default::default(),
            synth: Default::default(),
            cut_up: Default::default(),
            err_tag: Default::default(),
            one15: Constant::new(1u64.to_bits()),
            zero15: Constant::new(0u64.to_bits()),
            link_err: Default::default(),
            link_open: Default::default(),
            rx_clear: Default::default(),
            flit_err: Default::default(),
            cut_tail: Default::default(),
            cut_drop: Default::default(),
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
            links5: Constant::new(0b01111u64.to_bits()),
            all5: Constant::new(0b11111u64.to_bits()),
            n_groups: Constant::new((GROUP_TABLE_ENTRIES as u64).to_bits()),
            // The whole packet must fit the neighbour's buffer: header + len.
            max_len: Constant::new(((p.fifo_depth - header_flits(W)) as u64).to_bits()),
            last_cnt: Constant::new(((p.fifo_depth - 1) as u64).to_bits()),
            one8: Constant::new(1u64.to_bits()),
            zero8: Constant::new(0u64.to_bits()),
            mc: Constant::new(p.multicast),
        }
    }
}

impl<const W: usize> Logic for InputUnit<W> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            locked,
            lock_port,
            dropping,
            credit,
            fan_wait,
            fan_need,
            fan_held,
            fan_first,
            fan_stream,
            fan_cnt,
            in_head,
            trunc,
            relook_valid,
            relook_p,
            relook_a,
            relook_bank,
            wait_cnt
        );
        clock!(self, clock, fifo);
        self.route_tbl0.clock.next = self.clock.val();
        self.route_tbl1.clock.next = self.clock.val();
        self.group_tbl.clock.next = self.clock.val();
        self.fifo.reset.next = self.reset.val();
        // Link side: every valid flit enters the FIFO. A head flit is
        // classified on arrival (look-ahead): its route table entry, its
        // fan-out mask and the header checks go into the FIFO beside it as
        // tags, so the FIFO head only applies link-down and TTL and asks the
        // switch. The route is the table entry when the flit arrived; a
        // table rewritten meanwhile applies from the next packet (old and
        // new tables must both be deadlock-free anyway, docs/routing.md).
        self.fifo.push.next = self.link_valid.val();
        self.fifo.push_last.next = self.link_last.val();
        self.overflow.next = self.fifo.overflow.val();
        if self.link_valid.val() {
            self.in_head.d.next = self.link_last.val();
        }
        // Route and group table copies, written by the router.
        self.route_tbl0.write_enable.next = self.tbl_we.val().get_bit(0);
        self.route_tbl0.write_address.next = self.tbl_waddr.val();
        self.route_tbl0.write_data.next = self.tbl_wdata.val();
        self.route_tbl1.write_enable.next = self.tbl_we.val().get_bit(1);
        self.route_tbl1.write_address.next = self.tbl_waddr.val();
        self.route_tbl1.write_data.next = self.tbl_wdata.val();
        self.group_tbl.write_enable.next = self.grp_we.val();
        self.group_tbl.write_address.next = self.grp_waddr.val();
        self.group_tbl.write_data.next = self.grp_wdata.val();
        // Arriving head flit: decode, stamp the source, look up.
        self.in_hdr.flit.next = self.link_data.val();
        // The ingress router stamps the source.
        self.in_hdr.new_src.next = self.in_hdr.src.val();
        if self.is_local.val() {
            self.in_hdr.new_src.next = self.my_id.val();
        }
        self.in_hdr.new_ttl.next = self.in_hdr.ttl.val();
        self.fifo.push_data.next = self.link_data.val();
        if self.in_head.q.val() {
            self.fifo.push_data.next = self.in_hdr.rewritten.val();
        }
        // The route table's read port serves arriving head flits; in a
        // cycle without one, a blocked head at the FIFO head reads its entry
        // again (the registers below keep it).
        self.steal.next = !(self.link_valid.val() && self.in_head.q.val());
        self.route_tbl0.read_address.next = self.in_hdr.dest.val();
        self.route_tbl1.read_address.next = self.in_hdr.dest.val();
        self.group_tbl.read_address.next = self.in_hdr.dest.val();
        self.dest_ok.next = ((self.in_hdr.dest.val() & self.x_mask.val()) < self.mesh_w.val())
            && ((self.in_hdr.dest.val() >> self.x_bits.val()) < self.mesh_h.val());
        // The entry of the bank heads are routed by now; the tag keeps
        // which bank it came from.
        self.entry.next = self.route_tbl0.read_data.val();
        if self.bank.val() {
            self.entry.next = self.route_tbl1.read_data.val();
        }
        self.prim_oh.next = self.one5.val() << self.entry.val().get_bits::<3>(0);
        self.alt_oh.next = self.one5.val() << self.entry.val().get_bits::<3>(3);
        // Fan-out: the output mask, from the group table (multicast) or the
        // broadcast rule (scoped broadcast, discovery request).
        self.bmask.node_x.next = self.node_x.val();
        self.bmask.node_y.next = self.node_y.val();
        self.bmask.src.next = self.in_hdr.new_src.val();
        self.bmask.in_port.next = self.in_port.val();
        self.bmask.scope_mode.next = self.in_hdr.scope_mode.val();
        self.bmask.radius.next = self.in_hdr.radius.val();
        // Without the fan-out logic, fan-out kinds are not forwardable: they
        // are dropped as malformed, and everything below folds to constants.
        self.is_fan.next = self.in_hdr.fanout.val() && self.mc.val();
        self.raw_mask.next = self.bmask.mask.val();
        if self.in_hdr.multicast.val() {
            self.raw_mask.next = self.group_tbl.read_data.val();
        }
        self.fan_err_in.next = (self.in_hdr.multicast.val()
            && ((self.in_hdr.dest.val() >= self.n_groups.val())
                || (self.raw_mask.val() & !self.fan_legal.val()).any()))
            || (!self.in_hdr.multicast.val() && self.bmask.scope_error.val())
            || (self.in_hdr.len.val() > self.max_len.val());
        // TTL spent: deliver here only. The source's own copy: only on request.
        self.fan_ttl_cut.next =
            !self.in_hdr.ttl.val().any() && (self.raw_mask.val() & self.links5.val()).any();
        self.ttl_keep.next = self.all5.val();
        if self.fan_ttl_cut.val() {
            self.ttl_keep.next = self.local_oh.val();
        }
        self.loop_keep.next = self.all5.val();
        if self.is_local.val() && !self.in_hdr.loopback.val() {
            self.loop_keep.next = self.links5.val();
        }
        self.fan_mask.next = self.raw_mask.val() & self.ttl_keep.val() & self.loop_keep.val();
        self.rtag.prim_oh.next = self.prim_oh.val();
        self.rtag.alt_oh.next = self.alt_oh.val();
        self.rtag.bad_header.next =
            !self.is_fan.val() && (!self.dest_ok.val() || !self.in_hdr.forwardable.val());
        self.rtag.ready.next = self.enable.val();
        self.rtag.is_fan.next = self.is_fan.val();
        self.rtag.trace.next = self.in_hdr.trace.val();
        self.rtag.bank.next = self.bank.val();
        self.ftag.raw_mask.next = self.raw_mask.val();
        self.ftag.fan_mask.next = self.fan_mask.val();
        self.ftag.err.next = self.fan_err_in.val();
        self.ftag.ttl_cut.next = self.fan_ttl_cut.val();
        self.fifo.push_a.next = self.rtag.tag.val();
        // Tag a is only read at a head flit; the other flits keep their
        // error mark in its bit 0.
        self.err_tag.next = self.zero15.val();
        if self.link_err.val() {
            self.err_tag.next = self.one15.val();
        }
        if !self.in_head.q.val() {
            self.fifo.push_a.next = self.err_tag.val();
        }
        self.fifo.push_b.next = self.ftag.tag.val();
        self.fifo.b_enable.next = self.mc.val();
        // The head flit: its tags, then what depends on the links now.
        self.hdr.flit.next = self.fifo.head_data.val();
        // The route: the tags from arrival, or the entry looked up again
        // while this head waited for a live port. Either is stale if it came
        // from another bank than the one heads are routed by now (the router
        // switched banks meanwhile), and every route waits while the bank is
        // being loaded: the head waits and looks its entry up again.
        self.h_bank.next = self.fifo.head_a.val().get_bit(14);
        self.cur_p.next = self.fifo.head_a.val().get_bits::<5>(0);
        self.cur_a.next = self.fifo.head_a.val().get_bits::<5>(5);
        self.route_stale.next = self.h_bank.val() != self.bank.val();
        if self.relook_valid.q.val() {
            self.cur_p.next = self.relook_p.q.val();
            self.cur_a.next = self.relook_a.q.val();
            self.route_stale.next = self.relook_bank.q.val() != self.bank.val();
        }
        if self.bank_wait.val() {
            self.route_stale.next = true;
        }
        self.chosen.next = self.zero5.val();
        if self.route_stale.val() {
            self.chosen.next = self.zero5.val();
        } else if (self.cur_p.val() & !self.ports_down.val()).any() {
            self.chosen.next = self.cur_p.val();
        } else if (self.cur_a.val() & !self.ports_down.val()).any() {
            self.chosen.next = self.cur_a.val();
        }
        self.none_route.next =
            !(self.cur_p.val() | self.cur_a.val()).any() && !self.route_stale.val();
        // Flits that arrived before the route table was loaded have no route.
        self.stale.next = !self.fifo.head_a.val().get_bit(11);
        self.h_raw.next = self.fifo.head_b.val().get_bits::<5>(0);
        // The tags' fan-out bits are constant without the fan-out logic
        // only if gated here too (synthesis cannot see into the LUT RAM).
        self.h_fan.next = self.fifo.head_a.val().get_bit(12) && self.mc.val();
        self.h_fmask.next = self.fifo.head_b.val().get_bits::<5>(5);
        self.h_ttlcut.next = self.fifo.head_b.val().get_bit(11);
        self.fan_err.next = self.fifo.head_b.val().get_bit(10)
            || (self.h_raw.val() & self.ports_down.val() & self.links5.val()).any();
        // What the head of the FIFO is doing this cycle. Computed apart from
        // `grant`, so the request does not depend on the switch's answer
        // (Verilator orders the blocks without a false loop).
        self.active.next = !self.fifo.empty.val() && self.enable.val();
        self.at_head.next = self.active.val()
            && !self.locked.q.val()
            && !self.dropping.q.val()
            && !self.fan_wait.q.val();
        self.bad_header.next = self.fifo.head_a.val().get_bit(10);
        // A unicast head whose ports are all down waits (bounded) for the
        // control plane's new entry instead of being dropped: the packet is
        // not on the failed link, only routed towards it.
        self.blocked.next = self.at_head.val()
            && !self.h_fan.val()
            && !self.bad_header.val()
            && !self.stale.val()
            && !self.chosen.val().any()
            && !self.none_route.val();
        self.wait_out.next = self.wait_cnt.q.val() >= self.wait_limit.val();
        self.no_port.next = (!self.h_fan.val()
            && !self.chosen.val().any()
            && (self.none_route.val() || self.wait_out.val()))
            || self.stale.val();
        self.ttl_out.next = !self.h_fan.val()
            && !self.hdr.ttl.val().any()
            && (self.chosen.val() != self.local_oh.val());
        self.drop_malformed.next = self.at_head.val() && self.bad_header.val();
        self.drop_unroutable.next =
            self.at_head.val() && !self.bad_header.val() && self.no_port.val();
        self.fan_head_err.next =
            self.at_head.val() && self.h_fan.val() && self.fan_err.val() && !self.stale.val();
        self.drop_ttl.next = self.at_head.val()
            && !self.bad_header.val()
            && !self.no_port.val()
            && (self.ttl_out.val()
                || (self.h_fan.val() && !self.fan_err.val() && self.h_ttlcut.val()));
        self.head_drop.next = self.drop_malformed.val()
            || self.drop_unroutable.val()
            || (self.at_head.val() && self.ttl_out.val())
            || self.fan_head_err.val()
            || (self.at_head.val() && self.h_fan.val() && !self.h_fmask.val().any());
        self.head_go.next = self.at_head.val() && !self.head_drop.val() && !self.h_fan.val();
        // Fan-out acquisition, in the channel order E, W, N, S, L: the head
        // starts asking in the cycle it is decoded, and takes every output
        // of the longest granted run at once.
        self.fan_start.next = self.at_head.val() && self.h_fan.val() && !self.head_drop.val();
        self.cur_need.next = self.zero5.val();
        self.cur_held.next = self.zero5.val();
        if self.active.val() && self.fan_wait.q.val() {
            // Outputs that died meanwhile are no longer waited for.
            self.cur_need.next = self.fan_need.q.val() & !self.ports_down.val();
            self.cur_held.next = self.fan_held.q.val();
        }
        if self.fan_start.val() {
            self.cur_need.next = self.h_fmask.val();
        }
        self.acq.need.next = self.cur_need.val();
        self.acq.avail.next = self.fan_avail.val();
        self.acq.granted.next = self.fan_granted.val();
        self.fan_req.next = self.acq.request.val();
        self.fan_take.next = self.acq.take.val();
        self.fan_rest.next = self.cur_need.val() & !self.acq.take.val();
        if self.fan_start.val() {
            self.fan_wait.d.next = true;
            self.fan_need.d.next = self.h_fmask.val();
            self.fan_held.d.next = self.zero5.val();
        }
        if self.acq.take.val().any() {
            self.fan_need.d.next = self.fan_rest.val();
            self.fan_held.d.next = self.cur_held.val() | self.acq.take.val();
            if !self.fan_rest.val().any() {
                // All held, every neighbour buffer empty: stream.
                self.fan_wait.d.next = false;
                self.locked.d.next = true;
                self.lock_port.d.next = self.cur_held.val() | self.acq.take.val();
                self.fan_first.d.next = true;
                self.fan_stream.d.next = true;
                self.fan_cnt.d.next = self.zero8.val();
            }
        }
        // Every output still needed died: stream to those held (if none, the
        // cut rule below drops the packet).
        if self.active.val() && self.fan_wait.q.val() && !self.cur_need.val().any() {
            self.fan_wait.d.next = false;
            self.locked.d.next = true;
            self.lock_port.d.next = self.cur_held.val();
            self.fan_first.d.next = true;
            self.fan_stream.d.next = true;
            self.fan_cnt.d.next = self.zero8.val();
        }
        // A worm whose link in closed mid-packet: once the FIFO is empty,
        // an error-marked tail closes it on the outputs it holds.
        self.synth.next = self.trunc.q.val() && self.fifo.empty.val() && self.locked.q.val();
        // Every output the worm holds is down: drop the rest of it here.
        self.cut_up.next =
            self.locked.q.val() && !(self.lock_port.q.val() & !self.ports_down.val()).any();
        self.req.next = self.zero5.val();
        if self.head_go.val() {
            self.req.next = self.chosen.val();
        }
        if (self.active.val() || self.synth.val()) && self.locked.q.val() {
            self.req.next = self.lock_port.q.val();
        }
        if self.cut_up.val() {
            self.req.next = self.zero5.val();
        }
        self.stream_go.next = self.grant.val() && self.active.val() && self.locked.q.val();
        // Rewrite: each hop onto a mesh link spends one TTL.
        self.hdr.new_ttl.next = self.hdr.ttl.val();
        if self.at_head.val() && (self.chosen.val() != self.local_oh.val()) {
            self.hdr.new_ttl.next = self.hdr.ttl.val() - self.one5.val();
        }
        if self.fan_first.q.val() && (self.lock_port.q.val() & self.links5.val()).any() {
            self.hdr.new_ttl.next = self.hdr.ttl.val() - self.one5.val();
        }
        self.flit_data.next = self.fifo.head_data.val();
        if self.at_head.val() || (self.locked.q.val() && self.fan_first.q.val()) {
            self.flit_data.next = self.hdr.rewritten.val();
        }
        // A fan-out packet never sends more than `fifo_depth` flits: the
        // last one that fits goes out as the tail, the rest is dropped.
        self.fan_cut.next = self.fan_stream.q.val()
            && (self.fan_cnt.q.val() == self.last_cnt.val())
            && !self.fifo.head_last.val();
        self.flit_last.next = self.fifo.head_last.val() || self.fan_cut.val() || self.synth.val();
        self.flit_err.next = (self.active.val()
            && self.locked.q.val()
            && !self.fan_first.q.val()
            && self.fifo.head_a.val().get_bit(0))
            || self.synth.val();
        // A fan-out packet that reaches a router from a link with nowhere to
        // go means the routers' trees disagree (a group entry cleared or
        // rewritten in place): counted. At the source an empty mask is legal
        // (e.g. a scope holding only the source, without loopback).
        self.fan_orphan.next = self.at_head.val()
            && self.h_fan.val()
            && !self.fan_err.val()
            && !self.is_local.val()
            && !self.h_ttlcut.val()
            && !self.stale.val()
            && !self.h_fmask.val().any();
        self.drop_fanout.next = self.fan_head_err.val()
            || self.fan_orphan.val()
            || (self.stream_go.val() && self.fan_cut.val());
        // What the switch's answer does.
        self.fifo.pop.next = (self.active.val() && self.dropping.q.val())
            || self.head_drop.val()
            || (self.grant.val() && self.head_go.val())
            || self.stream_go.val()
            || (self.cut_up.val() && self.active.val());
        self.routed_head.next = (self.grant.val() && self.head_go.val())
            || (self.stream_go.val() && self.fan_first.q.val());
        self.trace_hit.next = self.routed_head.val() && self.fifo.head_a.val().get_bit(13);
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
        if self.stream_go.val() {
            self.fan_first.d.next = false;
            self.fan_cnt.d.next = self.fan_cnt.q.val() + self.one8.val();
        }
        if self.stream_go.val() && self.flit_last.val() {
            self.locked.d.next = false;
            self.fan_stream.d.next = false;
        }
        if self.stream_go.val() && self.fan_cut.val() {
            self.dropping.d.next = true;
        }
        if self.synth.val() && self.grant.val() {
            self.locked.d.next = false;
            self.fan_stream.d.next = false;
            self.trunc.d.next = false;
        }
        self.cut_tail.next = self.synth.val() && self.grant.val();
        self.cut_drop.next = self.cut_up.val();
        if self.cut_up.val() {
            self.locked.d.next = false;
            self.fan_stream.d.next = false;
            self.fan_first.d.next = false;
            self.dropping.d.next = !(self.active.val() && self.fifo.head_last.val());
        }
        // The link in closed with a worm open: the next flit it brings is a
        // head, and this worm is closed once drained.
        if !self.link_open.val() && !self.in_head.q.val() {
            self.trunc.d.next = true;
            self.in_head.d.next = true;
        }
        if self.trunc.q.val() && self.fifo.empty.val() && !self.locked.q.val() {
            self.trunc.d.next = false;
            self.dropping.d.next = false;
        }
        self.rx_clear.next = self.fifo.empty.val() && !self.trunc.q.val() && !self.credit.q.val();
        self.holds.next = !self.fifo.empty.val() || self.locked.q.val();
        if self.blocked.val() && self.steal.val() {
            self.route_tbl0.read_address.next = self.hdr.dest.val();
            self.route_tbl1.read_address.next = self.hdr.dest.val();
            self.relook_valid.d.next = true;
            self.relook_bank.d.next = self.bank.val();
            self.relook_p.d.next = self.prim_oh.val();
            self.relook_a.d.next = self.alt_oh.val();
        }
        self.head_wait.next = self.blocked.val() && !self.wait_cnt.q.val().any();
        if self.blocked.val() && (self.wait_cnt.q.val() != self.max16.val()) {
            self.wait_cnt.d.next = self.wait_cnt.q.val() + self.one16.val();
        }
        if !self.at_head.val() || self.fifo.pop.val() {
            self.relook_valid.d.next = false;
            self.wait_cnt.d.next = self.zero16.val();
        }
        self.sent_port.next = self.lock_port.q.val();
        self.credit.d.next = self.fifo.pop.val();
        self.credit_out.next = self.credit.q.val();
        if self.reset.val() || !self.mc.val() {
            self.fan_wait.d.next = false;
            self.fan_first.d.next = false;
            self.fan_stream.d.next = false;
        }
        if !self.mc.val() {
            self.fan_need.d.next = self.zero5.val();
            self.fan_held.d.next = self.zero5.val();
            self.fan_cnt.d.next = self.zero8.val();
        }
        if self.reset.val() {
            self.locked.d.next = false;
            self.dropping.d.next = false;
            self.credit.d.next = false;
            self.in_head.d.next = true;
            self.trunc.d.next = false;
            self.relook_valid.d.next = false;
            self.wait_cnt.d.next = self.zero16.val();
        }
    }
}
