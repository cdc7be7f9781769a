//! The host-interface register map: what one node sees in its BAR window.
//!
//! A window is a chain of **self-describing blocks** (after Corundum): every
//! block opens with three read-only words — its type (`0x524D` "RM" vendor <<
//! 16 | kind), its version (`major.minor.patch.meta`, one byte each) and the
//! window offset of the next block (0 ends the chain). The driver walks the
//! chain and finds blocks by (type, version, index) instead of hard-coding
//! their positions; registers are addressed relative to their block.
//!
//! From these tables come the endpoint's RTL address decoder
//! (`replimesh-hdl`), the driver's accessors (`replimesh-regs`) and
//! `docs/regmap.md` (`replimesh-codegen`). [`validate_regmap`] checks them.
//!
//! The descriptor layouts of the TX and RX rings in host memory and the
//! per-cause error codes live here too, for the same reason.

use crate::router_regs::{RouterReg, ROUTER_REGS, ROUTE_TABLE_BANK1_BASE, ROUTE_TABLE_BASE};

/// The project's 16-bit vendor id in every block type: ASCII "RM".
pub const VENDOR_RM: u16 = 0x524D;

/// Bytes of one node's BAR window; node `n`'s window starts at `n * NODE_WINDOW_BYTES`.
pub const NODE_WINDOW_BYTES: u32 = 0x1_0000;

/// Bytes of the block header (type, version, next).
pub const BLOCK_HEADER_BYTES: u32 = 12;
/// Offset of the type word inside a block.
pub const BLOCK_TYPE_OFFSET: u32 = 0x0;
/// Offset of the version word inside a block.
pub const BLOCK_VERSION_OFFSET: u32 = 0x4;
/// Offset of the next-block pointer inside a block.
pub const BLOCK_NEXT_OFFSET: u32 = 0x8;

/// A block version, `major.minor.patch.meta`. The major number is bumped when
/// a register moves or changes meaning; the driver refuses another major.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockVersion {
    /// Incompatible changes.
    pub major: u8,
    /// Compatible additions.
    pub minor: u8,
    /// Fixes.
    pub patch: u8,
    /// Build metadata.
    pub meta: u8,
}

/// Shorthand for a version with `meta` 0.
pub const fn v(major: u8, minor: u8, patch: u8) -> BlockVersion {
    BlockVersion {
        major,
        minor,
        patch,
        meta: 0,
    }
}

impl BlockVersion {
    /// The version word: one byte each, major in bits 31..24.
    pub const fn word(self) -> u32 {
        (self.major as u32) << 24
            | (self.minor as u32) << 16
            | (self.patch as u32) << 8
            | self.meta as u32
    }
    /// Decodes a version word.
    pub const fn from_word(w: u32) -> Self {
        BlockVersion {
            major: (w >> 24) as u8,
            minor: (w >> 16) as u8,
            patch: (w >> 8) as u8,
            meta: w as u8,
        }
    }
}

impl core::fmt::Display for BlockVersion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{}.{}.{}.{}",
            self.major, self.minor, self.patch, self.meta
        )
    }
}

/// How software may access a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegAccess {
    /// Read only; a write is rejected and counted.
    Ro,
    /// Read and write.
    Rw,
    /// Read; writing a 1 clears that bit.
    W1c,
}

impl RegAccess {
    /// Short name for docs.
    pub const fn name(self) -> &'static str {
        match self {
            RegAccess::Ro => "RO",
            RegAccess::Rw => "RW",
            RegAccess::W1c => "W1C",
        }
    }
    /// Whether a write reaches the register.
    pub const fn writable(self) -> bool {
        !matches!(self, RegAccess::Ro)
    }
}

/// A register's value after reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reset {
    /// A value the register holds after reset (it may change later).
    Value(u32),
    /// A value the register always holds (read-only constants).
    Constant(u32),
    /// Filled in at generation time (named by the text: node id, spec hash, ...).
    Generated(&'static str),
}

/// A bit field of a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegField {
    /// Name, lower snake case.
    pub name: &'static str,
    /// Least significant bit.
    pub lsb: u32,
    /// Width in bits.
    pub width: u32,
    /// Meaning.
    pub doc: &'static str,
}

impl RegField {
    /// A field of `width` bits from `lsb`.
    pub const fn bits(name: &'static str, lsb: u32, width: u32, doc: &'static str) -> Self {
        RegField {
            name,
            lsb,
            width,
            doc,
        }
    }
    /// Mask of the field inside the register.
    pub const fn mask(&self) -> u32 {
        if self.width >= 32 {
            u32::MAX
        } else {
            ((1u32 << self.width) - 1) << self.lsb
        }
    }
    /// Extracts the field.
    pub const fn get(&self, reg: u32) -> u32 {
        (reg & self.mask()) >> self.lsb
    }
    /// `reg` with the field set to `value`; `None` if it does not fit.
    pub const fn set(&self, reg: u32, value: u32) -> Option<u32> {
        if self.width < 32 && value >> self.width != 0 {
            return None;
        }
        Some((reg & !self.mask()) | (value << self.lsb))
    }
}

/// One 32-bit register of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegSpec {
    /// Name, lower snake case; counters end in `_total`.
    pub name: &'static str,
    /// Byte offset inside the block (multiple of 4, past the header).
    pub offset: u32,
    /// Access.
    pub access: RegAccess,
    /// Value after reset.
    pub reset: Reset,
    /// Bit fields (empty: the whole word is one value).
    pub fields: &'static [RegField],
    /// Meaning.
    pub doc: &'static str,
}

impl RegSpec {
    /// Looks a field up by name.
    pub fn field(&self, name: &str) -> Option<&'static RegField> {
        self.fields.iter().find(|f| f.name == name)
    }
    /// The value after reset (0 for values filled in at generation time).
    pub const fn reset_value(&self) -> u32 {
        match self.reset {
            Reset::Value(v) | Reset::Constant(v) => v,
            Reset::Generated(_) => 0,
        }
    }
}

const fn reg(
    name: &'static str,
    offset: u32,
    access: RegAccess,
    reset: u32,
    fields: &'static [RegField],
    doc: &'static str,
) -> RegSpec {
    RegSpec {
        name,
        offset,
        access,
        reset: Reset::Value(reset),
        fields,
        doc,
    }
}

const fn constant(name: &'static str, offset: u32, value: u32, doc: &'static str) -> RegSpec {
    RegSpec {
        name,
        offset,
        access: RegAccess::Ro,
        reset: Reset::Constant(value),
        fields: &[],
        doc,
    }
}

const fn generated(
    name: &'static str,
    offset: u32,
    what: &'static str,
    doc: &'static str,
) -> RegSpec {
    RegSpec {
        name,
        offset,
        access: RegAccess::Ro,
        reset: Reset::Generated(what),
        fields: &[],
        doc,
    }
}

/// A register block: kind, version, registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockSpec {
    /// Name, lower snake case.
    pub name: &'static str,
    /// Kind, the low half of the type word.
    pub kind: u16,
    /// Version.
    pub version: BlockVersion,
    /// Bytes the block occupies in the window (header included).
    pub span: u32,
    /// Registers past the header, by offset.
    pub regs: &'static [RegSpec],
    /// Tables (arrays of registers) past the registers.
    pub tables: &'static [TableSpec],
    /// What the block is for.
    pub doc: &'static str,
}

/// A table: `entries` registers of the same layout, 4 bytes apart, indexed
/// by something the hardware also looks up (a service id, a search step).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableSpec {
    /// Name, lower snake case.
    pub name: &'static str,
    /// Byte offset of entry 0 inside the block.
    pub offset: u32,
    /// Number of entries.
    pub entries: u32,
    /// Access (every entry alike).
    pub access: RegAccess,
    /// Value of every entry after reset.
    pub reset: u32,
    /// Bit fields of one entry.
    pub fields: &'static [RegField],
    /// What an entry means and what its index is.
    pub doc: &'static str,
}

impl TableSpec {
    /// Byte offset of entry `index` inside the block, or `None` past the end.
    pub const fn entry(&self, index: u32) -> Option<u32> {
        if index < self.entries {
            Some(self.offset + 4 * index)
        } else {
            None
        }
    }
    /// Bytes the table spans.
    pub const fn bytes(&self) -> u32 {
        4 * self.entries
    }
    /// Looks a field up by name.
    pub fn field(&self, name: &str) -> Option<&'static RegField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

impl BlockSpec {
    /// The type word: vendor << 16 | kind.
    pub const fn type_word(&self) -> u32 {
        (VENDOR_RM as u32) << 16 | self.kind as u32
    }
    /// Looks a register up by name.
    pub fn reg(&self, name: &str) -> Option<&'static RegSpec> {
        self.regs.iter().find(|r| r.name == name)
    }
    /// Looks a table up by name.
    pub fn table(&self, name: &str) -> Option<&'static TableSpec> {
        self.tables.iter().find(|t| t.name == name)
    }
}

use RegAccess::{Ro, Rw, W1c};

/// Registers of the global ID block, one per window, always first.
pub mod id {
    use super::*;
    /// Version of the whole register map (driver checks the major number).
    pub const SPEC_VERSION: RegSpec = constant(
        "spec_version",
        0x0C,
        REGMAP_VERSION.word(),
        "version of the register map as a whole, major.minor.patch.meta one byte each; the driver refuses another major",
    );
    /// Hash of the register map the bitstream was generated from.
    pub const SPEC_HASH: RegSpec = generated(
        "spec_hash",
        0x10,
        "spec hash",
        "FNV-1a hash of every block, register and field of this map (`replimesh_spec::spec_hash`); the driver refuses a bitstream whose hash differs from its own",
    );
    /// Which node this window belongs to.
    pub const NODE_ID: RegSpec = generated(
        "node_id",
        0x14,
        "node id",
        "node id of this window's endpoint and router",
    );
    /// Mesh shape.
    pub const MESH_SHAPE: RegSpec = RegSpec {
        name: "mesh_shape",
        offset: 0x18,
        access: Ro,
        reset: Reset::Generated("mesh shape"),
        fields: &[
            RegField::bits("width", 0, 8, "mesh columns"),
            RegField::bits("height", 8, 8, "mesh rows"),
            RegField::bits("flit_bits", 16, 8, "flit width in bits"),
        ],
        doc: "shape of the card's mesh",
    };
    /// Free register for bus tests.
    pub const SCRATCH: RegSpec = reg(
        "scratch",
        0x1C,
        Rw,
        0,
        &[],
        "free for software; proves writes reach the card",
    );
    /// All registers.
    pub const REGS: &[RegSpec] = &[SPEC_VERSION, SPEC_HASH, NODE_ID, MESH_SHAPE, SCRATCH];
}

/// Registers of the endpoint control block.
pub mod ep_ctrl {
    use super::*;
    /// Enables.
    pub const CONTROL: RegSpec = reg(
        "control",
        0x0C,
        Rw,
        0,
        &[
            RegField::bits("tx_enable", 0, 1, "fetch and send TX descriptors"),
            RegField::bits(
                "rx_enable",
                1,
                1,
                "take packets from the router into RX descriptors",
            ),
        ],
        "engine enables; the ring registers should be set before enabling",
    );
    /// Status.
    pub const STATUS: RegSpec = reg(
        "status",
        0x10,
        Ro,
        0,
        &[
            RegField::bits("tx_busy", 0, 1, "TX engine is working on a descriptor"),
            RegField::bits("rx_busy", 1, 1, "RX engine is working on a packet"),
        ],
        "engine state",
    );
    /// Largest packet.
    pub const MAX_PACKET_BYTES: RegSpec = constant(
        "max_packet_bytes",
        0x14,
        MAX_PACKET_BYTES_VALUE,
        "largest packet a TX descriptor may carry, header included, in bytes",
    );
    /// DMA window base, low word.
    pub const DMA_BASE_LO: RegSpec = reg("dma_base_lo", 0x18, Rw, 0, &[], "node's DMA window: first IOVA, bits 31..0; every descriptor, buffer and mirror address must lie inside");
    /// DMA window base, high word.
    pub const DMA_BASE_HI: RegSpec = reg(
        "dma_base_hi",
        0x1C,
        Rw,
        0,
        &[],
        "node's DMA window: first IOVA, bits 63..32",
    );
    /// DMA window size.
    pub const DMA_SIZE: RegSpec = reg(
        "dma_size",
        0x20,
        Rw,
        0,
        &[],
        "node's DMA window: bytes; 0 forbids every DMA",
    );
    /// All registers.
    pub const REGS: &[RegSpec] = &[
        CONTROL,
        STATUS,
        MAX_PACKET_BYTES,
        DMA_BASE_LO,
        DMA_BASE_HI,
        DMA_SIZE,
    ];
}

/// Ring register offsets shared by the TX and RX ring blocks.
macro_rules! ring_regs {
    ($producer_access:expr, $consumer_access:expr, $producer_doc:expr, $consumer_doc:expr) => {
        /// Descriptor ring base, low word.
        pub const BASE_LO: RegSpec = reg("base_lo", 0x0C, Rw, 0, &[], "IOVA of descriptor 0, bits 31..0 (16-byte aligned)");
        /// Descriptor ring base, high word.
        pub const BASE_HI: RegSpec = reg("base_hi", 0x10, Rw, 0, &[], "IOVA of descriptor 0, bits 63..32");
        /// Ring entries.
        pub const SIZE: RegSpec = reg("size", 0x14, Rw, 0, &[], "descriptors in the ring: a power of two from 2 to 1024, 0 disables the ring; writing it resets producer and consumer to 0");
        /// Producer index.
        pub const PRODUCER: RegSpec = reg("producer", 0x18, $producer_access, 0, &[], $producer_doc);
        /// Consumer index.
        pub const CONSUMER: RegSpec = reg("consumer", 0x1C, $consumer_access, 0, &[], $consumer_doc);
        /// Mirror address, low word.
        pub const MIRROR_LO: RegSpec = reg("mirror_lo", 0x20, Rw, 0, &[], "IOVA where the endpoint mirrors its own index as a little-endian u32, bits 31..0 (4-byte aligned)");
        /// Mirror address, high word.
        pub const MIRROR_HI: RegSpec = reg("mirror_hi", 0x24, Rw, 0, &[], "mirror IOVA, bits 63..32");
        /// All registers.
        pub const REGS: &[RegSpec] = &[BASE_LO, BASE_HI, SIZE, PRODUCER, CONSUMER, MIRROR_LO, MIRROR_HI];
    };
}

/// Registers of the TX ring block: the host produces, the endpoint consumes.
pub mod tx_ring {
    use super::*;
    ring_regs!(
        Rw,
        Ro,
        "doorbell, written by the host only: index of the next descriptor it will fill (0..size-1); an index >= size is rejected and counted",
        "written by the endpoint only: index of the next descriptor it will fetch; mirrored to host memory"
    );
}

/// Registers of the RX ring block: the endpoint produces, the host consumes.
pub mod rx_ring {
    use super::*;
    ring_regs!(
        Ro,
        Rw,
        "written by the endpoint only: index of the next descriptor it will fill; mirrored to host memory",
        "doorbell, written by the host only: index of the next descriptor it will read; descriptors from here up to producer-1 are the host's, the rest are armed buffers; an index >= size is rejected and counted"
    );
}

/// Registers of the interrupt block.
pub mod irq {
    use super::*;
    const CAUSES: &[RegField] = &[
        RegField::bits("rx", 0, 1, "packets were written to the RX ring"),
        RegField::bits("tx", 1, 1, "TX descriptors were consumed"),
        RegField::bits("error", 2, 1, "an error was recorded in the error block"),
        RegField::bits(
            "link",
            3,
            1,
            "a mesh link of this node's router went up or down (`link_up`)",
        ),
    ];
    /// Enables.
    pub const ENABLE: RegSpec = reg(
        "enable",
        0x0C,
        Rw,
        0,
        CAUSES,
        "which causes raise the interrupt line",
    );
    /// Status.
    pub const STATUS: RegSpec = reg(
        "status",
        0x10,
        W1c,
        0,
        CAUSES,
        "pending causes; write 1 to clear",
    );
    /// Count threshold.
    pub const MOD_COUNT: RegSpec = reg(
        "moderation_count",
        0x14,
        Rw,
        1,
        &[],
        "raise after this many events (0 behaves as 1)",
    );
    /// Time threshold.
    pub const MOD_CYCLES: RegSpec = reg(
        "moderation_cycles",
        0x18,
        Rw,
        0,
        &[],
        "or this many cycles after the first pending event (0: no time limit)",
    );
    /// Poll mode.
    pub const POLL_MODE: RegSpec = reg(
        "poll_mode",
        0x1C,
        Rw,
        0,
        &[RegField::bits(
            "poll",
            0,
            1,
            "never raise the line; the host polls the mirrors",
        )],
        "poll mode",
    );
    /// Interrupts raised.
    pub const RAISED_TOTAL: RegSpec = reg(
        "raised_total",
        0x20,
        Ro,
        0,
        &[],
        "interrupts raised since reset",
    );
    /// This node's router's link states, as the `link` cause reports them.
    pub const LINK_UP: RegSpec = reg(
        "link_up",
        0x24,
        Ro,
        0,
        &[RegField::bits(
            "up",
            0,
            4,
            "mesh links up now, bits N, E, S, W (the router's monitors)",
        )],
        "which of the router's mesh links are up: read on a `link` interrupt",
    );
    /// Link changes seen.
    pub const LINK_EVENTS_TOTAL: RegSpec = reg(
        "link_events_total",
        0x28,
        Ro,
        0,
        &[],
        "cycles in which `link_up` changed since reset: more than the host counted means it missed a flap",
    );
    /// All registers.
    pub const REGS: &[RegSpec] = &[
        ENABLE,
        STATUS,
        MOD_COUNT,
        MOD_CYCLES,
        POLL_MODE,
        RAISED_TOTAL,
        LINK_UP,
        LINK_EVENTS_TOTAL,
    ];
}

/// Why the endpoint rejected something; the value in the error block's
/// `cause` and in a TX descriptor's error completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ErrorCause {
    /// A TX descriptor's length is 0, not a multiple of 8, or over `max_packet_bytes`.
    TxLength = 1,
    /// A descriptor, buffer or mirror address lies outside the node's DMA window.
    DmaWindow = 2,
    /// A doorbell wrote a ring index >= the ring size.
    RingIndex = 3,
    /// A write to a read-only register.
    RegReadOnly = 4,
    /// An access to an unmapped offset.
    RegUnmapped = 5,
    /// A received packet did not fit its RX buffer (dropped).
    RxOverflow = 6,
    /// A ring size that is not a power of two in 2..=1024.
    RingSize = 7,
    /// A reroute rule naming a node outside the mesh.
    RuleNode = 8,
    /// A search start that cannot run: a search is running, the service id
    /// is 0 or past the presence table, or the policy has no step.
    SearchStart = 9,
    /// A received packet was cut by a link failure in the mesh (dropped).
    LinkCut = 10,
    /// A write to this node's router while the node is quarantined.
    Quarantined = 11,
}

impl ErrorCause {
    /// Every cause.
    pub const ALL: [ErrorCause; 11] = [
        ErrorCause::TxLength,
        ErrorCause::DmaWindow,
        ErrorCause::RingIndex,
        ErrorCause::RegReadOnly,
        ErrorCause::RegUnmapped,
        ErrorCause::RxOverflow,
        ErrorCause::RingSize,
        ErrorCause::RuleNode,
        ErrorCause::SearchStart,
        ErrorCause::LinkCut,
        ErrorCause::Quarantined,
    ];
    /// Name, matching its counter `err_<name>_total`.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCause::TxLength => "tx_length",
            ErrorCause::DmaWindow => "dma_window",
            ErrorCause::RingIndex => "ring_index",
            ErrorCause::RegReadOnly => "reg_read_only",
            ErrorCause::RegUnmapped => "reg_unmapped",
            ErrorCause::RxOverflow => "rx_overflow",
            ErrorCause::RingSize => "ring_size",
            ErrorCause::RuleNode => "rule_node",
            ErrorCause::SearchStart => "search_start",
            ErrorCause::LinkCut => "link_cut",
            ErrorCause::Quarantined => "quarantined",
        }
    }
    /// Meaning.
    pub const fn doc(self) -> &'static str {
        match self {
            ErrorCause::TxLength => "TX descriptor length 0, not a multiple of 8, or over `max_packet_bytes`; descriptor skipped",
            ErrorCause::DmaWindow => "descriptor ring, buffer or mirror address outside the DMA window; nothing transferred",
            ErrorCause::RingIndex => "doorbell index >= ring size; the write is ignored",
            ErrorCause::RegReadOnly => "write to a read-only register; ignored",
            ErrorCause::RegUnmapped => "access to an unmapped offset; reads return 0, writes are ignored",
            ErrorCause::RxOverflow => "received packet longer than its RX buffer; dropped, the descriptor completes with this cause",
            ErrorCause::RingSize => "ring size not a power of two in 2..=1024; the write is ignored",
            ErrorCause::RuleNode => "reroute rule names a node outside the mesh; the write is ignored",
            ErrorCause::SearchStart => "search start while a search runs, for service 0 or past the presence table, or with no policy step; ignored",
            ErrorCause::LinkCut => "received packet cut by a link failure in the mesh (error-marked tail); dropped, the descriptor completes with this cause and length 0",
            ErrorCause::Quarantined => "write to this node's router (tables, banks, link controls) while the node is quarantined; refused, so a quarantined host cannot steer traffic through its router",
        }
    }
    /// Decodes a cause value.
    pub fn from_code(code: u32) -> Option<ErrorCause> {
        Self::ALL.into_iter().find(|c| *c as u32 == code)
    }
}

/// Registers of the counter block.
pub mod counters {
    use super::*;
    /// Packets sent.
    pub const TX_PACKETS: RegSpec = reg(
        "tx_packets_total",
        0x0C,
        Ro,
        0,
        &[],
        "packets injected into the router",
    );
    /// Bytes sent.
    pub const TX_BYTES: RegSpec = reg(
        "tx_bytes_total",
        0x10,
        Ro,
        0,
        &[],
        "bytes injected, headers included",
    );
    /// Packets received.
    pub const RX_PACKETS: RegSpec = reg(
        "rx_packets_total",
        0x14,
        Ro,
        0,
        &[],
        "packets written to the RX ring",
    );
    /// Bytes received.
    pub const RX_BYTES: RegSpec = reg(
        "rx_bytes_total",
        0x18,
        Ro,
        0,
        &[],
        "bytes written to RX buffers, headers included",
    );
    /// Drops.
    pub const RX_DROPS: RegSpec = reg(
        "rx_drops_total",
        0x1C,
        Ro,
        0,
        &[],
        "received packets dropped (see the error causes)",
    );
    /// Per cause, in [`ErrorCause`] order from 0x20.
    pub const ERR_TX_LENGTH: RegSpec = reg(
        "err_tx_length_total",
        0x20,
        Ro,
        0,
        &[],
        "errors of cause `tx_length`",
    );
    /// Window errors.
    pub const ERR_DMA_WINDOW: RegSpec = reg(
        "err_dma_window_total",
        0x24,
        Ro,
        0,
        &[],
        "errors of cause `dma_window`",
    );
    /// Index errors.
    pub const ERR_RING_INDEX: RegSpec = reg(
        "err_ring_index_total",
        0x28,
        Ro,
        0,
        &[],
        "errors of cause `ring_index`",
    );
    /// RO writes.
    pub const ERR_REG_READ_ONLY: RegSpec = reg(
        "err_reg_read_only_total",
        0x2C,
        Ro,
        0,
        &[],
        "errors of cause `reg_read_only`",
    );
    /// Unmapped accesses.
    pub const ERR_REG_UNMAPPED: RegSpec = reg(
        "err_reg_unmapped_total",
        0x30,
        Ro,
        0,
        &[],
        "errors of cause `reg_unmapped`",
    );
    /// RX overflows.
    pub const ERR_RX_OVERFLOW: RegSpec = reg(
        "err_rx_overflow_total",
        0x34,
        Ro,
        0,
        &[],
        "errors of cause `rx_overflow`",
    );
    /// Bad sizes.
    pub const ERR_RING_SIZE: RegSpec = reg(
        "err_ring_size_total",
        0x38,
        Ro,
        0,
        &[],
        "errors of cause `ring_size`",
    );
    /// Bad rules.
    pub const ERR_RULE_NODE: RegSpec = reg(
        "err_rule_node_total",
        0x3C,
        Ro,
        0,
        &[],
        "errors of cause `rule_node`",
    );
    /// Bad search starts.
    pub const ERR_SEARCH_START: RegSpec = reg(
        "err_search_start_total",
        0x40,
        Ro,
        0,
        &[],
        "errors of cause `search_start`",
    );
    /// Packets cut in the mesh.
    pub const ERR_LINK_CUT: RegSpec = reg(
        "err_link_cut_total",
        0x44,
        Ro,
        0,
        &[],
        "errors of cause `link_cut`",
    );
    /// Router writes refused under quarantine.
    pub const ERR_QUARANTINED: RegSpec = reg(
        "err_quarantined_total",
        0x48,
        Ro,
        0,
        &[],
        "errors of cause `quarantined`",
    );
    /// All registers.
    pub const REGS: &[RegSpec] = &[
        TX_PACKETS,
        TX_BYTES,
        RX_PACKETS,
        RX_BYTES,
        RX_DROPS,
        ERR_TX_LENGTH,
        ERR_DMA_WINDOW,
        ERR_RING_INDEX,
        ERR_REG_READ_ONLY,
        ERR_REG_UNMAPPED,
        ERR_RX_OVERFLOW,
        ERR_RING_SIZE,
        ERR_RULE_NODE,
        ERR_SEARCH_START,
        ERR_LINK_CUT,
        ERR_QUARANTINED,
    ];

    /// The counter of `cause`.
    pub const fn for_cause(cause: ErrorCause) -> RegSpec {
        REGS[5 + cause as usize - 1]
    }
}

/// Registers of the error block: the last error, for the host to read after
/// an error interrupt.
pub mod error {
    use super::*;
    /// Last cause.
    pub const CAUSE: RegSpec = reg(
        "cause",
        0x0C,
        Ro,
        0,
        &[],
        "cause of the last error (see the cause table); 0: none since reset",
    );
    /// Where.
    pub const INFO: RegSpec = reg(
        "info",
        0x10,
        Ro,
        0,
        &[],
        "descriptor index for ring errors, window offset for register errors",
    );
    /// Value, low.
    pub const VALUE_LO: RegSpec = reg(
        "value_lo",
        0x14,
        Ro,
        0,
        &[],
        "offending value (length, address or index), bits 31..0",
    );
    /// Value, high.
    pub const VALUE_HI: RegSpec = reg("value_hi", 0x18, Ro, 0, &[], "offending value, bits 63..32");
    /// All registers.
    pub const REGS: &[RegSpec] = &[CAUSE, INFO, VALUE_LO, VALUE_HI];
}

/// Registers of the service block: presence table, reroute rules, the
/// expanding-search engine, quarantine and their counters (issue 6, see
/// `docs/services.md`).
pub mod service {
    use super::*;
    use crate::service::{SEARCH_STEPS, SERVICE_ENTRIES};
    /// Switches.
    pub const CONFIG: RegSpec = reg(
        "config",
        0x0C,
        Rw,
        1,
        &[RegField::bits(
            "answer_enable",
            0,
            1,
            "answer discovery requests for present, accepting services (0: stay silent)",
        )],
        "service unit switches",
    );
    /// Host liveness lease.
    pub const LEASE_CYCLES: RegSpec = reg(
        "lease_cycles",
        0x10,
        Rw,
        0,
        &[],
        "host liveness lease in cycles: when no `heartbeat` write came for this long, every service counts as not accepting (silent to searches, requests refused with `host_down`) and packets for the host are dropped (`lease_drops_total`); 0 turns the lease off",
    );
    /// Heartbeat.
    pub const HEARTBEAT: RegSpec = reg(
        "heartbeat",
        0x14,
        Rw,
        0,
        &[],
        "any write restarts the lease; reads the last value written",
    );
    /// State.
    pub const STATUS: RegSpec = reg(
        "status",
        0x18,
        Ro,
        0,
        &[
            RegField::bits("lease_expired", 0, 1, "the host's lease ran out"),
            RegField::bits(
                "quarantined",
                1,
                1,
                "this node is quarantined: everything its host sends is dropped here, it answers no search",
            ),
        ],
        "service unit state",
    );
    /// Starts a search.
    pub const SEARCH_START: RegSpec = reg(
        "search_start",
        0x1C,
        Rw,
        0,
        &[
            RegField::bits("service", 0, 8, "service id to search for (1..63)"),
            RegField::bits(
                "max_load",
                8,
                8,
                "replicas whose load is above this stay silent",
            ),
            RegField::bits(
                "install",
                16,
                1,
                "when found, write the rule: best replica primary, second best fallback",
            ),
        ],
        "writing starts an expanding search along the policy table; rejected (`search_start`) while one runs",
    );
    /// Search policy shape.
    pub const SEARCH_CONFIG: RegSpec = reg(
        "search_config",
        0x20,
        Rw,
        crate::service::SEARCH_CONFIG_RESET,
        &[
            RegField::bits("steps", 0, 4, "policy steps used, 1..8"),
            RegField::bits(
                "window_cycles",
                16,
                16,
                "after the first answer, collect answers this many cycles more and pick the least loaded",
            ),
        ],
        "expanding search: how many policy steps, and the answer window",
    );
    /// Search state.
    pub const SEARCH_STATUS: RegSpec = reg(
        "search_status",
        0x24,
        Ro,
        0,
        &[
            RegField::bits(
                "state",
                0,
                2,
                "0 idle, 1 running, 2 found, 3 not found after the last step",
            ),
            RegField::bits("has_second", 2, 1, "a second replica answered"),
            RegField::bits(
                "step",
                4,
                3,
                "policy step that found the replica (or the last step tried)",
            ),
            RegField::bits("answers", 8, 8, "answers accepted in this search"),
            RegField::bits("tag", 16, 16, "tag of this search's requests"),
        ],
        "the last search",
    );
    /// Search result.
    pub const SEARCH_RESULT: RegSpec = reg(
        "search_result",
        0x28,
        Ro,
        0,
        &[
            RegField::bits("node", 0, 8, "least loaded replica"),
            RegField::bits("load", 8, 8, "its load"),
            RegField::bits(
                "second_node",
                16,
                8,
                "second least loaded (if `has_second`)",
            ),
            RegField::bits("second_load", 24, 8, "its load"),
        ],
        "replicas the last search found",
    );
    /// Search duration.
    pub const SEARCH_CYCLES: RegSpec = reg(
        "search_cycles",
        0x2C,
        Ro,
        0,
        &[],
        "cycles from the start of the last search to its result",
    );
    const fn quarantine(name: &'static str, offset: u32, doc: &'static str) -> RegSpec {
        reg(name, offset, Ro, 0, &[], doc)
    }
    /// Quarantined nodes 0..31.
    pub const QUARANTINE_0: RegSpec = quarantine("quarantine_0", 0x30, "quarantined nodes 0..31 (bit n = node n); set and cleared only by control messages from the mesh, never by this host");
    /// Quarantined nodes 32..63.
    pub const QUARANTINE_1: RegSpec = quarantine("quarantine_1", 0x34, "quarantined nodes 32..63");
    /// Quarantined nodes 64..95.
    pub const QUARANTINE_2: RegSpec = quarantine("quarantine_2", 0x38, "quarantined nodes 64..95");
    /// Quarantined nodes 96..127.
    pub const QUARANTINE_3: RegSpec = quarantine("quarantine_3", 0x3C, "quarantined nodes 96..127");
    /// Quarantined nodes 128..159.
    pub const QUARANTINE_4: RegSpec =
        quarantine("quarantine_4", 0x40, "quarantined nodes 128..159");
    /// Quarantined nodes 160..191.
    pub const QUARANTINE_5: RegSpec =
        quarantine("quarantine_5", 0x44, "quarantined nodes 160..191");
    /// Quarantined nodes 192..223.
    pub const QUARANTINE_6: RegSpec =
        quarantine("quarantine_6", 0x48, "quarantined nodes 192..223");
    /// Quarantined nodes 224..255.
    pub const QUARANTINE_7: RegSpec =
        quarantine("quarantine_7", 0x4C, "quarantined nodes 224..255");
    const fn counter(name: &'static str, offset: u32, doc: &'static str) -> RegSpec {
        reg(name, offset, Ro, 0, &[], doc)
    }
    /// Discovery requests received.
    pub const DISCOVERY_SEEN: RegSpec = counter(
        "discovery_seen_total",
        0x50,
        "discovery requests that reached this endpoint (consumed here, never shown to the host)",
    );
    /// Answers sent.
    pub const DISCOVERY_ANSWERED: RegSpec = counter(
        "discovery_answered_total",
        0x54,
        "discovery answers this endpoint sent",
    );
    /// Requests left unanswered.
    pub const DISCOVERY_SILENT: RegSpec = counter("discovery_silent_total", 0x58, "requests not answered: service absent, not accepting, load above the request's `max_load`, lease expired or quarantined");
    /// Answers not sent because one was still waiting.
    pub const DISCOVERY_BUSY: RegSpec = counter("discovery_busy_total", 0x5C, "requests dropped because the previous answer was still waiting to be sent (the searcher may ask again)");
    /// Answers the search engine took.
    pub const ANSWERS_ACCEPTED: RegSpec = counter(
        "answers_accepted_total",
        0x60,
        "discovery answers accepted by this node's search engine",
    );
    /// Answers the search engine refused.
    pub const ANSWERS_REJECTED: RegSpec = counter("answers_rejected_total", 0x64, "answers dropped: no search running, stale tag, other service, from outside the step's scope or from a quarantined node");
    /// Requests sent.
    pub const REQUESTS_SENT: RegSpec = counter(
        "requests_sent_total",
        0x68,
        "discovery requests this node's search engine sent (one per policy step tried)",
    );
    /// Packets addressed by a rule.
    pub const RULE_SENDS: RegSpec = counter(
        "rule_sends_total",
        0x6C,
        "`service_request` packets addressed by a reroute rule and sent",
    );
    /// Packets without a rule.
    pub const RULE_MISSES: RegSpec = counter("rule_misses_total", 0x70, "`service_request` packets dropped: no valid rule for the service (or service past the table)");
    /// Fail-overs.
    pub const FAILOVERS: RegSpec = counter(
        "failovers_total",
        0x74,
        "rules switched to their fallback on a refusal from the current replica",
    );
    /// Refusals sent.
    pub const NACKS_SENT: RegSpec = counter("nacks_sent_total", 0x78, "service packets refused here (service absent or not accepting, lease expired): dropped, a `nack` control message sent back");
    /// Quarantine drops.
    pub const QUARANTINE_DROPS: RegSpec = counter("quarantine_drops_total", 0x7C, "packets dropped for quarantine: sent by this host while quarantined, or received from a quarantined node");
    /// Malformed packets.
    pub const MALFORMED: RegSpec = counter("malformed_total", 0x80, "discovery or control packets of the wrong length or with an unknown opcode, and `discovery_answer` packets a host tried to send; dropped");
    /// Unknown services.
    pub const UNKNOWN_SERVICE: RegSpec = counter("unknown_service_total", 0x84, "discovery requests and service packets naming service 0 or a service past the presence table; dropped");
    /// Packets for a host whose lease ran out.
    pub const LEASE_DROPS: RegSpec = counter("lease_drops_total", 0x8C, "packets that would have gone to this host while its lease had run out (a dead host): dropped instead of waiting for RX descriptors, so that they never back up into the mesh; control messages still act");
    /// Last fail-over.
    pub const LAST_FAILOVER: RegSpec = reg(
        "last_failover",
        0x88,
        Ro,
        0,
        &[
            RegField::bits("service", 0, 8, "service whose rule switched last"),
            RegField::bits("from", 8, 8, "replica that refused"),
            RegField::bits("to", 16, 8, "replica the rule switched to"),
            RegField::bits(
                "none_left",
                24,
                1,
                "no fallback was left: the rule was invalidated",
            ),
        ],
        "the last rule fail-over",
    );
    /// All registers.
    pub const REGS: &[RegSpec] = &[
        CONFIG,
        LEASE_CYCLES,
        HEARTBEAT,
        STATUS,
        SEARCH_START,
        SEARCH_CONFIG,
        SEARCH_STATUS,
        SEARCH_RESULT,
        SEARCH_CYCLES,
        QUARANTINE_0,
        QUARANTINE_1,
        QUARANTINE_2,
        QUARANTINE_3,
        QUARANTINE_4,
        QUARANTINE_5,
        QUARANTINE_6,
        QUARANTINE_7,
        DISCOVERY_SEEN,
        DISCOVERY_ANSWERED,
        DISCOVERY_SILENT,
        DISCOVERY_BUSY,
        ANSWERS_ACCEPTED,
        ANSWERS_REJECTED,
        REQUESTS_SENT,
        RULE_SENDS,
        RULE_MISSES,
        FAILOVERS,
        NACKS_SENT,
        QUARANTINE_DROPS,
        MALFORMED,
        UNKNOWN_SERVICE,
        LAST_FAILOVER,
        LEASE_DROPS,
    ];
    /// The quarantine bitmap words, node 0 first.
    pub const QUARANTINE: [RegSpec; 8] = [
        QUARANTINE_0,
        QUARANTINE_1,
        QUARANTINE_2,
        QUARANTINE_3,
        QUARANTINE_4,
        QUARANTINE_5,
        QUARANTINE_6,
        QUARANTINE_7,
    ];

    /// The presence table.
    pub const PRESENCE: TableSpec = TableSpec {
        name: "presence",
        offset: 0x100,
        entries: SERVICE_ENTRIES,
        access: Rw,
        reset: 0,
        fields: &[
            RegField::bits("present", 0, 1, "this node hosts the service"),
            RegField::bits("accepting", 1, 1, "and takes new requests"),
            RegField::bits("load", 8, 8, "load level reported in answers (0 idle .. 255 full)"),
        ],
        doc: "service presence, indexed by service id; written by the node's runtime, read by the discovery responder and the request check",
    };
    /// The reroute rules.
    pub const RULES: TableSpec = TableSpec {
        name: "rules",
        offset: 0x200,
        entries: SERVICE_ENTRIES,
        access: Rw,
        reset: 0,
        fields: &[
            RegField::bits("valid", 0, 1, "the rule addresses `service_request` packets"),
            RegField::bits("use_fallback", 1, 1, "send to the fallback (set by hardware on fail-over)"),
            RegField::bits("has_fallback", 2, 1, "`fallback` names a replica"),
            RegField::bits("primary", 8, 8, "replica node"),
            RegField::bits("fallback", 16, 8, "replica used when the primary refuses or is quarantined"),
        ],
        doc: "reroute rule, indexed by service id: one 32-bit write changes a rule atomically; a node past the mesh is rejected (`rule_node`)",
    };
    /// The expanding-search policy.
    pub const POLICY: TableSpec = TableSpec {
        name: "policy",
        offset: 0x300,
        entries: SEARCH_STEPS,
        access: Rw,
        reset: crate::service::POLICY_RESET,
        fields: &[
            RegField::bits(
                "scope",
                0,
                6,
                "scope of this step's discovery request (header `scope` encoding)",
            ),
            RegField::bits(
                "area",
                6,
                1,
                "send the request as a multicast to group `node id` instead: the searcher's area, installed in the routers' group tables (`scope` unused)",
            ),
            RegField::bits(
                "timeout_cycles",
                8,
                24,
                "cycles to wait for a first answer before the next step",
            ),
        ],
        doc: "expanding-search steps, narrowest first, indexed by step",
    };
    /// All tables.
    pub const TABLES: &[TableSpec] = &[PRESENCE, RULES, POLICY];
}

/// Version of the register map as a whole (the ID block's `spec_version`).
pub const REGMAP_VERSION: BlockVersion = v(1, 3, 0);
/// Largest packet a TX descriptor may carry, header included.
pub const MAX_PACKET_BYTES_VALUE: u32 = 256;
/// Offset inside the router block where router word address 0 sits; router
/// word address `a` is at byte `ROUTER_CFG_OFFSET + 4 * a`.
pub const ROUTER_CFG_OFFSET: u32 = 0x100;

/// The global ID block.
pub const ID_BLOCK: BlockSpec = BlockSpec {
    name: "id",
    kind: 0x0010,
    version: v(1, 0, 0),
    span: 0x100,
    regs: id::REGS,
    tables: &[],
    doc: "global identification: register-map version, spec hash, node id, mesh shape",
};
/// Endpoint control.
pub const EP_CTRL_BLOCK: BlockSpec = BlockSpec {
    name: "ep_ctrl",
    kind: 0x0011,
    version: v(1, 0, 0),
    span: 0x100,
    regs: ep_ctrl::REGS,
    tables: &[],
    doc: "endpoint control and status, the node's DMA window",
};
/// TX ring.
pub const TX_RING_BLOCK: BlockSpec = BlockSpec {
    name: "tx_ring",
    kind: 0x0012,
    version: v(1, 0, 0),
    span: 0x100,
    regs: tx_ring::REGS,
    tables: &[],
    doc: "host-to-mesh descriptor ring: the host writes `producer`, the endpoint `consumer`",
};
/// RX ring.
pub const RX_RING_BLOCK: BlockSpec = BlockSpec {
    name: "rx_ring",
    kind: 0x0013,
    version: v(1, 0, 0),
    span: 0x100,
    regs: rx_ring::REGS,
    tables: &[],
    doc: "mesh-to-host descriptor ring: the endpoint writes `producer`, the host `consumer`",
};
/// Interrupts.
pub const IRQ_BLOCK: BlockSpec = BlockSpec {
    name: "irq",
    kind: 0x0014,
    version: v(1, 1, 0),
    span: 0x100,
    regs: irq::REGS,
    tables: &[],
    doc: "interrupt enables, status, moderation and poll mode",
};
/// Counters.
pub const COUNTERS_BLOCK: BlockSpec = BlockSpec {
    name: "counters",
    kind: 0x0015,
    version: v(1, 1, 0),
    span: 0x100,
    regs: counters::REGS,
    tables: &[],
    doc: "packet, byte, drop and per-cause error counters (wrap at 2^32)",
};
/// Error info.
pub const ERROR_BLOCK: BlockSpec = BlockSpec {
    name: "error",
    kind: 0x0016,
    version: v(1, 0, 0),
    span: 0x100,
    regs: error::REGS,
    tables: &[],
    doc: "the last error: cause, where, offending value",
};
/// Services: presence, rules, search, quarantine.
pub const SERVICE_BLOCK: BlockSpec = BlockSpec {
    name: "service",
    kind: 0x0017,
    version: v(1, 2, 0),
    span: 0x800,
    regs: service::REGS,
    tables: service::TABLES,
    doc: "replicated services: presence table, reroute rules, expanding search, quarantine (`services.md`)",
};
/// The router's configuration registers, reached through the node's window.
pub const ROUTER_BLOCK: BlockSpec = BlockSpec {
    name: "router",
    kind: 0x0001,
    version: v(1, 1, 0),
    span: 0x2000,
    regs: &[],
    tables: &[],
    doc: "this node's router: its configuration registers (`router-registers.md`) at `0x100 + 4 * word address`, route table bank 0 from `0x100 + 4 * 0x100`, bank 1 from `0x100 + 4 * 0x300`",
};

/// A block placed in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlacedBlock {
    /// The block.
    pub spec: &'static BlockSpec,
    /// Window offset of its header.
    pub base: u32,
    /// Window offset of the next block; 0 ends the chain.
    pub next: u32,
}

const fn place(spec: &'static BlockSpec, base: u32, next: u32) -> PlacedBlock {
    PlacedBlock { spec, base, next }
}

/// One node's window, in chain order: the ID block first.
pub const NODE_WINDOW: &[PlacedBlock] = &[
    place(&ID_BLOCK, 0x0000, 0x0100),
    place(&EP_CTRL_BLOCK, 0x0100, 0x0200),
    place(&TX_RING_BLOCK, 0x0200, 0x0300),
    place(&RX_RING_BLOCK, 0x0300, 0x0400),
    place(&IRQ_BLOCK, 0x0400, 0x0500),
    place(&COUNTERS_BLOCK, 0x0500, 0x0600),
    place(&ERROR_BLOCK, 0x0600, 0x0800),
    place(&SERVICE_BLOCK, 0x0800, 0x1000),
    place(&ROUTER_BLOCK, 0x1000, 0),
];

/// The placement of `spec` in the window.
pub fn placed(spec: &BlockSpec) -> Option<&'static PlacedBlock> {
    NODE_WINDOW.iter().find(|p| p.spec.kind == spec.kind)
}

/// The window offset of router word address `addr`.
pub const fn router_window_offset(router_base: u32, addr: u32) -> u32 {
    router_base + ROUTER_CFG_OFFSET + 4 * addr
}

/// Router registers as they appear inside the router block: (byte offset in
/// block, register). The route table follows at [`ROUTE_TABLE_BASE`].
pub fn router_block_regs() -> impl Iterator<Item = (u32, &'static RouterReg)> {
    ROUTER_REGS
        .iter()
        .map(|r| (ROUTER_CFG_OFFSET + 4 * r.addr, r))
}

// ---------------------------------------------------------------------------
// Descriptors in host memory.

/// One field of a descriptor: byte offset and size, little-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DescField {
    /// Name.
    pub name: &'static str,
    /// Byte offset.
    pub offset: u32,
    /// Bytes (4 or 8).
    pub bytes: u32,
    /// Who writes it and what it means.
    pub doc: &'static str,
}

/// Bytes of a TX or RX descriptor.
pub const DESC_BYTES: u32 = 16;

/// TX descriptor fields.
pub const TX_DESC: &[DescField] = &[
    DescField {
        name: "addr",
        offset: 0,
        bytes: 8,
        doc: "host: IOVA of the packet (header words, then 8-byte payload flits)",
    },
    DescField {
        name: "len",
        offset: 8,
        bytes: 4,
        doc: "host: packet bytes, header included; a multiple of 8, at most `max_packet_bytes`",
    },
    DescField {
        name: "status",
        offset: 12,
        bytes: 4,
        doc: "endpoint: completion, bit 31 done, bits 7..0 error cause (0 = sent)",
    },
];

/// RX descriptor fields.
pub const RX_DESC: &[DescField] = &[
    DescField {
        name: "addr",
        offset: 0,
        bytes: 8,
        doc: "host: IOVA of an empty buffer",
    },
    DescField {
        name: "len",
        offset: 8,
        bytes: 4,
        doc: "host: buffer bytes; endpoint: packet bytes written, header included",
    },
    DescField {
        name: "status",
        offset: 12,
        bytes: 4,
        doc: "endpoint: completion, bit 31 done, bits 7..0 error cause (0 = received)",
    },
];

/// The `done` bit of a descriptor's status word.
pub const DESC_STATUS_DONE: u32 = 1 << 31;

/// Bytes of the packet header at the start of a packet buffer.
pub const PACKET_HEADER_BYTES: u32 = 8;

// ---------------------------------------------------------------------------
// Hash and checks.

/// Version word of the register map as a whole.
pub const fn regmap_version_word() -> u32 {
    REGMAP_VERSION.word()
}

fn fnv(mut h: u32, bytes: &[u8]) -> u32 {
    for b in bytes {
        h ^= *b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// FNV-1a hash over every placed block, register, field and descriptor field
/// (names, offsets, access, reset values): two builds with the same hash
/// agree on the whole map.
pub fn spec_hash() -> u32 {
    let mut h = 0x811C_9DC5;
    for p in NODE_WINDOW {
        let b = p.spec;
        h = fnv(h, b.name.as_bytes());
        for w in [b.type_word(), b.version.word(), p.base, p.next, b.span] {
            h = fnv(h, &w.to_le_bytes());
        }
        for r in b.regs {
            h = fnv(h, r.name.as_bytes());
            h = fnv(h, &r.offset.to_le_bytes());
            h = fnv(h, r.access.name().as_bytes());
            match r.reset {
                Reset::Value(x) | Reset::Constant(x) => h = fnv(h, &x.to_le_bytes()),
                Reset::Generated(s) => h = fnv(h, s.as_bytes()),
            }
            for f in r.fields {
                h = fnv(h, f.name.as_bytes());
                h = fnv(h, &[f.lsb as u8, f.width as u8]);
            }
        }
        for t in b.tables {
            h = fnv(h, t.name.as_bytes());
            for w in [t.offset, t.entries, t.reset] {
                h = fnv(h, &w.to_le_bytes());
            }
            h = fnv(h, t.access.name().as_bytes());
            for f in t.fields {
                h = fnv(h, f.name.as_bytes());
                h = fnv(h, &[f.lsb as u8, f.width as u8]);
            }
        }
    }
    for (_, r) in router_block_regs() {
        h = fnv(h, r.name.as_bytes());
        h = fnv(h, &r.addr.to_le_bytes());
    }
    h = fnv(h, &ROUTE_TABLE_BASE.to_le_bytes());
    h = fnv(h, &ROUTE_TABLE_BANK1_BASE.to_le_bytes());
    for f in TX_DESC.iter().chain(RX_DESC) {
        h = fnv(h, f.name.as_bytes());
        h = fnv(h, &[f.offset as u8, f.bytes as u8]);
    }
    h
}

/// What is wrong with the register map.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegmapError {
    /// Two registers of a block overlap, or one overlaps the header.
    RegisterOverlap(&'static str, &'static str),
    /// A register lies outside its block or is misaligned.
    RegisterOutOfBlock(&'static str, &'static str),
    /// A field does not fit its register, or two fields overlap.
    BadField(&'static str, &'static str),
    /// Two blocks overlap or one runs past the window.
    BlockOverlap(&'static str),
    /// The chain's next pointers do not visit the blocks in order and end.
    BrokenChain(&'static str),
    /// Two blocks share a kind.
    DuplicateKind(&'static str),
}

impl core::fmt::Display for RegmapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RegmapError::RegisterOverlap(b, r) => write!(
                f,
                "register {b}.{r} overlaps another register or the block header"
            ),
            RegmapError::RegisterOutOfBlock(b, r) => {
                write!(f, "register {b}.{r} is misaligned or outside its block")
            }
            RegmapError::BadField(r, fl) => {
                write!(f, "field {r}.{fl} does not fit or overlaps another field")
            }
            RegmapError::BlockOverlap(b) => write!(
                f,
                "block {b} overlaps another block or runs past the window"
            ),
            RegmapError::BrokenChain(b) => write!(f, "block chain is broken at {b}"),
            RegmapError::DuplicateKind(b) => {
                write!(f, "block {b} shares its kind with another block")
            }
        }
    }
}

impl std::error::Error for RegmapError {}

/// Checks a window layout: registers aligned, inside their block, past the
/// header and disjoint; fields fit and are disjoint; blocks disjoint, inside
/// the window; next pointers visit every block once, in order, and end at 0.
pub fn validate_window(window: &[PlacedBlock]) -> Result<(), RegmapError> {
    for (i, p) in window.iter().enumerate() {
        let b = p.spec;
        for (j, r) in b.regs.iter().enumerate() {
            if r.offset % 4 != 0 || r.offset + 4 > b.span {
                return Err(RegmapError::RegisterOutOfBlock(b.name, r.name));
            }
            if r.offset < BLOCK_HEADER_BYTES {
                return Err(RegmapError::RegisterOverlap(b.name, r.name));
            }
            if b.regs[j + 1..].iter().any(|o| o.offset == r.offset) {
                return Err(RegmapError::RegisterOverlap(b.name, r.name));
            }
            let mut used = 0u32;
            for f in r.fields {
                if f.width == 0 || f.lsb + f.width > 32 || used & f.mask() != 0 {
                    return Err(RegmapError::BadField(r.name, f.name));
                }
                used |= f.mask();
            }
        }
        for (j, t) in b.tables.iter().enumerate() {
            if t.offset % 4 != 0 || t.offset < BLOCK_HEADER_BYTES || t.offset + t.bytes() > b.span {
                return Err(RegmapError::RegisterOutOfBlock(b.name, t.name));
            }
            let hits = |lo: u32, hi: u32| t.offset < hi && lo < t.offset + t.bytes();
            if b.regs.iter().any(|r| hits(r.offset, r.offset + 4))
                || b.tables[j + 1..]
                    .iter()
                    .any(|o| hits(o.offset, o.offset + o.bytes()))
            {
                return Err(RegmapError::RegisterOverlap(b.name, t.name));
            }
            let mut used = 0u32;
            for f in t.fields {
                if f.width == 0 || f.lsb + f.width > 32 || used & f.mask() != 0 {
                    return Err(RegmapError::BadField(t.name, f.name));
                }
                used |= f.mask();
            }
        }
        if p.base % 4 != 0 || p.base as u64 + b.span as u64 > NODE_WINDOW_BYTES as u64 {
            return Err(RegmapError::BlockOverlap(b.name));
        }
        for o in &window[i + 1..] {
            if o.spec.kind == b.kind {
                return Err(RegmapError::DuplicateKind(o.spec.name));
            }
            if p.base < o.base + o.spec.span && o.base < p.base + b.span {
                return Err(RegmapError::BlockOverlap(o.spec.name));
            }
        }
        let want_next = window.get(i + 1).map_or(0, |n| n.base);
        if p.next != want_next || (i == 0 && p.base != 0) {
            return Err(RegmapError::BrokenChain(b.name));
        }
    }
    Ok(())
}

/// Checks [`NODE_WINDOW`], and that the router's registers fit its block.
pub fn validate_regmap() -> Result<(), RegmapError> {
    validate_window(NODE_WINDOW)?;
    let router = placed(&ROUTER_BLOCK).ok_or(RegmapError::BrokenChain("router"))?;
    let table_end = ROUTER_CFG_OFFSET + 4 * (ROUTE_TABLE_BANK1_BASE + 256);
    if table_end > router.spec.span {
        return Err(RegmapError::RegisterOutOfBlock("router", "route_tbl"));
    }
    if NODE_WINDOW[0].spec.kind != ID_BLOCK.kind {
        return Err(RegmapError::BrokenChain("id"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_register_map_is_consistent() {
        assert_eq!(validate_regmap(), Ok(()));
    }

    #[test]
    fn validate_catches_overlap_loops_and_bad_fields() {
        static OVERLAP: BlockSpec = BlockSpec {
            regs: &[
                reg("a", 0x0C, Rw, 0, &[], ""),
                reg("b", 0x0C, Rw, 0, &[], ""),
            ],
            ..ID_BLOCK
        };
        assert_eq!(
            validate_window(&[place(&OVERLAP, 0, 0)]),
            Err(RegmapError::RegisterOverlap("id", "a"))
        );
        static IN_HEADER: BlockSpec = BlockSpec {
            regs: &[reg("a", 0x08, Rw, 0, &[], "")],
            ..ID_BLOCK
        };
        assert!(validate_window(&[place(&IN_HEADER, 0, 0)]).is_err());
        static FIELD: BlockSpec = BlockSpec {
            regs: &[reg("a", 0x0C, Rw, 0, &[RegField::bits("f", 30, 4, "")], "")],
            ..ID_BLOCK
        };
        assert_eq!(
            validate_window(&[place(&FIELD, 0, 0)]),
            Err(RegmapError::BadField("a", "f"))
        );
        // Chains that loop, stop early or run on are rejected.
        let good = [place(&ID_BLOCK, 0, 0x100), place(&EP_CTRL_BLOCK, 0x100, 0)];
        assert_eq!(validate_window(&good), Ok(()));
        let mut looping = good;
        looping[1].next = looping[1].base; // points at itself
        assert_eq!(
            validate_window(&looping),
            Err(RegmapError::BrokenChain("ep_ctrl"))
        );
        let mut early = good;
        early[0].next = 0;
        assert_eq!(validate_window(&early), Err(RegmapError::BrokenChain("id")));
        let overlapping = [place(&ID_BLOCK, 0, 0x80), place(&EP_CTRL_BLOCK, 0x80, 0)];
        assert_eq!(
            validate_window(&overlapping),
            Err(RegmapError::BlockOverlap("ep_ctrl"))
        );
    }

    #[test]
    fn the_hash_changes_with_the_map() {
        let h = spec_hash();
        assert_eq!(h, spec_hash());
        assert_ne!(h, fnv(h, b"x"));
    }

    #[test]
    fn cause_counters_follow_cause_order() {
        for c in ErrorCause::ALL {
            assert_eq!(
                counters::for_cause(c).name,
                format!("err_{}_total", c.name())
            );
        }
    }
}
