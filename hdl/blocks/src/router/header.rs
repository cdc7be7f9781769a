//! The router's view of the header: field slices and the rewrite of `src` and
//! `ttl`, both generated from `replimesh_spec`'s field table so the RTL cannot
//! disagree with the host encoder or the docs.

use replimesh_spec::{
    HeaderField, PacketKind, FIELD_DEST, FIELD_KIND, FIELD_LEN, FIELD_LOOPBACK, FIELD_SCOPE,
    FIELD_SRC, FIELD_TRACE, FIELD_TTL,
};
use rust_hdl::prelude::*;

/// Decodes the routing word (bits 31..0 of a head flit) and rewrites it.
#[derive(LogicBlock, Default)]
pub struct RoutingWord<const W: usize> {
    /// The head flit.
    pub flit: Signal<In, Bits<W>>,
    /// Destination node or group.
    pub dest: Signal<Out, Bits<8>>,
    /// Source node as received.
    pub src: Signal<Out, Bits<8>>,
    /// Hops left.
    pub ttl: Signal<Out, Bits<5>>,
    /// Trace flag.
    pub trace: Signal<Out, Bit>,
    /// The kind is one routers forward point to point.
    pub forwardable: Signal<Out, Bit>,
    /// The kind is a fan-out kind (multicast, scoped broadcast, discovery request).
    pub fanout: Signal<Out, Bit>,
    /// The kind is multicast (routed by the group table).
    pub multicast: Signal<Out, Bit>,
    /// Loopback flag.
    pub loopback: Signal<Out, Bit>,
    /// Scope mode (bits 5..4 of `scope`).
    pub scope_mode: Signal<Out, Bits<2>>,
    /// Scope hop radius (bits 3..0 of `scope`), zero-extended to 8 bits.
    pub radius: Signal<Out, Bits<8>>,
    /// Payload length from word 1 when the head flit carries it (64-bit
    /// flits); zero for 32-bit flits, where word 1 is the next flit.
    pub len: Signal<Out, Bits<8>>,
    /// `src` to write into the forwarded head flit.
    pub new_src: Signal<In, Bits<8>>,
    /// `ttl` to write into the forwarded head flit.
    pub new_ttl: Signal<In, Bits<5>>,
    /// The head flit with `src` and `ttl` replaced.
    pub rewritten: Signal<Out, Bits<W>>,
}

fn get(flit: u64, f: &HeaderField) -> u64 {
    f.get(flit as u32) as u64
}

fn kinds(pick: fn(PacketKind) -> bool) -> Vec<u32> {
    PacketKind::ALL
        .into_iter()
        .filter(|k| pick(*k))
        .map(|k| k as u32)
        .collect()
}

fn forwardable_kinds() -> Vec<u32> {
    kinds(PacketKind::is_point_to_point)
}

fn fanout_kinds() -> Vec<u32> {
    kinds(PacketKind::is_fanout)
}

fn is_multicast(k: PacketKind) -> bool {
    k == PacketKind::Multicast
}

fn kind_match(set: &[u32]) -> String {
    let kind = slice(&FIELD_KIND);
    set.iter()
        .map(|k| format!("({kind} == {}'d{k})", FIELD_KIND.width))
        .collect::<Vec<_>>()
        .join(" || ")
}

fn slice(f: &HeaderField) -> String {
    if f.width == 1 {
        format!("flit[{}]", f.lsb)
    } else {
        format!("flit[{}:{}]", f.lsb + f.width - 1, f.lsb)
    }
}

impl<const W: usize> Logic for RoutingWord<W> {
    fn update(&mut self) {
        let flit = self.flit.val();
        let word: u64 = flit.get_bits::<32>(0).into();
        self.dest.next = get(word, &FIELD_DEST).to_bits();
        self.src.next = get(word, &FIELD_SRC).to_bits();
        self.ttl.next = get(word, &FIELD_TTL).to_bits();
        self.trace.next = get(word, &FIELD_TRACE) != 0;
        let kind = get(word, &FIELD_KIND) as u32;
        self.forwardable.next = forwardable_kinds().contains(&kind);
        self.fanout.next = fanout_kinds().contains(&kind);
        self.multicast.next = kinds(is_multicast).contains(&kind);
        self.loopback.next = get(word, &FIELD_LOOPBACK) != 0;
        let scope = get(word, &FIELD_SCOPE);
        self.scope_mode.next = ((scope >> 4) & 3).to_bits();
        self.radius.next = (scope & 15).to_bits();
        self.len.next = if W >= 64 {
            let w1: u64 = flit.get_bits::<32>(32).into();
            get(w1, &FIELD_LEN).to_bits()
        } else {
            0u64.to_bits()
        };
        let src: u64 = self.new_src.val().into();
        let ttl: u64 = self.new_ttl.val().into();
        let new_word = FIELD_SRC
            .set(word as u32, src as u32)
            .and_then(|w| FIELD_TTL.set(w, ttl as u32))
            .expect("8- and 5-bit inputs fit their fields");
        let mut out = flit;
        for i in 0..32 {
            out = out.replace_bit(i, (new_word >> i) & 1 == 1);
        }
        self.rewritten.next = out;
    }

    fn connect(&mut self) {
        self.dest.connect();
        self.src.connect();
        self.ttl.connect();
        self.trace.connect();
        self.forwardable.connect();
        self.fanout.connect();
        self.multicast.connect();
        self.loopback.connect();
        self.scope_mode.connect();
        self.radius.connect();
        self.len.connect();
        self.rewritten.connect();
    }

    fn hdl(&self) -> Verilog {
        assert!(W >= 32, "the routing word needs 32 bits of flit");
        let fwd = kind_match(&forwardable_kinds());
        let fan = kind_match(&fanout_kinds());
        let mc = kind_match(&kinds(is_multicast));
        let sc = FIELD_SCOPE.lsb;
        assert_eq!(FIELD_SCOPE.width, 6, "scope is mode(2) + radius(4)");
        let len = if W >= 64 {
            format!(
                "flit[{}:{}]",
                32 + FIELD_LEN.lsb + FIELD_LEN.width - 1,
                32 + FIELD_LEN.lsb
            )
        } else {
            "8'd0".to_string()
        };
        assert_eq!(FIELD_LEN.width, 8);
        // Concatenate the word high bits first, substituting src and ttl.
        let mut parts = vec![];
        if W > 32 {
            parts.push(format!("flit[{}:32]", W - 1));
        }
        let mut fields: Vec<&HeaderField> = vec![&FIELD_SRC, &FIELD_TTL];
        fields.sort_by_key(|f| std::cmp::Reverse(f.lsb));
        let mut top = 32;
        for f in fields {
            if top > f.lsb + f.width {
                parts.push(format!("flit[{}:{}]", top - 1, f.lsb + f.width));
            }
            parts.push(if f.name == FIELD_SRC.name {
                "new_src".into()
            } else {
                "new_ttl".into()
            });
            top = f.lsb;
        }
        if top > 0 {
            parts.push(format!("flit[{}:0]", top - 1));
        }
        Verilog::Custom(format!(
            "\
// generated from replimesh-spec's header table
always @(*) dest = {dest};
always @(*) src = {src};
always @(*) ttl = {ttl};
always @(*) trace = {trace};
always @(*) forwardable = {fwd};
always @(*) fanout = {fan};
always @(*) multicast = {mc};
always @(*) loopback = {lb};
always @(*) scope_mode = flit[{m1}:{m0}];
always @(*) radius = {{4'd0, flit[{r1}:{sc}]}};
always @(*) len = {len};
always @(*) rewritten = {{{parts}}};
",
            lb = slice(&FIELD_LOOPBACK),
            m1 = sc + 5,
            m0 = sc + 4,
            r1 = sc + 3,
            dest = slice(&FIELD_DEST),
            src = slice(&FIELD_SRC),
            ttl = slice(&FIELD_TTL),
            trace = slice(&FIELD_TRACE),
            parts = parts.join(", "),
        ))
    }
}

/// The head-of-FIFO rewrite: reads `ttl` and writes `new_ttl` back into the
/// routing word. Everything else about the header is decoded when the flit
/// arrives (look-ahead classification, see `input_unit`), so the FIFO head
/// needs only this.
#[derive(LogicBlock, Default)]
pub struct TtlRewrite<const W: usize> {
    /// The head flit.
    pub flit: Signal<In, Bits<W>>,
    /// Hops left.
    pub ttl: Signal<Out, Bits<5>>,
    /// `ttl` to write into the forwarded head flit.
    pub new_ttl: Signal<In, Bits<5>>,
    /// The head flit with `ttl` replaced.
    pub rewritten: Signal<Out, Bits<W>>,
    /// Destination (for a route looked up again at the FIFO head).
    pub dest: Signal<Out, Bits<8>>,
}

impl<const W: usize> Logic for TtlRewrite<W> {
    fn update(&mut self) {
        let flit = self.flit.val();
        let word: u64 = flit.get_bits::<32>(0).into();
        self.ttl.next = get(word, &FIELD_TTL).to_bits();
        self.dest.next = get(word, &FIELD_DEST).to_bits();
        let ttl: u64 = self.new_ttl.val().into();
        let new_word = FIELD_TTL
            .set(word as u32, ttl as u32)
            .expect("5-bit input fits the ttl field");
        let mut out = flit;
        for i in 0..32 {
            out = out.replace_bit(i, (new_word >> i) & 1 == 1);
        }
        self.rewritten.next = out;
    }

    fn connect(&mut self) {
        self.ttl.connect();
        self.rewritten.connect();
        self.dest.connect();
    }

    fn hdl(&self) -> Verilog {
        assert!(W >= 32, "the routing word needs 32 bits of flit");
        assert_eq!(FIELD_TTL.width, 5);
        let mut parts = vec![];
        let top = FIELD_TTL.lsb + FIELD_TTL.width;
        if W > top as usize {
            parts.push(format!("flit[{}:{}]", W - 1, top));
        }
        parts.push("new_ttl".into());
        if FIELD_TTL.lsb > 0 {
            parts.push(format!("flit[{}:0]", FIELD_TTL.lsb - 1));
        }
        Verilog::Custom(format!(
            "\
// generated from replimesh-spec's header table
always @(*) ttl = {ttl};
always @(*) dest = {dest};
always @(*) rewritten = {{{parts}}};
",
            ttl = slice(&FIELD_TTL),
            dest = slice(&FIELD_DEST),
            parts = parts.join(", "),
        ))
    }
}
