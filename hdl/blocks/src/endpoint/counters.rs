//! The counter and error blocks' storage: packet and byte counters, drops,
//! one counter per error cause, and the last error (cause, where, value).
//! Causes come from the spec; several sources in one cycle each count.

use replimesh_spec::regmap::ErrorCause;
use rust_hdl::prelude::*;

/// Counters and last error.
#[derive(LogicBlock, Default)]
pub struct EpCounters {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// TX sent a packet.
    pub tx_sent: Signal<In, Bit>,
    /// Its bytes.
    pub tx_len: Signal<In, Bits<32>>,
    /// RX delivered a packet.
    pub rx_done: Signal<In, Bit>,
    /// Its bytes.
    pub rx_len: Signal<In, Bits<32>>,
    /// RX dropped a packet.
    pub rx_drop: Signal<In, Bit>,
    /// TX error.
    pub tx_err: Signal<In, Bit>,
    /// Its cause.
    pub tx_cause: Signal<In, Bits<8>>,
    /// Its info.
    pub tx_info: Signal<In, Bits<32>>,
    /// Its value.
    pub tx_value: Signal<In, Bits<64>>,
    /// RX error.
    pub rx_err: Signal<In, Bit>,
    /// Its cause.
    pub rx_cause: Signal<In, Bits<8>>,
    /// Its info.
    pub rx_info: Signal<In, Bits<32>>,
    /// Its value.
    pub rx_value: Signal<In, Bits<64>>,
    /// Register error.
    pub reg_err: Signal<In, Bit>,
    /// Its cause.
    pub reg_cause: Signal<In, Bits<8>>,
    /// Window offset.
    pub reg_info: Signal<In, Bits<32>>,
    /// Data written.
    pub reg_value: Signal<In, Bits<32>>,
    /// `tx_packets_total`.
    pub tx_packets_total: Signal<Out, Bits<32>>,
    /// `tx_bytes_total`.
    pub tx_bytes_total: Signal<Out, Bits<32>>,
    /// `rx_packets_total`.
    pub rx_packets_total: Signal<Out, Bits<32>>,
    /// `rx_bytes_total`.
    pub rx_bytes_total: Signal<Out, Bits<32>>,
    /// `rx_drops_total`.
    pub rx_drops_total: Signal<Out, Bits<32>>,
    /// Per cause, `err_<cause>_total`, cause 1 first.
    pub err_total: Vec<Signal<Out, Bits<32>>>,
    /// `error.cause`.
    pub cause: Signal<Out, Bits<32>>,
    /// `error.info`.
    pub info: Signal<Out, Bits<32>>,
    /// `error.value_lo`.
    pub value_lo: Signal<Out, Bits<32>>,
    /// `error.value_hi`.
    pub value_hi: Signal<Out, Bits<32>>,
}

impl EpCounters {
    /// Counters for every cause of the spec.
    pub fn new() -> Self {
        Self {
            err_total: ErrorCause::ALL.iter().map(|_| Default::default()).collect(),
            ..Default::default()
        }
    }
}

impl Logic for EpCounters {
    /// Modelled in Verilator only (the card tests).
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.tx_packets_total.connect();
        self.tx_bytes_total.connect();
        self.rx_packets_total.connect();
        self.rx_bytes_total.connect();
        self.rx_drops_total.connect();
        for s in &mut self.err_total {
            s.connect();
        }
        self.cause.connect();
        self.info.connect();
        self.value_lo.connect();
        self.value_hi.connect();
    }
    fn hdl(&self) -> Verilog {
        let mut per_cause = String::new();
        let mut resets = String::new();
        for (k, c) in ErrorCause::ALL.iter().enumerate() {
            let code = *c as u8;
            per_cause.push_str(&format!(
                "      err_total${k} <= err_total${k} + {{31'd0, tx_err && tx_cause == 8'd{code}}} + {{31'd0, rx_err && rx_cause == 8'd{code}}} + {{31'd0, reg_err && reg_cause == 8'd{code}}}; // {}\n",
                c.name()
            ));
            resets.push_str(&format!("      err_total${k} <= 32'd0;\n"));
        }
        Verilog::Custom(format!(
            "\
always @(posedge clock) begin
   if (reset) begin
      tx_packets_total <= 32'd0;
      tx_bytes_total <= 32'd0;
      rx_packets_total <= 32'd0;
      rx_bytes_total <= 32'd0;
      rx_drops_total <= 32'd0;
      cause <= 32'd0;
      info <= 32'd0;
      value_lo <= 32'd0;
      value_hi <= 32'd0;
{resets}   end else begin
      if (tx_sent) begin
         tx_packets_total <= tx_packets_total + 32'd1;
         tx_bytes_total <= tx_bytes_total + tx_len;
      end
      if (rx_done) begin
         rx_packets_total <= rx_packets_total + 32'd1;
         rx_bytes_total <= rx_bytes_total + rx_len;
      end
      if (rx_drop) rx_drops_total <= rx_drops_total + 32'd1;
{per_cause}      // The error block keeps the last error; a register error wins a tie.
      if (reg_err) begin
         cause <= {{24'd0, reg_cause}}; info <= reg_info; value_lo <= reg_value; value_hi <= 32'd0;
      end else if (rx_err) begin
         cause <= {{24'd0, rx_cause}}; info <= rx_info; value_lo <= rx_value[31:0]; value_hi <= rx_value[63:32];
      end else if (tx_err) begin
         cause <= {{24'd0, tx_cause}}; info <= tx_info; value_lo <= tx_value[31:0]; value_hi <= tx_value[63:32];
      end
   end
end
"
        ))
    }
}
