//! [`VfioError`]: every way this crate fails, each message naming the resource, the value and,
//! where there is one, the fix.

use std::io;

use crate::{BarOffset, Iova};

/// A device in an IOMMU group and the driver it is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMember {
    /// PCI address, `dddd:bb:dd.f`.
    pub bdf: String,
    /// Bound driver, `None` when unbound.
    pub driver: Option<String>,
}

fn driver_name(driver: &Option<String>) -> &str {
    driver.as_deref().unwrap_or("no driver")
}

fn list_members(members: &[GroupMember]) -> String {
    members
        .iter()
        .map(|m| format!("{} ({})", m.bdf, driver_name(&m.driver)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Errors of the VFIO backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VfioError {
    /// The argument is not a PCI address of the form `dddd:bb:dd.f`.
    #[error("invalid pci address {bdf:?}: expected domain:bus:device.function, e.g. 0000:01:00.0")]
    InvalidBdf {
        /// The rejected argument.
        bdf: String,
    },

    /// No such device in sysfs.
    #[error(
        "pci device {bdf} not found: /sys/bus/pci/devices/{bdf} does not exist (check lspci -D)"
    )]
    NoSuchDevice {
        /// PCI address.
        bdf: String,
    },

    /// The device has no IOMMU group: the IOMMU is disabled or absent.
    #[error(
        "pci device {bdf} has no iommu_group: the IOMMU is off; enable VT-d/AMD-Vi in firmware and \
         boot with intel_iommu=on (Intel) or amd_iommu=on (AMD)"
    )]
    NoIommu {
        /// PCI address.
        bdf: String,
    },

    /// A sysfs file or link could not be read.
    #[error("failed to read sysfs {path}")]
    Sysfs {
        /// The sysfs path.
        path: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// The device is bound to a driver other than vfio-pci, or to none.
    #[error(
        "pci device {bdf} is bound to {}, not vfio-pci: run `meshctl card bind {bdf}` \
         (or echo vfio-pci > /sys/bus/pci/devices/{bdf}/driver_override, unbind it, and \
         echo {bdf} > /sys/bus/pci/drivers_probe)",
        driver_name(.driver)
    )]
    NotBoundToVfio {
        /// PCI address.
        bdf: String,
        /// The driver it is bound to, `None` when unbound.
        driver: Option<String>,
    },

    /// Another device in the IOMMU group is bound to a host driver.
    #[error(
        "iommu group {group} of {bdf} is not viable: {} must be bound to vfio-pci or unbound \
         (run `meshctl card bind` on each, or move the card to another slot)",
        list_members(.blocking)
    )]
    GroupNotViable {
        /// PCI address of the device being opened.
        bdf: String,
        /// IOMMU group number.
        group: u32,
        /// The other devices of the group that keep it from being viable (possibly empty when
        /// only the kernel knows why).
        blocking: Vec<GroupMember>,
    },

    /// `/dev/vfio/vfio` cannot be opened.
    #[error(
        "failed to open /dev/vfio/vfio: load the vfio driver (modprobe vfio-pci) and run as root"
    )]
    NoVfio {
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// The VFIO container has no type1 IOMMU backend.
    #[error("vfio container has no type1v2 iommu backend: modprobe vfio_iommu_type1")]
    NoType1Iommu,

    /// VFIO_SET_IOMMU refused the group; EPERM means the platform lacks interrupt remapping.
    #[error(
        "failed to set the type1v2 iommu for {bdf} (VFIO_SET_IOMMU); if the cause is 'Operation \
         not permitted', interrupt remapping is missing: enable it in firmware (QEMU: \
         -device intel-iommu,intremap=on) or, unsafely, load vfio_iommu_type1 \
         allow_unsafe_interrupts=1"
    )]
    SetIommu {
        /// PCI address.
        bdf: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// `/dev/vfio/<group>` cannot be opened.
    #[error(
        "failed to open /dev/vfio/{group} for {bdf}: is it bound to vfio-pci and not already open?"
    )]
    OpenGroup {
        /// PCI address.
        bdf: String,
        /// IOMMU group number.
        group: u32,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// Attaching the group, setting the IOMMU or getting the device fd failed.
    #[error("failed to open vfio device {bdf}")]
    OpenDevice {
        /// PCI address.
        bdf: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A read or write of a device region through the device fd failed.
    #[error("failed to {} {len} bytes at offset {offset:#x} of vfio region {region} of {bdf}", if *.write { "write" } else { "read" })]
    Region {
        /// PCI address.
        bdf: String,
        /// VFIO region index (0-5 BARs, 7 config space).
        region: u32,
        /// Offset inside the region.
        offset: u64,
        /// Access length in bytes.
        len: usize,
        /// Whether it was a write.
        write: bool,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// Bus mastering could not be enabled in the PCI command register.
    #[error("bus mastering did not stick on {bdf}: pci command register reads {command:#06x} after setting bit 2")]
    BusMasterNotSet {
        /// PCI address.
        bdf: String,
        /// Command register value read back.
        command: u16,
    },

    /// The BAR index is not 0-5 or the BAR is absent.
    #[error("bar {index} of {bdf} is not present")]
    NoSuchBar {
        /// PCI address.
        bdf: String,
        /// BAR index asked for.
        index: u8,
    },

    /// An mmap failed.
    #[error("failed to mmap {len:#x} bytes for {what}")]
    Mmap {
        /// What was being mapped.
        what: String,
        /// Length asked for.
        len: u64,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// A BAR access falls outside the BAR.
    #[error("offset {offset} (+4 bytes) is outside bar {bar} of {size:#x} bytes")]
    BarOffsetOutOfRange {
        /// BAR index.
        bar: u8,
        /// Offset asked for.
        offset: BarOffset,
        /// BAR size in bytes.
        size: u64,
    },

    /// A 32-bit BAR access is not 4-byte aligned.
    #[error("offset {offset} in bar {bar} is not 4-byte aligned")]
    MisalignedBarOffset {
        /// BAR index.
        bar: u8,
        /// Offset asked for.
        offset: BarOffset,
    },

    /// A register read returned all ones: the device fell off the bus or is being reprogrammed.
    #[error(
        "read of bar {bar} offset {offset} on {bdf} returned 0xffffffff: the device is gone \
         (surprise removal, link down or FPGA being reprogrammed)"
    )]
    DeviceGone {
        /// PCI address.
        bdf: String,
        /// BAR index.
        bar: u8,
        /// Offset read.
        offset: BarOffset,
    },

    /// A DMA buffer size of zero.
    #[error("dma buffer length must be non-zero")]
    EmptyDmaBuffer,

    /// An IOVA that is not page aligned or whose range wraps.
    #[error("iova {iova} with length {len:#x} is not 4096-byte aligned or wraps past 2^64")]
    BadIova {
        /// IOVA asked for.
        iova: Iova,
        /// Buffer length.
        len: usize,
    },

    /// Allocating DMA memory failed.
    #[error("failed to allocate {len:#x} bytes of dma memory")]
    DmaAlloc {
        /// Length asked for.
        len: usize,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// VFIO_IOMMU_MAP_DMA failed.
    #[error("failed to map {len:#x} bytes at iova {iova} into the iommu (VFIO_IOMMU_MAP_DMA)")]
    DmaMap {
        /// IOVA asked for.
        iova: Iova,
        /// Length in bytes.
        len: usize,
        /// The OS error (EEXIST: overlaps another mapping).
        #[source]
        source: io::Error,
    },

    /// VFIO_IOMMU_UNMAP_DMA failed.
    #[error("failed to unmap {len:#x} bytes at iova {iova} from the iommu (VFIO_IOMMU_UNMAP_DMA)")]
    DmaUnmap {
        /// IOVA.
        iova: Iova,
        /// Length in bytes.
        len: usize,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// A DMA buffer access falls outside the buffer.
    #[error("dma access of {len} bytes at offset {offset:#x} is outside the {size:#x}-byte buffer at iova {iova}")]
    DmaOutOfRange {
        /// IOVA of the buffer.
        iova: Iova,
        /// Offset asked for.
        offset: usize,
        /// Access length.
        len: usize,
        /// Buffer size.
        size: usize,
    },

    /// The device offers no MSI vector.
    #[error("pci device {bdf} offers no msi vector through vfio")]
    NoMsi {
        /// PCI address.
        bdf: String,
    },

    /// `wait_irq` before `enable_msi`.
    #[error("msi is not enabled on {bdf}: call enable_msi first")]
    MsiNotEnabled {
        /// PCI address.
        bdf: String,
    },

    /// An interrupt set-up or wait syscall failed.
    #[error("failed to {op} for {bdf}")]
    Irq {
        /// PCI address.
        bdf: String,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}
