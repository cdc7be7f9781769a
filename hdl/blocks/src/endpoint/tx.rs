//! The TX engine: fetches the descriptor at the consumer index, checks it,
//! streams the packet's flits from host memory into the router's local port
//! (with credits), writes the completion and advances the consumer index and
//! its mirror.
//!
//! Checks, each counted and completed with its cause, the packet skipped and
//! nothing injected: length 0, not a multiple of 8 or over the maximum
//! (`tx_length`); descriptor, buffer or mirror outside the DMA window
//! (`dma_window`). The header's `src` is not touched here: the ingress router
//! overwrites it, so the host cannot choose it.

use super::dma::{DmaPort, IN_WINDOW_FN};
use replimesh_spec::regmap::{ErrorCause, DESC_STATUS_DONE};
use rust_hdl::prelude::*;

/// The TX engine.
#[derive(LogicBlock)]
pub struct TxEngine {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// The `control` register; bit 0 is `tx_enable`.
    pub enable: Signal<In, Bits<32>>,
    /// Ring base, low word.
    pub base_lo: Signal<In, Bits<32>>,
    /// Ring base, high word.
    pub base_hi: Signal<In, Bits<32>>,
    /// Ring size (0: off).
    pub size: Signal<In, Bits<32>>,
    /// Host's producer index.
    pub producer: Signal<In, Bits<32>>,
    /// Mirror address, low word.
    pub mirror_lo: Signal<In, Bits<32>>,
    /// Mirror address, high word.
    pub mirror_hi: Signal<In, Bits<32>>,
    /// DMA window base, low word.
    pub win_lo: Signal<In, Bits<32>>,
    /// DMA window base, high word.
    pub win_hi: Signal<In, Bits<32>>,
    /// DMA window bytes.
    pub win_size: Signal<In, Bits<32>>,
    /// The ring's size register was written: consumer back to 0 (when idle).
    pub ring_reset: Signal<In, Bit>,
    /// Consumer index.
    pub consumer: Signal<Out, Bits<32>>,
    /// Working on a descriptor.
    pub busy: Signal<Out, Bit>,
    /// DMA port.
    pub dma: DmaPort,
    /// Flit to the router's local input.
    pub inj_valid: Signal<Out, Bit>,
    /// Tail flit.
    pub inj_last: Signal<Out, Bit>,
    /// Flit.
    pub inj_data: Signal<Out, Bits<64>>,
    /// The router freed one slot of its local input FIFO.
    pub inj_credit: Signal<In, Bit>,
    /// A packet was sent (pulse).
    pub ev_sent: Signal<Out, Bit>,
    /// Its bytes.
    pub sent_bytes: Signal<Out, Bits<32>>,
    /// A descriptor completed (pulse).
    pub ev_done: Signal<Out, Bit>,
    /// An error (pulse).
    pub ev_err: Signal<Out, Bit>,
    /// Its cause.
    pub err_cause: Signal<Out, Bits<8>>,
    /// Descriptor index.
    pub err_info: Signal<Out, Bits<32>>,
    /// Offending value.
    pub err_value: Signal<Out, Bits<64>>,
    _credits: usize,
    _max_bytes: u32,
}

impl TxEngine {
    /// An engine feeding a router input FIFO of `credits` flits, sending
    /// packets of at most `max_bytes`.
    pub fn new(credits: usize, max_bytes: u32) -> Self {
        assert!((1..16).contains(&credits));
        Self {
            clock: Default::default(),
            reset: Default::default(),
            enable: Default::default(),
            base_lo: Default::default(),
            base_hi: Default::default(),
            size: Default::default(),
            producer: Default::default(),
            mirror_lo: Default::default(),
            mirror_hi: Default::default(),
            win_lo: Default::default(),
            win_hi: Default::default(),
            win_size: Default::default(),
            ring_reset: Default::default(),
            consumer: Default::default(),
            busy: Default::default(),
            dma: Default::default(),
            inj_valid: Default::default(),
            inj_last: Default::default(),
            inj_data: Default::default(),
            inj_credit: Default::default(),
            ev_sent: Default::default(),
            sent_bytes: Default::default(),
            ev_done: Default::default(),
            ev_err: Default::default(),
            err_cause: Default::default(),
            err_info: Default::default(),
            err_value: Default::default(),
            _credits: credits,
            _max_bytes: max_bytes,
        }
    }
}

impl Logic for TxEngine {
    /// Modelled in Verilator only (the card tests).
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.consumer.connect();
        self.busy.connect();
        self.dma.valid.connect();
        self.dma.write.connect();
        self.dma.addr.connect();
        self.dma.wdata.connect();
        self.dma.wstrb.connect();
        self.inj_valid.connect();
        self.inj_last.connect();
        self.inj_data.connect();
        self.ev_sent.connect();
        self.sent_bytes.connect();
        self.ev_done.connect();
        self.ev_err.connect();
        self.err_cause.connect();
        self.err_info.connect();
        self.err_value.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "\
{IN_WINDOW_FN}
localparam S_IDLE = 3'd0, S_D0 = 3'd1, S_D1 = 3'd2, S_FETCH = 3'd3, S_FLIT = 3'd4, S_STATUS = 3'd5, S_MIRROR = 3'd6;
localparam [31:0] DONE = 32'h{done:08X};
localparam [7:0] C_LEN = 8'd{c_len}, C_WIN = 8'd{c_win};
reg [2:0] st;
reg [31:0] cons;
reg [63:0] desc;
reg [63:0] cur;
reg [31:0] len;
reg [31:0] left;
reg [31:0] status;
reg [3:0] credits;
wire [63:0] base = {{base_hi, base_lo}};
wire [63:0] mirror = {{mirror_hi, mirror_lo}};
wire [63:0] win = {{win_hi, win_lo}};
wire [31:0] cons_next = (cons + 32'd1) & (size - 32'd1);
wire [63:0] desc_at = base + {{28'd0, cons, 4'd0}};
wire sending = (st == S_FETCH) && (credits != 4'd0);
always @(*) begin
   consumer = cons;
   busy = (st != S_IDLE);
end
always @(posedge clock) begin
   dma$valid <= 1'b0;
   dma$write <= 1'b0;
   dma$wstrb <= 8'h00;
   inj_valid <= 1'b0;
   inj_last <= 1'b0;
   ev_sent <= 1'b0;
   ev_done <= 1'b0;
   ev_err <= 1'b0;
   credits <= credits + {{3'd0, inj_credit}} - {{3'd0, sending}};
   if (reset) begin
      st <= S_IDLE;
      cons <= 32'd0;
      credits <= 4'd{credits};
      desc <= 64'd0;
      cur <= 64'd0;
      len <= 32'd0;
      left <= 32'd0;
      status <= 32'd0;
      dma$addr <= 64'd0;
      dma$wdata <= 64'd0;
      inj_data <= 64'd0;
      sent_bytes <= 32'd0;
      err_cause <= 8'd0;
      err_info <= 32'd0;
      err_value <= 64'd0;
   end else begin
      case (st)
         S_IDLE: begin
            if (ring_reset) begin
               cons <= 32'd0;
            end else if (enable[0] && size != 32'd0 && cons != producer) begin
               desc <= desc_at;
               if (!in_window(desc_at, 32'd16, win, win_size)) begin
                  ev_err <= 1'b1; err_cause <= C_WIN; err_info <= cons; err_value <= desc_at;
                  st <= S_MIRROR;
               end else begin
                  dma$valid <= 1'b1; dma$addr <= desc_at;
                  st <= S_D0;
               end
            end
         end
         S_D0: if (dma$rsp_valid) begin
            cur <= dma$rsp_data;
            dma$valid <= 1'b1; dma$addr <= desc + 64'd8;
            st <= S_D1;
         end
         S_D1: if (dma$rsp_valid) begin
            len <= dma$rsp_data[31:0];
            left <= {{3'd0, dma$rsp_data[31:3]}};
            if (dma$rsp_data[31:0] == 32'd0 || dma$rsp_data[2:0] != 3'd0 || dma$rsp_data[31:0] > 32'd{max}) begin
               ev_err <= 1'b1; err_cause <= C_LEN; err_info <= cons; err_value <= {{32'd0, dma$rsp_data[31:0]}};
               status <= DONE | {{24'd0, C_LEN}};
               st <= S_STATUS;
            end else if (!in_window(cur, dma$rsp_data[31:0], win, win_size)) begin
               ev_err <= 1'b1; err_cause <= C_WIN; err_info <= cons; err_value <= cur;
               status <= DONE | {{24'd0, C_WIN}};
               st <= S_STATUS;
            end else begin
               status <= DONE;
               st <= S_FETCH;
            end
         end
         S_FETCH: if (sending) begin
            dma$valid <= 1'b1; dma$addr <= cur;
            st <= S_FLIT;
         end
         S_FLIT: if (dma$rsp_valid) begin
            inj_valid <= 1'b1;
            inj_data <= dma$rsp_data;
            inj_last <= (left == 32'd1);
            cur <= cur + 64'd8;
            left <= left - 32'd1;
            if (left == 32'd1) begin
               ev_sent <= 1'b1; sent_bytes <= len;
               st <= S_STATUS;
            end else begin
               st <= S_FETCH;
            end
         end
         S_STATUS: begin
            dma$valid <= 1'b1; dma$write <= 1'b1; dma$addr <= desc + 64'd8;
            dma$wdata <= {{status, 32'd0}}; dma$wstrb <= 8'hF0;
            st <= S_MIRROR;
         end
         S_MIRROR: begin
            cons <= cons_next;
            ev_done <= 1'b1;
            if (in_window(mirror, 32'd4, win, win_size) && mirror[1:0] == 2'd0) begin
               dma$valid <= 1'b1; dma$write <= 1'b1; dma$addr <= {{mirror[63:3], 3'd0}};
               dma$wdata <= mirror[2] ? {{cons_next, 32'd0}} : {{32'd0, cons_next}};
               dma$wstrb <= mirror[2] ? 8'hF0 : 8'h0F;
            end else begin
               ev_err <= 1'b1; err_cause <= C_WIN; err_info <= cons; err_value <= mirror;
            end
            st <= S_IDLE;
         end
         default: st <= S_IDLE;
      endcase
      if (dma$rsp_valid && dma$rsp_err) begin
         // The root complex refused a read the window allowed: record it;
         // the packet still ends with `last`, so the router stays in step.
         ev_err <= 1'b1; err_cause <= C_WIN; err_info <= cons; err_value <= cur;
      end
   end
end
/* verilator lint_off UNUSEDSIGNAL */
wire unused_bits = &{{1'b0, enable[31:1]}};
/* verilator lint_on UNUSEDSIGNAL */
",
            done = DESC_STATUS_DONE,
            c_len = ErrorCause::TxLength as u8,
            c_win = ErrorCause::DmaWindow as u8,
            credits = self._credits,
            max = self._max_bytes,
        ))
    }
}
