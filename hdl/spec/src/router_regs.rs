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
}

/// Value of the ID register: ASCII "RM" and block kind 1 (router), version 1.
pub const ROUTER_ID_VALUE: u32 = 0x524D_0101;

/// The router's registers, by address.
pub const ROUTER_REGS: &[RouterReg] = &[
    reg("id", addr::ID, Ro, "block id: 0x524D (\"RM\") << 16 | kind 0x01 << 8 | version 0x01"),
    reg("node_id", addr::NODE_ID, Ro, "this router's node id (`y << x_bits | x`)"),
    reg("status", addr::STATUS, Ro, "bit 0: route table initialised after reset"),
    reg("link_down", addr::LINK_DOWN, Rw, "bits 4..0: port N,E,S,W,L down; mesh-edge ports read as down"),
    reg("packets_routed_total", addr::PACKETS_ROUTED, Ro, "head flits switched to an output"),
    reg("flits_routed_total", addr::FLITS_ROUTED, Ro, "flits switched to an output"),
    reg("drop_ttl_total", addr::DROP_TTL, Ro, "packets dropped because their TTL ran out"),
    reg("drop_unroutable_total", addr::DROP_UNROUTABLE, Ro, "packets dropped because primary and alternate port were both down"),
    reg("drop_malformed_total", addr::DROP_MALFORMED, Ro, "packets dropped for a unicast destination outside the mesh or an unknown kind"),
    reg("trace", addr::TRACE, Rw, "last traced head flit: bit 31 valid, bits 20..16 input port one-hot, bits 12..8 output port one-hot; write clears"),
    reg("table_writes_total", addr::TABLE_WRITES, Ro, "route and group table entries written by the host"),
    reg("overflow_total", addr::OVERFLOW, Ro, "flits that arrived at a full input FIFO (a neighbour ignored credits); discarded"),
    reg("cfg_errors_total", addr::CFG_ERRORS, Ro, "rejected configuration accesses: unmapped address, read-only register, bad table entry, table still initialising"),
    reg("fanout_errors_total", addr::FANOUT_ERRORS, Ro, "fan-out packets dropped: group id past the group table, group mask naming an absent, down or backward port, scope radius past the mesh diameter, fan-out packet longer than the FIFO depth (64-bit flits: `len` checked at the head; any width: cut at the FIFO depth), or arriving from a link at a router whose mask for it is empty"),
];
