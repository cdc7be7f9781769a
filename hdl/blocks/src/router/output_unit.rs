//! One router output: the round-robin switch allocator, the wormhole lock, the
//! credit counter for the neighbour's buffer and the output register.
//!
//! Fan-out packets acquire the output through a second round-robin arbiter:
//! it grants only while no packet owns the output and the neighbour's buffer
//! is empty (credits == depth), and while a fan-out packet asks, no new
//! packet is granted here (packets in flight finish), so a fan-out packet is
//! not starved by a stream of unicast heads.

use crate::common::arbiter::RoundRobin5;
use rust_hdl::prelude::*;

/// Output side of one router port.
#[derive(LogicBlock)]
pub struct OutputUnit<const W: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// Inputs asking for this output (bit per input port).
    pub request: Signal<In, Bits<5>>,
    /// The input that sends this cycle (one-hot, zero if none).
    pub grant: Signal<Out, Bits<5>>,
    /// Flit of the granted input (selected by the router's crossbar).
    pub data_in: Signal<In, Bits<W>>,
    /// Tail flag of the granted input's flit.
    pub last_in: Signal<In, Bit>,
    /// Error mark of the granted input's flit (a worm closed by a failure).
    pub err_in: Signal<In, Bit>,
    /// The link is up (its liveness monitor is in `UP`; always for the local
    /// port). While down, nothing is granted, the owner is released (the
    /// owning input drops the rest of its worm), credits are held full (the
    /// far end's buffer is drained before the link comes back) and the
    /// output register is cleared.
    pub link_up: Signal<In, Bit>,
    /// Link to the neighbour: flit valid (registered).
    pub link_valid: Signal<Out, Bit>,
    /// Link to the neighbour: tail flag (registered).
    pub link_last: Signal<Out, Bit>,
    /// Link to the neighbour: flit (registered).
    pub link_data: Signal<Out, Bits<W>>,
    /// Link to the neighbour: error-marked tail (registered).
    pub link_err: Signal<Out, Bit>,
    /// Credit from the neighbour: one slot of its buffer freed.
    pub credit_in: Signal<In, Bit>,
    /// Pulse: a flit was switched to this output.
    pub sent: Signal<Out, Bit>,
    /// Inputs whose fan-out packet asks to acquire this output.
    pub fan_request: Signal<In, Bits<5>>,
    /// The fan-out requester picked this cycle (one-hot, zero if none).
    pub fan_grant: Signal<Out, Bits<5>>,
    /// Inputs that take this output this cycle (the picked one, if the rest
    /// of its ordered run was granted too).
    pub fan_take: Signal<In, Bits<5>>,
    /// Free, with the neighbour's buffer empty: a fan-out packet may take it.
    pub fan_avail: Signal<Out, Bit>,
    taken: Signal<Local, Bit>,
    arb: RoundRobin5,
    fan_arb: RoundRobin5,
    free: Signal<Local, Bit>,
    full: Signal<Local, Bit>,
    owner: DFF<Bits<5>>,
    credits: DFF<Bits<8>>,
    out_valid: DFF<Bit>,
    out_last: DFF<Bit>,
    out_data: DFF<Bits<W>>,
    out_err: DFF<Bit>,
    depth: Constant<Bits<8>>,
    one8: Constant<Bits<8>>,
    all5: Constant<Bits<5>>,
    zero5: Constant<Bits<5>>,
}

impl<const W: usize> OutputUnit<W> {
    /// An output whose neighbour buffers `depth` flits.
    pub fn new(depth: usize) -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            request: Default::default(),
            grant: Default::default(),
            data_in: Default::default(),
            last_in: Default::default(),
            err_in: Default::default(),
            link_up: Default::default(),
            link_err: Default::default(),
            out_err: Default::default(),
            link_valid: Default::default(),
            link_last: Default::default(),
            link_data: Default::default(),
            credit_in: Default::default(),
            sent: Default::default(),
            arb: Default::default(),
            fan_arb: Default::default(),
            free: Default::default(),
            full: Default::default(),
            fan_request: Default::default(),
            fan_grant: Default::default(),
            fan_take: Default::default(),
            fan_avail: Default::default(),
            taken: Default::default(),
            zero5: Constant::new(0u64.to_bits()),
            owner: Default::default(),
            credits: Default::default(),
            out_valid: Default::default(),
            out_last: Default::default(),
            out_data: Default::default(),
            depth: Constant::new((depth as u64).to_bits()),
            one8: Constant::new(1u64.to_bits()),
            all5: Constant::new(0b11111u64.to_bits()),
        }
    }
}

impl<const W: usize> Logic for OutputUnit<W> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, owner, credits, out_valid, out_last, out_data, out_err);
        clock!(self, clock, arb, fan_arb);
        self.arb.reset.next = self.reset.val();
        self.fan_arb.reset.next = self.reset.val();
        self.free.next = self.owner.q.val() == self.all5.val();
        self.full.next = self.credits.q.val() == self.depth.val();
        // A packet in flight keeps the output: `owner` holds only its input
        // while locked, and every input otherwise. A waiting fan-out packet
        // reserves a free output: no new packet starts here.
        self.arb.request.next = self.request.val() & self.owner.q.val();
        if self.free.val() && self.fan_request.val().any() {
            self.arb.request.next = self.zero5.val();
        }
        self.fan_arb.request.next = self.fan_request.val();
        self.fan_avail.next = self.free.val() && self.full.val() && self.link_up.val();
        self.fan_arb.enable.next = self.fan_avail.val();
        self.fan_grant.next = self.fan_arb.grant.val();
        self.taken.next = (self.fan_arb.grant.val() & self.fan_take.val()).any();
        self.fan_arb.advance.next = self.taken.val();
        if self.taken.val() {
            self.owner.d.next = self.fan_arb.grant.val();
        }
        // A credit arriving this cycle may be spent this cycle.
        self.arb.enable.next =
            (self.credits.q.val().any() || self.credit_in.val()) && self.link_up.val();
        self.grant.next = self.arb.grant.val();
        self.sent.next = self.arb.grant.val().any();
        // Rotate priority per packet, not per flit.
        self.arb.advance.next = self.sent.val() && self.last_in.val();
        self.out_valid.d.next = self.sent.val();
        self.out_last.d.next = self.sent.val() && self.last_in.val();
        self.out_data.d.next = self.data_in.val();
        self.out_err.d.next = self.sent.val() && self.last_in.val() && self.err_in.val();
        if self.sent.val() {
            if self.last_in.val() {
                self.owner.d.next = self.all5.val();
            } else {
                self.owner.d.next = self.arb.grant.val();
            }
        }
        if self.credit_in.val() && !self.sent.val() {
            self.credits.d.next = self.credits.q.val() + self.one8.val();
        }
        if !self.credit_in.val() && self.sent.val() {
            self.credits.d.next = self.credits.q.val() - self.one8.val();
        }
        self.link_valid.next = self.out_valid.q.val();
        self.link_last.next = self.out_last.q.val();
        self.link_data.next = self.out_data.q.val();
        self.link_err.next = self.out_err.q.val();
        if !self.link_up.val() {
            self.owner.d.next = self.all5.val();
            self.credits.d.next = self.depth.val();
            self.out_valid.d.next = false;
            self.out_err.d.next = false;
        }
        if self.reset.val() {
            self.owner.d.next = self.all5.val();
            self.credits.d.next = self.depth.val();
            self.out_valid.d.next = false;
            self.out_err.d.next = false;
        }
    }
}
