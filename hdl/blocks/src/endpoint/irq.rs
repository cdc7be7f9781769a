//! Interrupt moderation: events set the W1C status bits; the line pulses
//! once `moderation_count` enabled events have gathered, or
//! `moderation_cycles` after the first of them, and never in poll mode.
//!
//! It also turns the router's link states into the `link` cause: a cycle in
//! which any link went up or down is one event, counted in
//! `link_events_total`. The host reads `link_up` when the cause is set, so it
//! never polls the router; a count that moved by more than the host saw
//! means a link flapped between its reads (the state it reads is current,
//! so nothing is lost but the flap). A queue of events would cost a FIFO
//! per node for information the count already gives.

use rust_hdl::prelude::*;

/// The interrupt moderator.
#[derive(LogicBlock, Default)]
pub struct IrqModerator {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// Packet written to the RX ring.
    pub ev_rx: Signal<In, Bit>,
    /// TX descriptor consumed.
    pub ev_tx: Signal<In, Bit>,
    /// Error recorded.
    pub ev_err: Signal<In, Bit>,
    /// The router's mesh link states (bits N, E, S, W).
    pub link_up: Signal<In, Bits<4>>,
    /// `irq.enable`.
    pub enable: Signal<In, Bits<32>>,
    /// `irq.moderation_count`.
    pub mod_count: Signal<In, Bits<32>>,
    /// `irq.moderation_cycles`.
    pub mod_cycles: Signal<In, Bits<32>>,
    /// `irq.poll_mode`.
    pub poll: Signal<In, Bits<32>>,
    /// Status bits to set this cycle.
    pub status_set: Signal<Out, Bits<32>>,
    /// Interrupt (one-cycle pulse).
    pub irq: Signal<Out, Bit>,
    /// Interrupts raised.
    pub raised_total: Signal<Out, Bits<32>>,
    /// Cycles in which `link_up` changed.
    pub link_events_total: Signal<Out, Bits<32>>,
}

impl Logic for IrqModerator {
    /// Modelled in Verilator only (the card tests).
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.status_set.connect();
        self.irq.connect();
        self.raised_total.connect();
        self.link_events_total.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(
            "\
reg [31:0] pending;
reg [31:0] waited;
reg [3:0] link_prev;
wire ev_link = link_up != link_prev;
wire [2:0] n_new = {2'b0, ev_rx & enable[0]} + {2'b0, ev_tx & enable[1]} + {2'b0, ev_err & enable[2]}
   + {2'b0, ev_link & enable[3]};
wire [31:0] total = pending + {29'd0, n_new};
wire [31:0] need = (mod_count == 32'd0) ? 32'd1 : mod_count;
wire fire = !poll[0] && total != 32'd0
   && (total >= need || (mod_cycles != 32'd0 && pending != 32'd0 && waited >= mod_cycles));
always @(*) status_set = {28'd0, ev_link, ev_err, ev_tx, ev_rx};
always @(posedge clock) begin
   if (reset) begin
      link_prev <= 4'd0;
      link_events_total <= 32'd0;
   end else if (ev_link) begin
      link_prev <= link_up;
      link_events_total <= link_events_total + 32'd1;
   end
end
always @(posedge clock) begin
   irq <= 1'b0;
   if (reset) begin
      pending <= 32'd0;
      waited <= 32'd0;
      raised_total <= 32'd0;
   end else if (fire) begin
      irq <= 1'b1;
      raised_total <= raised_total + 32'd1;
      pending <= 32'd0;
      waited <= 32'd0;
   end else begin
      pending <= poll[0] ? 32'd0 : total;
      waited <= (pending != 32'd0) ? waited + 32'd1 : 32'd0;
   end
end
/* verilator lint_off UNUSEDSIGNAL */
wire unused_bits = &{1'b0, enable[31:4], poll[31:1]};
/* verilator lint_on UNUSEDSIGNAL */
"
            .into(),
        )
    }
}
