//! replimesh-vfio: the Linux VFIO backend.
//!
//! Opens a PCI device bound to `vfio-pci`, maps its BARs, allocates IOMMU-mapped DMA buffers and
//! waits for MSI interrupts through an eventfd. It uses `vfio-ioctls` without hypervisor
//! features (no KVM needed; see `docs/adr/0004-vfio-ioctls-without-kvm.md`) and the legacy
//! container/group API.
//!
//! ```no_run
//! use std::time::Duration;
//! use replimesh_vfio::{BarOffset, Iova, VfioDevice};
//!
//! # fn main() -> Result<(), replimesh_vfio::VfioError> {
//! let mut dev = VfioDevice::open("0000:01:00.0")?; // bus mastering is enabled here
//! let regs = dev.bar(0)?;
//! let id = regs.read32(BarOffset(0x00))?; // all-ones would be VfioError::DeviceGone
//! let ring = dev.alloc_dma(4096, Iova(0x10_0000))?; // unmapped again on drop
//! ring.write(0, &id.to_le_bytes())?;
//! dev.enable_msi()?;
//! let fired = dev.wait_irq(Duration::from_millis(100))?;
//! # let _ = fired; Ok(()) }
//! ```
//!
//! [`VfioNode`] puts one node's BAR window behind the driver's `Device` trait, so the same
//! queue layer runs here and on the Verilator model.
//!
//! Layout: `sys` is the syscall seam and the only module with `unsafe`; `device`, `bar` and
//! `dma` hold the logic and are unit-tested against `fake` (under `cfg(test)`).
#![deny(missing_docs)]
#![deny(unsafe_code)]
#![deny(
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks,
    clippy::multiple_unsafe_ops_per_block
)]

mod bar;
mod device;
mod dma;
mod error;
#[cfg(test)]
mod fake;
mod node;
#[allow(unsafe_code)]
mod sys;

pub use bar::Bar;
pub use device::VfioDevice;
pub use dma::DmaBuffer;
pub use error::{GroupMember, VfioError};
pub use node::VfioNode;
/// I/O virtual addresses and BAR offsets are the driver's newtypes, shared by every backend.
pub use replimesh_driver::{BarOffset, Iova};
