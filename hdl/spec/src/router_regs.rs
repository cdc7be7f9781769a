//! The router's configuration registers, as seen on the mesh configuration
//! bus (word addresses). The host-interface register map will embed this
//! block; until then the Verilator bridge reaches it directly.

/// Access type of a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read only.
    Ro,
    /// Read and write.
    Rw,
}

/// One router register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterReg {
    /// Name, lower snake case; counters end in `_total`.
    pub name: &'static str,
    /// Word address on the configuration bus.
    pub addr: u32,
    /// Access.
    pub access: Access,
    /// Meaning.
    pub doc: &'static str,
}

pub use Access::{Ro, Rw};

const fn reg(name: &'static str, addr: u32, access: Access, doc: &'static str) -> RouterReg {
    RouterReg {
        name,
        addr,
        access,
        doc,
    }
}

/// First word address of the route table; entry for destination `d` is at
/// `ROUTE_TABLE_BASE + d`, encoded `alternate << 3 | primary`.
pub const ROUTE_TABLE_BASE: u32 = 0x100;

/// First word address of the second route table bank (bank 1, VC1's); the
/// entry for destination `d` is at `ROUTE_TABLE_BANK1_BASE + d`, encoded as
/// in bank 0 (`ROUTE_TABLE_BASE`). Which bank routes which head is set by
/// `table_banks`.
pub const ROUTE_TABLE_BANK1_BASE: u32 = 0x300;

/// First word address of the multicast group table; the entry for group `g`
/// (`g < GROUP_TABLE_ENTRIES`) is at `GROUP_TABLE_BASE + g`: bits 4..0 are the
/// output mask (N, E, S, W, L). Reset clears every entry (empty groups).
pub const GROUP_TABLE_BASE: u32 = 0x200;

/// Register constants by name, for the driver side.
pub mod addr {
    /// Block identifier.
    pub const ID: u32 = 0x00;
    /// This router's node id.
    pub const NODE_ID: u32 = 0x01;
    /// Status bits.
    pub const STATUS: u32 = 0x02;
    /// Link-down mask.
    pub const LINK_DOWN: u32 = 0x03;
    /// Packets switched.
    pub const PACKETS_ROUTED: u32 = 0x04;
    /// Flits switched.
    pub const FLITS_ROUTED: u32 = 0x05;
    /// TTL drops.
    pub const DROP_TTL: u32 = 0x06;
    /// No live port drops.
    pub const DROP_UNROUTABLE: u32 = 0x07;
    /// Malformed header drops.
    pub const DROP_MALFORMED: u32 = 0x08;
    /// Trace capture.
    pub const TRACE: u32 = 0x09;
    /// Table rewrites.
    pub const TABLE_WRITES: u32 = 0x0A;
    /// Flits that arrived at a full FIFO.
    pub const OVERFLOW: u32 = 0x0B;
    /// Rejected configuration accesses.
    pub const CFG_ERRORS: u32 = 0x0C;
    /// Fan-out packets dropped as malformed.
    pub const FANOUT_ERRORS: u32 = 0x0D;
    /// Link liveness state per mesh port.
    pub const LINK_STATE: u32 = 0x0E;
    /// Bad cycles in a row that take a link down.
    pub const LINK_TIMEOUT: u32 = 0x0F;
    /// Cycles a failed link stays silent.
    pub const LINK_HOLDDOWN: u32 = 0x10;
    /// Good cycles in a row before a link comes back.
    pub const LINK_STABLE: u32 = 0x11;
    /// Worms closed with an error-marked tail (their link in died).
    pub const CUT_TAILS: u32 = 0x12;
    /// Worms whose rest was dropped (their link out died).
    pub const CUT_DROPS: u32 = 0x13;
    /// Flits discarded on arrival (check failed, link not open).
    pub const LINK_DISCARDS: u32 = 0x14;
    /// Cycles a head with no live port waits for a new route entry.
    pub const REROUTE_WAIT: u32 = 0x15;
    /// Heads that waited for a live route.
    pub const REROUTE_WAITS: u32 = 0x16;
    /// The double scheme's bank state: `cur` and the other bank's state.
    pub const TABLE_BANKS: u32 = 0x17;
    /// Per VC: held a flit here since last cleared (the drain check).
    pub const VC_SEEN: u32 = 0x20;
    /// Down events of port N; E, S, W follow at +1, +2, +3.
    pub const LINK_DOWN_EVENTS: u32 = 0x18;
    /// Check (parity) errors of port N; E, S, W follow at +1, +2, +3.
    pub const LINK_CHECK_ERRORS: u32 = 0x1C;
}

/// Reset value of `link_timeout_cycles`.
pub const LINK_TIMEOUT_DEFAULT: u32 = 16;
/// Reset value of `link_holddown_cycles`; must exceed the far end's timeout
/// so that the far end sees the silence.
pub const LINK_HOLDDOWN_DEFAULT: u32 = 48;
/// Reset value of `link_stable_cycles`.
pub const LINK_STABLE_DEFAULT: u32 = 32;

/// Reset value of `reroute_wait_cycles`.
pub const REROUTE_WAIT_DEFAULT: u32 = 1024;

/// Route table entry meaning "no route": both port fields 7. A packet for
/// such a destination is dropped as unroutable (counted) at this router.
pub const NO_ROUTE_ENTRY: u32 = 0x3f;

/// Value of the ID register: ASCII "RM" and block kind 1 (router), version 3
/// (two route table banks).
pub const ROUTER_ID_VALUE: u32 = 0x524D_0103;

/// The router's registers, by address.
pub const ROUTER_REGS: &[RouterReg] = &[
    reg("id", addr::ID, Ro, "block id: 0x524D (\"RM\") << 16 | kind 0x01 << 8 | version 0x03"),
    reg("node_id", addr::NODE_ID, Ro, "this router's node id (`y << x_bits | x`)"),
    reg("status", addr::STATUS, Ro, "bit 0: route table initialised after reset"),
    reg("link_down", addr::LINK_DOWN, Rw, "bits 4..0: port N,E,S,W,L forced down; mesh-edge ports read as down, and a write that names one as up (its bit clear) or sets bits 31..5 is refused"),
    reg("packets_routed_total", addr::PACKETS_ROUTED, Ro, "head flits switched to an output"),
    reg("flits_routed_total", addr::FLITS_ROUTED, Ro, "flits switched to an output"),
    reg("drop_ttl_total", addr::DROP_TTL, Ro, "packets dropped because their TTL ran out"),
    reg("drop_unroutable_total", addr::DROP_UNROUTABLE, Ro, "packets dropped because primary and alternate port were both down"),
    reg("drop_malformed_total", addr::DROP_MALFORMED, Ro, "packets dropped for a unicast destination outside the mesh or an unknown kind"),
    reg("trace", addr::TRACE, Rw, "last traced head flit: bit 31 valid, bits 20..16 input port one-hot, bits 12..8 output port one-hot; write clears"),
    reg("table_writes_total", addr::TABLE_WRITES, Ro, "route and group table entries written by the host"),
    reg("overflow_total", addr::OVERFLOW, Ro, "flits that arrived at a full input FIFO (a neighbour ignored credits); discarded"),
    reg("cfg_errors_total", addr::CFG_ERRORS, Ro, "rejected configuration accesses: unmapped address, read-only register, bad table entry, table still initialising"),
    reg("link_state", addr::LINK_STATE, Ro, "bits 3..0: mesh port N,E,S,W up (liveness state UP); bits 11..8: port open for arriving flits (ARMED or UP); bits 20..16: input N,E,S,W,L drained (FIFO empty, no cut worm left to close)"),
    reg("link_timeout_cycles", addr::LINK_TIMEOUT, Rw, "bad cycles in a row (no heartbeat toggle, or a parity error) that take a link down; 1..255, reset 16"),
    reg("link_holddown_cycles", addr::LINK_HOLDDOWN, Rw, "cycles a link stays down and silent after a failure (hysteresis; must exceed the far end's timeout); 1..255, reset 48"),
    reg("link_stable_cycles", addr::LINK_STABLE, Rw, "good cycles in a row before a link is offered again; 1..255, reset 32"),
    reg("cut_tails_total", addr::CUT_TAILS, Ro, "worms whose incoming link died mid-packet, closed downstream with an error-marked tail"),
    reg("cut_drops_total", addr::CUT_DROPS, Ro, "worms whose outgoing link died mid-packet; the rest of the packet was dropped here"),
    reg("link_discards_total", addr::LINK_DISCARDS, Ro, "flits discarded on arrival: parity error, or the link not open (down, probing)"),
    reg("reroute_wait_cycles", addr::REROUTE_WAIT, Rw, "cycles a unicast head whose primary and alternate port are both down waits (its entry looked up again each cycle) for the control plane to write a live route, before it is dropped as unroutable; 1..65535, reset 1024. An entry of \"no route\" (0x3f) drops at once"),
    reg("reroute_waits_total", addr::REROUTE_WAITS, Ro, "unicast heads that had to wait for a live route, or for their route table bank (switched or being loaded)"),
    reg("table_banks", addr::TABLE_BANKS, Rw, "the double scheme (docs/deadlock-freedom.md): bit 0 `cur`, the VC whose bank (0 at `0x100`, 1 at `0x300`) holds the newest tables; bits 2..1 the other bank: 0 same (steady state, reset: heads on their flow's VC), 1 old (heads arriving on it move up to `cur`), 2 next (they stay on it, routed by it), 3 loading (they wait); a write setting bits 31..3 is refused"),
    reg("link_down_events_n_total", addr::LINK_DOWN_EVENTS, Ro, "times port N went down by itself (16 bits)"),
    reg("link_down_events_e_total", addr::LINK_DOWN_EVENTS + 1, Ro, "times port E went down by itself (16 bits)"),
    reg("link_down_events_s_total", addr::LINK_DOWN_EVENTS + 2, Ro, "times port S went down by itself (16 bits)"),
    reg("link_down_events_w_total", addr::LINK_DOWN_EVENTS + 3, Ro, "times port W went down by itself (16 bits)"),
    reg("link_check_errors_n_total", addr::LINK_CHECK_ERRORS, Ro, "cycles port N saw a parity error (16 bits)"),
    reg("link_check_errors_e_total", addr::LINK_CHECK_ERRORS + 1, Ro, "cycles port E saw a parity error (16 bits)"),
    reg("link_check_errors_s_total", addr::LINK_CHECK_ERRORS + 2, Ro, "cycles port S saw a parity error (16 bits)"),
    reg("link_check_errors_w_total", addr::LINK_CHECK_ERRORS + 3, Ro, "cycles port W saw a parity error (16 bits)"),
    reg("vc_seen", addr::VC_SEEN, Rw, "bit v: VC v held a flit here (a mesh input's VC-v buffer or open worm, a VC-v output lock or flit on the link) since last cleared; writing 1s clears those bits (a VC busy at that moment stays set); a write setting bits 31..2 is refused. Two passes over every router, clear then read, all clear: the VC was empty between the passes"),
    reg("fanout_errors_total", addr::FANOUT_ERRORS, Ro, "fan-out packets dropped: group id past the group table, group mask naming an absent, down or backward port, scope radius past the mesh diameter, fan-out packet longer than the FIFO depth (64-bit flits: `len` checked at the head; any width: cut at the FIFO depth), or arriving from a link at a router whose mask for it is empty"),
];
