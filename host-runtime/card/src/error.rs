//! The bring-up helpers' one error type: each refusal names its fix.

use std::path::PathBuf;

/// Why a bring-up step refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    /// The PCI address is not of the form `DDDD:BB:DD.F` (or `BB:DD.F`).
    #[error(
        "'{0}' is not a PCI address: use DDDD:BB:DD.F (e.g. 0000:01:00.0), as `lspci -D` prints it"
    )]
    BadBdf(String),
    /// No such device in sysfs.
    #[error("no PCI device {bdf} ({} does not exist): check `lspci -D`", path.display())]
    DeviceAbsent {
        /// The address.
        bdf: String,
        /// The sysfs path looked at.
        path: PathBuf,
    },
    /// The device has no IOMMU group: the IOMMU is off.
    #[error("{bdf} has no IOMMU group: enable the IOMMU (VT-d/AMD-Vi in firmware, and `intel_iommu=on iommu=pt` or `amd_iommu=on` on the kernel command line), then reboot")]
    NoIommu {
        /// The address.
        bdf: String,
    },
    /// The vfio-pci driver is not loaded.
    #[error("the vfio-pci driver is not loaded ({} missing): run `modprobe vfio-pci`", path.display())]
    VfioPciMissing {
        /// The sysfs path looked at.
        path: PathBuf,
    },
    /// Another device in the IOMMU group is bound to a host driver.
    #[error("IOMMU group {group} is not viable: {other} is bound to {driver}; bind it to vfio-pci too (`meshctl card bind {other}`), unbind it, or move the card to a slot with its own group (ACS)")]
    GroupShared {
        /// Group number.
        group: String,
        /// The other device.
        other: String,
        /// Its driver.
        driver: String,
    },
    /// The card did not end up bound to vfio-pci.
    #[error("{bdf} is bound to {driver} after the bind, not vfio-pci: see `dmesg`")]
    NotBound {
        /// The address.
        bdf: String,
        /// What it is bound to (`none` when unbound).
        driver: String,
    },
    /// A sysfs read or write failed.
    #[error("sysfs access to {} failed (run as root?)", path.display())]
    Sysfs {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A local file (the bitstream) could not be read.
    #[error("reading {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// openFPGALoader is not installed.
    #[error("openFPGALoader not found on PATH: install it (`apt-get install openfpgaloader`, or build from github.com/trabucayre/openFPGALoader)")]
    LoaderMissing,
    /// openFPGALoader does not know the board.
    #[error("openFPGALoader does not support board '{0}' (see `openFPGALoader --list-boards`); Xilinx PCIe cards load through Vivado: bitstreams/xilinx/README.md")]
    BoardUnsupported(String),
    /// openFPGALoader ran and failed.
    #[error("openFPGALoader failed ({status}):\n{stderr}")]
    LoaderFailed {
        /// Exit status.
        status: String,
        /// Its messages.
        stderr: String,
    },
    /// The bitstream on disk is not the one the manifest records.
    #[error("{} has sha256 {actual}, the manifest records {expected}: rebuild with `cargo run --release -p meshctl -- hw report --json`", path.display())]
    StaleBitstream {
        /// The file.
        path: PathBuf,
        /// Its digest.
        actual: String,
        /// The manifest's.
        expected: String,
    },
    /// The manifest has no entry for the design.
    #[error("the manifest has no entry for design '{0}'")]
    NotInManifest(String),
    /// The manifest could not be read.
    #[error("reading the bitstream manifest")]
    Manifest(#[source] replimesh_bitstreams::FlowError),
    /// The card read all-ones: gone, in reset, or being reprogrammed.
    #[error("the card reads all-ones at BAR0 {offset:#x}: it is gone, in reset or being reprogrammed; reload the bitstream and rescan (echo 1 > /sys/bus/pci/rescan)")]
    DeviceGone {
        /// BAR offset read.
        offset: u64,
    },
    /// The card's ID differs from the manifest's.
    #[error("the card's ID is {card:#010x}, the manifest's design '{design}' has {manifest}: the card runs a different bitstream; load the right one (`meshctl card load`) or pick the matching --design")]
    IdMismatch {
        /// What the card answered.
        card: u32,
        /// What the manifest records.
        manifest: String,
        /// The design compared with.
        design: String,
    },
    /// VFIO access failed.
    #[error("VFIO access to the card failed")]
    Vfio(#[from] replimesh_vfio::VfioError),
}
