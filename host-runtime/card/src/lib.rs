//! replimesh-card: bring-up helpers for a card running a replimesh bitstream.
//!
//! - [`load`]: program a board with openFPGALoader (after checking the
//!   bitstream against `bitstreams/manifest.json`);
//! - [`bind`]: hand a PCI function to vfio-pci, refusing when the IOMMU is off
//!   or the IOMMU group is shared with a device bound to a host driver;
//! - [`info`]: read the card's ID through VFIO and compare it with the manifest.
//!
//! Every refusal is a [`CardError`] whose message names the fix.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bind;
mod error;
pub mod info;
pub mod load;

pub use bind::{parse_bdf, BindPlan, Sysfs, SysfsWrite};
pub use error::CardError;
pub use info::{cfg_offset, read_info, CardInfo, RegRead};
