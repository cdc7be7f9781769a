//! The endpoint's register file and address decoder, generated from the
//! register map in `replimesh_spec::regmap`.
//!
//! The Verilog body is rendered from the spec tables at generation time:
//! every block header word, every register's offset, access type and reset
//! value comes from there; nothing is retyped. The Rust struct lists the
//! ports by name (`<block>_<register>`); [`RegFile::new`] panics if the spec
//! and the port list disagree, so a register added to the spec without a port
//! (or the reverse) fails at generation time.
//!
//! Bus: `sel` with `we` or `re` is one access; the answer (`ack`, `rdata`,
//! `error`) is registered, one cycle later. A write to a read-only register,
//! an access to an unmapped offset, and a write the parent vetoes (`veto`,
//! e.g. a ring index past the ring) are rejected: nothing changes, `error`
//! answers, and a one-cycle `err_*` pulse lets the counters count it.
//!
//! Only the router block's header lives here; the card sends offsets inside
//! the router block past its header to the router's configuration bus.

use replimesh_spec::regmap::{RegAccess, Reset, NODE_WINDOW, ROUTER_BLOCK, SERVICE_BLOCK};
use rust_hdl::prelude::*;
use std::fmt::Write as _;

/// Generation-time values the ID block reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdValues {
    /// `mesh_shape`: width | height << 8 | flit_bits << 16.
    pub mesh_shape: u32,
    /// `spec_hash`.
    pub spec_hash: u32,
}

macro_rules! regfile {
    (rw { $($rw:ident),* $(,)? } ro { $($ro:ident),* $(,)? }) => {
        /// The register file (see the module docs).
        #[derive(LogicBlock)]
        pub struct RegFile {
            /// Clock.
            pub clock: Signal<In, Clock>,
            /// Synchronous reset: every register to its spec reset value.
            pub reset: Signal<In, Bit>,
            /// This window's node id (the ID block's `node_id`).
            pub node_id: Signal<In, Bits<8>>,
            /// This endpoint is addressed.
            pub sel: Signal<In, Bit>,
            /// Byte offset in the window.
            pub addr: Signal<In, Bits<16>>,
            /// Write data.
            pub wdata: Signal<In, Bits<32>>,
            /// Write strobe.
            pub we: Signal<In, Bit>,
            /// Read strobe.
            pub re: Signal<In, Bit>,
            /// The parent rejects this write's value.
            pub veto: Signal<In, Bit>,
            /// An access was answered (registered).
            pub ack: Signal<Out, Bit>,
            /// Read data (registered; 0 for writes and rejected accesses).
            pub rdata: Signal<Out, Bits<32>>,
            /// The access was rejected (registered).
            pub error: Signal<Out, Bit>,
            /// A write was accepted this cycle.
            pub wr_strobe: Signal<Out, Bit>,
            /// This cycle's access is a write to a read-only register.
            pub err_ro: Signal<Out, Bit>,
            /// This cycle's access hits no register.
            pub err_unmapped: Signal<Out, Bit>,
            /// This cycle's write was vetoed.
            pub err_veto: Signal<Out, Bit>,
            /// Interrupt causes to set this cycle (the W1C `irq.status`).
            pub irq_status_set: Signal<In, Bits<32>>,
            $(
                #[doc = concat!("Value of RW register `", stringify!($rw), "`.")]
                pub $rw: Signal<Out, Bits<32>>,
            )*
            $(
                #[doc = concat!("Value shown by RO register `", stringify!($ro), "`.")]
                pub $ro: Signal<In, Bits<32>>,
            )*
            _body: String,
        }

        impl RegFile {
            const RW: &'static [&'static str] = &[$(stringify!($rw)),*];
            const RO: &'static [&'static str] = &[$(stringify!($ro)),*];

            /// The register file for a window whose ID block reports `id`.
            pub fn new(id: IdValues) -> Self {
                Self {
                    clock: Default::default(),
                    reset: Default::default(),
                    node_id: Default::default(),
                    sel: Default::default(),
                    addr: Default::default(),
                    wdata: Default::default(),
                    we: Default::default(),
                    re: Default::default(),
                    veto: Default::default(),
                    ack: Default::default(),
                    rdata: Default::default(),
                    error: Default::default(),
                    wr_strobe: Default::default(),
                    err_ro: Default::default(),
                    err_unmapped: Default::default(),
                    err_veto: Default::default(),
                    irq_status_set: Default::default(),
                    $($rw: Default::default(),)*
                    $($ro: Default::default(),)*
                    _body: render(id, Self::RW, Self::RO),
                }
            }
        }

        impl Logic for RegFile {
            /// Modelled in Verilator only (the card tests); rust-hdl's own
            /// simulator sees constant outputs.
            fn update(&mut self) {}
            fn connect(&mut self) {
                self.ack.connect();
                self.rdata.connect();
                self.error.connect();
                self.wr_strobe.connect();
                self.err_ro.connect();
                self.err_unmapped.connect();
                self.err_veto.connect();
                $(self.$rw.connect();)*
            }
            fn hdl(&self) -> Verilog {
                Verilog::Custom(self._body.clone())
            }
        }
    };
}

regfile! {
    rw {
        ep_ctrl_control, ep_ctrl_dma_base_lo, ep_ctrl_dma_base_hi, ep_ctrl_dma_size,
        tx_ring_base_lo, tx_ring_base_hi, tx_ring_size, tx_ring_producer, tx_ring_mirror_lo, tx_ring_mirror_hi,
        rx_ring_base_lo, rx_ring_base_hi, rx_ring_size, rx_ring_consumer, rx_ring_mirror_lo, rx_ring_mirror_hi,
        irq_enable, irq_moderation_count, irq_moderation_cycles, irq_poll_mode,
    }
    ro {
        ep_ctrl_status, tx_ring_consumer, rx_ring_producer, irq_raised_total,
        irq_link_up, irq_link_events_total, counters_tx_packets_total, counters_tx_bytes_total, counters_rx_packets_total,
        counters_rx_bytes_total, counters_rx_drops_total, counters_err_tx_length_total,
        counters_err_dma_window_total, counters_err_ring_index_total,
        counters_err_reg_read_only_total, counters_err_reg_unmapped_total,
        counters_err_rx_overflow_total, counters_err_ring_size_total,
        counters_err_rule_node_total, counters_err_search_start_total,
        counters_err_link_cut_total, counters_err_quarantined_total, error_cause, error_info,
        error_value_lo, error_value_hi,
    }
}

/// How the generator implements one register.
enum Kind {
    Const(u32),
    NodeId,
    Rw(u32),
    W1c,
    Status,
}

/// Registers the generator keeps inside the module (no port): RW registers
/// no engine reads, and the W1C status.
fn internal(kind: &Kind, name: &str, rw_ports: &[&str]) -> bool {
    match kind {
        Kind::Rw(_) => !rw_ports.contains(&name),
        Kind::W1c => true,
        _ => false,
    }
}

/// Every register the regfile answers: (window offset, port name, kind).
fn table(id: IdValues) -> Vec<(u32, String, Kind)> {
    let mut out = vec![];
    for p in NODE_WINDOW {
        let b = p.spec;
        if b.kind == SERVICE_BLOCK.kind {
            // Decoded by the service unit, header included.
            continue;
        }
        out.push((
            p.base,
            format!("{}_block_type", b.name),
            Kind::Const(b.type_word()),
        ));
        out.push((
            p.base + 4,
            format!("{}_block_version", b.name),
            Kind::Const(b.version.word()),
        ));
        out.push((
            p.base + 8,
            format!("{}_block_next", b.name),
            Kind::Const(p.next),
        ));
        if b.kind == ROUTER_BLOCK.kind {
            continue;
        }
        for r in b.regs {
            let kind = match (r.access, r.reset) {
                (RegAccess::Ro, Reset::Constant(v)) => Kind::Const(v),
                (RegAccess::Ro, Reset::Generated("node id")) => Kind::NodeId,
                (RegAccess::Ro, Reset::Generated("spec hash")) => Kind::Const(id.spec_hash),
                (RegAccess::Ro, Reset::Generated("mesh shape")) => Kind::Const(id.mesh_shape),
                (RegAccess::Ro, Reset::Generated(w)) => panic!("no generator for {w}"),
                (RegAccess::Ro, Reset::Value(_)) => Kind::Status,
                (RegAccess::Rw, Reset::Value(v)) => Kind::Rw(v),
                (RegAccess::W1c, _) => Kind::W1c,
                (a, r) => panic!("no generator for {a:?} with reset {r:?}"),
            };
            out.push((p.base + r.offset, format!("{}_{}", b.name, r.name), kind));
        }
    }
    out
}

/// Renders the Verilog body; checks the port lists against the spec.
fn render(id: IdValues, rw: &[&str], ro: &[&str]) -> String {
    let t = table(id);
    let names = |want: fn(&Kind) -> bool| -> Vec<&str> {
        t.iter()
            .filter(|(_, _, k)| want(k))
            .map(|(_, n, _)| n.as_str())
            .collect()
    };
    let spec_rw = names(|k| matches!(k, Kind::Rw(_)));
    assert!(
        rw.iter().all(|p| spec_rw.contains(p)),
        "RW ports {rw:?} name registers the spec does not have ({spec_rw:?})"
    );
    assert_eq!(
        names(|k| matches!(k, Kind::Status)),
        ro,
        "RO ports differ from the spec"
    );
    assert_eq!(
        names(|k| matches!(k, Kind::W1c)),
        ["irq_status"],
        "W1C ports differ from the spec"
    );
    let mut decls = String::new();
    for (_, name, kind) in &t {
        if internal(kind, name, rw) {
            writeln!(decls, "reg [31:0] {name};").unwrap();
        }
    }
    let mut decode = String::new();
    let mut writes = String::new();
    let mut resets = String::new();
    for (off, name, kind) in &t {
        let case = format!("      16'h{off:04X}:");
        match kind {
            Kind::Const(v) => writeln!(
                decode,
                "{case} begin rv = 32'h{v:08X}; is_ro = 1'b1; end // {name}"
            ),
            Kind::NodeId => writeln!(
                decode,
                "{case} begin rv = {{24'd0, node_id}}; is_ro = 1'b1; end // {name}"
            ),
            Kind::Status => writeln!(decode, "{case} begin rv = {name}; is_ro = 1'b1; end"),
            Kind::Rw(reset) => {
                writeln!(writes, "{case} {name} <= wdata;").unwrap();
                writeln!(resets, "         {name} <= 32'h{reset:08X};").unwrap();
                writeln!(decode, "{case} rv = {name};")
            }
            Kind::W1c => {
                writeln!(
                    writes,
                    "{case} {name} <= ({name} | irq_status_set) & ~wdata;"
                )
                .unwrap();
                writeln!(decode, "{case} rv = {name};")
            }
        }
        .unwrap();
    }
    format!(
        "\
// Generated from replimesh_spec::regmap; do not edit.
{decls}reg hit;
reg is_ro;
reg [31:0] rv;
always @(*) begin
   hit = 1'b1;
   is_ro = 1'b0;
   rv = 32'd0;
   case (addr)
{decode}      default: hit = 1'b0;
   endcase
end
always @(*) begin
   err_unmapped = sel & (we | re) & ~hit;
   err_ro = sel & we & hit & is_ro;
   err_veto = sel & we & hit & ~is_ro & veto;
   wr_strobe = sel & we & hit & ~is_ro & ~veto;
end
always @(posedge clock) begin
   if (reset) begin
      ack <= 1'b0;
      rdata <= 32'd0;
      error <= 1'b0;
      irq_status <= 32'd0;
{resets}   end else begin
      ack <= sel & (we | re);
      rdata <= (sel & re & hit) ? rv : 32'd0;
      error <= err_unmapped | err_ro | err_veto;
      irq_status <= irq_status | irq_status_set;
      if (wr_strobe) begin
         case (addr)
{writes}            default: ;
         endcase
      end
   end
end
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_register_has_a_port_and_a_case() {
        let rf = RegFile::new(IdValues {
            mesh_shape: 0,
            spec_hash: replimesh_spec::spec_hash(),
        });
        for p in NODE_WINDOW {
            if p.spec.kind == ROUTER_BLOCK.kind || p.spec.kind == SERVICE_BLOCK.kind {
                continue;
            }
            for r in p.spec.regs {
                assert!(
                    rf._body
                        .contains(&format!("16'h{:04X}:", p.base + r.offset)),
                    "{}",
                    r.name
                );
            }
        }
    }
}
