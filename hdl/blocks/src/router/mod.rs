//! The router: five input units, a crossbar, five output units, the route
//! table initialiser and the configuration registers.
//!
//! Unicast packets are switched wormhole by the route table; fan-out packets
//! (multicast, scoped broadcast, discovery request) by virtual cut-through,
//! copied to several outputs at once (see `input_unit` and `fanout`).
//!
//! Per hop a flit spends one cycle in the input FIFO and one cycle in the
//! output register: two cycles per hop without contention. The route lookup
//! (and the fan-out classification) happens as a head flit arrives, and its
//! result is stored with the flit (look-ahead, see `input_unit`), so the
//! FIFO head only applies link-down and TTL before switch allocation and
//! crossbar traversal, which happen combinationally there. Event counters
//! and the trace capture are registered one cycle behind the switch.

pub mod fanout;
pub mod header;
pub mod input_unit;
pub mod link_monitor;
pub mod output_unit;
pub mod vc_port;

use crate::common::count::{Count5, Sum5x2};
use crate::common::dist_ram::DistRam;
use crate::common::glue::{Pack5, RouteEntry, TracePack, Transpose5, Widen};
use link_monitor::LinkMonitor;
use output_unit::OutputUnit;
use replimesh_spec::{
    router_addr, MeshGeometry, PortDir, GROUP_TABLE_BASE, GROUP_TABLE_ENTRIES,
    LINK_HOLDDOWN_DEFAULT, LINK_STABLE_DEFAULT, LINK_TIMEOUT_DEFAULT, NO_ROUTE_ENTRY,
    REROUTE_WAIT_DEFAULT, ROUTER_ID_VALUE, ROUTE_TABLE_BANK1_BASE, ROUTE_TABLE_BASE,
};
use rust_hdl::prelude::*;
use vc_port::VcPort;

/// Generation-time parameters of one router.
#[derive(Debug, Clone, Copy)]
pub struct RouterParams {
    /// The mesh the router sits in.
    pub geometry: MeshGeometry,
    /// Input FIFO depth in flits (also the credits each neighbour starts with).
    pub fifo_depth: usize,
    /// Build the fan-out logic (multicast groups, scoped broadcast, discovery
    /// requests). Without it fan-out packets are dropped as malformed and the
    /// group table answers every access with an error: a generator switch
    /// for measuring what the fan-out logic costs (docs/hardware.md); the
    /// meshes the tests and the card use always have it.
    pub multicast: bool,
}

/// Receiving side of a link (into a router).
#[derive(LogicInterface, Default)]
pub struct LinkRx<const W: usize> {
    /// Flit valid.
    pub valid: Signal<In, Bit>,
    /// Tail flit.
    pub last: Signal<In, Bit>,
    /// Flit.
    pub data: Signal<In, Bits<W>>,
    /// One buffer slot freed (to the sender).
    pub credit: Signal<Out, Bit>,
}

/// Sending side of a link (out of a router).
#[derive(LogicInterface, Default)]
pub struct LinkTx<const W: usize> {
    /// Flit valid.
    pub valid: Signal<Out, Bit>,
    /// Tail flit.
    pub last: Signal<Out, Bit>,
    /// Flit.
    pub data: Signal<Out, Bits<W>>,
    /// One slot of the receiver's buffer freed.
    pub credit: Signal<In, Bit>,
}

/// Receiving side of a mesh link: the flit wires plus the liveness sideband
/// (see `link_monitor`). Everything here but `credit` travels from the
/// sender to this router; `credit` travels back, beside the other
/// direction's flits, and is covered by that direction's parity.
#[derive(LogicInterface, Default)]
pub struct MeshRx<const W: usize> {
    /// Flit valid.
    pub valid: Signal<In, Bit>,
    /// The flit's virtual channel.
    pub vc: Signal<In, Bit>,
    /// Tail flit.
    pub last: Signal<In, Bit>,
    /// Error-marked tail: the worm was cut by a failure upstream.
    pub err: Signal<In, Bit>,
    /// Flit.
    pub data: Signal<In, Bits<W>>,
    /// Heartbeat: toggles every cycle while the sender is alive.
    pub hb: Signal<In, Bit>,
    /// The sender's input for the other direction is open.
    pub ready: Signal<In, Bit>,
    /// Even parity over valid, vc, last, err, data, hb, ready and the two
    /// credits travelling with them.
    pub par: Signal<In, Bit>,
    /// One VC0 buffer slot freed (to the sender).
    pub credit: Signal<Out, Bit>,
    /// One VC1 buffer slot freed (to the sender).
    pub credit1: Signal<Out, Bit>,
}

/// Sending side of a mesh link (twin of [`MeshRx`]).
#[derive(LogicInterface, Default)]
pub struct MeshTx<const W: usize> {
    /// Flit valid.
    pub valid: Signal<Out, Bit>,
    /// The flit's virtual channel.
    pub vc: Signal<Out, Bit>,
    /// Tail flit.
    pub last: Signal<Out, Bit>,
    /// Error-marked tail.
    pub err: Signal<Out, Bit>,
    /// Flit.
    pub data: Signal<Out, Bits<W>>,
    /// Heartbeat.
    pub hb: Signal<Out, Bit>,
    /// This router's input for the other direction is open.
    pub ready: Signal<Out, Bit>,
    /// Parity (see [`MeshRx::par`]).
    pub par: Signal<Out, Bit>,
    /// One slot of the receiver's VC0 buffer freed.
    pub credit: Signal<In, Bit>,
    /// One slot of the receiver's VC1 buffer freed.
    pub credit1: Signal<In, Bit>,
}

/// A 5-port credit-flow-controlled wormhole router with table routing.
#[derive(LogicBlock)]
pub struct Router<const W: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset; the route table reloads dimension-order routes.
    pub reset: Signal<In, Bit>,
    /// This router's node id (wired to a constant by the mesh, so that every
    /// router is the same module).
    pub node_id: Signal<In, Bits<8>>,
    /// This router's column.
    pub node_x: Signal<In, Bits<8>>,
    /// This router's row.
    pub node_y: Signal<In, Bits<8>>,
    /// Fault injection (simulation only; tied low on hardware, where it
    /// folds away): the router is dead, held in reset and silent on every
    /// link, its local port included.
    pub kill: Signal<In, Bit>,
    /// Link in from the north.
    pub n_rx: MeshRx<W>,
    /// Link in from the east.
    pub e_rx: MeshRx<W>,
    /// Link in from the south.
    pub s_rx: MeshRx<W>,
    /// Link in from the west.
    pub w_rx: MeshRx<W>,
    /// Link out to the north.
    pub n_tx: MeshTx<W>,
    /// Link out to the east.
    pub e_tx: MeshTx<W>,
    /// Link out to the south.
    pub s_tx: MeshTx<W>,
    /// Link out to the west.
    pub w_tx: MeshTx<W>,
    /// Link in from the local endpoint.
    pub l_rx: LinkRx<W>,
    /// Link out to the local endpoint.
    pub l_tx: LinkTx<W>,
    /// With `l_tx.last`: the packet ending here was cut by a failure; its
    /// flits are not to be trusted (the endpoint discards and counts it).
    pub l_err: Signal<Out, Bit>,
    /// Which mesh links are up (bits N, E, S, W = 0..3), the monitors'
    /// state, for the endpoint's link-change interrupt.
    pub link_up: Signal<Out, Bits<4>>,
    /// Configuration bus: node addressed.
    pub cfg_node: Signal<In, Bits<8>>,
    /// Configuration bus: register word address.
    pub cfg_addr: Signal<In, Bits<16>>,
    /// Configuration bus: write data.
    pub cfg_wdata: Signal<In, Bits<32>>,
    /// Configuration bus: write strobe.
    pub cfg_we: Signal<In, Bit>,
    /// Configuration bus: read strobe.
    pub cfg_re: Signal<In, Bit>,
    /// This router answered the last access (registered).
    pub cfg_hit: Signal<Out, Bit>,
    /// Read data of the last access (registered).
    pub cfg_rdata: Signal<Out, Bits<32>>,
    /// The last access was rejected (registered).
    pub cfg_error: Signal<Out, Bit>,
    inputs: Vec<VcPort<W>>,
    outputs: Vec<OutputUnit<W>>,
    monitors: Vec<LinkMonitor>,
    hb_phase: DFF<Bit>,
    int_reset: Signal<Local, Bit>,
    up_pack: Pack5,
    open_pack: Pack5,
    up32: Widen<5, 32>,
    open32: Widen<5, 32>,
    link_timeout: DFF<Bits<8>>,
    link_holddown: DFF<Bits<8>>,
    link_stable: DFF<Bits<8>>,
    timeout32: Widen<8, 32>,
    holddown32: Widen<8, 32>,
    stable32: Widen<8, 32>,
    n_cut_tail: Sum5x2,
    n_cut_drop: Sum5x2,
    n_discard: Count5,
    inc_cut_tail: DFF<Bits<4>>,
    inc_cut_tail32: Widen<4, 32>,
    inc_cut_drop: DFF<Bits<4>>,
    inc_cut_drop32: Widen<4, 32>,
    inc_discard: DFF<Bits<3>>,
    inc_discard32: Widen<3, 32>,
    cut_tails: DFF<Bits<32>>,
    cut_drops: DFF<Bits<32>>,
    link_discards: DFF<Bits<32>>,
    down_events: Vec<DFF<Bits<16>>>,
    check_errors: Vec<DFF<Bits<16>>>,
    down_events32: Vec<Widen<16, 32>>,
    check_errors32: Vec<Widen<16, 32>>,
    one16: Constant<Bits<16>>,
    zero16: Constant<Bits<16>>,
    port_hit: Signal<Local, Bit>,
    a_down_events: Vec<Constant<Bits<16>>>,
    a_check_errors: Vec<Constant<Bits<16>>>,
    a_link_state: Constant<Bits<16>>,
    a_link_timeout: Constant<Bits<16>>,
    a_link_holddown: Constant<Bits<16>>,
    a_link_stable: Constant<Bits<16>>,
    a_cut_tails: Constant<Bits<16>>,
    a_cut_drops: Constant<Bits<16>>,
    a_link_discards: Constant<Bits<16>>,
    timeout_reset: Constant<Bits<8>>,
    holddown_reset: Constant<Bits<8>>,
    stable_reset: Constant<Bits<8>>,
    no_route: Constant<Bits<6>>,
    eight: Constant<Bits<32>>,
    reroute_wait: DFF<Bits<16>>,
    wait32: Widen<16, 32>,
    n_wait: Sum5x2,
    inc_wait: DFF<Bits<4>>,
    inc_wait32: Widen<4, 32>,
    reroute_waits: DFF<Bits<32>>,
    a_reroute_wait: Constant<Bits<16>>,
    a_reroute_waits: Constant<Bits<16>>,
    wait_reset: Constant<Bits<16>>,
    drained_pack: Pack5,
    drained32: Widen<5, 32>,
    sixteen: Constant<Bits<32>>,
    xpose: Transpose5,
    xpose_fan: Transpose5,
    xpose_fgrant: Transpose5,
    xpose_ftake: Transpose5,
    avail: Pack5,
    vc_pack: Pack5,
    head_vc_pack: Pack5,
    shadow_grp: DistRam<Bits<5>>,
    grp32: Widen<5, 32>,
    n_fanout: Sum5x2,
    fanout_errors: DFF<Bits<32>>,
    grp_we: Signal<Local, Bit>,
    grp_waddr: Signal<Local, Bits<8>>,
    grp_wdata: Signal<Local, Bits<5>>,
    fan_legal: Vec<Constant<Bits<5>>>,
    n_entries_m1: Constant<Bits<8>>,
    n_groups: Constant<Bits<8>>,
    a_fanout_errors: Constant<Bits<16>>,
    a_grp_base: Constant<Bits<16>>,
    a_grp_end: Constant<Bits<16>>,
    init_entry: RouteEntry,
    absent: Pack5,
    dx: Signal<Local, Bits<8>>,
    dy: Signal<Local, Bits<8>>,
    prim: Signal<Local, Bits<3>>,
    alt: Signal<Local, Bits<3>>,
    side_x: Signal<Local, Bits<3>>,
    side_y: Signal<Local, Bits<3>>,
    node32: Widen<8, 32>,
    x_mask: Constant<Bits<8>>,
    x_bits: Constant<Bits<8>>,
    w_last: Constant<Bits<8>>,
    h_last: Constant<Bits<8>>,
    p_n: Constant<Bits<3>>,
    p_e: Constant<Bits<3>>,
    p_s: Constant<Bits<3>>,
    p_w: Constant<Bits<3>>,
    p_l: Constant<Bits<3>>,
    shadow_tbl: DistRam<Bits<6>>,
    shadow_tbl1: DistRam<Bits<6>>,
    tbl1_32: Widen<6, 32>,
    bank_cur: DFF<Bit>,
    bank_other: DFF<Bits<2>>,
    banks_pack: Pack5,
    banks32: Widen<5, 32>,
    seen0: DFF<Bit>,
    seen1: DFF<Bit>,
    busy0: Signal<Local, Bit>,
    busy1: Signal<Local, Bit>,
    seen_pack: Pack5,
    seen32: Widen<5, 32>,
    entry_ok: Signal<Local, Bit>,
    we_both: Constant<Bits<2>>,
    we0: Constant<Bits<2>>,
    we1: Constant<Bits<2>>,
    zero2: Constant<Bits<2>>,
    a_table_banks: Constant<Bits<16>>,
    a_vc_seen: Constant<Bits<16>>,
    a_tbl1_base: Constant<Bits<16>>,
    a_tbl1_end: Constant<Bits<16>>,
    init_busy: DFF<Bit>,
    init_idx: DFF<Bits<8>>,
    link_down: DFF<Bits<5>>,
    hit: DFF<Bit>,
    rdata: DFF<Bits<32>>,
    error: DFF<Bit>,
    trace_valid: DFF<Bit>,
    trace_in: DFF<Bits<5>>,
    trace_out: DFF<Bits<5>>,
    trace_hits: DFF<Bits<5>>,
    hits: Pack5,
    trace_pack: TracePack,
    tbl32: Widen<6, 32>,
    down32: Widen<5, 32>,
    n_routed: Sum5x2,
    n_sent: Count5,
    n_ttl: Sum5x2,
    n_unroutable: Sum5x2,
    n_malformed: Sum5x2,
    n_overflow: Sum5x2,
    packets_routed: DFF<Bits<32>>,
    flits_routed: DFF<Bits<32>>,
    drop_ttl: DFF<Bits<32>>,
    drop_unroutable: DFF<Bits<32>>,
    drop_malformed: DFF<Bits<32>>,
    overflow: DFF<Bits<32>>,
    table_writes: DFF<Bits<32>>,
    cfg_errors: DFF<Bits<32>>,
    inc_routed: DFF<Bits<4>>,
    inc_routed32: Widen<4, 32>,
    inc_sent: DFF<Bits<3>>,
    inc_sent32: Widen<3, 32>,
    inc_ttl: DFF<Bits<4>>,
    inc_ttl32: Widen<4, 32>,
    inc_unroutable: DFF<Bits<4>>,
    inc_unroutable32: Widen<4, 32>,
    inc_malformed: DFF<Bits<4>>,
    inc_malformed32: Widen<4, 32>,
    inc_overflow: DFF<Bits<4>>,
    inc_overflow32: Widen<4, 32>,
    inc_fanout: DFF<Bits<4>>,
    inc_fanout32: Widen<4, 32>,
    mc: Constant<Bit>,
    sel: Signal<Local, Bit>,
    tbl_we: Signal<Local, Bits<2>>,
    tbl_waddr: Signal<Local, Bits<8>>,
    tbl_wdata: Signal<Local, Bits<6>>,
    bad_access: Signal<Local, Bit>,
    port_oh: Vec<Constant<Bits<5>>>,
    last_entry: Constant<Bits<8>>,
    id_value: Constant<Bits<32>>,
    port_max: Constant<Bits<3>>,
    one8: Constant<Bits<8>>,
    one32: Constant<Bits<32>>,
    zero8: Constant<Bits<8>>,
    zero5: Constant<Bits<5>>,
    zero3: Constant<Bits<3>>,
    zero4: Constant<Bits<4>>,
    zero32: Constant<Bits<32>>,
    a_id: Constant<Bits<16>>,
    a_node: Constant<Bits<16>>,
    a_status: Constant<Bits<16>>,
    a_link_down: Constant<Bits<16>>,
    a_packets: Constant<Bits<16>>,
    a_flits: Constant<Bits<16>>,
    a_drop_ttl: Constant<Bits<16>>,
    a_drop_unroutable: Constant<Bits<16>>,
    a_drop_malformed: Constant<Bits<16>>,
    a_trace: Constant<Bits<16>>,
    a_table_writes: Constant<Bits<16>>,
    a_overflow: Constant<Bits<16>>,
    a_cfg_errors: Constant<Bits<16>>,
    a_tbl_base: Constant<Bits<16>>,
    a_tbl_end: Constant<Bits<16>>,
}

fn c16(v: u32) -> Constant<Bits<16>> {
    Constant::new((v as u64).to_bits())
}

impl<const W: usize> Router<W> {
    /// A router for `p.node` in `p.geometry`.
    pub fn new(p: RouterParams) -> Self {
        assert!(W == 32 || W == 64, "flit width {W} not supported");
        let g = p.geometry;
        let entries = g.table_entries();
        let port = |d: PortDir| Constant::new((d as u64).to_bits());
        let c8 = |v: u32| Constant::new((v as u64).to_bits());
        Self {
            clock: Default::default(),
            reset: Default::default(),
            node_id: Default::default(),
            node_x: Default::default(),
            node_y: Default::default(),
            kill: Default::default(),
            n_rx: Default::default(),
            e_rx: Default::default(),
            s_rx: Default::default(),
            w_rx: Default::default(),
            n_tx: Default::default(),
            e_tx: Default::default(),
            s_tx: Default::default(),
            w_tx: Default::default(),
            l_rx: Default::default(),
            l_tx: Default::default(),
            l_err: Default::default(),
            link_up: Default::default(),
            cfg_node: Default::default(),
            cfg_addr: Default::default(),
            cfg_wdata: Default::default(),
            cfg_we: Default::default(),
            cfg_re: Default::default(),
            cfg_hit: Default::default(),
            cfg_rdata: Default::default(),
            cfg_error: Default::default(),
            inputs: (0..5)
                .map(|i| VcPort::new(&p, if i < 4 { 2 } else { 1 }))
                .collect(),
            outputs: (0..5)
                .map(|o| OutputUnit::new(p.fifo_depth, if o < 4 { 2 } else { 1 }))
                .collect(),
            monitors: (0..4).map(|_| LinkMonitor::default()).collect(),
            hb_phase: Default::default(),
            int_reset: Default::default(),
            up_pack: Default::default(),
            open_pack: Default::default(),
            up32: Default::default(),
            open32: Default::default(),
            link_timeout: Default::default(),
            link_holddown: Default::default(),
            link_stable: Default::default(),
            timeout32: Default::default(),
            holddown32: Default::default(),
            stable32: Default::default(),
            n_cut_tail: Default::default(),
            n_cut_drop: Default::default(),
            n_discard: Default::default(),
            inc_cut_tail: Default::default(),
            inc_cut_tail32: Default::default(),
            inc_cut_drop: Default::default(),
            inc_cut_drop32: Default::default(),
            inc_discard: Default::default(),
            inc_discard32: Default::default(),
            cut_tails: Default::default(),
            cut_drops: Default::default(),
            link_discards: Default::default(),
            down_events: (0..4).map(|_| Default::default()).collect(),
            check_errors: (0..4).map(|_| Default::default()).collect(),
            down_events32: (0..4).map(|_| Default::default()).collect(),
            check_errors32: (0..4).map(|_| Default::default()).collect(),
            one16: Constant::new(1u64.to_bits()),
            zero16: Constant::new(0u64.to_bits()),
            port_hit: Default::default(),
            a_down_events: (0..4)
                .map(|i| c16(router_addr::LINK_DOWN_EVENTS + i))
                .collect(),
            a_check_errors: (0..4)
                .map(|i| c16(router_addr::LINK_CHECK_ERRORS + i))
                .collect(),
            a_link_state: c16(router_addr::LINK_STATE),
            a_link_timeout: c16(router_addr::LINK_TIMEOUT),
            a_link_holddown: c16(router_addr::LINK_HOLDDOWN),
            a_link_stable: c16(router_addr::LINK_STABLE),
            a_cut_tails: c16(router_addr::CUT_TAILS),
            a_cut_drops: c16(router_addr::CUT_DROPS),
            a_link_discards: c16(router_addr::LINK_DISCARDS),
            timeout_reset: c8(LINK_TIMEOUT_DEFAULT),
            holddown_reset: c8(LINK_HOLDDOWN_DEFAULT),
            stable_reset: c8(LINK_STABLE_DEFAULT),
            no_route: Constant::new((NO_ROUTE_ENTRY as u64).to_bits()),
            eight: Constant::new(8u64.to_bits()),
            reroute_wait: Default::default(),
            wait32: Default::default(),
            n_wait: Default::default(),
            inc_wait: Default::default(),
            inc_wait32: Default::default(),
            reroute_waits: Default::default(),
            a_reroute_wait: c16(router_addr::REROUTE_WAIT),
            a_reroute_waits: c16(router_addr::REROUTE_WAITS),
            wait_reset: c16(REROUTE_WAIT_DEFAULT),
            drained_pack: Default::default(),
            drained32: Default::default(),
            sixteen: Constant::new(16u64.to_bits()),
            xpose: Default::default(),
            xpose_fan: Default::default(),
            xpose_fgrant: Default::default(),
            xpose_ftake: Default::default(),
            avail: Default::default(),
            vc_pack: Default::default(),
            head_vc_pack: Default::default(),
            shadow_grp: DistRam::new(GROUP_TABLE_ENTRIES as usize),
            grp32: Default::default(),
            n_fanout: Default::default(),
            fanout_errors: Default::default(),
            grp_we: Default::default(),
            grp_waddr: Default::default(),
            grp_wdata: Default::default(),
            // Outputs a fan-out packet may take, by input port (X then Y:
            // never back, never from a Y link onto an X link).
            fan_legal: [0b10100u64, 0b11101, 0b10001, 0b10111, 0b11111]
                .iter()
                .map(|m| Constant::new(m.to_bits()))
                .collect(),
            n_entries_m1: c8(entries - 1),
            n_groups: c8(GROUP_TABLE_ENTRIES),
            a_fanout_errors: c16(router_addr::FANOUT_ERRORS),
            a_grp_base: c16(GROUP_TABLE_BASE),
            a_grp_end: c16(GROUP_TABLE_BASE + GROUP_TABLE_ENTRIES),
            init_entry: Default::default(),
            absent: Default::default(),
            dx: Default::default(),
            dy: Default::default(),
            prim: Default::default(),
            alt: Default::default(),
            side_x: Default::default(),
            side_y: Default::default(),
            node32: Default::default(),
            x_mask: c8((1 << g.x_bits()) - 1),
            x_bits: c8(g.x_bits()),
            w_last: c8(g.width() - 1),
            h_last: c8(g.height() - 1),
            p_n: port(PortDir::N),
            p_e: port(PortDir::E),
            p_s: port(PortDir::S),
            p_w: port(PortDir::W),
            p_l: port(PortDir::L),
            shadow_tbl: DistRam::new(entries as usize),
            shadow_tbl1: DistRam::new(entries as usize),
            tbl1_32: Default::default(),
            bank_cur: Default::default(),
            bank_other: Default::default(),
            banks_pack: Default::default(),
            banks32: Default::default(),
            seen0: Default::default(),
            seen1: Default::default(),
            busy0: Default::default(),
            busy1: Default::default(),
            seen_pack: Default::default(),
            seen32: Default::default(),
            entry_ok: Default::default(),
            we_both: Constant::new(3u64.to_bits()),
            we0: Constant::new(1u64.to_bits()),
            we1: Constant::new(2u64.to_bits()),
            zero2: Constant::new(0u64.to_bits()),
            a_table_banks: c16(router_addr::TABLE_BANKS),
            a_vc_seen: c16(router_addr::VC_SEEN),
            a_tbl1_base: c16(ROUTE_TABLE_BANK1_BASE),
            a_tbl1_end: c16(ROUTE_TABLE_BANK1_BASE + entries),
            init_busy: Default::default(),
            init_idx: Default::default(),
            link_down: Default::default(),
            hit: Default::default(),
            rdata: Default::default(),
            error: Default::default(),
            trace_valid: Default::default(),
            trace_in: Default::default(),
            trace_out: Default::default(),
            trace_hits: Default::default(),
            hits: Default::default(),
            trace_pack: Default::default(),
            tbl32: Default::default(),
            down32: Default::default(),
            n_routed: Default::default(),
            n_sent: Default::default(),
            n_ttl: Default::default(),
            n_unroutable: Default::default(),
            n_malformed: Default::default(),
            n_overflow: Default::default(),
            packets_routed: Default::default(),
            flits_routed: Default::default(),
            drop_ttl: Default::default(),
            drop_unroutable: Default::default(),
            drop_malformed: Default::default(),
            overflow: Default::default(),
            table_writes: Default::default(),
            cfg_errors: Default::default(),
            inc_routed: Default::default(),
            inc_routed32: Default::default(),
            inc_sent: Default::default(),
            inc_sent32: Default::default(),
            inc_ttl: Default::default(),
            inc_ttl32: Default::default(),
            inc_unroutable: Default::default(),
            inc_unroutable32: Default::default(),
            inc_malformed: Default::default(),
            inc_malformed32: Default::default(),
            inc_overflow: Default::default(),
            inc_overflow32: Default::default(),
            inc_fanout: Default::default(),
            inc_fanout32: Default::default(),
            mc: Constant::new(p.multicast),
            sel: Default::default(),
            tbl_we: Default::default(),
            tbl_waddr: Default::default(),
            tbl_wdata: Default::default(),
            bad_access: Default::default(),
            port_oh: (0..5)
                .map(|i| Constant::new((1u64 << i).to_bits()))
                .collect(),
            // The sequencer clears the group table and loads the route table.
            last_entry: Constant::new(((entries.max(GROUP_TABLE_ENTRIES) - 1) as u64).to_bits()),
            id_value: Constant::new((ROUTER_ID_VALUE as u64).to_bits()),
            port_max: Constant::new((PortDir::L as u64).to_bits()),
            one8: Constant::new(1u64.to_bits()),
            one32: Constant::new(1u64.to_bits()),
            zero8: Constant::new(0u64.to_bits()),
            zero5: Constant::new(0u64.to_bits()),
            zero3: Constant::new(0u64.to_bits()),
            zero4: Constant::new(0u64.to_bits()),
            zero32: Constant::new(0u64.to_bits()),
            a_id: c16(router_addr::ID),
            a_node: c16(router_addr::NODE_ID),
            a_status: c16(router_addr::STATUS),
            a_link_down: c16(router_addr::LINK_DOWN),
            a_packets: c16(router_addr::PACKETS_ROUTED),
            a_flits: c16(router_addr::FLITS_ROUTED),
            a_drop_ttl: c16(router_addr::DROP_TTL),
            a_drop_unroutable: c16(router_addr::DROP_UNROUTABLE),
            a_drop_malformed: c16(router_addr::DROP_MALFORMED),
            a_trace: c16(router_addr::TRACE),
            a_table_writes: c16(router_addr::TABLE_WRITES),
            a_overflow: c16(router_addr::OVERFLOW),
            a_cfg_errors: c16(router_addr::CFG_ERRORS),
            a_tbl_base: c16(ROUTE_TABLE_BASE),
            a_tbl_end: c16(ROUTE_TABLE_BASE + entries),
        }
    }
}

impl<const W: usize> Logic for Router<W> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            init_busy,
            init_idx,
            link_down,
            hit,
            rdata,
            error,
            trace_valid,
            trace_in,
            trace_out,
            trace_hits,
            inc_routed,
            inc_sent,
            inc_ttl,
            inc_unroutable,
            inc_malformed,
            inc_overflow,
            inc_fanout,
            packets_routed,
            flits_routed,
            drop_ttl,
            drop_unroutable,
            drop_malformed,
            overflow,
            table_writes,
            cfg_errors,
            fanout_errors,
            hb_phase,
            link_timeout,
            link_holddown,
            link_stable,
            inc_cut_tail,
            inc_cut_drop,
            inc_discard,
            cut_tails,
            cut_drops,
            link_discards,
            reroute_wait,
            inc_wait,
            reroute_waits,
            bank_cur,
            bank_other,
            seen0,
            seen1
        );
        for p in 0..4 {
            self.down_events[p].clock.next = self.clock.val();
            self.down_events[p].d.next = self.down_events[p].q.val();
            self.check_errors[p].clock.next = self.clock.val();
            self.check_errors[p].d.next = self.check_errors[p].q.val();
            self.down_events32[p].narrow.next = self.down_events[p].q.val();
            self.check_errors32[p].narrow.next = self.check_errors[p].q.val();
        }
        // A killed router (fault injection) is held in reset.
        self.int_reset.next = self.reset.val() || self.kill.val();
        self.hb_phase.d.next = !self.hb_phase.q.val();
        self.shadow_tbl.clock.next = self.clock.val();
        self.shadow_tbl1.clock.next = self.clock.val();
        self.shadow_grp.clock.next = self.clock.val();
        for p in 0..5 {
            self.inputs[p].clock.next = self.clock.val();
            self.inputs[p].reset.next = self.int_reset.val();
            self.inputs[p].enable.next = !self.init_busy.q.val();
            self.inputs[p].is_local.next = false;
            self.inputs[p].ports_down.next =
                self.link_down.q.val() | self.absent.bits.val() | !self.up_pack.bits.val();
            self.inputs[p].my_id.next = self.node_id.val();
            self.inputs[p].node_x.next = self.node_x.val();
            self.inputs[p].node_y.next = self.node_y.val();
            self.inputs[p].in_port.next = self.port_oh[p].val();
            self.inputs[p].fan_legal.next = self.fan_legal[p].val();
            self.inputs[p].wait_limit.next = self.reroute_wait.q.val();
            self.outputs[p].clock.next = self.clock.val();
            self.outputs[p].reset.next = self.int_reset.val();
        }
        self.inputs[4].is_local.next = true;
        // Link liveness, one monitor per mesh port.
        self.monitors[0].clock.next = self.clock.val();
        self.monitors[0].reset.next = self.int_reset.val() || self.init_busy.q.val();
        self.monitors[0].present.next = !self.absent.bits.val().get_bit(0);
        self.monitors[0].force_down.next = self.link_down.q.val().get_bit(0);
        self.monitors[0].rx_hb.next = self.n_rx.hb.val();
        self.monitors[0].rx_ready.next = self.n_rx.ready.val();
        self.monitors[0].rx_valid.next = self.n_rx.valid.val();
        self.monitors[0].rx_par_ok.next = (self.n_rx.valid.val()
            ^ self.n_rx.vc.val()
            ^ self.n_rx.last.val()
            ^ self.n_rx.err.val()
            ^ self.n_rx.data.val().xor()
            ^ self.n_rx.hb.val()
            ^ self.n_rx.ready.val()
            ^ self.n_tx.credit.val()
            ^ self.n_tx.credit1.val())
            == self.n_rx.par.val();
        self.monitors[0].rx_clear.next = self.inputs[0].rx_clear.val();
        self.monitors[0].timeout.next = self.link_timeout.q.val();
        self.monitors[0].holddown.next = self.link_holddown.q.val();
        self.monitors[0].stable.next = self.link_stable.q.val();
        if self.monitors[0].went_down.val() {
            self.down_events[0].d.next = self.down_events[0].q.val() + self.one16.val();
        }
        if self.monitors[0].check_error.val() {
            self.check_errors[0].d.next = self.check_errors[0].q.val() + self.one16.val();
        }
        self.monitors[1].clock.next = self.clock.val();
        self.monitors[1].reset.next = self.int_reset.val() || self.init_busy.q.val();
        self.monitors[1].present.next = !self.absent.bits.val().get_bit(1);
        self.monitors[1].force_down.next = self.link_down.q.val().get_bit(1);
        self.monitors[1].rx_hb.next = self.e_rx.hb.val();
        self.monitors[1].rx_ready.next = self.e_rx.ready.val();
        self.monitors[1].rx_valid.next = self.e_rx.valid.val();
        self.monitors[1].rx_par_ok.next = (self.e_rx.valid.val()
            ^ self.e_rx.vc.val()
            ^ self.e_rx.last.val()
            ^ self.e_rx.err.val()
            ^ self.e_rx.data.val().xor()
            ^ self.e_rx.hb.val()
            ^ self.e_rx.ready.val()
            ^ self.e_tx.credit.val()
            ^ self.e_tx.credit1.val())
            == self.e_rx.par.val();
        self.monitors[1].rx_clear.next = self.inputs[1].rx_clear.val();
        self.monitors[1].timeout.next = self.link_timeout.q.val();
        self.monitors[1].holddown.next = self.link_holddown.q.val();
        self.monitors[1].stable.next = self.link_stable.q.val();
        if self.monitors[1].went_down.val() {
            self.down_events[1].d.next = self.down_events[1].q.val() + self.one16.val();
        }
        if self.monitors[1].check_error.val() {
            self.check_errors[1].d.next = self.check_errors[1].q.val() + self.one16.val();
        }
        self.monitors[2].clock.next = self.clock.val();
        self.monitors[2].reset.next = self.int_reset.val() || self.init_busy.q.val();
        self.monitors[2].present.next = !self.absent.bits.val().get_bit(2);
        self.monitors[2].force_down.next = self.link_down.q.val().get_bit(2);
        self.monitors[2].rx_hb.next = self.s_rx.hb.val();
        self.monitors[2].rx_ready.next = self.s_rx.ready.val();
        self.monitors[2].rx_valid.next = self.s_rx.valid.val();
        self.monitors[2].rx_par_ok.next = (self.s_rx.valid.val()
            ^ self.s_rx.vc.val()
            ^ self.s_rx.last.val()
            ^ self.s_rx.err.val()
            ^ self.s_rx.data.val().xor()
            ^ self.s_rx.hb.val()
            ^ self.s_rx.ready.val()
            ^ self.s_tx.credit.val()
            ^ self.s_tx.credit1.val())
            == self.s_rx.par.val();
        self.monitors[2].rx_clear.next = self.inputs[2].rx_clear.val();
        self.monitors[2].timeout.next = self.link_timeout.q.val();
        self.monitors[2].holddown.next = self.link_holddown.q.val();
        self.monitors[2].stable.next = self.link_stable.q.val();
        if self.monitors[2].went_down.val() {
            self.down_events[2].d.next = self.down_events[2].q.val() + self.one16.val();
        }
        if self.monitors[2].check_error.val() {
            self.check_errors[2].d.next = self.check_errors[2].q.val() + self.one16.val();
        }
        self.monitors[3].clock.next = self.clock.val();
        self.monitors[3].reset.next = self.int_reset.val() || self.init_busy.q.val();
        self.monitors[3].present.next = !self.absent.bits.val().get_bit(3);
        self.monitors[3].force_down.next = self.link_down.q.val().get_bit(3);
        self.monitors[3].rx_hb.next = self.w_rx.hb.val();
        self.monitors[3].rx_ready.next = self.w_rx.ready.val();
        self.monitors[3].rx_valid.next = self.w_rx.valid.val();
        self.monitors[3].rx_par_ok.next = (self.w_rx.valid.val()
            ^ self.w_rx.vc.val()
            ^ self.w_rx.last.val()
            ^ self.w_rx.err.val()
            ^ self.w_rx.data.val().xor()
            ^ self.w_rx.hb.val()
            ^ self.w_rx.ready.val()
            ^ self.w_tx.credit.val()
            ^ self.w_tx.credit1.val())
            == self.w_rx.par.val();
        self.monitors[3].rx_clear.next = self.inputs[3].rx_clear.val();
        self.monitors[3].timeout.next = self.link_timeout.q.val();
        self.monitors[3].holddown.next = self.link_holddown.q.val();
        self.monitors[3].stable.next = self.link_stable.q.val();
        if self.monitors[3].went_down.val() {
            self.down_events[3].d.next = self.down_events[3].q.val() + self.one16.val();
        }
        if self.monitors[3].check_error.val() {
            self.check_errors[3].d.next = self.check_errors[3].q.val() + self.one16.val();
        }
        self.up_pack.b0.next = self.monitors[0].up.val();
        self.up_pack.b1.next = self.monitors[1].up.val();
        self.up_pack.b2.next = self.monitors[2].up.val();
        self.up_pack.b3.next = self.monitors[3].up.val();
        self.up_pack.b4.next = true;
        self.link_up.next = self.up_pack.bits.val().get_bits::<4>(0);
        self.open_pack.b0.next = self.monitors[0].receiving.val();
        self.open_pack.b1.next = self.monitors[1].receiving.val();
        self.open_pack.b2.next = self.monitors[2].receiving.val();
        self.open_pack.b3.next = self.monitors[3].receiving.val();
        self.open_pack.b4.next = false;
        self.up32.narrow.next = self.up_pack.bits.val() & !self.absent.bits.val();
        self.open32.narrow.next = self.open_pack.bits.val();
        self.drained_pack.b0.next = self.inputs[0].rx_clear.val();
        self.drained_pack.b1.next = self.inputs[1].rx_clear.val();
        self.drained_pack.b2.next = self.inputs[2].rx_clear.val();
        self.drained_pack.b3.next = self.inputs[3].rx_clear.val();
        self.drained_pack.b4.next = self.inputs[4].rx_clear.val();
        self.drained32.narrow.next = self.drained_pack.bits.val();
        self.timeout32.narrow.next = self.link_timeout.q.val();
        self.holddown32.narrow.next = self.link_holddown.q.val();
        self.stable32.narrow.next = self.link_stable.q.val();
        // Mesh links in: a flit enters only while the link is open and its
        // check holds; the rest is discarded (and counted by the monitor).
        self.inputs[0].link_valid.next = self.n_rx.valid.val() && self.monitors[0].accept.val();
        self.inputs[0].link_last.next = self.n_rx.last.val();
        self.inputs[0].link_err.next = self.n_rx.err.val();
        self.inputs[0].link_data.next = self.n_rx.data.val();
        self.inputs[0].link_open.next = self.monitors[0].receiving.val();
        self.inputs[0].link_vc.next = self.n_rx.vc.val();
        self.n_rx.credit.next = self.inputs[0].credit_out.val();
        self.n_rx.credit1.next = self.inputs[0].credit_out1.val();
        self.inputs[1].link_valid.next = self.e_rx.valid.val() && self.monitors[1].accept.val();
        self.inputs[1].link_last.next = self.e_rx.last.val();
        self.inputs[1].link_err.next = self.e_rx.err.val();
        self.inputs[1].link_data.next = self.e_rx.data.val();
        self.inputs[1].link_open.next = self.monitors[1].receiving.val();
        self.inputs[1].link_vc.next = self.e_rx.vc.val();
        self.e_rx.credit.next = self.inputs[1].credit_out.val();
        self.e_rx.credit1.next = self.inputs[1].credit_out1.val();
        self.inputs[2].link_valid.next = self.s_rx.valid.val() && self.monitors[2].accept.val();
        self.inputs[2].link_last.next = self.s_rx.last.val();
        self.inputs[2].link_err.next = self.s_rx.err.val();
        self.inputs[2].link_data.next = self.s_rx.data.val();
        self.inputs[2].link_open.next = self.monitors[2].receiving.val();
        self.inputs[2].link_vc.next = self.s_rx.vc.val();
        self.s_rx.credit.next = self.inputs[2].credit_out.val();
        self.s_rx.credit1.next = self.inputs[2].credit_out1.val();
        self.inputs[3].link_valid.next = self.w_rx.valid.val() && self.monitors[3].accept.val();
        self.inputs[3].link_last.next = self.w_rx.last.val();
        self.inputs[3].link_err.next = self.w_rx.err.val();
        self.inputs[3].link_data.next = self.w_rx.data.val();
        self.inputs[3].link_open.next = self.monitors[3].receiving.val();
        self.inputs[3].link_vc.next = self.w_rx.vc.val();
        self.w_rx.credit.next = self.inputs[3].credit_out.val();
        self.w_rx.credit1.next = self.inputs[3].credit_out1.val();
        self.inputs[4].link_valid.next = self.l_rx.valid.val();
        self.inputs[4].link_last.next = self.l_rx.last.val();
        self.inputs[4].link_err.next = false;
        self.inputs[4].link_data.next = self.l_rx.data.val();
        self.inputs[4].link_open.next = true;
        self.inputs[4].link_vc.next = false;
        self.l_rx.credit.next = self.inputs[4].credit_out.val();
        // Mesh links out, with the heartbeat, ready and parity.
        self.n_tx.valid.next = self.outputs[0].link_valid.val();
        self.n_tx.vc.next = self.outputs[0].link_vc.val();
        self.n_tx.last.next = self.outputs[0].link_last.val();
        self.n_tx.err.next = self.outputs[0].link_err.val();
        self.n_tx.data.next = self.outputs[0].link_data.val();
        self.n_tx.hb.next = self.hb_phase.q.val() && self.monitors[0].tx_hb_on.val();
        self.n_tx.ready.next = self.monitors[0].receiving.val();
        self.n_tx.par.next = self.outputs[0].link_valid.val()
            ^ self.outputs[0].link_vc.val()
            ^ self.outputs[0].link_last.val()
            ^ self.outputs[0].link_err.val()
            ^ self.outputs[0].link_data.val().xor()
            ^ (self.hb_phase.q.val() && self.monitors[0].tx_hb_on.val())
            ^ self.monitors[0].receiving.val()
            ^ self.inputs[0].credit_out.val()
            ^ self.inputs[0].credit_out1.val();
        self.outputs[0].credit_in.next = self.n_tx.credit.val();
        self.outputs[0].credit_in1.next = self.n_tx.credit1.val();
        self.outputs[0].link_up.next = self.monitors[0].up.val();
        self.e_tx.valid.next = self.outputs[1].link_valid.val();
        self.e_tx.vc.next = self.outputs[1].link_vc.val();
        self.e_tx.last.next = self.outputs[1].link_last.val();
        self.e_tx.err.next = self.outputs[1].link_err.val();
        self.e_tx.data.next = self.outputs[1].link_data.val();
        self.e_tx.hb.next = self.hb_phase.q.val() && self.monitors[1].tx_hb_on.val();
        self.e_tx.ready.next = self.monitors[1].receiving.val();
        self.e_tx.par.next = self.outputs[1].link_valid.val()
            ^ self.outputs[1].link_vc.val()
            ^ self.outputs[1].link_last.val()
            ^ self.outputs[1].link_err.val()
            ^ self.outputs[1].link_data.val().xor()
            ^ (self.hb_phase.q.val() && self.monitors[1].tx_hb_on.val())
            ^ self.monitors[1].receiving.val()
            ^ self.inputs[1].credit_out.val()
            ^ self.inputs[1].credit_out1.val();
        self.outputs[1].credit_in.next = self.e_tx.credit.val();
        self.outputs[1].credit_in1.next = self.e_tx.credit1.val();
        self.outputs[1].link_up.next = self.monitors[1].up.val();
        self.s_tx.valid.next = self.outputs[2].link_valid.val();
        self.s_tx.vc.next = self.outputs[2].link_vc.val();
        self.s_tx.last.next = self.outputs[2].link_last.val();
        self.s_tx.err.next = self.outputs[2].link_err.val();
        self.s_tx.data.next = self.outputs[2].link_data.val();
        self.s_tx.hb.next = self.hb_phase.q.val() && self.monitors[2].tx_hb_on.val();
        self.s_tx.ready.next = self.monitors[2].receiving.val();
        self.s_tx.par.next = self.outputs[2].link_valid.val()
            ^ self.outputs[2].link_vc.val()
            ^ self.outputs[2].link_last.val()
            ^ self.outputs[2].link_err.val()
            ^ self.outputs[2].link_data.val().xor()
            ^ (self.hb_phase.q.val() && self.monitors[2].tx_hb_on.val())
            ^ self.monitors[2].receiving.val()
            ^ self.inputs[2].credit_out.val()
            ^ self.inputs[2].credit_out1.val();
        self.outputs[2].credit_in.next = self.s_tx.credit.val();
        self.outputs[2].credit_in1.next = self.s_tx.credit1.val();
        self.outputs[2].link_up.next = self.monitors[2].up.val();
        self.w_tx.valid.next = self.outputs[3].link_valid.val();
        self.w_tx.vc.next = self.outputs[3].link_vc.val();
        self.w_tx.last.next = self.outputs[3].link_last.val();
        self.w_tx.err.next = self.outputs[3].link_err.val();
        self.w_tx.data.next = self.outputs[3].link_data.val();
        self.w_tx.hb.next = self.hb_phase.q.val() && self.monitors[3].tx_hb_on.val();
        self.w_tx.ready.next = self.monitors[3].receiving.val();
        self.w_tx.par.next = self.outputs[3].link_valid.val()
            ^ self.outputs[3].link_vc.val()
            ^ self.outputs[3].link_last.val()
            ^ self.outputs[3].link_err.val()
            ^ self.outputs[3].link_data.val().xor()
            ^ (self.hb_phase.q.val() && self.monitors[3].tx_hb_on.val())
            ^ self.monitors[3].receiving.val()
            ^ self.inputs[3].credit_out.val()
            ^ self.inputs[3].credit_out1.val();
        self.outputs[3].credit_in.next = self.w_tx.credit.val();
        self.outputs[3].credit_in1.next = self.w_tx.credit1.val();
        self.outputs[3].link_up.next = self.monitors[3].up.val();
        self.l_tx.valid.next = self.outputs[4].link_valid.val();
        self.l_tx.last.next = self.outputs[4].link_last.val();
        self.l_tx.data.next = self.outputs[4].link_data.val();
        self.l_err.next = self.outputs[4].link_err.val();
        self.outputs[4].credit_in.next = self.l_tx.credit.val();
        self.outputs[4].credit_in1.next = false;
        self.outputs[4].link_up.next = true;
        // A killed router is silent: nothing leaves it, not even credits.
        if self.kill.val() {
            self.n_tx.valid.next = false;
            self.n_tx.vc.next = false;
            self.n_tx.last.next = false;
            self.n_tx.err.next = false;
            self.n_tx.hb.next = false;
            self.n_tx.ready.next = false;
            self.n_tx.par.next = false;
            self.n_rx.credit.next = false;
            self.n_rx.credit1.next = false;
            self.e_tx.valid.next = false;
            self.e_tx.vc.next = false;
            self.e_tx.last.next = false;
            self.e_tx.err.next = false;
            self.e_tx.hb.next = false;
            self.e_tx.ready.next = false;
            self.e_tx.par.next = false;
            self.e_rx.credit.next = false;
            self.e_rx.credit1.next = false;
            self.s_tx.valid.next = false;
            self.s_tx.vc.next = false;
            self.s_tx.last.next = false;
            self.s_tx.err.next = false;
            self.s_tx.hb.next = false;
            self.s_tx.ready.next = false;
            self.s_tx.par.next = false;
            self.s_rx.credit.next = false;
            self.s_rx.credit1.next = false;
            self.w_tx.valid.next = false;
            self.w_tx.vc.next = false;
            self.w_tx.last.next = false;
            self.w_tx.err.next = false;
            self.w_tx.hb.next = false;
            self.w_tx.ready.next = false;
            self.w_tx.par.next = false;
            self.w_rx.credit.next = false;
            self.w_rx.credit1.next = false;
            self.l_tx.valid.next = false;
            self.l_tx.last.next = false;
            self.l_err.next = false;
            self.link_up.next = self.zero4.val();
            self.l_rx.credit.next = false;
        }
        // Switch allocation: requests per output, grants back per input.
        self.xpose.row0.next = self.inputs[0].req.val();
        self.xpose.row1.next = self.inputs[1].req.val();
        self.xpose.row2.next = self.inputs[2].req.val();
        self.xpose.row3.next = self.inputs[3].req.val();
        self.xpose.row4.next = self.inputs[4].req.val();
        self.outputs[0].request.next = self.xpose.col0.val();
        self.outputs[1].request.next = self.xpose.col1.val();
        self.outputs[2].request.next = self.xpose.col2.val();
        self.outputs[3].request.next = self.xpose.col3.val();
        self.outputs[4].request.next = self.xpose.col4.val();
        self.vc_pack.b0.next = self.inputs[0].flit_vc.val();
        self.vc_pack.b1.next = self.inputs[1].flit_vc.val();
        self.vc_pack.b2.next = self.inputs[2].flit_vc.val();
        self.vc_pack.b3.next = self.inputs[3].flit_vc.val();
        self.vc_pack.b4.next = self.inputs[4].flit_vc.val();
        self.head_vc_pack.b0.next = self.inputs[0].head_vc.val();
        self.head_vc_pack.b1.next = self.inputs[1].head_vc.val();
        self.head_vc_pack.b2.next = self.inputs[2].head_vc.val();
        self.head_vc_pack.b3.next = self.inputs[3].head_vc.val();
        self.head_vc_pack.b4.next = self.inputs[4].head_vc.val();
        for o in 0..5 {
            self.outputs[o].request_vc.next = self.vc_pack.bits.val();
            self.outputs[o].request_head_vc.next = self.head_vc_pack.bits.val();
        }
        for p in 0..5 {
            self.inputs[p].grant.next = false;
            for o in 0..5 {
                if self.outputs[o].grant.val().get_bit(p) {
                    self.inputs[p].grant.next = true;
                }
            }
        }
        // Fan-out acquisition: each waiting input asks for one output.
        self.xpose_fan.row0.next = self.inputs[0].fan_req.val();
        self.xpose_fan.row1.next = self.inputs[1].fan_req.val();
        self.xpose_fan.row2.next = self.inputs[2].fan_req.val();
        self.xpose_fan.row3.next = self.inputs[3].fan_req.val();
        self.xpose_fan.row4.next = self.inputs[4].fan_req.val();
        self.outputs[0].fan_request.next = self.xpose_fan.col0.val();
        self.outputs[1].fan_request.next = self.xpose_fan.col1.val();
        self.outputs[2].fan_request.next = self.xpose_fan.col2.val();
        self.outputs[3].fan_request.next = self.xpose_fan.col3.val();
        self.outputs[4].fan_request.next = self.xpose_fan.col4.val();
        self.xpose_fgrant.row0.next = self.outputs[0].fan_grant.val();
        self.xpose_fgrant.row1.next = self.outputs[1].fan_grant.val();
        self.xpose_fgrant.row2.next = self.outputs[2].fan_grant.val();
        self.xpose_fgrant.row3.next = self.outputs[3].fan_grant.val();
        self.xpose_fgrant.row4.next = self.outputs[4].fan_grant.val();
        self.inputs[0].fan_granted.next = self.xpose_fgrant.col0.val();
        self.inputs[1].fan_granted.next = self.xpose_fgrant.col1.val();
        self.inputs[2].fan_granted.next = self.xpose_fgrant.col2.val();
        self.inputs[3].fan_granted.next = self.xpose_fgrant.col3.val();
        self.inputs[4].fan_granted.next = self.xpose_fgrant.col4.val();
        self.xpose_ftake.row0.next = self.inputs[0].fan_take.val();
        self.xpose_ftake.row1.next = self.inputs[1].fan_take.val();
        self.xpose_ftake.row2.next = self.inputs[2].fan_take.val();
        self.xpose_ftake.row3.next = self.inputs[3].fan_take.val();
        self.xpose_ftake.row4.next = self.inputs[4].fan_take.val();
        self.outputs[0].fan_take.next = self.xpose_ftake.col0.val();
        self.outputs[1].fan_take.next = self.xpose_ftake.col1.val();
        self.outputs[2].fan_take.next = self.xpose_ftake.col2.val();
        self.outputs[3].fan_take.next = self.xpose_ftake.col3.val();
        self.outputs[4].fan_take.next = self.xpose_ftake.col4.val();
        self.avail.b0.next = self.outputs[0].fan_avail.val();
        self.avail.b1.next = self.outputs[1].fan_avail.val();
        self.avail.b2.next = self.outputs[2].fan_avail.val();
        self.avail.b3.next = self.outputs[3].fan_avail.val();
        self.avail.b4.next = self.outputs[4].fan_avail.val();
        for p in 0..5 {
            self.inputs[p].fan_avail.next = self.avail.bits.val();
        }
        // Crossbar.
        for o in 0..5 {
            self.outputs[o].data_in.next = self.inputs[0].flit_data.val();
            self.outputs[o].last_in.next = self.inputs[0].flit_last.val();
            self.outputs[o].err_in.next = self.inputs[0].flit_err.val();
            for p in 1..5 {
                if self.outputs[o].grant.val().get_bit(p) {
                    self.outputs[o].data_in.next = self.inputs[p].flit_data.val();
                    self.outputs[o].last_in.next = self.inputs[p].flit_last.val();
                    self.outputs[o].err_in.next = self.inputs[p].flit_err.val();
                }
            }
        }
        // Counters.
        self.n_routed.b0.next = self.inputs[0].routed_head.val();
        self.n_routed.b1.next = self.inputs[1].routed_head.val();
        self.n_routed.b2.next = self.inputs[2].routed_head.val();
        self.n_routed.b3.next = self.inputs[3].routed_head.val();
        self.n_routed.b4.next = self.inputs[4].routed_head.val();
        self.n_sent.b0.next = self.outputs[0].sent.val();
        self.n_sent.b1.next = self.outputs[1].sent.val();
        self.n_sent.b2.next = self.outputs[2].sent.val();
        self.n_sent.b3.next = self.outputs[3].sent.val();
        self.n_sent.b4.next = self.outputs[4].sent.val();
        self.n_ttl.b0.next = self.inputs[0].drop_ttl.val();
        self.n_ttl.b1.next = self.inputs[1].drop_ttl.val();
        self.n_ttl.b2.next = self.inputs[2].drop_ttl.val();
        self.n_ttl.b3.next = self.inputs[3].drop_ttl.val();
        self.n_ttl.b4.next = self.inputs[4].drop_ttl.val();
        self.n_unroutable.b0.next = self.inputs[0].drop_unroutable.val();
        self.n_unroutable.b1.next = self.inputs[1].drop_unroutable.val();
        self.n_unroutable.b2.next = self.inputs[2].drop_unroutable.val();
        self.n_unroutable.b3.next = self.inputs[3].drop_unroutable.val();
        self.n_unroutable.b4.next = self.inputs[4].drop_unroutable.val();
        self.n_malformed.b0.next = self.inputs[0].drop_malformed.val();
        self.n_malformed.b1.next = self.inputs[1].drop_malformed.val();
        self.n_malformed.b2.next = self.inputs[2].drop_malformed.val();
        self.n_malformed.b3.next = self.inputs[3].drop_malformed.val();
        self.n_malformed.b4.next = self.inputs[4].drop_malformed.val();
        self.n_overflow.b0.next = self.inputs[0].overflow.val();
        self.n_overflow.b1.next = self.inputs[1].overflow.val();
        self.n_overflow.b2.next = self.inputs[2].overflow.val();
        self.n_overflow.b3.next = self.inputs[3].overflow.val();
        self.n_overflow.b4.next = self.inputs[4].overflow.val();
        // Event counts are registered before they are added, so the
        // switch's grants do not run into the counters' carry chains; the
        // counters lag their events by one cycle.
        self.inc_routed32.narrow.next = self.inc_routed.q.val();
        self.inc_routed.d.next = self.n_routed.count.val();
        self.inc_sent32.narrow.next = self.inc_sent.q.val();
        self.inc_sent.d.next = self.n_sent.count.val();
        self.inc_ttl32.narrow.next = self.inc_ttl.q.val();
        self.inc_ttl.d.next = self.n_ttl.count.val();
        self.inc_unroutable32.narrow.next = self.inc_unroutable.q.val();
        self.inc_unroutable.d.next = self.n_unroutable.count.val();
        self.inc_malformed32.narrow.next = self.inc_malformed.q.val();
        self.inc_malformed.d.next = self.n_malformed.count.val();
        self.inc_overflow32.narrow.next = self.inc_overflow.q.val();
        self.inc_overflow.d.next = self.n_overflow.count.val();
        self.packets_routed.d.next = self.packets_routed.q.val() + self.inc_routed32.wide.val();
        self.flits_routed.d.next = self.flits_routed.q.val() + self.inc_sent32.wide.val();
        self.drop_ttl.d.next = self.drop_ttl.q.val() + self.inc_ttl32.wide.val();
        self.drop_unroutable.d.next =
            self.drop_unroutable.q.val() + self.inc_unroutable32.wide.val();
        self.drop_malformed.d.next = self.drop_malformed.q.val() + self.inc_malformed32.wide.val();
        self.overflow.d.next = self.overflow.q.val() + self.inc_overflow32.wide.val();
        self.n_fanout.b0.next = self.inputs[0].drop_fanout.val();
        self.n_fanout.b1.next = self.inputs[1].drop_fanout.val();
        self.n_fanout.b2.next = self.inputs[2].drop_fanout.val();
        self.n_fanout.b3.next = self.inputs[3].drop_fanout.val();
        self.n_fanout.b4.next = self.inputs[4].drop_fanout.val();
        self.inc_fanout32.narrow.next = self.inc_fanout.q.val();
        self.inc_fanout.d.next = self.n_fanout.count.val();
        self.fanout_errors.d.next = self.fanout_errors.q.val() + self.inc_fanout32.wide.val();
        self.n_cut_tail.b0.next = self.inputs[0].cut_tail.val();
        self.n_cut_tail.b1.next = self.inputs[1].cut_tail.val();
        self.n_cut_tail.b2.next = self.inputs[2].cut_tail.val();
        self.n_cut_tail.b3.next = self.inputs[3].cut_tail.val();
        self.n_cut_tail.b4.next = self.inputs[4].cut_tail.val();
        self.n_cut_drop.b0.next = self.inputs[0].cut_drop.val();
        self.n_cut_drop.b1.next = self.inputs[1].cut_drop.val();
        self.n_cut_drop.b2.next = self.inputs[2].cut_drop.val();
        self.n_cut_drop.b3.next = self.inputs[3].cut_drop.val();
        self.n_cut_drop.b4.next = self.inputs[4].cut_drop.val();
        self.n_discard.b0.next = self.monitors[0].discard.val();
        self.n_discard.b1.next = self.monitors[1].discard.val();
        self.n_discard.b2.next = self.monitors[2].discard.val();
        self.n_discard.b3.next = self.monitors[3].discard.val();
        self.n_discard.b4.next = false;
        self.inc_cut_tail32.narrow.next = self.inc_cut_tail.q.val();
        self.inc_cut_tail.d.next = self.n_cut_tail.count.val();
        self.inc_cut_drop32.narrow.next = self.inc_cut_drop.q.val();
        self.inc_cut_drop.d.next = self.n_cut_drop.count.val();
        self.inc_discard32.narrow.next = self.inc_discard.q.val();
        self.inc_discard.d.next = self.n_discard.count.val();
        self.cut_tails.d.next = self.cut_tails.q.val() + self.inc_cut_tail32.wide.val();
        self.cut_drops.d.next = self.cut_drops.q.val() + self.inc_cut_drop32.wide.val();
        self.link_discards.d.next = self.link_discards.q.val() + self.inc_discard32.wide.val();
        self.n_wait.b0.next = self.inputs[0].head_wait.val();
        self.n_wait.b1.next = self.inputs[1].head_wait.val();
        self.n_wait.b2.next = self.inputs[2].head_wait.val();
        self.n_wait.b3.next = self.inputs[3].head_wait.val();
        self.n_wait.b4.next = self.inputs[4].head_wait.val();
        self.inc_wait32.narrow.next = self.inc_wait.q.val();
        self.inc_wait.d.next = self.n_wait.count.val();
        self.reroute_waits.d.next = self.reroute_waits.q.val() + self.inc_wait32.wide.val();
        self.wait32.narrow.next = self.reroute_wait.q.val();
        // Trace capture: the last traced head flit's input and output port,
        // one cycle after it was routed (the hits are registered first, the
        // input then holds the head's outputs in `sent_port`).
        self.hits.b0.next = self.inputs[0].trace_hit.val();
        self.hits.b1.next = self.inputs[1].trace_hit.val();
        self.hits.b2.next = self.inputs[2].trace_hit.val();
        self.hits.b3.next = self.inputs[3].trace_hit.val();
        self.hits.b4.next = self.inputs[4].trace_hit.val();
        self.trace_hits.d.next = self.hits.bits.val();
        for p in 0..5 {
            if self.trace_hits.q.val().get_bit(p) {
                self.trace_valid.d.next = true;
                self.trace_in.d.next = self.port_oh[p].val();
                self.trace_out.d.next = self.inputs[p].sent_port.val();
            }
        }
        self.trace_pack.valid.next = self.trace_valid.q.val();
        self.trace_pack.in_port.next = self.trace_in.q.val();
        self.trace_pack.out_port.next = self.trace_out.q.val();
        // Route table: loaded with dimension-order routes after reset, then
        // written by the host through the configuration bus.
        // Ports at the mesh edge lead nowhere: always down.
        self.absent.b0.next = self.node_y.val() == self.zero8.val();
        self.absent.b1.next = self.node_x.val() == self.w_last.val();
        self.absent.b2.next = self.node_y.val() == self.h_last.val();
        self.absent.b3.next = self.node_x.val() == self.zero8.val();
        self.absent.b4.next = false;
        // Dimension-order route for destination `init_idx` (the reference
        // is replimesh_spec::dor_route; a fabric test compares them).
        self.dx.next = self.init_idx.q.val() & self.x_mask.val();
        self.dy.next = self.init_idx.q.val() >> self.x_bits.val();
        self.side_x.next = self.p_e.val();
        if self.node_x.val() == self.w_last.val() {
            self.side_x.next = self.p_w.val();
        }
        self.side_y.next = self.p_s.val();
        if self.node_y.val() == self.h_last.val() {
            self.side_y.next = self.p_n.val();
        }
        self.prim.next = self.p_l.val();
        if self.dy.val() < self.node_y.val() {
            self.prim.next = self.p_n.val();
        }
        if self.dy.val() > self.node_y.val() {
            self.prim.next = self.p_s.val();
        }
        if self.dx.val() < self.node_x.val() {
            self.prim.next = self.p_w.val();
        }
        if self.dx.val() > self.node_x.val() {
            self.prim.next = self.p_e.val();
        }
        self.alt.next = self.p_l.val();
        if self.dx.val() != self.node_x.val() {
            self.alt.next = self.side_y.val();
        }
        if self.dy.val() != self.node_y.val() {
            self.alt.next = self.side_x.val();
        }
        if (self.dx.val() != self.node_x.val()) && (self.dy.val() < self.node_y.val()) {
            self.alt.next = self.p_n.val();
        }
        if (self.dx.val() != self.node_x.val()) && (self.dy.val() > self.node_y.val()) {
            self.alt.next = self.p_s.val();
        }
        self.init_entry.primary.next = self.prim.val();
        self.init_entry.alternate.next = self.alt.val();
        self.tbl_we.next = self.zero2.val();
        self.tbl_waddr.next = self.init_idx.q.val();
        self.tbl_wdata.next = self.init_entry.entry.val();
        self.grp_we.next = false;
        self.grp_waddr.next = self.init_idx.q.val();
        self.grp_wdata.next = self.zero5.val();
        if self.init_busy.q.val() {
            // Both banks start with the same tables.
            if self.init_idx.q.val() <= self.n_entries_m1.val() {
                self.tbl_we.next = self.we_both.val();
            }
            self.grp_we.next = (self.init_idx.q.val() < self.n_groups.val()) && self.mc.val();
            self.init_idx.d.next = self.init_idx.q.val() + self.one8.val();
            if self.init_idx.q.val() == self.last_entry.val() {
                self.init_busy.d.next = false;
            }
        }
        // Configuration bus.
        self.sel.next = self.cfg_node.val() == self.node_id.val();
        self.node32.narrow.next = self.node_id.val();
        self.shadow_tbl.read_address.next = self.cfg_addr.val().get_bits::<8>(0);
        self.tbl32.narrow.next = self.shadow_tbl.read_data.val();
        self.shadow_tbl1.read_address.next = self.cfg_addr.val().get_bits::<8>(0);
        self.tbl1_32.narrow.next = self.shadow_tbl1.read_data.val();
        // The double scheme's state, and the per-VC drain check: sticky
        // while anything of the VC is here, cleared by writing 1s.
        self.banks_pack.b0.next = self.bank_cur.q.val();
        self.banks_pack.b1.next = self.bank_other.q.val().get_bit(0);
        self.banks_pack.b2.next = self.bank_other.q.val().get_bit(1);
        self.banks_pack.b3.next = false;
        self.banks_pack.b4.next = false;
        self.banks32.narrow.next = self.banks_pack.bits.val();
        self.busy0.next = false;
        self.busy1.next = false;
        for p in 0..5 {
            if self.inputs[p].holds0.val() || self.outputs[p].vc0_busy.val() {
                self.busy0.next = true;
            }
            if self.inputs[p].holds1.val() || self.outputs[p].vc1_busy.val() {
                self.busy1.next = true;
            }
        }
        self.seen0.d.next = self.seen0.q.val() || self.busy0.val();
        self.seen1.d.next = self.seen1.q.val() || self.busy1.val();
        self.seen_pack.b0.next = self.seen0.q.val();
        self.seen_pack.b1.next = self.seen1.q.val();
        self.seen_pack.b2.next = false;
        self.seen_pack.b3.next = false;
        self.seen_pack.b4.next = false;
        self.seen32.narrow.next = self.seen_pack.bits.val();
        for p in 0..5 {
            self.inputs[p].cur_vc.next = self.bank_cur.q.val();
            self.inputs[p].other_bank.next = self.bank_other.q.val();
        }
        // A route entry names two ports (or is "no route") and nothing else.
        self.entry_ok.next = (((self.cfg_wdata.val().get_bits::<3>(0) <= self.port_max.val())
            && (self.cfg_wdata.val().get_bits::<3>(3) <= self.port_max.val()))
            || (self.cfg_wdata.val().get_bits::<6>(0) == self.no_route.val()))
            && !self.cfg_wdata.val().get_bits::<26>(6).any();
        self.shadow_grp.read_address.next = self.cfg_addr.val().get_bits::<8>(0);
        self.grp32.narrow.next = self.shadow_grp.read_data.val();
        self.down32.narrow.next = self.link_down.q.val() | self.absent.bits.val();
        self.hit.d.next = self.sel.val() && (self.cfg_we.val() || self.cfg_re.val());
        self.bad_access.next = false;
        if self.sel.val() && self.cfg_we.val() {
            if self.cfg_addr.val() == self.a_link_down.val() {
                // A write that names a mesh-edge port as up, or sets bits
                // past the five ports, is refused and counted.
                if (!self.cfg_wdata.val().get_bits::<5>(0) & self.absent.bits.val()).any()
                    || self.cfg_wdata.val().get_bits::<27>(5).any()
                {
                    self.bad_access.next = true;
                } else {
                    self.link_down.d.next = self.cfg_wdata.val().get_bits::<5>(0);
                }
            } else if self.cfg_addr.val() == self.a_trace.val() {
                self.trace_valid.d.next = false;
            } else if (self.cfg_addr.val() == self.a_link_timeout.val())
                && self.cfg_wdata.val().get_bits::<8>(0).any()
                && !self.cfg_wdata.val().get_bits::<24>(8).any()
            {
                self.link_timeout.d.next = self.cfg_wdata.val().get_bits::<8>(0);
            } else if (self.cfg_addr.val() == self.a_link_holddown.val())
                && self.cfg_wdata.val().get_bits::<8>(0).any()
                && !self.cfg_wdata.val().get_bits::<24>(8).any()
            {
                self.link_holddown.d.next = self.cfg_wdata.val().get_bits::<8>(0);
            } else if (self.cfg_addr.val() == self.a_reroute_wait.val())
                && self.cfg_wdata.val().get_bits::<16>(0).any()
                && !self.cfg_wdata.val().get_bits::<16>(16).any()
            {
                self.reroute_wait.d.next = self.cfg_wdata.val().get_bits::<16>(0);
            } else if (self.cfg_addr.val() == self.a_link_stable.val())
                && self.cfg_wdata.val().get_bits::<8>(0).any()
                && !self.cfg_wdata.val().get_bits::<24>(8).any()
            {
                self.link_stable.d.next = self.cfg_wdata.val().get_bits::<8>(0);
            } else if (self.cfg_addr.val() == self.a_table_banks.val())
                && !self.cfg_wdata.val().get_bits::<29>(3).any()
            {
                self.bank_cur.d.next = self.cfg_wdata.val().get_bit(0);
                self.bank_other.d.next = self.cfg_wdata.val().get_bits::<2>(1);
            } else if (self.cfg_addr.val() == self.a_vc_seen.val())
                && !self.cfg_wdata.val().get_bits::<30>(2).any()
            {
                if self.cfg_wdata.val().get_bit(0) {
                    self.seen0.d.next = self.busy0.val();
                }
                if self.cfg_wdata.val().get_bit(1) {
                    self.seen1.d.next = self.busy1.val();
                }
            } else if (self.cfg_addr.val() >= self.a_tbl_base.val())
                && (self.cfg_addr.val() < self.a_tbl_end.val())
                && !self.init_busy.q.val()
                && self.entry_ok.val()
            {
                self.tbl_we.next = self.we0.val();
                self.tbl_waddr.next = self.cfg_addr.val().get_bits::<8>(0);
                self.tbl_wdata.next = self.cfg_wdata.val().get_bits::<6>(0);
                self.table_writes.d.next = self.table_writes.q.val() + self.one32.val();
            } else if (self.cfg_addr.val() >= self.a_tbl1_base.val())
                && (self.cfg_addr.val() < self.a_tbl1_end.val())
                && !self.init_busy.q.val()
                && self.entry_ok.val()
            {
                self.tbl_we.next = self.we1.val();
                self.tbl_waddr.next = self.cfg_addr.val().get_bits::<8>(0);
                self.tbl_wdata.next = self.cfg_wdata.val().get_bits::<6>(0);
                self.table_writes.d.next = self.table_writes.q.val() + self.one32.val();
            } else if (self.cfg_addr.val() >= self.a_grp_base.val())
                && (self.cfg_addr.val() < self.a_grp_end.val())
                && self.mc.val()
                && !self.init_busy.q.val()
                && !self.cfg_wdata.val().get_bits::<27>(5).any()
            {
                self.grp_we.next = true;
                self.grp_waddr.next = self.cfg_addr.val().get_bits::<8>(0);
                self.grp_wdata.next = self.cfg_wdata.val().get_bits::<5>(0);
                self.table_writes.d.next = self.table_writes.q.val() + self.one32.val();
            } else {
                self.bad_access.next = true;
            }
        }
        for p in 0..5 {
            self.inputs[p].tbl_we.next = self.tbl_we.val();
            self.inputs[p].tbl_waddr.next = self.tbl_waddr.val();
            self.inputs[p].tbl_wdata.next = self.tbl_wdata.val();
        }
        for p in 0..5 {
            self.inputs[p].grp_we.next = self.grp_we.val();
            self.inputs[p].grp_waddr.next = self.grp_waddr.val();
            self.inputs[p].grp_wdata.next = self.grp_wdata.val();
        }
        self.shadow_grp.write_enable.next = self.grp_we.val();
        self.shadow_grp.write_address.next = self.grp_waddr.val();
        self.shadow_grp.write_data.next = self.grp_wdata.val();
        self.shadow_tbl.write_enable.next = self.tbl_we.val().get_bit(0);
        self.shadow_tbl.write_address.next = self.tbl_waddr.val();
        self.shadow_tbl.write_data.next = self.tbl_wdata.val();
        self.shadow_tbl1.write_enable.next = self.tbl_we.val().get_bit(1);
        self.shadow_tbl1.write_address.next = self.tbl_waddr.val();
        self.shadow_tbl1.write_data.next = self.tbl_wdata.val();
        self.rdata.d.next = self.zero32.val();
        // Per-port counters, decoded apart from the chain below.
        self.port_hit.next = false;
        for p in 0..4 {
            if self.cfg_addr.val() == self.a_down_events[p].val() {
                self.port_hit.next = true;
                if self.sel.val() && self.cfg_re.val() {
                    self.rdata.d.next = self.down_events32[p].wide.val();
                }
            }
            if self.cfg_addr.val() == self.a_check_errors[p].val() {
                self.port_hit.next = true;
                if self.sel.val() && self.cfg_re.val() {
                    self.rdata.d.next = self.check_errors32[p].wide.val();
                }
            }
        }
        if self.sel.val() && self.cfg_re.val() && !self.port_hit.val() {
            if self.cfg_addr.val() == self.a_id.val() {
                self.rdata.d.next = self.id_value.val();
            } else if self.cfg_addr.val() == self.a_node.val() {
                self.rdata.d.next = self.node32.wide.val();
            } else if self.cfg_addr.val() == self.a_status.val() {
                if !self.init_busy.q.val() {
                    self.rdata.d.next = self.one32.val();
                }
            } else if self.cfg_addr.val() == self.a_link_down.val() {
                self.rdata.d.next = self.down32.wide.val();
            } else if self.cfg_addr.val() == self.a_packets.val() {
                self.rdata.d.next = self.packets_routed.q.val();
            } else if self.cfg_addr.val() == self.a_flits.val() {
                self.rdata.d.next = self.flits_routed.q.val();
            } else if self.cfg_addr.val() == self.a_drop_ttl.val() {
                self.rdata.d.next = self.drop_ttl.q.val();
            } else if self.cfg_addr.val() == self.a_drop_unroutable.val() {
                self.rdata.d.next = self.drop_unroutable.q.val();
            } else if self.cfg_addr.val() == self.a_drop_malformed.val() {
                self.rdata.d.next = self.drop_malformed.q.val();
            } else if self.cfg_addr.val() == self.a_trace.val() {
                self.rdata.d.next = self.trace_pack.word.val();
            } else if self.cfg_addr.val() == self.a_table_writes.val() {
                self.rdata.d.next = self.table_writes.q.val();
            } else if self.cfg_addr.val() == self.a_overflow.val() {
                self.rdata.d.next = self.overflow.q.val();
            } else if self.cfg_addr.val() == self.a_cfg_errors.val() {
                self.rdata.d.next = self.cfg_errors.q.val();
            } else if self.cfg_addr.val() == self.a_fanout_errors.val() {
                self.rdata.d.next = self.fanout_errors.q.val();
            } else if self.cfg_addr.val() == self.a_link_state.val() {
                self.rdata.d.next = self.up32.wide.val()
                    | (self.open32.wide.val() << self.eight.val())
                    | (self.drained32.wide.val() << self.sixteen.val());
            } else if self.cfg_addr.val() == self.a_link_timeout.val() {
                self.rdata.d.next = self.timeout32.wide.val();
            } else if self.cfg_addr.val() == self.a_link_holddown.val() {
                self.rdata.d.next = self.holddown32.wide.val();
            } else if self.cfg_addr.val() == self.a_link_stable.val() {
                self.rdata.d.next = self.stable32.wide.val();
            } else if self.cfg_addr.val() == self.a_reroute_wait.val() {
                self.rdata.d.next = self.wait32.wide.val();
            } else if self.cfg_addr.val() == self.a_reroute_waits.val() {
                self.rdata.d.next = self.reroute_waits.q.val();
            } else if self.cfg_addr.val() == self.a_cut_tails.val() {
                self.rdata.d.next = self.cut_tails.q.val();
            } else if self.cfg_addr.val() == self.a_cut_drops.val() {
                self.rdata.d.next = self.cut_drops.q.val();
            } else if self.cfg_addr.val() == self.a_link_discards.val() {
                self.rdata.d.next = self.link_discards.q.val();
            } else if self.cfg_addr.val() == self.a_table_banks.val() {
                self.rdata.d.next = self.banks32.wide.val();
            } else if self.cfg_addr.val() == self.a_vc_seen.val() {
                self.rdata.d.next = self.seen32.wide.val();
            } else if (self.cfg_addr.val() >= self.a_tbl1_base.val())
                && (self.cfg_addr.val() < self.a_tbl1_end.val())
            {
                self.rdata.d.next = self.tbl1_32.wide.val();
            } else if (self.cfg_addr.val() >= self.a_grp_base.val())
                && (self.cfg_addr.val() < self.a_grp_end.val())
                && self.mc.val()
            {
                self.rdata.d.next = self.grp32.wide.val();
            } else if (self.cfg_addr.val() >= self.a_tbl_base.val())
                && (self.cfg_addr.val() < self.a_tbl_end.val())
            {
                self.rdata.d.next = self.tbl32.wide.val();
            } else {
                self.bad_access.next = true;
            }
        }
        self.error.d.next = self.bad_access.val();
        if self.bad_access.val() {
            self.cfg_errors.d.next = self.cfg_errors.q.val() + self.one32.val();
        }
        self.cfg_hit.next = self.hit.q.val();
        self.cfg_rdata.next = self.rdata.q.val();
        self.cfg_error.next = self.error.q.val();
        if self.int_reset.val() {
            self.init_busy.d.next = true;
            self.link_timeout.d.next = self.timeout_reset.val();
            self.link_holddown.d.next = self.holddown_reset.val();
            self.link_stable.d.next = self.stable_reset.val();
            self.reroute_wait.d.next = self.wait_reset.val();
            self.inc_wait.d.next = self.zero4.val();
            self.reroute_waits.d.next = self.zero32.val();
            self.bank_cur.d.next = false;
            self.bank_other.d.next = self.zero2.val();
            self.seen0.d.next = false;
            self.seen1.d.next = false;
            self.inc_cut_tail.d.next = self.zero4.val();
            self.inc_cut_drop.d.next = self.zero4.val();
            self.inc_discard.d.next = self.zero3.val();
            self.cut_tails.d.next = self.zero32.val();
            self.cut_drops.d.next = self.zero32.val();
            self.link_discards.d.next = self.zero32.val();
            for p in 0..4 {
                self.down_events[p].d.next = self.zero16.val();
                self.check_errors[p].d.next = self.zero16.val();
            }
            self.init_idx.d.next = self.zero8.val();
            self.link_down.d.next = self.zero5.val();
            self.trace_valid.d.next = false;
            self.trace_hits.d.next = self.zero5.val();
            self.inc_routed.d.next = self.zero4.val();
            self.inc_sent.d.next = self.zero3.val();
            self.inc_ttl.d.next = self.zero4.val();
            self.inc_unroutable.d.next = self.zero4.val();
            self.inc_malformed.d.next = self.zero4.val();
            self.inc_overflow.d.next = self.zero4.val();
            self.inc_fanout.d.next = self.zero4.val();
            self.packets_routed.d.next = self.zero32.val();
            self.flits_routed.d.next = self.zero32.val();
            self.drop_ttl.d.next = self.zero32.val();
            self.drop_unroutable.d.next = self.zero32.val();
            self.drop_malformed.d.next = self.zero32.val();
            self.overflow.d.next = self.zero32.val();
            self.table_writes.d.next = self.zero32.val();
            self.cfg_errors.d.next = self.zero32.val();
            self.fanout_errors.d.next = self.zero32.val();
            self.error.d.next = false;
            self.hit.d.next = false;
        }
    }
}
