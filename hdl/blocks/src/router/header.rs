//! The router's view of the header: field slices and the rewrite of `src` and
//! `ttl`, both generated from `replimesh_spec`'s field table so the RTL cannot
//! disagree with the host encoder or the docs.

use replimesh_spec::{
    HeaderField, PacketKind, FIELD_DEST, FIELD_KIND, FIELD_SRC, FIELD_TRACE, FIELD_TTL,
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

fn forwardable_kinds() -> Vec<u32> {
    PacketKind::ALL
        .into_iter()
        .filter(|k| k.is_point_to_point())
        .map(|k| k as u32)
        .collect()
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
        self.rewritten.connect();
    }

    fn hdl(&self) -> Verilog {
        assert!(W >= 32, "the routing word needs 32 bits of flit");
        let kind = slice(&FIELD_KIND);
        let kinds = forwardable_kinds()
            .iter()
            .map(|k| format!("({kind} == {}'d{k})", FIELD_KIND.width))
            .collect::<Vec<_>>()
            .join(" || ");
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
always @(*) forwardable = {kinds};
always @(*) rewritten = {{{parts}}};
",
            dest = slice(&FIELD_DEST),
            src = slice(&FIELD_SRC),
            ttl = slice(&FIELD_TTL),
            trace = slice(&FIELD_TRACE),
            parts = parts.join(", "),
        ))
    }
}
