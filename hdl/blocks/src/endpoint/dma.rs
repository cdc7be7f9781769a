//! The DMA master port an engine uses to reach host memory, and the
//! address checks every engine applies before using it.
//!
//! Protocol (one outstanding read per port): the engine raises `valid` for
//! one cycle with `addr` (8-byte aligned); a write carries `wdata` and the
//! byte strobe `wstrb` and gets no answer (posted, as on PCIe); a read gets
//! exactly one `rsp_valid` beat, some cycles later, with `rsp_data`, or
//! `rsp_err` if the root complex refused the address.

use rust_hdl::prelude::*;

/// An engine's DMA master port.
#[derive(LogicInterface, Default)]
pub struct DmaPort {
    /// Request this cycle.
    pub valid: Signal<Out, Bit>,
    /// Write (else read of 8 bytes).
    pub write: Signal<Out, Bit>,
    /// Byte address, 8-byte aligned.
    pub addr: Signal<Out, Bits<64>>,
    /// Write data.
    pub wdata: Signal<Out, Bits<64>>,
    /// Write byte strobe.
    pub wstrb: Signal<Out, Bits<8>>,
    /// Read answer.
    pub rsp_valid: Signal<In, Bit>,
    /// Read data.
    pub rsp_data: Signal<In, Bits<64>>,
    /// The read was refused.
    pub rsp_err: Signal<In, Bit>,
}

/// Verilog function shared by the engines: `[a, a+n)` lies inside the DMA
/// window `[wbase, wbase+wsize)`.
pub(crate) const IN_WINDOW_FN: &str = "\
function automatic in_window(input [63:0] a, input [31:0] n, input [63:0] wb, input [31:0] ws);
   reg [64:0] end_a;
   reg [64:0] end_w;
   begin
      end_a = {1'b0, a} + {33'd0, n};
      end_w = {1'b0, wb} + {33'd0, ws};
      in_window = (a >= wb) && (end_a <= end_w);
   end
endfunction
";
