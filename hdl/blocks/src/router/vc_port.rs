//! One router input port with two virtual channels: an input unit per VC,
//! and the VC arbiter that offers one of them to the switch each cycle.
//!
//! The link's `vc` wire steers each flit into its VC's unit; each unit has
//! its own FIFO, route lookup, wormhole lock and credits back to the sender
//! (`credit_out` for VC0, `credit_out1` for VC1). The switch has one port
//! per physical input (input-first separable allocation): every cycle one of
//! the two units offers its flit, and the offered flit's VC goes to the
//! outputs with it, so they know which worm it belongs to. A unit that is
//! not granted loses its turn, so a worm blocked downstream on one VC never
//! holds up the other VC for more than a cycle: the VCs are independent
//! buffers, which is what the deadlock argument needs
//! (`docs/deadlock-freedom.md`). Priority turns per packet, and whenever the
//! offered flit is refused.
//!
//! Which VC a unicast head leaves on, and which route table bank routes it,
//! follow the router's `table_banks` (the double scheme,
//! `docs/deadlock-freedom.md`): `cur`, the VC of the newest tables, and the
//! state of the other bank.
//!
//! - `same` (the steady state, and reset): both banks hold the same tables;
//!   the local port puts each head on its flow's VC (`head_vc`), a mesh port
//!   passes the VC on, so the VCs are two virtual networks with the same
//!   routes and a flow stays in order.
//! - otherwise a head injected here or arriving on `cur` leaves on `cur`,
//!   routed by `cur`'s bank; one arriving on the other VC moves up to `cur`
//!   if that bank is `old`, stays on its VC routed by its own bank if `next`,
//!   and waits at its FIFO head if `loading`.
//!
//! Fan-out packets travel on VC0 only (outputs give fan-out VC0
//! only), so only VC0's unit takes part in fan-out acquisition. The local port is a
//! `VcPort` with one VC: the host injects one stream.

use super::input_unit::InputUnit;
use crate::router::RouterParams;
use replimesh_spec::reconfig::OtherBank;
use replimesh_spec::FIELD_DEST;
use rust_hdl::prelude::*;

/// Input side of one router port, with one or two virtual channels.
#[derive(LogicBlock)]
pub struct VcPort<const W: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// Routing may start (the route table is initialised).
    pub enable: Signal<In, Bit>,
    /// This router's node id.
    pub my_id: Signal<In, Bits<8>>,
    /// This router's column.
    pub node_x: Signal<In, Bits<8>>,
    /// This router's row.
    pub node_y: Signal<In, Bits<8>>,
    /// This input's own port, one-hot (N, E, S, W, L).
    pub in_port: Signal<In, Bits<5>>,
    /// Outputs a fan-out packet arriving here may use.
    pub fan_legal: Signal<In, Bits<5>>,
    /// This is the local (host) port.
    pub is_local: Signal<In, Bit>,
    /// Ports that are down or do not exist.
    pub ports_down: Signal<In, Bits<5>>,
    /// Link: a flit is valid.
    pub link_valid: Signal<In, Bit>,
    /// Link: the flit's VC.
    pub link_vc: Signal<In, Bit>,
    /// Link: tail flit.
    pub link_last: Signal<In, Bit>,
    /// Link: flit.
    pub link_data: Signal<In, Bits<W>>,
    /// Link: error-marked tail.
    pub link_err: Signal<In, Bit>,
    /// The link in is open.
    pub link_open: Signal<In, Bit>,
    /// Nothing from before a failure is left, on either VC.
    pub rx_clear: Signal<Out, Bit>,
    /// Error mark of the flit offered.
    pub flit_err: Signal<Out, Bit>,
    /// Cycles a head with no live port waits for a new entry.
    pub wait_limit: Signal<In, Bits<16>>,
    /// Heads that started waiting for a live route this cycle (0..=2).
    pub head_wait: Signal<Out, Bits<2>>,
    /// Worms closed with an error-marked tail this cycle.
    pub cut_tail: Signal<Out, Bits<2>>,
    /// Worms whose rest is dropped this cycle.
    pub cut_drop: Signal<Out, Bits<2>>,
    /// Credit back to the neighbour for VC0 (registered).
    pub credit_out: Signal<Out, Bit>,
    /// Credit back to the neighbour for VC1 (registered).
    pub credit_out1: Signal<Out, Bit>,
    /// Route table write strobes, bit per bank.
    pub tbl_we: Signal<In, Bits<2>>,
    /// `table_banks`: the VC (and bank) of the newest tables.
    pub cur_vc: Signal<In, Bit>,
    /// `table_banks`: the state of the other bank (`OtherBank::code`).
    pub other_bank: Signal<In, Bits<2>>,
    /// VC0's unit holds a flit or an open worm.
    pub holds0: Signal<Out, Bit>,
    /// VC1's unit holds a flit or an open worm.
    pub holds1: Signal<Out, Bit>,
    /// Route table write address.
    pub tbl_waddr: Signal<In, Bits<8>>,
    /// Route table entry.
    pub tbl_wdata: Signal<In, Bits<6>>,
    /// Group table write strobe.
    pub grp_we: Signal<In, Bit>,
    /// Group table write address.
    pub grp_waddr: Signal<In, Bits<8>>,
    /// Group table entry.
    pub grp_wdata: Signal<In, Bits<5>>,
    /// Outputs the offered flit goes to.
    pub req: Signal<Out, Bits<5>>,
    /// The VC the offered flit came in on.
    pub flit_vc: Signal<Out, Bit>,
    /// The VC the offered flit leaves on if it is a head: with both banks
    /// the same, on a mesh port the one it came in on and on the local port
    /// the flow's VC (a hash of source and destination, so that all packets
    /// of a flow take one VC and one path and arrive in order); during a
    /// change, the VC of the bank that routed it.
    pub head_vc: Signal<Out, Bit>,
    /// Outputs a waiting fan-out packet asks to acquire (VC0's unit).
    pub fan_req: Signal<Out, Bits<5>>,
    /// Outputs free for fan-out.
    pub fan_avail: Signal<In, Bits<5>>,
    /// Outputs whose fan-out arbiter picked this input.
    pub fan_granted: Signal<In, Bits<5>>,
    /// Outputs this input acquires this cycle.
    pub fan_take: Signal<Out, Bits<5>>,
    /// Fan-out packets dropped this cycle.
    pub drop_fanout: Signal<Out, Bits<2>>,
    /// The switch took the offered flit.
    pub grant: Signal<In, Bit>,
    /// Flit offered to the switch.
    pub flit_data: Signal<Out, Bits<W>>,
    /// Tail flag of the flit offered.
    pub flit_last: Signal<Out, Bit>,
    /// Heads that won their output this cycle.
    pub routed_head: Signal<Out, Bits<2>>,
    /// Pulse: the routed head carried the trace flag.
    pub trace_hit: Signal<Out, Bit>,
    /// The outputs of the last traced head (the cycle after `trace_hit`).
    pub sent_port: Signal<Out, Bits<5>>,
    /// Packets dropped for TTL this cycle.
    pub drop_ttl: Signal<Out, Bits<2>>,
    /// Packets dropped as unroutable this cycle.
    pub drop_unroutable: Signal<Out, Bits<2>>,
    /// Packets dropped as malformed this cycle.
    pub drop_malformed: Signal<Out, Bits<2>>,
    /// Flits that arrived to a full FIFO this cycle.
    pub overflow: Signal<Out, Bits<2>>,
    vc0: InputUnit<W>,
    vc1: InputUnit<W>,
    turn1: DFF<Bit>,
    traced1: DFF<Bit>,
    pick1: Signal<Local, Bit>,
    flow_vc: Signal<Local, Bit>,
    two_vc: Constant<Bit>,
    other: Signal<Local, Bit>,
    same: Signal<Local, Bit>,
    bank0: Signal<Local, Bit>,
    bank1: Signal<Local, Bit>,
    code_same: Constant<Bits<2>>,
    code_next: Constant<Bits<2>>,
    code_loading: Constant<Bits<2>>,
    zero5: Constant<Bits<5>>,
    one2: Constant<Bits<2>>,
    two2: Constant<Bits<2>>,
    zero2: Constant<Bits<2>>,
}

impl<const W: usize> VcPort<W> {
    /// A port of a router described by `p`, with `vcs` (1 or 2) VCs; with
    /// one, VC1's unit never receives a flit.
    pub fn new(p: &RouterParams, vcs: usize) -> Self {
        assert!(vcs == 1 || vcs == 2, "{vcs} virtual channels not supported");
        // `flow_vc` reads the destination as the routing word's low byte.
        const { assert!(FIELD_DEST.word == 0 && FIELD_DEST.lsb == 0 && FIELD_DEST.width == 8) };
        Self {
            clock: Default::default(),
            reset: Default::default(),
            enable: Default::default(),
            my_id: Default::default(),
            node_x: Default::default(),
            node_y: Default::default(),
            in_port: Default::default(),
            fan_legal: Default::default(),
            is_local: Default::default(),
            ports_down: Default::default(),
            link_valid: Default::default(),
            link_vc: Default::default(),
            link_last: Default::default(),
            link_data: Default::default(),
            link_err: Default::default(),
            link_open: Default::default(),
            rx_clear: Default::default(),
            flit_err: Default::default(),
            wait_limit: Default::default(),
            head_wait: Default::default(),
            cut_tail: Default::default(),
            cut_drop: Default::default(),
            credit_out: Default::default(),
            credit_out1: Default::default(),
            tbl_we: Default::default(),
            tbl_waddr: Default::default(),
            tbl_wdata: Default::default(),
            cur_vc: Default::default(),
            other_bank: Default::default(),
            holds0: Default::default(),
            holds1: Default::default(),
            grp_we: Default::default(),
            grp_waddr: Default::default(),
            grp_wdata: Default::default(),
            req: Default::default(),
            flit_vc: Default::default(),
            head_vc: Default::default(),
            fan_req: Default::default(),
            fan_avail: Default::default(),
            fan_granted: Default::default(),
            fan_take: Default::default(),
            drop_fanout: Default::default(),
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
            vc0: InputUnit::new(p),
            vc1: InputUnit::new(p),
            turn1: Default::default(),
            traced1: Default::default(),
            pick1: Default::default(),
            flow_vc: Default::default(),
            two_vc: Constant::new(vcs == 2),
            other: Default::default(),
            same: Default::default(),
            bank0: Default::default(),
            bank1: Default::default(),
            code_same: Constant::new((OtherBank::Same.code() as u64).to_bits()),
            code_next: Constant::new((OtherBank::Next.code() as u64).to_bits()),
            code_loading: Constant::new((OtherBank::Loading.code() as u64).to_bits()),
            zero5: Constant::new(0u64.to_bits()),
            one2: Constant::new(1u64.to_bits()),
            two2: Constant::new(2u64.to_bits()),
            zero2: Constant::new(0u64.to_bits()),
        }
    }
}

impl<const W: usize> Logic for VcPort<W> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, turn1, traced1);
        clock!(self, clock, vc0, vc1);
        // Both units see the same router state and table writes.
        self.vc0.reset.next = self.reset.val();
        self.vc0.enable.next = self.enable.val();
        self.vc0.my_id.next = self.my_id.val();
        self.vc0.node_x.next = self.node_x.val();
        self.vc0.node_y.next = self.node_y.val();
        self.vc0.in_port.next = self.in_port.val();
        self.vc0.fan_legal.next = self.fan_legal.val();
        self.vc0.is_local.next = self.is_local.val();
        self.vc0.ports_down.next = self.ports_down.val();
        self.vc0.wait_limit.next = self.wait_limit.val();
        self.vc0.tbl_we.next = self.tbl_we.val();
        self.vc0.tbl_waddr.next = self.tbl_waddr.val();
        self.vc0.tbl_wdata.next = self.tbl_wdata.val();
        self.vc0.grp_we.next = self.grp_we.val();
        self.vc0.grp_waddr.next = self.grp_waddr.val();
        self.vc0.grp_wdata.next = self.grp_wdata.val();
        self.vc1.reset.next = self.reset.val();
        self.vc1.enable.next = self.enable.val();
        self.vc1.my_id.next = self.my_id.val();
        self.vc1.node_x.next = self.node_x.val();
        self.vc1.node_y.next = self.node_y.val();
        self.vc1.in_port.next = self.in_port.val();
        self.vc1.fan_legal.next = self.fan_legal.val();
        self.vc1.is_local.next = self.is_local.val();
        self.vc1.ports_down.next = self.ports_down.val();
        self.vc1.wait_limit.next = self.wait_limit.val();
        self.vc1.tbl_we.next = self.tbl_we.val();
        self.vc1.tbl_waddr.next = self.tbl_waddr.val();
        self.vc1.tbl_wdata.next = self.tbl_wdata.val();
        self.vc1.grp_we.next = self.grp_we.val();
        self.vc1.grp_waddr.next = self.grp_waddr.val();
        self.vc1.grp_wdata.next = self.grp_wdata.val();
        // The double scheme: which bank routes each unit's heads. `cur`'s
        // unit, and the local port's (injection), always by `cur`'s bank;
        // the other VC's unit by its own bank only while that is `next`
        // (in `old` its heads move up to `cur`), and not at all while it is
        // `loading`.
        self.same.next = self.other_bank.val() == self.code_same.val();
        self.bank0.next = self.cur_vc.val();
        self.bank1.next = self.cur_vc.val();
        if self.two_vc.val() && (self.other_bank.val() == self.code_next.val()) {
            self.bank0.next = false;
            self.bank1.next = true;
        }
        self.vc0.bank.next = self.bank0.val();
        self.vc1.bank.next = self.bank1.val();
        self.vc0.bank_wait.next = self.two_vc.val()
            && self.cur_vc.val()
            && (self.other_bank.val() == self.code_loading.val());
        self.vc1.bank_wait.next =
            !self.cur_vc.val() && (self.other_bank.val() == self.code_loading.val());
        self.holds0.next = self.vc0.holds.val() && self.two_vc.val();
        self.holds1.next = self.vc1.holds.val() && self.two_vc.val();
        // Link side: each flit into its VC's unit.
        self.vc0.link_valid.next = self.link_valid.val() && !self.link_vc.val();
        self.vc1.link_valid.next = self.link_valid.val() && self.link_vc.val();
        self.vc0.link_last.next = self.link_last.val();
        self.vc1.link_last.next = self.link_last.val();
        self.vc0.link_data.next = self.link_data.val();
        self.vc1.link_data.next = self.link_data.val();
        self.vc0.link_err.next = self.link_err.val();
        self.vc1.link_err.next = self.link_err.val();
        self.vc0.link_open.next = self.link_open.val();
        self.vc1.link_open.next = self.link_open.val();
        self.credit_out.next = self.vc0.credit_out.val();
        self.credit_out1.next = self.vc1.credit_out.val();
        self.rx_clear.next = self.vc0.rx_clear.val() && self.vc1.rx_clear.val();
        // Fan-out acquisition: VC0 only.
        self.fan_req.next = self.vc0.fan_req.val();
        self.fan_take.next = self.vc0.fan_take.val();
        self.vc0.fan_avail.next = self.fan_avail.val();
        self.vc0.fan_granted.next = self.fan_granted.val();
        self.vc1.fan_avail.next = self.zero5.val();
        self.vc1.fan_granted.next = self.zero5.val();
        // VC arbitration: the unit whose turn it is offers its flit if it
        // has one, else the other does.
        self.pick1.next =
            self.vc1.req.val().any() && (self.turn1.q.val() || !self.vc0.req.val().any());
        self.req.next = self.vc0.req.val();
        self.flit_data.next = self.vc0.flit_data.val();
        self.flit_last.next = self.vc0.flit_last.val();
        self.flit_err.next = self.vc0.flit_err.val();
        self.other.next = self.vc1.req.val().any();
        if self.pick1.val() {
            self.req.next = self.vc1.req.val();
            self.flit_data.next = self.vc1.flit_data.val();
            self.flit_last.next = self.vc1.flit_last.val();
            self.flit_err.next = self.vc1.flit_err.val();
            self.other.next = self.vc0.req.val().any();
        }
        self.flit_vc.next = self.pick1.val();
        self.flow_vc.next = (self.vc0.flit_data.val().get_bits::<8>(0) ^ self.my_id.val()).xor();
        self.head_vc.next = self.bank0.val();
        if self.pick1.val() {
            self.head_vc.next = self.bank1.val();
        }
        if self.same.val() {
            self.head_vc.next = self.pick1.val();
            if !self.two_vc.val() {
                self.head_vc.next = self.flow_vc.val();
            }
        }
        self.vc0.grant.next = self.grant.val() && !self.pick1.val();
        self.vc1.grant.next = self.grant.val() && self.pick1.val();
        // A packet finished, or a refused flit, passes the turn on; a worm
        // that is moving keeps it.
        self.turn1.d.next = self.pick1.val();
        if (self.grant.val() && self.flit_last.val()) || (!self.grant.val() && self.other.val()) {
            self.turn1.d.next = !self.pick1.val();
        }
        // Events, summed over the two units.
        self.head_wait.next = self.zero2.val();
        if self.vc0.head_wait.val() || self.vc1.head_wait.val() {
            self.head_wait.next = self.one2.val();
        }
        if self.vc0.head_wait.val() && self.vc1.head_wait.val() {
            self.head_wait.next = self.two2.val();
        }
        self.cut_tail.next = self.zero2.val();
        if self.vc0.cut_tail.val() || self.vc1.cut_tail.val() {
            self.cut_tail.next = self.one2.val();
        }
        if self.vc0.cut_tail.val() && self.vc1.cut_tail.val() {
            self.cut_tail.next = self.two2.val();
        }
        self.cut_drop.next = self.zero2.val();
        if self.vc0.cut_drop.val() || self.vc1.cut_drop.val() {
            self.cut_drop.next = self.one2.val();
        }
        if self.vc0.cut_drop.val() && self.vc1.cut_drop.val() {
            self.cut_drop.next = self.two2.val();
        }
        self.drop_fanout.next = self.zero2.val();
        if self.vc0.drop_fanout.val() || self.vc1.drop_fanout.val() {
            self.drop_fanout.next = self.one2.val();
        }
        if self.vc0.drop_fanout.val() && self.vc1.drop_fanout.val() {
            self.drop_fanout.next = self.two2.val();
        }
        self.routed_head.next = self.zero2.val();
        if self.vc0.routed_head.val() || self.vc1.routed_head.val() {
            self.routed_head.next = self.one2.val();
        }
        if self.vc0.routed_head.val() && self.vc1.routed_head.val() {
            self.routed_head.next = self.two2.val();
        }
        self.drop_ttl.next = self.zero2.val();
        if self.vc0.drop_ttl.val() || self.vc1.drop_ttl.val() {
            self.drop_ttl.next = self.one2.val();
        }
        if self.vc0.drop_ttl.val() && self.vc1.drop_ttl.val() {
            self.drop_ttl.next = self.two2.val();
        }
        self.drop_unroutable.next = self.zero2.val();
        if self.vc0.drop_unroutable.val() || self.vc1.drop_unroutable.val() {
            self.drop_unroutable.next = self.one2.val();
        }
        if self.vc0.drop_unroutable.val() && self.vc1.drop_unroutable.val() {
            self.drop_unroutable.next = self.two2.val();
        }
        self.drop_malformed.next = self.zero2.val();
        if self.vc0.drop_malformed.val() || self.vc1.drop_malformed.val() {
            self.drop_malformed.next = self.one2.val();
        }
        if self.vc0.drop_malformed.val() && self.vc1.drop_malformed.val() {
            self.drop_malformed.next = self.two2.val();
        }
        self.overflow.next = self.zero2.val();
        if self.vc0.overflow.val() || self.vc1.overflow.val() {
            self.overflow.next = self.one2.val();
        }
        if self.vc0.overflow.val() && self.vc1.overflow.val() {
            self.overflow.next = self.two2.val();
        }
        // Trace: the outputs of whichever unit routed the traced head.
        self.trace_hit.next = self.vc0.trace_hit.val() || self.vc1.trace_hit.val();
        if self.vc0.trace_hit.val() {
            self.traced1.d.next = false;
        }
        if self.vc1.trace_hit.val() {
            self.traced1.d.next = true;
        }
        self.sent_port.next = self.vc0.sent_port.val();
        if self.traced1.q.val() {
            self.sent_port.next = self.vc1.sent_port.val();
        }
        if self.reset.val() {
            self.turn1.d.next = false;
            self.traced1.d.next = false;
        }
    }
}
