//! The service unit: replicated services in the endpoint, without the host.
//!
//! ```text
//!  TX FIFO (host packets) ──> [rule lookup, quarantine gate] ──┐
//!  answer / refusal / search request slots ───────────────────┴─> router local in
//!  router local out ─> RX FIFO ─> [classify] ─┬─> RX engine (host)   (snoops control)
//!                                             ├─> responder  (discovery requests)
//!                                             ├─> search engine (discovery answers)
//!                                             └─> drop / refuse (quarantine, absent service)
//! ```
//!
//! * **Presence table** (service id → present, accepting, load) and the
//!   **responder**: a discovery request (a `discovery_request`, or a
//!   `multicast` naming a service) for a present, accepting service
//!   whose load is at most the request's `max_load` is answered here; the
//!   host never sees requests. The answer waits in a one-packet slot; a
//!   request arriving while the slot is full is dropped and counted, so the
//!   RX side never waits for the TX side (no request–reply deadlock).
//! * **Search engine**: sends one discovery request per policy step (a
//!   scoped broadcast, or for an `area` step a multicast to group `node id`,
//!   the searcher's area as installed in the routers' group tables), waits
//!   the step's timeout for a first answer, then a short window for more, and
//!   keeps the two least loaded. Answers are checked: running search, its
//!   tag and service, the responder inside the step's scope (the same region
//!   rule the routers use), not quarantined. With `install` the rule is
//!   written when the search ends.
//! * **Reroute rules**: a `service_request` from the host leaves as `unicast`
//!   to the rule's current replica, read when its head flit passes (one rule
//!   word: changes are atomic, packets in flight keep their address).
//! * **Refusals and fail-over**: a service packet for a service this node
//!   does not offer (absent, not accepting, lease expired) is dropped and a
//!   `nack` control message goes back; a `nack` from the rule's current
//!   replica switches the rule to its fallback at once (or invalidates it).
//! * **A dead host**: once the lease runs out, packets that would go to the
//!   host are dropped and counted (`lease_drops_total`) instead of waiting
//!   for RX descriptors nobody returns; otherwise one dead host's full RX
//!   ring backs traffic up into the mesh and stops every flow that shares a
//!   channel with the ones to it. Control messages still act.
//! * **Quarantine**: `quarantine` / `release` control messages set the
//!   bitmap; traffic from a quarantined node is dropped on arrival, and a
//!   quarantined node's own host can send nothing. The host cannot write the
//!   bitmap. `src` is stamped by the router, so nobody can pretend to be
//!   another node.
//!
//! The block's registers (the `service` block of the register map) are
//! decoded here, from the spec tables, header words included.

use replimesh_spec::fanout::quadrant_split;
use replimesh_spec::regmap::{
    self as spec, service as regs, ErrorCause, RegAccess, RegField, TableSpec, SERVICE_BLOCK,
};
use replimesh_spec::service::{ControlOp, NackReason, SearchState, SERVICE_ENTRIES};
use replimesh_spec::{
    HeaderField, MeshGeometry, PacketKind, FIELD_DEST, FIELD_KIND, FIELD_LEN, FIELD_SCOPE,
    FIELD_SEQ, FIELD_SERVICE, FIELD_SRC, FIELD_TTL,
};
use rust_hdl::prelude::*;
use std::fmt::Write as _;

/// The service unit (see the module docs).
#[derive(LogicBlock)]
pub struct ServiceUnit {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    /// This node's id.
    pub node_id: Signal<In, Bits<8>>,
    /// Register bus: an access inside the service block.
    pub bus_sel: Signal<In, Bit>,
    /// Register bus: window offset.
    pub bus_addr: Signal<In, Bits<16>>,
    /// Register bus: write data.
    pub bus_wdata: Signal<In, Bits<32>>,
    /// Register bus: write.
    pub bus_we: Signal<In, Bit>,
    /// Register bus: read.
    pub bus_re: Signal<In, Bit>,
    /// Register bus: answered (registered).
    pub bus_ack: Signal<Out, Bit>,
    /// Register bus: read data (registered).
    pub bus_rdata: Signal<Out, Bits<32>>,
    /// Register bus: rejected (registered).
    pub bus_error: Signal<Out, Bit>,
    /// This cycle's access is rejected (for the error block and counters).
    pub err_pulse: Signal<Out, Bit>,
    /// Its cause.
    pub err_cause: Signal<Out, Bits<8>>,
    /// Head of the FIFO of host packets from the TX engine.
    pub txq_valid: Signal<In, Bit>,
    /// Its flit.
    pub txq_data: Signal<In, Bits<64>>,
    /// Its tail bit.
    pub txq_last: Signal<In, Bit>,
    /// Take it.
    pub txq_pop: Signal<Out, Bit>,
    /// Flit to the router's local input (registered).
    pub inj_valid: Signal<Out, Bit>,
    /// Tail flit.
    pub inj_last: Signal<Out, Bit>,
    /// Flit.
    pub inj_data: Signal<Out, Bits<64>>,
    /// The router freed a slot of its local input FIFO.
    pub inj_credit: Signal<In, Bit>,
    /// Head of the FIFO of packets from the router.
    pub rxq_valid: Signal<In, Bit>,
    /// Its flit.
    pub rxq_data: Signal<In, Bits<64>>,
    /// Its tail bit.
    pub rxq_last: Signal<In, Bit>,
    /// With `rxq_last`: the mesh cut this packet (error-marked tail).
    pub rxq_err: Signal<In, Bit>,
    /// Take it.
    pub rxq_pop: Signal<Out, Bit>,
    /// Flit offered to the RX engine.
    pub eng_valid: Signal<Out, Bit>,
    /// Its data.
    pub eng_data: Signal<Out, Bits<64>>,
    /// Its tail bit.
    pub eng_last: Signal<Out, Bit>,
    /// Its cut mark.
    pub eng_err: Signal<Out, Bit>,
    /// The RX engine takes it.
    pub eng_pop: Signal<In, Bit>,
    /// This node is quarantined (the card refuses its host's router writes).
    pub self_quarantined: Signal<Out, Bit>,
    _body: String,
}

impl ServiceUnit {
    /// A unit for a node of `geom`, sending into a router input FIFO of
    /// `credits` flits.
    pub fn new(geom: MeshGeometry, credits: usize) -> Self {
        assert!((1..16).contains(&credits));
        Self {
            clock: Default::default(),
            reset: Default::default(),
            node_id: Default::default(),
            bus_sel: Default::default(),
            bus_addr: Default::default(),
            bus_wdata: Default::default(),
            bus_we: Default::default(),
            bus_re: Default::default(),
            bus_ack: Default::default(),
            bus_rdata: Default::default(),
            bus_error: Default::default(),
            err_pulse: Default::default(),
            err_cause: Default::default(),
            txq_valid: Default::default(),
            txq_data: Default::default(),
            txq_last: Default::default(),
            txq_pop: Default::default(),
            inj_valid: Default::default(),
            inj_last: Default::default(),
            inj_data: Default::default(),
            inj_credit: Default::default(),
            rxq_valid: Default::default(),
            rxq_data: Default::default(),
            rxq_last: Default::default(),
            rxq_err: Default::default(),
            rxq_pop: Default::default(),
            eng_valid: Default::default(),
            eng_data: Default::default(),
            eng_last: Default::default(),
            eng_err: Default::default(),
            eng_pop: Default::default(),
            self_quarantined: Default::default(),
            _body: render(geom, credits),
        }
    }
}

impl Logic for ServiceUnit {
    /// Modelled in Verilator only (the card tests).
    fn update(&mut self) {}
    fn connect(&mut self) {
        self.bus_ack.connect();
        self.bus_rdata.connect();
        self.bus_error.connect();
        self.err_pulse.connect();
        self.err_cause.connect();
        self.txq_pop.connect();
        self.inj_valid.connect();
        self.inj_last.connect();
        self.inj_data.connect();
        self.rxq_pop.connect();
        self.eng_valid.connect();
        self.eng_data.connect();
        self.eng_last.connect();
        self.eng_err.connect();
        self.self_quarantined.connect();
    }
    fn hdl(&self) -> Verilog {
        Verilog::Custom(self._body.clone())
    }
}

/// Bits to index `n` entries.
fn clog2(n: usize) -> usize {
    n.next_power_of_two().trailing_zeros().max(1) as usize
}

/// `[hi:lo]` of a header field inside a 64-bit head flit.
fn hs(f: &HeaderField) -> String {
    let lo = f.word as u32 * 32 + f.lsb;
    format!("[{}:{}]", lo + f.width - 1, lo)
}

/// `[hi:lo]` of a register or table field.
fn rs(f: &RegField) -> String {
    format!("[{}:{}]", f.lsb + f.width - 1, f.lsb)
}

fn tf(t: &TableSpec, name: &str) -> String {
    rs(t.field(name).expect("table field in the spec"))
}

fn rf(r: &spec::RegSpec, name: &str) -> String {
    rs(r.field(name).expect("register field in the spec"))
}

/// The address decoder, rendered from the service block's spec: header
/// words, registers (`r_<name>` holds each value, `c_<name>` is a candidate
/// write before the veto), tables (`<name>_mem`, `c_<name>` and `i_<name>`).
fn decoder() -> (String, String) {
    let p = spec::placed(&SERVICE_BLOCK).expect("service block placed");
    let b = p.spec;
    let mut decode = String::new();
    let mut cands = String::new();
    for (off, v) in [(0u32, b.type_word()), (4, b.version.word()), (8, p.next)] {
        writeln!(
            decode,
            "      11'h{off:03X}: begin rv = 32'h{v:08X}; is_ro = 1'b1; end"
        )
        .unwrap();
    }
    for r in b.regs {
        let ro = if r.access == RegAccess::Ro {
            " is_ro = 1'b1;"
        } else {
            ""
        };
        writeln!(
            decode,
            "      11'h{:03X}: begin rv = r_{};{ro} end",
            r.offset, r.name
        )
        .unwrap();
        if r.access.writable() {
            writeln!(
                cands,
                "wire c_{} = acc_we && (off == 11'h{:03X});",
                r.name, r.offset
            )
            .unwrap();
        }
    }
    let mut tables = String::new();
    for t in b.tables {
        let ib = clog2(t.entries as usize);
        let lo = t.offset;
        let hi = t.offset + t.bytes();
        writeln!(
            tables,
            "      else if (off >= 11'h{lo:03X} && off < 11'h{hi:03X}) rv = {}_mem[off[{}:2]];",
            t.name,
            ib + 1
        )
        .unwrap();
        writeln!(
            cands,
            "wire c_{name} = acc_we && (off >= 11'h{lo:03X}) && (off < 11'h{hi:03X});\nwire [{}:0] i_{name} = off[{}:2];",
            ib - 1,
            ib + 1,
            name = t.name
        )
        .unwrap();
    }
    let decode = format!(
        "always @(*) begin
   hit = in_block;
   is_ro = 1'b0;
   rv = 32'd0;
   case (off)
{decode}      default: begin
         if (1'b0) rv = 32'd0;
{tables}         else hit = 1'b0;
      end
   endcase
end
"
    );
    (decode, cands)
}

/// Verilog: `in_scope(self, other, scope)`, the region rule of
/// `replimesh_spec::fanout::in_scope` for this mesh.
fn in_scope_fn(geom: &MeshGeometry) -> String {
    let xb = geom.x_bits();
    let (cx, cy) = quadrant_split(geom);
    let (wl, hl) = (geom.width() - 1, geom.height() - 1);
    format!(
        "function automatic in_scope(input [7:0] me, input [7:0] other, input [5:0] sc);
   reg [7:0] sx, sy, x, y, xl, xh, yl, yh, dx, dy;
   begin
      sx = me & 8'd{xmask}; sy = me >> {xb};
      x = other & 8'd{xmask}; y = other >> {xb};
      xl = 8'd0; xh = 8'd{wl}; yl = 8'd0; yh = 8'd{hl};
      case (sc[5:4])
         2'd1: begin yl = sy; yh = sy; end
         2'd3: begin xl = sx; xh = sx; end
         2'd2: begin
            if (sx < 8'd{cx}) xh = 8'd{cxm}; else xl = 8'd{cx};
            if (sy < 8'd{cy}) yh = 8'd{cym}; else yl = 8'd{cy};
         end
         default: ;
      endcase
      dx = (x > sx) ? x - sx : sx - x;
      dy = (y > sy) ? y - sy : sy - y;
      in_scope = (x >= xl) && (x <= xh) && (y >= yl) && (y <= yh) && ({{1'b0, other}} < 9'd{nodes})
         && ((sc[3:0] == 4'd0) || ({{1'b0, dx}} + {{1'b0, dy}} <= {{5'd0, sc[3:0]}}));
   end
endfunction
",
        xmask = (1u32 << xb) - 1,
        cxm = cx - 1,
        cym = cy - 1,
        nodes = geom.nodes(),
    )
}

fn render(geom: MeshGeometry, credits: usize) -> String {
    assert_eq!(SERVICE_ENTRIES, 64, "the unit indexes tables with 6 bits");
    assert!(geom.nodes() <= 256);
    let p = spec::placed(&SERVICE_BLOCK).expect("service block placed");
    assert!(p.spec.span <= 0x800, "offsets are 11 bits");
    let (decode, cands) = decoder();
    let pr = &regs::PRESENCE;
    let ru = &regs::RULES;
    let po = &regs::POLICY;
    let mut quar = String::new();
    for (k, r) in regs::QUARANTINE.iter().enumerate() {
        writeln!(
            quar,
            "wire [31:0] r_{} = quar[{}:{}];",
            r.name,
            32 * k + 31,
            32 * k
        )
        .unwrap();
    }
    format!(
        "\
// Generated from replimesh_spec (service block, header, service payloads); do not edit.
{in_scope}
localparam [15:0] BASE = 16'h{base:04X};
localparam [7:0] LAST_NODE = 8'd{nodes_m1};
localparam [2:0] K_UNI = 3'd{k_uni}, K_MC = 3'd{k_mc}, K_REQ = 3'd{k_req}, K_ANS = 3'd{k_ans}, K_CTRL = 3'd{k_ctrl}, K_SVC = 3'd{k_svc};
localparam [7:0] OP_NACK = 8'd{op_nack}, OP_QUAR = 8'd{op_quar}, OP_REL = 8'd{op_rel}, OP_DOWN = 8'd{op_down}, OP_LSA = 8'd{op_lsa};
localparam [7:0] WHY_ABSENT = 8'd{why_absent}, WHY_BUSY = 8'd{why_busy}, WHY_DOWN = 8'd{why_down};
localparam [1:0] S_IDLE = 2'd{s_idle}, S_RUN = 2'd{s_run}, S_FOUND = 2'd{s_found}, S_NONE = 2'd{s_none};
localparam [7:0] C_UNMAPPED = 8'd{c_unmapped}, C_RO = 8'd{c_ro}, C_RULE = 8'd{c_rule}, C_START = 8'd{c_start};
// A head flit: word 0 routing word, word 1 seq/service/len (one payload flit).
function automatic [63:0] mkhead(input [7:0] dest, input [2:0] kind, input [5:0] sc, input [15:0] seq, input [7:0] svc_id);
   begin
      mkhead = 64'd0;
      mkhead{f_dest} = dest;
      mkhead{f_kind} = kind;
      mkhead{f_ttl} = 5'd31;
      mkhead{f_scope} = sc;
      mkhead{f_seq} = seq;
      mkhead{f_svc} = svc_id;
      mkhead{f_len} = 8'd1;
   end
endfunction
// ---- tables and state
reg [31:0] presence_mem [0:63];
reg [31:0] rules_mem [0:63];
reg [31:0] policy_mem [0:7];
reg [255:0] quar;
reg [31:0] r_config, r_lease_cycles, r_heartbeat, r_search_start, r_search_config;
reg [31:0] r_search_cycles, r_last_failover;
reg [31:0] r_discovery_seen_total, r_discovery_answered_total, r_discovery_silent_total, r_discovery_busy_total;
reg [31:0] r_answers_accepted_total, r_answers_rejected_total, r_requests_sent_total, r_rule_sends_total;
reg [31:0] r_rule_misses_total, r_failovers_total, r_nacks_sent_total, r_quarantine_drops_total;
reg [31:0] r_malformed_total, r_unknown_service_total, r_lease_drops_total;
reg [31:0] lease_cnt;
wire lease_expired = (r_lease_cycles != 32'd0) && (lease_cnt >= r_lease_cycles);
wire self_q = quar[node_id];
always @(*) self_quarantined = self_q;
wire [31:0] r_status = {{30'd0, self_q, lease_expired}};
{quar}
// ---- search engine state
reg [1:0] s_state;
reg [2:0] s_step;
reg [15:0] s_tag;
reg [7:0] s_service, s_max;
reg s_install, s_have, s_have2;
reg [7:0] s_best, s_bload, s_2nd, s_2load, s_answers;
reg [23:0] s_timer;
reg [15:0] s_win;
reg req_pending;
reg [5:0] req_scope;
reg req_area;
wire [31:0] r_search_status = {{s_tag, s_answers, 1'b0, s_step, 1'b0, s_have2, s_state}};
wire [31:0] r_search_result = {{s_2load, s_2nd, s_bload, s_best}};
// ---- register bus
wire [15:0] off16 = bus_addr - BASE;
wire [10:0] off = off16[10:0];
wire in_block = (off16[15:11] == 5'd0);
reg hit;
reg is_ro;
reg [31:0] rv;
{decode}wire acc_we = bus_sel && bus_we && hit && !is_ro;
{cands}wire [7:0] w_prim = bus_wdata{ru_primary};
wire [7:0] w_fall = bus_wdata{ru_fallback};
wire bad_rule = (bus_wdata{ru_valid} != 1'b0 && w_prim > LAST_NODE) || (bus_wdata{ru_has_fallback} != 1'b0 && w_fall > LAST_NODE);
wire [7:0] w_svc = bus_wdata{ss_service};
wire [3:0] w_steps = r_search_config{sc_steps};
wire bad_start = (s_state == S_RUN) || (w_svc == 8'd0) || (w_svc > 8'd63) || (w_steps == 4'd0) || (w_steps > 4'd8);
wire veto = (c_rules && bad_rule) || (c_search_start && bad_start);
wire err_unmapped = bus_sel && (bus_we || bus_re) && !hit;
wire err_ro = bus_sel && bus_we && hit && is_ro;
wire err_veto = acc_we && veto;
always @(*) begin
   err_pulse = err_unmapped || err_ro || err_veto;
   err_cause = C_UNMAPPED;
   if (err_ro) err_cause = C_RO;
   else if (err_veto && c_rules) err_cause = C_RULE;
   else if (err_veto) err_cause = C_START;
end
wire start = c_search_start && !veto;
// ---- rules: the replica a rule sends to now
// (Only the rule's fields are read; the waiver covers the unused bits.)
/* verilator lint_off UNUSEDSIGNAL */
function automatic [7:0] target(input [31:0] r, input [255:0] q);
   begin
      if (r{ru_has_fallback} != 1'b0 && (r{ru_use_fallback} != 1'b0 || q[r{ru_primary}]))
         target = r{ru_fallback};
      else
         target = r{ru_primary};
   end
endfunction
/* verilator lint_on UNUSEDSIGNAL */
// ---- TX side: host packets and generated packets into the router
localparam [1:0] T_IDLE = 2'd0, T_HOST = 2'd1, T_DROP = 2'd2, T_GEN = 2'd3;
reg [1:0] t_st;
reg [3:0] credits;
reg ans_pending, nack_pending;
reg [7:0] ans_dest, ans_svc, ans_load, nack_dest, nack_svc, nack_why;
reg [15:0] ans_tag, nack_seq;
reg [63:0] gen_p;
wire tx_can = (credits != 4'd0);
wire gen_any = ans_pending || nack_pending || req_pending;
wire [2:0] h_kind = txq_data{f_kind};
wire [7:0] h_svc = txq_data{f_svc};
wire [31:0] h_rule = rules_mem[h_svc[5:0]];
wire h_is_svc = (h_kind == K_SVC);
wire h_svc_ok = (h_svc != 8'd0) && (h_svc < 8'd64) && (h_rule{ru_valid} != 1'b0);
wire h_drop_q = self_q;
wire h_drop_forged = (h_kind == K_ANS);
wire h_drop_rule = h_is_svc && !h_svc_ok;
wire host_drop = h_drop_q || h_drop_forged || h_drop_rule;
reg [63:0] host_head;
always @(*) begin
   host_head = txq_data;
   if (h_is_svc) begin
      host_head{f_dest} = target(h_rule, quar);
      host_head{f_kind} = K_UNI;
   end
end
reg [63:0] gen_head;
always @(*) begin
   if (ans_pending) gen_head = mkhead(ans_dest, K_ANS, 6'd0, ans_tag, ans_svc);
   else if (nack_pending) gen_head = mkhead(nack_dest, K_CTRL, 6'd0, nack_seq, nack_svc);
   else if (req_area) gen_head = mkhead(node_id, K_MC, 6'd0, s_tag, s_service);
   else gen_head = mkhead(8'd0, K_REQ, req_scope, s_tag, s_service);
end
reg t_send;
reg t_last;
reg [63:0] t_flit;
always @(*) begin
   txq_pop = 1'b0;
   t_send = 1'b0;
   t_last = 1'b0;
   t_flit = 64'd0;
   case (t_st)
      T_IDLE: begin
         if (gen_any) begin
            if (tx_can) begin t_send = 1'b1; t_flit = gen_head; end
         end else if (txq_valid) begin
            if (host_drop) txq_pop = 1'b1;
            else if (tx_can) begin txq_pop = 1'b1; t_send = 1'b1; t_flit = host_head; t_last = txq_last; end
         end
      end
      T_HOST: if (txq_valid && tx_can) begin txq_pop = 1'b1; t_send = 1'b1; t_flit = txq_data; t_last = txq_last; end
      T_DROP: txq_pop = txq_valid;
      default: if (tx_can) begin t_send = 1'b1; t_flit = gen_p; t_last = 1'b1; end
   endcase
end
// ---- RX side: classify each packet at its head flit
localparam [2:0] M_PASS = 3'd0, M_DROP = 3'd1, M_REQ = 3'd2, M_ANS = 3'd3, M_REFUSE = 3'd4, M_SINK = 3'd5;
reg r_in;        // inside a packet (past its head)
reg [2:0] r_mode;
reg [7:0] r_src, r_svc;
reg [15:0] r_seq;
reg [7:0] r_len;
reg [2:0] r_kind;
reg [1:0] r_n;   // flits taken so far, saturating at 3
wire [2:0] a_kind = rxq_data{f_kind};
wire [7:0] a_src = rxq_data{f_src};
wire [7:0] a_svc = rxq_data{f_svc};
wire a_present = presence_mem[a_svc[5:0]]{pr_present};
wire a_accepting = presence_mem[a_svc[5:0]]{pr_accepting};
wire a_known = (a_svc != 8'd0) && (a_svc < 8'd64);
wire a_offered = a_known && a_present && a_accepting && !lease_expired && !self_q;
reg [2:0] a_mode;
always @(*) begin
   a_mode = M_PASS;
   if (quar[a_src]) a_mode = M_DROP;
   else if (a_kind == K_REQ || (a_kind == K_MC && a_svc != 8'd0)) a_mode = M_REQ;
   else if (a_kind == K_ANS) a_mode = M_ANS;
   else if (a_kind == K_UNI && a_svc != 8'd0 && !a_offered) a_mode = a_known ? M_REFUSE : M_DROP;
   // A host whose lease ran out takes nothing from its RX ring: what would
   // go to it is dropped here (control messages still act), so that a dead
   // host never backs traffic up into the mesh.
   if (a_mode == M_PASS && lease_expired) a_mode = M_SINK;
end
wire [2:0] mode = r_in ? r_mode : a_mode;
always @(*) begin
   eng_valid = 1'b0;
   eng_data = rxq_data;
   eng_last = rxq_last;
   eng_err = rxq_err;
   rxq_pop = 1'b0;
   if (mode == M_PASS) begin
      eng_valid = rxq_valid;
      rxq_pop = rxq_valid && eng_pop;
   end else begin
      rxq_pop = rxq_valid;
   end
end
wire take = rxq_pop;
wire take_tail = take && rxq_last;
// The packet ends with this flit; it was well formed when it is the second
// flit of a packet whose header says one payload flit.
// Reserved payload bits must be zero: bits 63..32 always, 31..16 of
// control messages, 31..8 of discovery packets.
wire [31:0] pay = rxq_data[31:0];
wire pay_zero = (rxq_data[63:32] == 32'd0) && (pay[31:16] == 16'd0)
   && ((r_kind == K_CTRL) || (pay[15:8] == 8'd0));
wire two_flits = r_in && (r_n == 2'd1) && (r_len == 8'd1) && pay_zero;
// A packet the mesh cut (error-marked tail) is never acted on: a cut
// request or answer counts as malformed, a cut control message reaches
// the RX engine, which discards it.
wire take_cut = take_tail && rxq_err;
wire end_req = take_tail && !rxq_err && (mode == M_REQ);
wire end_ans = take_tail && !rxq_err && (mode == M_ANS);
wire end_ctrl = take_tail && !rxq_err && (mode == M_PASS || mode == M_SINK) && r_in && (r_kind == K_CTRL);
wire q_present = presence_mem[r_svc[5:0]]{pr_present};
wire q_accepting = presence_mem[r_svc[5:0]]{pr_accepting};
wire [7:0] q_load = presence_mem[r_svc[5:0]]{pr_load};
wire q_known = (r_svc != 8'd0) && (r_svc < 8'd64);
wire q_answer = q_known && (r_config[0] != 1'b0) && !self_q && !lease_expired
   && q_present && q_accepting && (q_load <= pay{p_max_load});
wire [31:0] q_rule = rules_mem[r_svc[5:0]];
wire [7:0] q_op = pay{p_opcode};
wire [7:0] q_arg = pay{p_arg};
wire q_nack_hit = q_known && (q_rule{ru_valid} != 1'b0) && (target(q_rule, quar) == r_src);
wire [5:0] cur_scope = policy_mem[s_step]{po_scope};
wire cur_area = policy_mem[s_step]{po_area};
wire next_area = policy_mem[s_step + 3'd1]{po_area};
wire [23:0] cur_timeout = policy_mem[s_step]{po_timeout};
wire [5:0] next_scope = policy_mem[s_step + 3'd1]{po_scope};
wire [7:0] l_ans = pay{p_load};
wire ans_ok = (s_state == S_RUN) && (r_seq == s_tag) && (r_svc == s_service) && (cur_area || in_scope(node_id, r_src, cur_scope))
   && (r_src != node_id) && !(s_have && r_src == s_best) && !(s_have2 && r_src == s_2nd);
always @(posedge clock) begin
   inj_valid <= t_send;
   inj_last <= t_last;
   inj_data <= t_flit;
   credits <= credits + {{3'd0, inj_credit}} - {{3'd0, t_send}};
   bus_ack <= bus_sel && (bus_we || bus_re);
   bus_rdata <= (bus_sel && bus_re && hit) ? rv : 32'd0;
   bus_error <= err_pulse;
   if (reset) begin
      t_st <= T_IDLE;
      credits <= 4'd{credits};
      ans_pending <= 1'b0;
      nack_pending <= 1'b0;
      req_pending <= 1'b0;
      r_in <= 1'b0;
      r_mode <= M_PASS;
      quar <= 256'd0;
      s_state <= S_IDLE;
      s_step <= 3'd0;
      s_tag <= 16'd0;
      s_have <= 1'b0;
      s_have2 <= 1'b0;
      s_answers <= 8'd0;
      lease_cnt <= 32'd0;
      r_config <= 32'h{rst_config:08X};
      r_lease_cycles <= 32'd0;
      r_heartbeat <= 32'd0;
      r_search_start <= 32'd0;
      r_search_config <= 32'h{rst_search_config:08X};
      r_search_cycles <= 32'd0;
      r_last_failover <= 32'd0;
      r_discovery_seen_total <= 32'd0;
      r_discovery_answered_total <= 32'd0;
      r_discovery_silent_total <= 32'd0;
      r_discovery_busy_total <= 32'd0;
      r_answers_accepted_total <= 32'd0;
      r_answers_rejected_total <= 32'd0;
      r_requests_sent_total <= 32'd0;
      r_rule_sends_total <= 32'd0;
      r_rule_misses_total <= 32'd0;
      r_failovers_total <= 32'd0;
      r_nacks_sent_total <= 32'd0;
      r_quarantine_drops_total <= 32'd0;
      r_malformed_total <= 32'd0;
      r_unknown_service_total <= 32'd0;
      r_lease_drops_total <= 32'd0;
      for (integer i = 0; i < 64; i = i + 1) begin
         presence_mem[i] <= 32'h{rst_presence:08X};
         rules_mem[i] <= 32'h{rst_rules:08X};
      end
      for (integer i = 0; i < 8; i = i + 1) policy_mem[i] <= 32'h{rst_policy:08X};
   end else begin
      // ---- lease
      if (c_heartbeat) lease_cnt <= 32'd0;
      else if (lease_cnt != 32'hFFFFFFFF) lease_cnt <= lease_cnt + 32'd1;
      // ---- TX state
      case (t_st)
         T_IDLE: begin
            if (gen_any) begin
               if (tx_can) begin
                  t_st <= T_GEN;
                  if (ans_pending) begin
                     ans_pending <= 1'b0;
                     gen_p <= {{32'd0, 24'd0, ans_load}};
                     r_discovery_answered_total <= r_discovery_answered_total + 32'd1;
                  end else if (nack_pending) begin
                     nack_pending <= 1'b0;
                     gen_p <= {{32'd0, 16'd0, nack_why, OP_NACK}};
                  end else begin
                     req_pending <= 1'b0;
                     gen_p <= {{32'd0, 24'd0, s_max}};
                     r_requests_sent_total <= r_requests_sent_total + 32'd1;
                  end
               end
            end else if (txq_valid) begin
               if (host_drop) begin
                  if (h_drop_q) r_quarantine_drops_total <= r_quarantine_drops_total + 32'd1;
                  else if (h_drop_forged) r_malformed_total <= r_malformed_total + 32'd1;
                  else begin
                     r_rule_misses_total <= r_rule_misses_total + 32'd1;
                     if (!((h_svc != 8'd0) && (h_svc < 8'd64))) r_unknown_service_total <= r_unknown_service_total + 32'd1;
                  end
                  if (!txq_last) t_st <= T_DROP;
               end else if (tx_can) begin
                  if (h_is_svc) r_rule_sends_total <= r_rule_sends_total + 32'd1;
                  if (!txq_last) t_st <= T_HOST;
               end
            end
         end
         T_HOST: if (txq_valid && tx_can && txq_last) t_st <= T_IDLE;
         T_DROP: if (txq_valid && txq_last) t_st <= T_IDLE;
         default: if (tx_can) t_st <= T_IDLE;
      endcase
      // ---- RX packet tracking
      if (take) begin
         if (!r_in) begin
            r_mode <= a_mode;
            r_kind <= a_kind;
            r_src <= a_src;
            r_svc <= a_svc;
            r_seq <= rxq_data{f_seq};
            r_len <= rxq_data{f_len};
            r_n <= 2'd1;
            if (a_mode == M_DROP) begin
               if (quar[a_src]) r_quarantine_drops_total <= r_quarantine_drops_total + 32'd1;
               else r_unknown_service_total <= r_unknown_service_total + 32'd1;
            end
            if (a_mode == M_REFUSE) begin
               r_nacks_sent_total <= r_nacks_sent_total + 32'd1;
               if (!nack_pending) begin
                  nack_pending <= 1'b1;
                  nack_dest <= a_src;
                  nack_svc <= a_svc;
                  nack_seq <= rxq_data{f_seq};
                  nack_why <= lease_expired ? WHY_DOWN : (a_present ? WHY_BUSY : WHY_ABSENT);
               end
            end
            if (a_mode == M_REQ) r_discovery_seen_total <= r_discovery_seen_total + 32'd1;
            if (a_mode == M_SINK) r_lease_drops_total <= r_lease_drops_total + 32'd1;
         end else if (r_n != 2'd3) begin
            r_n <= r_n + 2'd1;
         end
         r_in <= !rxq_last;
         if (take_cut && r_in && (mode == M_REQ || mode == M_ANS))
            r_malformed_total <= r_malformed_total + 32'd1;
         if (rxq_last && !r_in && (a_mode == M_REQ || a_mode == M_ANS))
            r_malformed_total <= r_malformed_total + 32'd1;
      end
      // A discovery request ends: answer, stay silent, or drop.
      if (end_req && r_in) begin
         if (!two_flits) r_malformed_total <= r_malformed_total + 32'd1;
         else if (!q_known) r_unknown_service_total <= r_unknown_service_total + 32'd1;
         else if (!q_answer) r_discovery_silent_total <= r_discovery_silent_total + 32'd1;
         else if (ans_pending) r_discovery_busy_total <= r_discovery_busy_total + 32'd1;
         else begin
            ans_pending <= 1'b1;
            ans_dest <= r_src;
            ans_svc <= r_svc;
            ans_tag <= r_seq;
            ans_load <= q_load;
         end
      end
      // ---- search engine
      if (start) begin
         s_state <= S_RUN;
         s_service <= w_svc;
         s_max <= bus_wdata{ss_max_load};
         s_install <= bus_wdata{ss_install};
         s_tag <= s_tag + 16'd1;
         s_step <= 3'd0;
         s_timer <= 24'd0;
         s_win <= 16'd0;
         s_have <= 1'b0;
         s_have2 <= 1'b0;
         s_answers <= 8'd0;
         r_search_cycles <= 32'd0;
         req_pending <= 1'b1;
         req_scope <= policy_mem[0]{po_scope};
         req_area <= policy_mem[0]{po_area};
      end else if (s_state == S_RUN) begin
         r_search_cycles <= r_search_cycles + 32'd1;
         if (s_have) begin
            if (s_win >= r_search_config{sc_window}) begin
               s_state <= S_FOUND;
               if (s_install) begin
                  rules_mem[s_service[5:0]] <= {{8'd0, s_2nd, s_best, 5'd0, s_have2, 1'b0, 1'b1}};
               end
            end else s_win <= s_win + 16'd1;
         end else if (!req_pending) begin
            if (s_timer >= cur_timeout) begin
               if ({{1'b0, s_step}} + 4'd1 < w_steps) begin
                  s_step <= s_step + 3'd1;
                  s_timer <= 24'd0;
                  req_pending <= 1'b1;
                  req_scope <= next_scope;
                  req_area <= next_area;
               end else begin
                  s_state <= S_NONE;
               end
            end else s_timer <= s_timer + 24'd1;
         end
      end
      if (end_ans && r_in) begin
         if (two_flits && ans_ok) begin
            r_answers_accepted_total <= r_answers_accepted_total + 32'd1;
            if (s_answers != 8'hFF) s_answers <= s_answers + 8'd1;
            if (!s_have) begin
               s_have <= 1'b1; s_best <= r_src; s_bload <= l_ans;
            end else if (l_ans < s_bload) begin
               s_have2 <= 1'b1; s_2nd <= s_best; s_2load <= s_bload;
               s_best <= r_src; s_bload <= l_ans;
            end else if (!s_have2 || l_ans < s_2load) begin
               s_have2 <= 1'b1; s_2nd <= r_src; s_2load <= l_ans;
            end
         end else if (!two_flits) r_malformed_total <= r_malformed_total + 32'd1;
         else r_answers_rejected_total <= r_answers_rejected_total + 32'd1;
      end
      // ---- control messages (delivered to the host too)
      if (end_ctrl) begin
         if (q_op == OP_LSA && pay_zero) begin
            // A link-state advert (any length, opcode word last): for the
            // host's control plane, which checks it.
         end else if (!two_flits) r_malformed_total <= r_malformed_total + 32'd1;
         else if (q_op == OP_QUAR) begin
            if (q_arg <= LAST_NODE) quar[q_arg] <= 1'b1;
         end else if (q_op == OP_REL) begin
            if (q_arg <= LAST_NODE) quar[q_arg] <= 1'b0;
         end else if (q_op == OP_DOWN) begin
            // For the host: its runtime moves its rules off node q_arg.
         end else if (q_op == OP_NACK) begin
            if (q_nack_hit) begin
               r_failovers_total <= r_failovers_total + 32'd1;
               if (q_rule{ru_has_fallback} != 1'b0 && q_rule{ru_use_fallback} == 1'b0 && r_src == q_rule{ru_primary} && !quar[q_rule{ru_fallback}]) begin
                  rules_mem[r_svc[5:0]] <= q_rule | 32'd{use_fb_bit};
                  r_last_failover <= {{8'd0, q_rule{ru_fallback}, r_src, r_svc}};
               end else begin
                  rules_mem[r_svc[5:0]] <= 32'd0;
                  r_last_failover <= {{8'd1, 8'd0, r_src, r_svc}};
               end
            end
         end else r_malformed_total <= r_malformed_total + 32'd1;
      end
      // ---- host writes (last: they win over hardware updates of the same entry)
      if (c_config) r_config <= bus_wdata;
      if (c_lease_cycles) r_lease_cycles <= bus_wdata;
      if (c_heartbeat) r_heartbeat <= bus_wdata;
      if (start) r_search_start <= bus_wdata;
      if (c_search_config) r_search_config <= bus_wdata;
      if (c_presence) presence_mem[i_presence] <= bus_wdata;
      if (c_rules && !veto) rules_mem[i_rules] <= bus_wdata;
      if (c_policy) policy_mem[i_policy] <= bus_wdata;
   end
end
",
        in_scope = in_scope_fn(&geom),
        base = p.base,
        nodes_m1 = geom.nodes() - 1,
        k_uni = PacketKind::Unicast as u32,
        k_mc = PacketKind::Multicast as u32,
        k_req = PacketKind::DiscoveryRequest as u32,
        k_ans = PacketKind::DiscoveryAnswer as u32,
        k_ctrl = PacketKind::Control as u32,
        k_svc = PacketKind::ServiceRequest as u32,
        op_nack = ControlOp::Nack as u32,
        op_quar = ControlOp::Quarantine as u32,
        op_rel = ControlOp::Release as u32,
        op_down = ControlOp::HostDown as u32,
        op_lsa = ControlOp::LinkState as u32,
        why_absent = NackReason::Absent as u32,
        why_busy = NackReason::NotAccepting as u32,
        why_down = NackReason::HostDown as u32,
        s_idle = SearchState::Idle as u32,
        s_run = SearchState::Running as u32,
        s_found = SearchState::Found as u32,
        s_none = SearchState::NotFound as u32,
        c_unmapped = ErrorCause::RegUnmapped as u32,
        c_ro = ErrorCause::RegReadOnly as u32,
        c_rule = ErrorCause::RuleNode as u32,
        c_start = ErrorCause::SearchStart as u32,
        f_dest = hs(&FIELD_DEST),
        f_src = hs(&FIELD_SRC),
        f_kind = hs(&FIELD_KIND),
        f_ttl = hs(&FIELD_TTL),
        f_scope = hs(&FIELD_SCOPE),
        f_seq = hs(&FIELD_SEQ),
        f_svc = hs(&FIELD_SERVICE),
        f_len = hs(&FIELD_LEN),
        ru_valid = tf(ru, "valid"),
        ru_use_fallback = tf(ru, "use_fallback"),
        ru_has_fallback = tf(ru, "has_fallback"),
        ru_primary = tf(ru, "primary"),
        ru_fallback = tf(ru, "fallback"),
        use_fb_bit = 1u32 << ru.field("use_fallback").unwrap().lsb,
        pr_present = tf(pr, "present"),
        pr_accepting = tf(pr, "accepting"),
        pr_load = tf(pr, "load"),
        po_scope = tf(po, "scope"),
        po_area = tf(po, "area"),
        po_timeout = tf(po, "timeout_cycles"),
        ss_service = rf(&regs::SEARCH_START, "service"),
        ss_max_load = rf(&regs::SEARCH_START, "max_load"),
        ss_install = rf(&regs::SEARCH_START, "install"),
        sc_steps = rf(&regs::SEARCH_CONFIG, "steps"),
        sc_window = rf(&regs::SEARCH_CONFIG, "window_cycles"),
        p_max_load = hs(&replimesh_spec::service::REQ_MAX_LOAD),
        p_load = hs(&replimesh_spec::service::ANS_LOAD),
        p_opcode = hs(&replimesh_spec::service::CTRL_OPCODE),
        p_arg = hs(&replimesh_spec::service::CTRL_ARG),
        rst_config = regs::CONFIG.reset_value(),
        rst_search_config = regs::SEARCH_CONFIG.reset_value(),
        rst_presence = pr.reset,
        rst_rules = ru.reset,
        rst_policy = po.reset,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_register_and_table_is_decoded() {
        let geom = MeshGeometry::new(4, 4).unwrap();
        let body = render(geom, 8);
        for r in SERVICE_BLOCK.regs {
            assert!(body.contains(&format!("rv = r_{};", r.name)), "{}", r.name);
            if r.access.writable() {
                assert!(body.contains(&format!("if (c_{})", r.name)) || r.name == "search_start");
            }
        }
        for t in SERVICE_BLOCK.tables {
            assert!(
                body.contains(&format!("rv = {}_mem[", t.name)),
                "{}",
                t.name
            );
        }
    }

    #[test]
    fn the_search_status_layout_matches_the_spec() {
        // r_search_status is {tag, answers, 0, step, 0, has_second, state}.
        let r = &regs::SEARCH_STATUS;
        let at = |n: &str| (r.field(n).unwrap().lsb, r.field(n).unwrap().width);
        assert_eq!(at("state"), (0, 2));
        assert_eq!(at("has_second"), (2, 1));
        assert_eq!(at("step"), (4, 3));
        assert_eq!(at("answers"), (8, 8));
        assert_eq!(at("tag"), (16, 16));
        let r = &regs::SEARCH_RESULT;
        assert_eq!(r.field("second_load").unwrap().lsb, 24);
        let l = &regs::LAST_FAILOVER;
        assert_eq!(l.field("none_left").unwrap().lsb, 24);
        // rules written by the install path: {fallback, primary, has, use, valid}.
        let ru = &regs::RULES;
        assert_eq!(ru.field("valid").unwrap().lsb, 0);
        assert_eq!(ru.field("use_fallback").unwrap().lsb, 1);
        assert_eq!(ru.field("has_fallback").unwrap().lsb, 2);
        assert_eq!(ru.field("primary").unwrap().lsb, 8);
        assert_eq!(ru.field("fallback").unwrap().lsb, 16);
    }
}
