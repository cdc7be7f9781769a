//! Link liveness for one mesh port: the fabric's BFD, counted in cycles.
//!
//! Every router sends, on every mesh link it has, a heartbeat bit that
//! toggles each cycle, a `ready` bit, and a parity bit over everything it
//! drives onto that link (flit, tail, error mark, heartbeat, ready and the
//! credit it returns). The receiving monitor walks through four states:
//!
//! - `HOLD`: down and silent (no heartbeat, not ready). Entered on a failure,
//!   a host's forced `link_down`, reset, or at a mesh edge. Silence makes the
//!   far end time out too, so a failure seen by one end takes both ends down
//!   with no host involved. Left after `holddown` cycles (hysteresis: a link
//!   that flaps stays down at least this long).
//! - `PROBE`: heartbeat on, not ready; counts consecutive good cycles (the
//!   peer's heartbeat toggled and the parity held). After `stable` good
//!   cycles, and once the input has drained what it held from before the
//!   failure (`rx_clear`), it moves on.
//! - `ARMED`: ready; the input accepts flits again (the peer may already be
//!   up). It goes up when the peer says ready too.
//! - `UP`: the output may send and counts credits.
//!
//! Leaving `ARMED`/`UP`: `timeout` consecutive bad cycles (silence or parity
//! errors), a parity error on a flit (the flit is discarded), or the peer
//! dropping `ready` (it restarted).
//!
//! The input only accepts flits in `ARMED` and `UP`, and a sender sends only
//! in `UP`, which it reaches only after the receiver said ready: no flit is
//! sent to a receiver that would discard it, except those already on the link
//! when it fails.

use rust_hdl::prelude::*;

/// State encoding (two bits).
const HOLD: u64 = 0;
const PROBE: u64 = 1;
const ARMED: u64 = 2;
const UP: u64 = 3;

/// Liveness state machine of one mesh port.
#[derive(LogicBlock)]
pub struct LinkMonitor {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset (to `HOLD`).
    pub reset: Signal<In, Bit>,
    /// The port leads to a neighbour (false at the mesh edge).
    pub present: Signal<In, Bit>,
    /// The host holds the link down (maintenance).
    pub force_down: Signal<In, Bit>,
    /// Heartbeat from the peer.
    pub rx_hb: Signal<In, Bit>,
    /// The peer is ready (in its `ARMED` or `UP`).
    pub rx_ready: Signal<In, Bit>,
    /// The parity of what arrived this cycle matched.
    pub rx_par_ok: Signal<In, Bit>,
    /// A flit arrived this cycle.
    pub rx_valid: Signal<In, Bit>,
    /// The input holds nothing from before the failure (FIFO empty, no
    /// truncated worm left to close, no credit pending).
    pub rx_clear: Signal<In, Bit>,
    /// Bad cycles in a row that take the link down.
    pub timeout: Signal<In, Bits<8>>,
    /// Cycles a link stays silent after going down.
    pub holddown: Signal<In, Bits<8>>,
    /// Good cycles in a row before the link is offered again.
    pub stable: Signal<In, Bits<8>>,
    /// The output may send and counts credits.
    pub up: Signal<Out, Bit>,
    /// The input is open (`ARMED` or `UP`): flits may arrive.
    pub receiving: Signal<Out, Bit>,
    /// The flit on the link this cycle may enter the input FIFO.
    pub accept: Signal<Out, Bit>,
    /// Send the heartbeat.
    pub tx_hb_on: Signal<Out, Bit>,
    /// Pulse: the link went down from `UP`.
    pub went_down: Signal<Out, Bit>,
    /// Pulse: a parity error was seen.
    pub check_error: Signal<Out, Bit>,
    /// Pulse: a flit arrived and was discarded (parity error, or the input
    /// was not open).
    pub discard: Signal<Out, Bit>,
    state: DFF<Bits<2>>,
    cnt: DFF<Bits<8>>,
    bad: DFF<Bits<8>>,
    last_hb: DFF<Bit>,
    good: Signal<Local, Bit>,
    fail: Signal<Local, Bit>,
    s_hold: Constant<Bits<2>>,
    s_probe: Constant<Bits<2>>,
    s_armed: Constant<Bits<2>>,
    s_up: Constant<Bits<2>>,
    one8: Constant<Bits<8>>,
    zero8: Constant<Bits<8>>,
    max8: Constant<Bits<8>>,
}

impl Default for LinkMonitor {
    fn default() -> Self {
        let c2 = |v: u64| Constant::new(v.to_bits());
        Self {
            clock: Default::default(),
            reset: Default::default(),
            present: Default::default(),
            force_down: Default::default(),
            rx_hb: Default::default(),
            rx_ready: Default::default(),
            rx_par_ok: Default::default(),
            rx_valid: Default::default(),
            rx_clear: Default::default(),
            timeout: Default::default(),
            holddown: Default::default(),
            stable: Default::default(),
            up: Default::default(),
            receiving: Default::default(),
            accept: Default::default(),
            tx_hb_on: Default::default(),
            went_down: Default::default(),
            check_error: Default::default(),
            discard: Default::default(),
            state: Default::default(),
            cnt: Default::default(),
            bad: Default::default(),
            last_hb: Default::default(),
            good: Default::default(),
            fail: Default::default(),
            s_hold: c2(HOLD),
            s_probe: c2(PROBE),
            s_armed: c2(ARMED),
            s_up: c2(UP),
            one8: Constant::new(1u64.to_bits()),
            zero8: Constant::new(0u64.to_bits()),
            max8: Constant::new(255u64.to_bits()),
        }
    }
}

impl Logic for LinkMonitor {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, state, cnt, bad, last_hb);
        self.last_hb.d.next = self.rx_hb.val();
        self.good.next = (self.rx_hb.val() != self.last_hb.q.val()) && self.rx_par_ok.val();
        self.receiving.next =
            (self.state.q.val() == self.s_armed.val()) || (self.state.q.val() == self.s_up.val());
        self.up.next = self.state.q.val() == self.s_up.val();
        self.accept.next = self.receiving.val() && self.rx_par_ok.val();
        self.discard.next = self.rx_valid.val() && !self.accept.val() && self.present.val();
        self.tx_hb_on.next = self.state.q.val() != self.s_hold.val();
        self.check_error.next = self.present.val() && !self.rx_par_ok.val();
        self.fail.next = false;
        if self.state.q.val() == self.s_hold.val() {
            self.cnt.d.next = self.cnt.q.val() + self.one8.val();
            if self.cnt.q.val() >= self.holddown.val() {
                self.state.d.next = self.s_probe.val();
                self.cnt.d.next = self.zero8.val();
            }
        }
        if self.state.q.val() == self.s_probe.val() {
            self.cnt.d.next = self.zero8.val();
            if self.good.val() && (self.cnt.q.val() != self.max8.val()) {
                self.cnt.d.next = self.cnt.q.val() + self.one8.val();
            }
            if (self.cnt.q.val() >= self.stable.val()) && self.good.val() && self.rx_clear.val() {
                self.state.d.next = self.s_armed.val();
                self.bad.d.next = self.zero8.val();
            }
        }
        if self.receiving.val() {
            self.bad.d.next = self.zero8.val();
            if !self.good.val() {
                self.bad.d.next = self.bad.q.val() + self.one8.val();
            }
            if (self.state.q.val() == self.s_armed.val()) && self.good.val() && self.rx_ready.val()
            {
                self.state.d.next = self.s_up.val();
            }
            // The peer restarted: it is alive but no longer ready.
            if (self.state.q.val() == self.s_up.val()) && self.good.val() && !self.rx_ready.val() {
                self.fail.next = true;
            }
            if self.bad.q.val() >= self.timeout.val() {
                self.fail.next = true;
            }
            if self.rx_valid.val() && !self.rx_par_ok.val() {
                self.fail.next = true;
            }
        }
        if self.fail.val() {
            self.state.d.next = self.s_hold.val();
            self.cnt.d.next = self.zero8.val();
        }
        self.went_down.next = self.fail.val() && (self.state.q.val() == self.s_up.val());
        if self.reset.val() || !self.present.val() || self.force_down.val() {
            self.state.d.next = self.s_hold.val();
            self.cnt.d.next = self.zero8.val();
            self.bad.d.next = self.zero8.val();
        }
    }
}
