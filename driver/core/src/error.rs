//! The driver's one error type.

use replimesh_regs::{BarOffset, HeaderError, Iova};
use replimesh_spec::BlockVersion;

/// Everything that can go wrong between the host and its endpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// A register read returned all-ones: the card is gone or being
    /// reprogrammed. The value is never acted on.
    #[error("device gone: register read at {offset} returned 0xffffffff (card removed, reset or being reprogrammed)")]
    DeviceGone {
        /// Where the read happened.
        offset: BarOffset,
    },
    /// An access past the BAR window.
    #[error("register offset {offset} is outside the {window_bytes:#x}-byte BAR window")]
    OutOfWindow {
        /// Offset asked for.
        offset: BarOffset,
        /// Window size.
        window_bytes: u64,
    },
    /// The first block is not the global ID block.
    #[error(
        "no replimesh ID block at offset 0 (found type {found:#010x}): not a replimesh bitstream"
    )]
    NotReplimesh {
        /// Type word found.
        found: u32,
    },
    /// The block chain points outside the window or is misaligned.
    #[error("register block chain leaves the window: block at {at} points to {next:#x}")]
    ChainOutOfWindow {
        /// Block holding the bad pointer.
        at: BarOffset,
        /// The pointer.
        next: u32,
    },
    /// The block chain visits a block twice.
    #[error("register block chain loops: block at {at} points back to {next:#x}")]
    ChainLoop {
        /// Block holding the pointer.
        at: BarOffset,
        /// The pointer.
        next: u32,
    },
    /// No block of this type, major version and index.
    #[error("register block {type_word:#010x} v{major} #{index} not found")]
    BlockNotFound {
        /// Type word.
        type_word: u32,
        /// Major version.
        major: u8,
        /// Index among blocks of that type.
        index: usize,
    },
    /// The card speaks another major version of a block or of the map.
    #[error("{what} version {found} is incompatible with this driver's {supported}: load a bitstream and driver built from the same replimesh release")]
    IncompatibleVersion {
        /// Block name, or "register map".
        what: &'static str,
        /// Version on the card.
        found: BlockVersion,
        /// Version this driver was built for.
        supported: BlockVersion,
    },
    /// The card's spec hash differs from the driver's.
    #[error("register map hash {found:#010x} differs from this driver's {expected:#010x}: bitstream and driver were built from different register maps")]
    SpecHashMismatch {
        /// Hash on the card.
        found: u32,
        /// Hash the driver was built with.
        expected: u32,
    },
    /// A DMA access outside its region.
    #[error("dma access of {len} bytes at offset {offset:#x} is outside the {region_bytes}-byte region at iova {iova}")]
    DmaOutOfRange {
        /// Region's IOVA.
        iova: Iova,
        /// Offset asked for.
        offset: usize,
        /// Bytes asked for.
        len: usize,
        /// Region size.
        region_bytes: usize,
    },
    /// DMA memory could not be allocated or mapped.
    #[error("cannot allocate {bytes} bytes of dma memory: {reason}")]
    DmaAlloc {
        /// Bytes asked for.
        bytes: usize,
        /// Why.
        reason: String,
    },
    /// The TX ring has no free descriptor (back off and retry).
    #[error("tx ring full ({size} descriptors in flight)")]
    RingFull {
        /// Ring size.
        size: u32,
    },
    /// The endpoint reported a ring index that cannot be right.
    #[error("{ring} ring: endpoint reported index {index}, outside the ring of {size} or behind the host's; not acted on")]
    BadDeviceIndex {
        /// Which ring.
        ring: &'static str,
        /// Index reported.
        index: u32,
        /// Ring size.
        size: u32,
    },
    /// A completed RX descriptor holds an impossible length.
    #[error(
        "rx descriptor {index} completed with length {len} (buffer {capacity} bytes); not acted on"
    )]
    BadCompletion {
        /// Descriptor index.
        index: u32,
        /// Length reported.
        len: u32,
        /// Buffer size.
        capacity: u32,
    },
    /// A packet longer than the endpoint takes.
    #[error("packet of {bytes} bytes exceeds the endpoint's maximum of {max}")]
    PacketTooLarge {
        /// Bytes.
        bytes: usize,
        /// Maximum.
        max: u32,
    },
    /// A ring configuration the endpoint does not support.
    #[error("ring size {0} is not a power of two in 2..=1024")]
    BadRingSize(u32),
    /// A header that cannot be encoded or decoded.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// Nothing happened within the time given.
    #[error("timed out after {cycles} cycles waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: &'static str,
        /// Cycles waited.
        cycles: u64,
    },
    /// A service id outside 1..=63.
    #[error("service id {0} is out of range: services are 1..=63 (0 means none)")]
    BadServiceId(u32),
    /// A node id past the mesh.
    #[error("node {node} is not on this card ({nodes} nodes)")]
    BadNode {
        /// Node asked for.
        node: u8,
        /// Nodes on the card.
        nodes: u32,
    },
    /// A search policy the card cannot run.
    #[error("bad search policy: {0}")]
    BadPolicy(String),
    /// A search is already running on this endpoint.
    #[error("a search is already running on this endpoint; wait for its result")]
    SearchRunning,
    /// The backend failed (VFIO syscall, simulator).
    #[error("{backend} backend: {message}")]
    Backend {
        /// Backend name.
        backend: &'static str,
        /// What failed, with the fix where one is known.
        message: String,
    },
}
