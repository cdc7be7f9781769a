//! Width-exact glue that rust-hdl's expression printer cannot express without
//! width warnings (it has no concatenation, and its casts widen through a
//! 32-bit mask): zero extension, a flag bit on top of a word, and the 5×5
//! request transpose.

use rust_hdl::prelude::*;

/// Zero-extends `A` bits to `B` bits.
#[derive(LogicBlock, Default)]
pub struct Widen<const A: usize, const B: usize> {
    /// Narrow value.
    pub narrow: Signal<In, Bits<A>>,
    /// `narrow`, zero-extended.
    pub wide: Signal<Out, Bits<B>>,
}

impl<const A: usize, const B: usize> Logic for Widen<A, B> {
    fn update(&mut self) {
        self.wide.next = bit_cast::<B, A>(self.narrow.val());
    }
    fn connect(&mut self) {
        self.wide.connect();
    }
    fn hdl(&self) -> Verilog {
        assert!(B > A);
        Verilog::Custom(format!(
            "always @(*) wide = {{{pad}'d0, narrow}};\n",
            pad = B - A
        ))
    }
}

/// `B = A + 1` bits: `flag` above the `A` bits of `low`.
#[derive(LogicBlock, Default)]
pub struct FlagOnTop<const A: usize, const B: usize> {
    /// The word.
    pub low: Signal<In, Bits<A>>,
    /// The flag, bit `A` of `wide`.
    pub flag: Signal<In, Bit>,
    /// `{flag, low}`.
    pub wide: Signal<Out, Bits<B>>,
}

impl<const A: usize, const B: usize> Logic for FlagOnTop<A, B> {
    fn update(&mut self) {
        self.wide.next = bit_cast::<B, A>(self.low.val()).replace_bit(A, self.flag.val());
    }
    fn connect(&mut self) {
        self.wide.connect();
    }
    fn hdl(&self) -> Verilog {
        assert_eq!(B, A + 1);
        Verilog::Custom("always @(*) wide = {flag, low};\n".into())
    }
}

/// Transposes the five inputs' one-hot output requests into one request
/// vector per output: `col_o[p] = row_p[o]`.
#[derive(LogicBlock, Default)]
pub struct Transpose5 {
    /// Requests of input N (bit o = wants output o).
    pub row0: Signal<In, Bits<5>>,
    /// Requests of input E.
    pub row1: Signal<In, Bits<5>>,
    /// Requests of input S.
    pub row2: Signal<In, Bits<5>>,
    /// Requests of input W.
    pub row3: Signal<In, Bits<5>>,
    /// Requests of input L.
    pub row4: Signal<In, Bits<5>>,
    /// Requesters of output N (bit p = input p).
    pub col0: Signal<Out, Bits<5>>,
    /// Requesters of output E.
    pub col1: Signal<Out, Bits<5>>,
    /// Requesters of output S.
    pub col2: Signal<Out, Bits<5>>,
    /// Requesters of output W.
    pub col3: Signal<Out, Bits<5>>,
    /// Requesters of output L.
    pub col4: Signal<Out, Bits<5>>,
}

impl Logic for Transpose5 {
    fn update(&mut self) {
        let rows = [
            self.row0.val(),
            self.row1.val(),
            self.row2.val(),
            self.row3.val(),
            self.row4.val(),
        ];
        let col = |o: usize| {
            let mut v = 0u64;
            for (p, r) in rows.iter().enumerate() {
                if r.get_bit(o) {
                    v |= 1 << p;
                }
            }
            Bits::<5>::from(v)
        };
        self.col0.next = col(0);
        self.col1.next = col(1);
        self.col2.next = col(2);
        self.col3.next = col(3);
        self.col4.next = col(4);
    }
    fn connect(&mut self) {
        self.col0.connect();
        self.col1.connect();
        self.col2.connect();
        self.col3.connect();
        self.col4.connect();
    }
    fn hdl(&self) -> Verilog {
        let mut s = String::new();
        for o in 0..5 {
            s.push_str(&format!(
                "always @(*) col{o} = {{row4[{o}], row3[{o}], row2[{o}], row1[{o}], row0[{o}]}};\n"
            ));
        }
        Verilog::Custom(s)
    }
}

/// Packs the trace capture into the `trace` register's layout.
#[derive(LogicBlock, Default)]
pub struct TracePack {
    /// A traced head flit was seen.
    pub valid: Signal<In, Bit>,
    /// Its input port, one-hot.
    pub in_port: Signal<In, Bits<5>>,
    /// Its output port, one-hot.
    pub out_port: Signal<In, Bits<5>>,
    /// `valid << 31 | in_port << 16 | out_port << 8`.
    pub word: Signal<Out, Bits<32>>,
}

impl Logic for TracePack {
    fn update(&mut self) {
        let v = (self.valid.val() as u64) << 31
            | self.in_port.val().to_u64() << 16
            | self.out_port.val().to_u64() << 8;
        self.word.next = v.to_bits();
    }
    fn connect(&mut self) {
        self.word.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(
            "always @(*) word = {valid, 10'd0, in_port, 3'd0, out_port, 8'd0};\n".into(),
        )
    }
}

/// Packs five bits into a vector: `bits = {b4, b3, b2, b1, b0}`.
#[derive(LogicBlock, Default)]
pub struct Pack5 {
    /// Bit 0.
    pub b0: Signal<In, Bit>,
    /// Bit 1.
    pub b1: Signal<In, Bit>,
    /// Bit 2.
    pub b2: Signal<In, Bit>,
    /// Bit 3.
    pub b3: Signal<In, Bit>,
    /// Bit 4.
    pub b4: Signal<In, Bit>,
    /// The packed vector.
    pub bits: Signal<Out, Bits<5>>,
}

impl Logic for Pack5 {
    fn update(&mut self) {
        let v = [
            self.b0.val(),
            self.b1.val(),
            self.b2.val(),
            self.b3.val(),
            self.b4.val(),
        ]
        .iter()
        .enumerate()
        .fold(0u64, |m, (i, b)| m | (*b as u64) << i);
        self.bits.next = v.to_bits();
    }
    fn connect(&mut self) {
        self.bits.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom("always @(*) bits = {b4, b3, b2, b1, b0};\n".into())
    }
}

/// Concatenates two 3-bit port numbers into a route table entry
/// (`alternate << 3 | primary`).
#[derive(LogicBlock, Default)]
pub struct RouteEntry {
    /// Primary port.
    pub primary: Signal<In, Bits<3>>,
    /// Alternate port.
    pub alternate: Signal<In, Bits<3>>,
    /// The entry.
    pub entry: Signal<Out, Bits<6>>,
}

impl Logic for RouteEntry {
    fn update(&mut self) {
        let v = self.alternate.val().to_u64() << 3 | self.primary.val().to_u64();
        self.entry.next = v.to_bits();
    }
    fn connect(&mut self) {
        self.entry.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom("always @(*) entry = {alternate, primary};\n".into())
    }
}

/// Packs what an input learns about a head flit on arrival (the look-ahead
/// route): `tag = {bank, trace, is_fan, ready, bad_header, alt_oh, prim_oh}`.
#[derive(LogicBlock, Default)]
pub struct RouteTagPack {
    /// Primary port, one-hot.
    pub prim_oh: Signal<In, Bits<5>>,
    /// Alternate port, one-hot.
    pub alt_oh: Signal<In, Bits<5>>,
    /// Not forwardable point to point (bad destination or kind).
    pub bad_header: Signal<In, Bit>,
    /// The route table was initialised when the flit arrived.
    pub ready: Signal<In, Bit>,
    /// A fan-out packet.
    pub is_fan: Signal<In, Bit>,
    /// The trace flag.
    pub trace: Signal<In, Bit>,
    /// The route table bank the route came from.
    pub bank: Signal<In, Bit>,
    /// The packed tag.
    pub tag: Signal<Out, Bits<15>>,
}

impl Logic for RouteTagPack {
    fn update(&mut self) {
        let v = (self.bank.val() as u64) << 14
            | (self.trace.val() as u64) << 13
            | (self.is_fan.val() as u64) << 12
            | (self.ready.val() as u64) << 11
            | (self.bad_header.val() as u64) << 10
            | self.alt_oh.val().to_u64() << 5
            | self.prim_oh.val().to_u64();
        self.tag.next = v.to_bits();
    }
    fn connect(&mut self) {
        self.tag.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(
            "always @(*) tag = {bank, trace, is_fan, ready, bad_header, alt_oh, prim_oh};\n".into(),
        )
    }
}

/// Packs a fan-out head's arrival classification:
/// `tag = {ttl_cut, err, fan_mask, raw_mask}`.
#[derive(LogicBlock, Default)]
pub struct FanTagPack {
    /// The output mask before TTL and loopback trimming.
    pub raw_mask: Signal<In, Bits<5>>,
    /// The outputs to acquire.
    pub fan_mask: Signal<In, Bits<5>>,
    /// Error known on arrival (bad group, illegal mask, scope, length).
    pub err: Signal<In, Bit>,
    /// TTL spent: deliver here only.
    pub ttl_cut: Signal<In, Bit>,
    /// The packed tag.
    pub tag: Signal<Out, Bits<12>>,
}

impl Logic for FanTagPack {
    fn update(&mut self) {
        let v = (self.ttl_cut.val() as u64) << 11
            | (self.err.val() as u64) << 10
            | self.fan_mask.val().to_u64() << 5
            | self.raw_mask.val().to_u64();
        self.tag.next = v.to_bits();
    }
    fn connect(&mut self) {
        self.tag.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom("always @(*) tag = {ttl_cut, err, fan_mask, raw_mask};\n".into())
    }
}
