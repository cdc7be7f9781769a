//! One router output: the switch allocator, a wormhole lock and a credit
//! counter per virtual channel, and the output register.
//!
//! Mesh outputs carry two virtual channels (VC0, VC1) on one link: each has
//! its own lock (which input port, and which of that port's VCs, owns it),
//! its own credits for the neighbour's buffer of that VC, and its own
//! round-robin arbiter. Both arbiters pick every cycle; one flit crosses the
//! link, the VCs taking turns flit by flit, and the link carries its VC. A
//! head may take either free VC (the steady state of the double scheme,
//! `docs/deadlock-freedom.md`); a worm keeps its VC to the tail. The local
//! output (`vcs == 1`) has VC0 only: the endpoint takes one stream, one packet
//! at a time.
//!
//! Fan-out packets use VC0 only. They acquire the output through a second
//! round-robin arbiter: it grants only while nobody owns VC0 and the
//! neighbour's VC0 buffer is empty (credits == depth), and while a fan-out
//! packet asks, no new packet starts on VC0 (packets in flight finish), so a
//! fan-out packet is not starved by a stream of unicast heads. While a
//! fan-out packet owns VC0 it has the link every cycle it offers a flit, so
//! the outputs it streams to stay in lockstep.

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
    /// The VC each input port's offered flit came in on (bit per input
    /// port): with the port it names the worm the flit belongs to.
    pub request_vc: Signal<In, Bits<5>>,
    /// The VC each input port's offered flit must take if it is a head
    /// (bit per input port; ignored with one VC).
    pub request_head_vc: Signal<In, Bits<5>>,
    /// The input that sends this cycle (one-hot, zero if none).
    pub grant: Signal<Out, Bits<5>>,
    /// Flit of the granted input (selected by the router's crossbar).
    pub data_in: Signal<In, Bits<W>>,
    /// Tail flag of the granted input's flit.
    pub last_in: Signal<In, Bit>,
    /// Error mark of the granted input's flit (a worm closed by a failure).
    pub err_in: Signal<In, Bit>,
    /// The link is up (its liveness monitor is in `UP`; always for the local
    /// port). While down, nothing is granted, the owners are released (the
    /// owning inputs drop the rest of their worms), credits are held full
    /// (the far end's buffers are drained before the link comes back) and
    /// the output register is cleared.
    pub link_up: Signal<In, Bit>,
    /// Link to the neighbour: flit valid (registered).
    pub link_valid: Signal<Out, Bit>,
    /// Link to the neighbour: tail flag (registered).
    pub link_last: Signal<Out, Bit>,
    /// Link to the neighbour: flit (registered).
    pub link_data: Signal<Out, Bits<W>>,
    /// Link to the neighbour: error-marked tail (registered).
    pub link_err: Signal<Out, Bit>,
    /// Link to the neighbour: the flit's VC (registered).
    pub link_vc: Signal<Out, Bit>,
    /// Credit from the neighbour: one slot of its VC0 buffer freed.
    pub credit_in: Signal<In, Bit>,
    /// Credit from the neighbour: one slot of its VC1 buffer freed.
    pub credit_in1: Signal<In, Bit>,
    /// Pulse: a flit was switched to this output.
    pub sent: Signal<Out, Bit>,
    /// Inputs whose fan-out packet asks to acquire this output.
    pub fan_request: Signal<In, Bits<5>>,
    /// The fan-out requester picked this cycle (one-hot, zero if none).
    pub fan_grant: Signal<Out, Bits<5>>,
    /// Inputs that take this output this cycle (the picked one, if the rest
    /// of its ordered run was granted too).
    pub fan_take: Signal<In, Bits<5>>,
    /// VC0 free, with the neighbour's VC0 buffer empty: a fan-out packet may
    /// take it.
    pub fan_avail: Signal<Out, Bit>,
    /// A VC0 worm holds this mesh output, or a VC0 flit is on the link
    /// (for `vc_seen`; never on the local output, whose packets the input
    /// units account for).
    pub vc0_busy: Signal<Out, Bit>,
    /// The same for VC1.
    pub vc1_busy: Signal<Out, Bit>,
    taken: Signal<Local, Bit>,
    arb: RoundRobin5,
    arb1: RoundRobin5,
    fan_arb: RoundRobin5,
    free: Signal<Local, Bit>,
    free1: Signal<Local, Bit>,
    full: Signal<Local, Bit>,
    held0: Signal<Local, Bits<5>>,
    held1: Signal<Local, Bits<5>>,
    use1: Signal<Local, Bit>,
    sent0: Signal<Local, Bit>,
    owner: DFF<Bits<5>>,
    owner_vc: DFF<Bit>,
    owner1: DFF<Bits<5>>,
    owner1_vc: DFF<Bit>,
    fan_owned: DFF<Bit>,
    turn1: DFF<Bit>,
    credits: DFF<Bits<8>>,
    credits1: DFF<Bits<8>>,
    out_valid: DFF<Bit>,
    out_last: DFF<Bit>,
    out_data: DFF<Bits<W>>,
    out_err: DFF<Bit>,
    out_vc: DFF<Bit>,
    two_vc: Constant<Bit>,
    depth: Constant<Bits<8>>,
    one8: Constant<Bits<8>>,
    all5: Constant<Bits<5>>,
    zero5: Constant<Bits<5>>,
}

impl<const W: usize> OutputUnit<W> {
    /// An output with `vcs` virtual channels (1 or 2) whose neighbour
    /// buffers `depth` flits per VC.
    pub fn new(depth: usize, vcs: usize) -> Self {
        assert!(vcs == 1 || vcs == 2, "{vcs} virtual channels not supported");
        Self {
            clock: Default::default(),
            reset: Default::default(),
            request: Default::default(),
            request_vc: Default::default(),
            request_head_vc: Default::default(),
            grant: Default::default(),
            data_in: Default::default(),
            last_in: Default::default(),
            err_in: Default::default(),
            link_up: Default::default(),
            link_valid: Default::default(),
            link_last: Default::default(),
            link_data: Default::default(),
            link_err: Default::default(),
            link_vc: Default::default(),
            credit_in: Default::default(),
            credit_in1: Default::default(),
            sent: Default::default(),
            fan_request: Default::default(),
            fan_grant: Default::default(),
            fan_take: Default::default(),
            fan_avail: Default::default(),
            vc0_busy: Default::default(),
            vc1_busy: Default::default(),
            taken: Default::default(),
            arb: Default::default(),
            arb1: Default::default(),
            fan_arb: Default::default(),
            free: Default::default(),
            free1: Default::default(),
            full: Default::default(),
            held0: Default::default(),
            held1: Default::default(),
            use1: Default::default(),
            sent0: Default::default(),
            owner: Default::default(),
            owner_vc: Default::default(),
            owner1: Default::default(),
            owner1_vc: Default::default(),
            fan_owned: Default::default(),
            turn1: Default::default(),
            credits: Default::default(),
            credits1: Default::default(),
            out_valid: Default::default(),
            out_last: Default::default(),
            out_data: Default::default(),
            out_err: Default::default(),
            out_vc: Default::default(),
            two_vc: Constant::new(vcs == 2),
            depth: Constant::new((depth as u64).to_bits()),
            one8: Constant::new(1u64.to_bits()),
            all5: Constant::new(0b11111u64.to_bits()),
            zero5: Constant::new(0u64.to_bits()),
        }
    }
}

impl<const W: usize> Logic for OutputUnit<W> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, owner, owner_vc, owner1, owner1_vc, fan_owned, turn1, credits, credits1,
            out_valid, out_last, out_data, out_err, out_vc
        );
        clock!(self, clock, arb, arb1, fan_arb);
        self.arb.reset.next = self.reset.val();
        self.arb1.reset.next = self.reset.val();
        self.fan_arb.reset.next = self.reset.val();
        self.free.next = self.owner.q.val() == self.all5.val();
        self.free1.next = self.owner1.q.val() == self.all5.val();
        self.full.next = self.credits.q.val() == self.depth.val();
        // The requesters whose offered flit belongs to the worm holding each
        // VC: the owning port, offering a flit of the owning input VC.
        self.held0.next = self.zero5.val();
        if !self.free.val() {
            if self.owner_vc.q.val() {
                self.held0.next = self.request.val() & self.owner.q.val() & self.request_vc.val();
            } else {
                self.held0.next = self.request.val() & self.owner.q.val() & !self.request_vc.val();
            }
        }
        self.held1.next = self.zero5.val();
        if !self.free1.val() {
            if self.owner1_vc.q.val() {
                self.held1.next = self.request.val() & self.owner1.q.val() & self.request_vc.val();
            } else {
                self.held1.next = self.request.val() & self.owner1.q.val() & !self.request_vc.val();
            }
        }
        // A worm keeps its VC; a head (a flit of no worm here) starts on
        // its VC once that is free. A waiting fan-out packet reserves a free
        // VC0: no new packet starts there.
        self.arb.request.next = self.held0.val();
        if self.free.val() && !self.fan_request.val().any() {
            if self.two_vc.val() {
                self.arb.request.next =
                    self.request.val() & !self.held1.val() & !self.request_head_vc.val();
            } else {
                self.arb.request.next = self.request.val();
            }
        }
        self.arb1.request.next = self.held1.val();
        if self.free1.val() {
            self.arb1.request.next =
                self.request.val() & !self.held0.val() & self.request_head_vc.val();
        }
        if !self.two_vc.val() {
            self.arb1.request.next = self.zero5.val();
        }
        self.fan_arb.request.next = self.fan_request.val();
        self.fan_avail.next = self.free.val() && self.full.val() && self.link_up.val();
        self.fan_arb.enable.next = self.fan_avail.val();
        self.fan_grant.next = self.fan_arb.grant.val();
        self.taken.next = (self.fan_arb.grant.val() & self.fan_take.val()).any();
        self.fan_arb.advance.next = self.taken.val();
        if self.taken.val() {
            self.owner.d.next = self.fan_arb.grant.val();
            self.owner_vc.d.next = false;
            self.fan_owned.d.next = true;
        }
        // A credit arriving this cycle may be spent this cycle.
        self.arb.enable.next =
            (self.credits.q.val().any() || self.credit_in.val()) && self.link_up.val();
        self.arb1.enable.next =
            (self.credits1.q.val().any() || self.credit_in1.val()) && self.link_up.val();
        // One flit crosses the link: the VCs take turns, except that a
        // fan-out packet owning VC0 always goes.
        self.use1.next = self.arb1.grant.val().any()
            && (!self.arb.grant.val().any() || (self.turn1.q.val() && !self.fan_owned.q.val()));
        self.grant.next = self.arb.grant.val();
        if self.use1.val() {
            self.grant.next = self.arb1.grant.val();
        }
        self.sent.next = self.grant.val().any();
        if self.sent.val() && self.two_vc.val() {
            self.turn1.d.next = !self.use1.val();
        }
        // Rotate priority per packet, not per flit.
        self.arb.advance.next = self.sent.val() && !self.use1.val() && self.last_in.val();
        self.arb1.advance.next = self.sent.val() && self.use1.val() && self.last_in.val();
        self.out_valid.d.next = self.sent.val();
        self.out_last.d.next = self.sent.val() && self.last_in.val();
        self.out_data.d.next = self.data_in.val();
        self.out_err.d.next = self.sent.val() && self.last_in.val() && self.err_in.val();
        self.out_vc.d.next = self.use1.val();
        if self.sent.val() && !self.use1.val() {
            if self.last_in.val() {
                self.owner.d.next = self.all5.val();
                self.fan_owned.d.next = false;
            } else {
                self.owner.d.next = self.grant.val();
                self.owner_vc.d.next = (self.grant.val() & self.request_vc.val()).any();
            }
        }
        if self.sent.val() && self.use1.val() {
            if self.last_in.val() {
                self.owner1.d.next = self.all5.val();
            } else {
                self.owner1.d.next = self.grant.val();
                self.owner1_vc.d.next = (self.grant.val() & self.request_vc.val()).any();
            }
        }
        self.sent0.next = self.sent.val() && !self.use1.val();
        if self.credit_in.val() && !self.sent0.val() {
            self.credits.d.next = self.credits.q.val() + self.one8.val();
        }
        if !self.credit_in.val() && self.sent0.val() {
            self.credits.d.next = self.credits.q.val() - self.one8.val();
        }
        if self.credit_in1.val() && !self.use1.val() {
            self.credits1.d.next = self.credits1.q.val() + self.one8.val();
        }
        if !self.credit_in1.val() && self.use1.val() {
            self.credits1.d.next = self.credits1.q.val() - self.one8.val();
        }
        self.link_valid.next = self.out_valid.q.val();
        self.link_last.next = self.out_last.q.val();
        self.link_data.next = self.out_data.q.val();
        self.link_err.next = self.out_err.q.val();
        self.link_vc.next = self.out_vc.q.val();
        self.vc0_busy.next = self.two_vc.val()
            && (!self.free.val() || (self.out_valid.q.val() && !self.out_vc.q.val()));
        self.vc1_busy.next = self.two_vc.val()
            && (!self.free1.val() || (self.out_valid.q.val() && self.out_vc.q.val()));
        if !self.link_up.val() || self.reset.val() {
            self.owner.d.next = self.all5.val();
            self.owner1.d.next = self.all5.val();
            self.fan_owned.d.next = false;
            self.credits.d.next = self.depth.val();
            self.credits1.d.next = self.depth.val();
            self.out_valid.d.next = false;
            self.out_err.d.next = false;
        }
    }
}
