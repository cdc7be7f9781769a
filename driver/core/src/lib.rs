//! replimesh-driver: what every backend shares.
//!
//! - [`Device`]: the one interface a backend implements (Verilator model or
//!   VFIO): 32-bit registers at [`BarOffset`]s, DMA memory at [`Iova`]s that
//!   is only ever copied in and out, interrupt [`Event`]s, and time.
//! - [`BlockMap`]: the defensive walk over the self-describing register
//!   blocks; [`probe`] refuses a card of another major version or spec hash.
//! - [`Endpoint`]: TX/RX rings in host memory with batched doorbells.
//! - [`fake::FakeCard`]: a heap-backed reference model of one endpoint in
//!   loopback, for unit tests of everything above the trait.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod blocks;
mod device;
pub mod endpoint;
mod error;
pub mod fake;
pub mod ring;
pub mod services;

pub use blocks::{read_checked, BlockMap, FoundBlock};
pub use device::{Device, DmaRegion, Event};
pub use endpoint::{
    probe, CardInfo, Counters, Endpoint, EndpointConfig, LastError, QueueStats, Received,
};
pub use error::DriverError;
pub use replimesh_regs::{BarOffset, Iova};
pub use services::{Presence, Rule, SearchStatus, SearchStep, ServiceId};
