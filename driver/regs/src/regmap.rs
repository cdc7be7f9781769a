//! Typed handles on the host-interface register map and the ring descriptor
//! layouts. Offsets come from `replimesh_spec::regmap`'s tables, never from
//! literals here: a [`Reg`] names a block and a register spec, and the driver
//! adds the block's base, found by walking the chain.

use core::fmt;
use replimesh_spec::regmap::{self as spec, BlockSpec, RegSpec, DESC_BYTES, RX_DESC, TX_DESC};
use zerocopy::byteorder::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// A byte offset inside a device's BAR window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BarOffset(pub u64);

/// An I/O virtual address: where the device sees host memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Iova(pub u64);

impl fmt::Display for BarOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Display for Iova {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl BarOffset {
    /// `self + bytes`.
    pub const fn add(self, bytes: u32) -> BarOffset {
        BarOffset(self.0 + bytes as u64)
    }
}

impl Iova {
    /// `self + bytes`.
    pub const fn add(self, bytes: u64) -> Iova {
        Iova(self.0 + bytes)
    }
}

/// A register: the block it lives in and its spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reg {
    /// Block.
    pub block: &'static BlockSpec,
    /// Register.
    pub spec: &'static RegSpec,
}

impl Reg {
    /// The register's window offset given its block's base.
    pub const fn at(&self, block_base: BarOffset) -> BarOffset {
        block_base.add(self.spec.offset)
    }
    /// `block.register`, for messages.
    pub fn name(&self) -> String {
        format!("{}.{}", self.block.name, self.spec.name)
    }
}

macro_rules! regs {
    ($block:expr, $module:ident { $($name:ident = $reg:ident),* $(,)? }) => {
        $(
            #[doc = concat!("`", stringify!($module), ".", stringify!($reg), "`")]
            pub const $name: Reg = Reg { block: &$block, spec: &spec::$module::$reg };
        )*
    };
}

regs!(spec::ID_BLOCK, id {
    ID_SPEC_VERSION = SPEC_VERSION,
    ID_SPEC_HASH = SPEC_HASH,
    ID_NODE_ID = NODE_ID,
    ID_MESH_SHAPE = MESH_SHAPE,
    ID_SCRATCH = SCRATCH,
});
regs!(spec::EP_CTRL_BLOCK, ep_ctrl {
    EP_CONTROL = CONTROL,
    EP_STATUS = STATUS,
    EP_MAX_PACKET_BYTES = MAX_PACKET_BYTES,
    EP_DMA_BASE_LO = DMA_BASE_LO,
    EP_DMA_BASE_HI = DMA_BASE_HI,
    EP_DMA_SIZE = DMA_SIZE,
});
regs!(spec::TX_RING_BLOCK, tx_ring {
    TX_BASE_LO = BASE_LO,
    TX_BASE_HI = BASE_HI,
    TX_SIZE = SIZE,
    TX_PRODUCER = PRODUCER,
    TX_CONSUMER = CONSUMER,
    TX_MIRROR_LO = MIRROR_LO,
    TX_MIRROR_HI = MIRROR_HI,
});
regs!(spec::RX_RING_BLOCK, rx_ring {
    RX_BASE_LO = BASE_LO,
    RX_BASE_HI = BASE_HI,
    RX_SIZE = SIZE,
    RX_PRODUCER = PRODUCER,
    RX_CONSUMER = CONSUMER,
    RX_MIRROR_LO = MIRROR_LO,
    RX_MIRROR_HI = MIRROR_HI,
});
regs!(spec::IRQ_BLOCK, irq {
    IRQ_ENABLE = ENABLE,
    IRQ_STATUS = STATUS,
    IRQ_MOD_COUNT = MOD_COUNT,
    IRQ_MOD_CYCLES = MOD_CYCLES,
    IRQ_POLL_MODE = POLL_MODE,
    IRQ_RAISED_TOTAL = RAISED_TOTAL,
    IRQ_LINK_UP = LINK_UP,
    IRQ_LINK_EVENTS = LINK_EVENTS_TOTAL,
});
regs!(spec::COUNTERS_BLOCK, counters {
    CNT_TX_PACKETS = TX_PACKETS,
    CNT_TX_BYTES = TX_BYTES,
    CNT_RX_PACKETS = RX_PACKETS,
    CNT_RX_BYTES = RX_BYTES,
    CNT_RX_DROPS = RX_DROPS,
});
regs!(spec::ERROR_BLOCK, error {
    ERR_CAUSE = CAUSE,
    ERR_INFO = INFO,
    ERR_VALUE_LO = VALUE_LO,
    ERR_VALUE_HI = VALUE_HI,
});

regs!(spec::SERVICE_BLOCK, service {
    SVC_CONFIG = CONFIG,
    SVC_LEASE_CYCLES = LEASE_CYCLES,
    SVC_HEARTBEAT = HEARTBEAT,
    SVC_STATUS = STATUS,
    SVC_SEARCH_START = SEARCH_START,
    SVC_SEARCH_CONFIG = SEARCH_CONFIG,
    SVC_SEARCH_STATUS = SEARCH_STATUS,
    SVC_SEARCH_RESULT = SEARCH_RESULT,
    SVC_SEARCH_CYCLES = SEARCH_CYCLES,
    SVC_LAST_FAILOVER = LAST_FAILOVER,
});

/// An entry of a register table: the block, the table and the index,
/// checked against the table's size when made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableReg {
    /// Block.
    pub block: &'static BlockSpec,
    /// Table.
    pub table: &'static spec::TableSpec,
    /// Entry.
    pub index: u32,
}

impl TableReg {
    /// Entry `index` of `table` in `block`; `None` past the table's end.
    pub fn new(
        block: &'static BlockSpec,
        table: &'static spec::TableSpec,
        index: u32,
    ) -> Option<Self> {
        table.entry(index).map(|_| TableReg {
            block,
            table,
            index,
        })
    }
    /// The entry's window offset given its block's base.
    pub fn at(&self, block_base: BarOffset) -> BarOffset {
        block_base.add(self.table.offset + 4 * self.index)
    }
    /// `block.table[index]`, for messages.
    pub fn name(&self) -> String {
        format!("{}.{}[{}]", self.block.name, self.table.name, self.index)
    }
}

/// Every register of the service block (counters included), by name.
pub fn service_regs() -> impl Iterator<Item = Reg> {
    spec::service::REGS.iter().map(|r| Reg {
        block: &spec::SERVICE_BLOCK,
        spec: r,
    })
}

/// The service-block register named `name` (as in the spec), if any.
pub fn service_reg(name: &str) -> Option<Reg> {
    service_regs().find(|r| r.spec.name == name)
}

/// The per-cause error counter of `cause`.
pub fn error_counter(cause: spec::ErrorCause) -> Reg {
    let name = spec::counters::for_cause(cause).name;
    let spec = spec::counters::REGS
        .iter()
        .find(|r| r.name == name)
        .expect("every cause has a counter (checked by replimesh-spec's tests)");
    Reg {
        block: &spec::COUNTERS_BLOCK,
        spec,
    }
}

/// A TX descriptor as it sits in host memory.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct TxDesc {
    /// IOVA of the packet.
    pub addr: U64,
    /// Packet bytes, header included.
    pub len: U32,
    /// Completion written by the endpoint.
    pub status: U32,
}

/// An RX descriptor as it sits in host memory.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct RxDesc {
    /// IOVA of the buffer.
    pub addr: U64,
    /// Buffer bytes (host), then packet bytes (endpoint).
    pub len: U32,
    /// Completion written by the endpoint.
    pub status: U32,
}

const fn field_offset(fields: &[spec::DescField], name: &str) -> u32 {
    let mut i = 0;
    while i < fields.len() {
        if const_str_eq(fields[i].name, name) {
            return fields[i].offset;
        }
        i += 1;
    }
    u32::MAX
}

const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

// The Rust layouts must be the spec's layouts.
const _: () = assert!(core::mem::size_of::<TxDesc>() == DESC_BYTES as usize);
const _: () = assert!(core::mem::size_of::<RxDesc>() == DESC_BYTES as usize);
const _: () = assert!(core::mem::offset_of!(TxDesc, addr) as u32 == field_offset(TX_DESC, "addr"));
const _: () = assert!(core::mem::offset_of!(TxDesc, len) as u32 == field_offset(TX_DESC, "len"));
const _: () =
    assert!(core::mem::offset_of!(TxDesc, status) as u32 == field_offset(TX_DESC, "status"));
const _: () = assert!(core::mem::offset_of!(RxDesc, addr) as u32 == field_offset(RX_DESC, "addr"));
const _: () = assert!(core::mem::offset_of!(RxDesc, len) as u32 == field_offset(RX_DESC, "len"));
const _: () =
    assert!(core::mem::offset_of!(RxDesc, status) as u32 == field_offset(RX_DESC, "status"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_register_has_a_handle_with_its_offset() {
        let all = [
            ID_SPEC_VERSION,
            ID_SPEC_HASH,
            ID_NODE_ID,
            ID_MESH_SHAPE,
            ID_SCRATCH,
            EP_CONTROL,
            EP_STATUS,
            EP_MAX_PACKET_BYTES,
            EP_DMA_BASE_LO,
            EP_DMA_BASE_HI,
            EP_DMA_SIZE,
            TX_BASE_LO,
            TX_BASE_HI,
            TX_SIZE,
            TX_PRODUCER,
            TX_CONSUMER,
            TX_MIRROR_LO,
            TX_MIRROR_HI,
            RX_BASE_LO,
            RX_BASE_HI,
            RX_SIZE,
            RX_PRODUCER,
            RX_CONSUMER,
            RX_MIRROR_LO,
            RX_MIRROR_HI,
            IRQ_ENABLE,
            IRQ_STATUS,
            IRQ_MOD_COUNT,
            IRQ_MOD_CYCLES,
            IRQ_POLL_MODE,
            IRQ_RAISED_TOTAL,
            IRQ_LINK_UP,
            IRQ_LINK_EVENTS,
        ];
        for r in all {
            assert!(r.block.regs.contains(r.spec), "{}", r.name());
        }
        assert_eq!(TX_PRODUCER.at(BarOffset(0x200)), BarOffset(0x218));
        for c in spec::ErrorCause::ALL {
            assert!(error_counter(c).spec.name.contains(c.name()));
        }
    }

    #[test]
    fn descriptors_round_trip_through_bytes() {
        let d = TxDesc {
            addr: U64::new(0x1122_3344_5566_7788),
            len: U32::new(24),
            status: U32::new(0),
        };
        let bytes = d.as_bytes();
        assert_eq!(&bytes[..8], &0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(TxDesc::read_from_bytes(bytes).unwrap(), d);
    }
}
