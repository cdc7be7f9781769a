//! Adds up to five one-cycle event pulses, for counters fed by all ports.

use rust_hdl::prelude::*;

/// Number of the five inputs that are high (0..=5, three bits: the router
/// registers it and widens it only where it adds it to a 32-bit counter).
#[derive(LogicBlock, Default)]
pub struct Count5 {
    /// Event from port N.
    pub b0: Signal<In, Bit>,
    /// Event from port E.
    pub b1: Signal<In, Bit>,
    /// Event from port S.
    pub b2: Signal<In, Bit>,
    /// Event from port W.
    pub b3: Signal<In, Bit>,
    /// Event from port L.
    pub b4: Signal<In, Bit>,
    /// How many are high.
    pub count: Signal<Out, Bits<3>>,
}

impl Logic for Count5 {
    fn update(&mut self) {
        let n = [
            self.b0.val(),
            self.b1.val(),
            self.b2.val(),
            self.b3.val(),
            self.b4.val(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        self.count.next = (n as u64).to_bits();
    }
    fn connect(&mut self) {
        self.count.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(
            "always @(*) count = {2'd0, b0} + {2'd0, b1} + {2'd0, b2} + {2'd0, b3} + {2'd0, b4};\n"
                .into(),
        )
    }
}

/// Sum of five two-bit event counts (0..=15, four bits): the counts of the
/// five input ports, each summed over its two virtual channels.
#[derive(LogicBlock, Default)]
pub struct Sum5x2 {
    /// Events at port N.
    pub b0: Signal<In, Bits<2>>,
    /// Events at port E.
    pub b1: Signal<In, Bits<2>>,
    /// Events at port S.
    pub b2: Signal<In, Bits<2>>,
    /// Events at port W.
    pub b3: Signal<In, Bits<2>>,
    /// Events at port L.
    pub b4: Signal<In, Bits<2>>,
    /// The sum.
    pub count: Signal<Out, Bits<4>>,
}

impl Logic for Sum5x2 {
    fn update(&mut self) {
        let n: u64 = [
            self.b0.val(),
            self.b1.val(),
            self.b2.val(),
            self.b3.val(),
            self.b4.val(),
        ]
        .iter()
        .map(|b| b.index() as u64)
        .sum();
        self.count.next = n.to_bits();
    }
    fn connect(&mut self) {
        self.count.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(
            "always @(*) count = {2'd0, b0} + {2'd0, b1} + {2'd0, b2} + {2'd0, b3} + {2'd0, b4};\n"
                .into(),
        )
    }
}
