//! Round-robin arbiter over the five router ports.
//!
//! The request just after the last winner has the highest priority, so no
//! requester waits more than four grants: no input starves.

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
    masked: Signal<Local, Bits<5>>,
    pick: Signal<Local, Bits<5>>,
    one: Constant<Bits<5>>,
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
            masked: Default::default(),
            pick: Default::default(),
            one: Constant::new(1u64.to_bits()),
            zero: Constant::new(0u64.to_bits()),
        }
    }
}

impl Logic for RoundRobin5 {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, last);
        // Requests strictly above the last winner keep priority.
        self.masked.next = self.request.val()
            & !((self.last.q.val() << self.one.val()) - self.one.val())
            & !self.last.q.val();
        self.pick.next = self.request.val();
        if self.masked.val().any() {
            self.pick.next = self.masked.val();
        }
        // Lowest set bit of `pick`.
        self.grant.next = self.zero.val();
        if self.enable.val() {
            self.grant.next = self.pick.val() & (!self.pick.val() + self.one.val());
        }
        if self.advance.val() && self.enable.val() && self.pick.val().any() {
            self.last.d.next = self.grant.val();
        }
        if self.reset.val() {
            self.last.d.next = self.zero.val();
        }
    }
}
