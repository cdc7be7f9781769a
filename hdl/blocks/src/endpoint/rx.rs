//! The RX engine: takes packets from the router's local output (through a
//! FIFO that absorbs the flits the router may send on its initial credits),
//! writes each into the buffer of the next RX descriptor, writes the
//! completion (length and status) and advances the producer index and its
//! mirror. When the ring is full it stops taking flits, so the mesh backs up
//! and nothing is lost.
//!
//! Errors: a packet longer than its buffer completes with `rx_overflow`
//! (length 0, the rest of the packet dropped); a descriptor or buffer outside
//! the DMA window drops the packet (`dma_window`); a packet the mesh cut on a
//! failed link (its tail carries the cut mark) completes with `link_cut`,
//! length 0, and its last flit is not written. All are counted as drops.

use super::dma::{DmaPort, IN_WINDOW_FN};
use replimesh_spec::regmap::{ErrorCause, DESC_STATUS_DONE};
use rust_hdl::prelude::*;

/// The RX engine.
#[derive(LogicBlock, Default)]
pub struct RxEngine {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// The `control` register; bit 1 is `rx_enable`.
    pub enable: Signal<In, Bits<32>>,
    /// Ring base, low word.
    pub base_lo: Signal<In, Bits<32>>,
    /// Ring base, high word.
    pub base_hi: Signal<In, Bits<32>>,
    /// Ring size (0: off).
    pub size: Signal<In, Bits<32>>,
    /// Host's consumer index.
    pub consumer: Signal<In, Bits<32>>,
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
    /// The ring's size register was written: producer back to 0 (when idle).
    pub ring_reset: Signal<In, Bit>,
    /// Producer index.
    pub producer: Signal<Out, Bits<32>>,
    /// Working on a packet.
    pub busy: Signal<Out, Bit>,
    /// DMA port.
    pub dma: DmaPort,
    /// A flit waits at the FIFO head.
    pub head_valid: Signal<In, Bit>,
    /// The head flit.
    pub head_data: Signal<In, Bits<64>>,
    /// The head flit is a tail.
    pub head_last: Signal<In, Bit>,
    /// The head flit is an error-marked tail: the mesh cut the packet.
    pub head_err: Signal<In, Bit>,
    /// Take the head flit (also the credit back to the router).
    pub pop: Signal<Out, Bit>,
    /// A packet was delivered (pulse).
    pub ev_rx: Signal<Out, Bit>,
    /// Its bytes.
    pub rx_bytes: Signal<Out, Bits<32>>,
    /// A packet was dropped (pulse).
    pub ev_drop: Signal<Out, Bit>,
    /// An error (pulse).
    pub ev_err: Signal<Out, Bit>,
    /// Its cause.
    pub err_cause: Signal<Out, Bits<8>>,
    /// Descriptor index.
    pub err_info: Signal<Out, Bits<32>>,
    /// Offending value.
    pub err_value: Signal<Out, Bits<64>>,
}

impl Logic for RxEngine {
    /// Modelled in Verilator only (the card tests).
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.producer.connect();
        self.busy.connect();
        self.dma.valid.connect();
        self.dma.write.connect();
        self.dma.addr.connect();
        self.dma.wdata.connect();
        self.dma.wstrb.connect();
        self.pop.connect();
        self.ev_rx.connect();
        self.rx_bytes.connect();
        self.ev_drop.connect();
        self.ev_err.connect();
        self.err_cause.connect();
        self.err_info.connect();
        self.err_value.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "\
{IN_WINDOW_FN}
localparam S_IDLE = 3'd0, S_R0 = 3'd1, S_R1 = 3'd2, S_WRITE = 3'd3, S_DROP = 3'd4, S_COMPLETE = 3'd5, S_MIRROR = 3'd6;
localparam [31:0] DONE = 32'h{done:08X};
localparam [7:0] C_WIN = 8'd{c_win}, C_OVF = 8'd{c_ovf}, C_CUT = 8'd{c_cut};
reg [2:0] st;
reg [31:0] prod;
reg [63:0] desc;
reg [63:0] cur;
reg [31:0] cap;
reg [31:0] len;
reg [31:0] status;
reg has_desc;
wire [63:0] base = {{base_hi, base_lo}};
wire [63:0] mirror = {{mirror_hi, mirror_lo}};
wire [63:0] win = {{win_hi, win_lo}};
wire [31:0] prod_next = (prod + 32'd1) & (size - 32'd1);
wire [63:0] desc_at = base + {{28'd0, prod, 4'd0}};
wire fits = (len + 32'd8) <= cap;
always @(*) begin
   producer = prod;
   busy = (st != S_IDLE);
   pop = head_valid && ((st == S_WRITE && (fits || (head_last && head_err))) || st == S_DROP);
end
always @(posedge clock) begin
   dma$valid <= 1'b0;
   dma$write <= 1'b0;
   dma$wstrb <= 8'h00;
   ev_rx <= 1'b0;
   ev_drop <= 1'b0;
   ev_err <= 1'b0;
   if (reset) begin
      st <= S_IDLE;
      prod <= 32'd0;
      desc <= 64'd0;
      cur <= 64'd0;
      cap <= 32'd0;
      len <= 32'd0;
      status <= 32'd0;
      has_desc <= 1'b0;
      dma$addr <= 64'd0;
      dma$wdata <= 64'd0;
      rx_bytes <= 32'd0;
      err_cause <= 8'd0;
      err_info <= 32'd0;
      err_value <= 64'd0;
   end else begin
      case (st)
         S_IDLE: begin
            if (ring_reset) begin
               prod <= 32'd0;
            end else if (enable[1] && size != 32'd0 && head_valid && prod_next != consumer) begin
               desc <= desc_at;
               len <= 32'd0;
               if (!in_window(desc_at, 32'd16, win, win_size)) begin
                  ev_err <= 1'b1; err_cause <= C_WIN; err_info <= prod; err_value <= desc_at;
                  has_desc <= 1'b0;
                  st <= S_DROP;
               end else begin
                  has_desc <= 1'b1;
                  dma$valid <= 1'b1; dma$addr <= desc_at;
                  st <= S_R0;
               end
            end
         end
         S_R0: if (dma$rsp_valid) begin
            cur <= dma$rsp_data;
            dma$valid <= 1'b1; dma$addr <= desc + 64'd8;
            st <= S_R1;
         end
         S_R1: if (dma$rsp_valid) begin
            cap <= dma$rsp_data[31:0];
            if (!in_window(cur, dma$rsp_data[31:0], win, win_size) || dma$rsp_err) begin
               ev_err <= 1'b1; err_cause <= C_WIN; err_info <= prod; err_value <= cur;
               status <= DONE | {{24'd0, C_WIN}};
               st <= S_DROP;
            end else begin
               status <= DONE;
               st <= S_WRITE;
            end
         end
         S_WRITE: if (head_valid) begin
            if (head_last && head_err) begin
               // Cut in the mesh: what was written is not a packet.
               ev_err <= 1'b1; err_cause <= C_CUT; err_info <= prod; err_value <= {{32'd0, len}};
               ev_drop <= 1'b1;
               status <= DONE | {{24'd0, C_CUT}};
               len <= 32'd0;
               st <= S_COMPLETE;
            end else if (fits) begin
               dma$valid <= 1'b1; dma$write <= 1'b1; dma$addr <= cur;
               dma$wdata <= head_data; dma$wstrb <= 8'hFF;
               cur <= cur + 64'd8;
               len <= len + 32'd8;
               if (head_last) st <= S_COMPLETE;
            end else begin
               ev_err <= 1'b1; err_cause <= C_OVF; err_info <= prod; err_value <= {{32'd0, len + 32'd8}};
               status <= DONE | {{24'd0, C_OVF}};
               st <= S_DROP;
            end
         end
         S_DROP: if (head_valid && head_last) begin
            ev_drop <= 1'b1;
            len <= 32'd0;
            st <= has_desc ? S_COMPLETE : S_IDLE;
         end
         S_COMPLETE: begin
            dma$valid <= 1'b1; dma$write <= 1'b1; dma$addr <= desc + 64'd8;
            dma$wdata <= {{status, len}}; dma$wstrb <= 8'hFF;
            if (status == DONE) begin
               ev_rx <= 1'b1; rx_bytes <= len;
            end
            st <= S_MIRROR;
         end
         S_MIRROR: begin
            prod <= prod_next;
            if (in_window(mirror, 32'd4, win, win_size) && mirror[1:0] == 2'd0) begin
               dma$valid <= 1'b1; dma$write <= 1'b1; dma$addr <= {{mirror[63:3], 3'd0}};
               dma$wdata <= mirror[2] ? {{prod_next, 32'd0}} : {{32'd0, prod_next}};
               dma$wstrb <= mirror[2] ? 8'hF0 : 8'h0F;
            end else begin
               ev_err <= 1'b1; err_cause <= C_WIN; err_info <= prod; err_value <= mirror;
            end
            st <= S_IDLE;
         end
         default: st <= S_IDLE;
      endcase
   end
end
/* verilator lint_off UNUSEDSIGNAL */
wire unused_bits = &{{1'b0, enable[31:2], enable[0]}};
/* verilator lint_on UNUSEDSIGNAL */
",
            done = DESC_STATUS_DONE,
            c_win = ErrorCause::DmaWindow as u8,
            c_ovf = ErrorCause::RxOverflow as u8,
            c_cut = ErrorCause::LinkCut as u8,
        ))
    }
}
