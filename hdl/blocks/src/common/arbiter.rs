//! Round-robin arbiter over the five router ports.
//!
//! The request just after the last winner has the highest priority, so no
//! requester waits more than four grants: no input starves.

use crate::common::glue::Pack5;
use rust_hdl::prelude::*;

/// Five-way round-robin arbiter with a one-hot grant.
#[derive(LogicBlock)]
pub struct RoundRobin5 {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// One bit per requester.
    pub request: Signal<In, Bits<5>>,
    /// One-hot winner (zero when nobody requests).
    pub grant: Signal<Out, Bits<5>>,
    /// Grants may be given (e.g. the output has credit).
    pub enable: Signal<In, Bit>,
    /// The grant was used: move priority past the winner.
    pub advance: Signal<In, Bit>,
    last: DFF<Bits<5>>,
    above: Pack5,
    lowest: Pack5,
    masked: Signal<Local, Bits<5>>,
    pick: Signal<Local, Bits<5>>,
    zero: Constant<Bits<5>>,
}

impl Default for RoundRobin5 {
    fn default() -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            request: Default::default(),
            grant: Default::default(),
            enable: Default::default(),
            advance: Default::default(),
            last: Default::default(),
            above: Default::default(),
            lowest: Default::default(),
            masked: Default::default(),
            pick: Default::default(),
            zero: Constant::new(0u64.to_bits()),
        }
    }
}

impl Logic for RoundRobin5 {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, last);
        // Requests strictly above the last (one-hot) winner keep priority.
        // Written as explicit AND/OR terms rather than `(last << 1) - 1` and
        // `pick & -pick`: on ECP5 those became carry chains on the switch
        // allocation path (docs/hardware.md).
        self.above.b0.next = false;
        self.above.b1.next = self.last.q.val().get_bit(0);
        self.above.b2.next = self.last.q.val().get_bit(0) || self.last.q.val().get_bit(1);
        self.above.b3.next = self.last.q.val().get_bit(0)
            || self.last.q.val().get_bit(1)
            || self.last.q.val().get_bit(2);
        self.above.b4.next = self.last.q.val().get_bit(0)
            || self.last.q.val().get_bit(1)
            || self.last.q.val().get_bit(2)
            || self.last.q.val().get_bit(3);
        self.masked.next = self.request.val() & self.above.bits.val();
        self.pick.next = self.request.val();
        if self.masked.val().any() {
            self.pick.next = self.masked.val();
        }
        // Lowest set bit of `pick`.
        self.lowest.b0.next = self.pick.val().get_bit(0);
        self.lowest.b1.next = self.pick.val().get_bit(1) && !self.pick.val().get_bit(0);
        self.lowest.b2.next = self.pick.val().get_bit(2)
            && !self.pick.val().get_bit(1)
            && !self.pick.val().get_bit(0);
        self.lowest.b3.next = self.pick.val().get_bit(3)
            && !self.pick.val().get_bit(2)
            && !self.pick.val().get_bit(1)
            && !self.pick.val().get_bit(0);
        self.lowest.b4.next = self.pick.val().get_bit(4)
            && !self.pick.val().get_bit(3)
            && !self.pick.val().get_bit(2)
            && !self.pick.val().get_bit(1)
            && !self.pick.val().get_bit(0);
        self.grant.next = self.zero.val();
        if self.enable.val() {
            self.grant.next = self.lowest.bits.val();
        }
        if self.advance.val() && self.enable.val() && self.pick.val().any() {
            self.last.d.next = self.grant.val();
        }
        if self.reset.val() {
            self.last.d.next = self.zero.val();
        }
    }
}
