//! Distributed (LUT) RAM: asynchronous read, synchronous write.
//!
//! rust-hdl's own `RAM` registers its read port, which would cost a cycle per
//! hop at the FIFO head and at the route lookup. A small LUT RAM with a
//! combinational read is what FPGA routers use for both (ECP5 `DPR16X4`,
//! Xilinx `RAM32M`), so this block writes that Verilog directly and models it
//! for rust-hdl's simulator.
//!
//! The depth is a run-time parameter: addresses are always 8 bits wide and the
//! generated Verilog indexes with the low `log2(depth)` bits only.

use rust_hdl::prelude::*;

/// A `depth`-entry LUT RAM of `D` with one write and one read port.
#[derive(LogicBlock)]
pub struct DistRam<D: Synth> {
    /// Write clock.
    pub clock: Signal<In, Clock>,
    /// Read address (low `log2(depth)` bits used).
    pub read_address: Signal<In, Bits<8>>,
    /// Data at `read_address`, combinationally.
    pub read_data: Signal<Out, D>,
    /// Write address (low `log2(depth)` bits used).
    pub write_address: Signal<In, Bits<8>>,
    /// Data written at the clock edge when `write_enable` is high.
    pub write_data: Signal<In, D>,
    /// Write strobe.
    pub write_enable: Signal<In, Bit>,
    _mem: Vec<D>,
    _addr_bits: usize,
}

impl<D: Synth> DistRam<D> {
    /// A RAM of `depth` entries (a power of two, 2..=256), all zero.
    pub fn new(depth: usize) -> Self {
        assert!(
            depth.is_power_of_two() && (2..=256).contains(&depth),
            "bad depth {depth}"
        );
        Self {
            clock: Default::default(),
            read_address: Default::default(),
            read_data: Signal::new_with_default(D::default()),
            write_address: Default::default(),
            write_data: Default::default(),
            write_enable: Default::default(),
            _mem: vec![D::default(); depth],
            _addr_bits: depth.trailing_zeros() as usize,
        }
    }

    fn index(&self, addr: Bits<8>) -> usize {
        addr.index() & (self._mem.len() - 1)
    }
}

impl<D: Synth> Logic for DistRam<D> {
    fn update(&mut self) {
        if self.clock.pos_edge() && self.write_enable.val() {
            let i = self.index(self.write_address.val());
            self._mem[i] = self.write_data.val();
        }
        self.read_data.next = self._mem[self.index(self.read_address.val())];
    }

    fn connect(&mut self) {
        self.read_data.connect();
    }

    fn hdl(&self) -> Verilog {
        let a = self._addr_bits - 1;
        Verilog::Custom(format!(
            "\
reg [{d}:0] mem [0:{last}];
// Entries are written before they are read; no reset, as in LUT RAM.
always @(posedge clock) begin
   if (write_enable) begin
      mem[write_address[{a}:0]] <= write_data;
   end
end
always @(*) read_data = mem[read_address[{a}:0]];
/* verilator lint_off UNUSEDSIGNAL */
wire unused_address_bits = &{{1'b0, read_address, write_address}};
/* verilator lint_on UNUSEDSIGNAL */
",
            d = D::BITS - 1,
            last = self._mem.len() - 1,
        ))
    }
}
