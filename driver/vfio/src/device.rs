//! [`VfioDevice`]: finding, checking and opening a vfio-pci device, bus mastering, MSI.

use std::sync::Arc;
use std::time::Duration;

use vfio_bindings::bindings::vfio::{VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_MSI_IRQ_INDEX};

use crate::sys::{self, DeviceOps, EventFd, Host, LinuxHost, OpenFailure};
use crate::{Bar, DmaBuffer, GroupMember, Iova, VfioError};

/// The driver a device must be bound to.
const VFIO_DRIVER: &str = "vfio-pci";
/// Drivers the kernel tolerates on other members of a viable group besides vfio-pci: pci-stub
/// holds a device without using it, pcieport drives bridges, which do not do DMA of their own.
const HARMLESS_DRIVERS: [&str; 2] = ["pci-stub", "pcieport"];

/// PCI command register offset in config space, and its bus master enable bit.
const PCI_COMMAND: u64 = 0x04;
const PCI_COMMAND_MASTER: u16 = 1 << 2;

/// An opened vfio-pci device with bus mastering enabled.
///
/// Dropping it closes the device, group and container fds; [`Bar`]s and [`DmaBuffer`]s taken from
/// it keep the device open until they are dropped too.
pub struct VfioDevice {
    bdf: Arc<str>,
    ops: Arc<dyn DeviceOps>,
    msi: Option<EventFd>,
}

impl std::fmt::Debug for VfioDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VfioDevice")
            .field("bdf", &self.bdf)
            .field("msi_enabled", &self.msi.is_some())
            .finish_non_exhaustive()
    }
}

/// Checks `bdf` is `dddd:bb:dd.f` (hex, function 0-7), so it is safe to put in a sysfs path.
fn validate_bdf(bdf: &str) -> Result<(), VfioError> {
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let ok = match bdf.split(':').collect::<Vec<_>>().as_slice() {
        [domain, bus, devfn] => match devfn.split_once('.') {
            Some((dev, func)) => {
                hex(domain, 4)
                    && hex(bus, 2)
                    && hex(dev, 2)
                    && matches!(func.as_bytes(), [b'0'..=b'7'])
            }
            None => false,
        },
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(VfioError::InvalidBdf { bdf: bdf.into() })
    }
}

/// The members of a group other than `bdf` that keep it from being viable.
fn blocking_members(bdf: &str, members: &[GroupMember]) -> Vec<GroupMember> {
    members
        .iter()
        .filter(|m| m.bdf != bdf)
        .filter(|m| match m.driver.as_deref() {
            None => false,
            Some(driver) => driver != VFIO_DRIVER && !HARMLESS_DRIVERS.contains(&driver),
        })
        .cloned()
        .collect()
}

fn sysfs_err(path: String) -> impl FnOnce(std::io::Error) -> VfioError {
    move |source| VfioError::Sysfs { path, source }
}

impl VfioDevice {
    /// Opens the vfio-pci device at PCI address `bdf` (`dddd:bb:dd.f`) and enables bus mastering.
    ///
    /// Checks, in order, each with an error naming the fix: the address is well formed, the
    /// device exists, it has an IOMMU group ([`VfioError::NoIommu`]), it is bound to vfio-pci
    /// ([`VfioError::NotBoundToVfio`]), every other device in its group is bound to vfio-pci or
    /// unbound ([`VfioError::GroupNotViable`]), VFIO and its type1 IOMMU are loaded
    /// ([`VfioError::NoVfio`], [`VfioError::NoType1Iommu`]).
    pub fn open(bdf: &str) -> Result<Self, VfioError> {
        Self::open_with(&LinuxHost, bdf)
    }

    pub(crate) fn open_with(host: &dyn Host, bdf: &str) -> Result<Self, VfioError> {
        validate_bdf(bdf)?;
        if !host.device_exists(bdf) {
            return Err(VfioError::NoSuchDevice { bdf: bdf.into() });
        }
        let group = host
            .iommu_group(bdf)
            .map_err(sysfs_err(format!("{}/{bdf}/iommu_group", sys::PCI_DEVICES)))?
            .ok_or_else(|| VfioError::NoIommu { bdf: bdf.into() })?;
        let driver = host
            .driver(bdf)
            .map_err(sysfs_err(format!("{}/{bdf}/driver", sys::PCI_DEVICES)))?;
        if driver.as_deref() != Some(VFIO_DRIVER) {
            return Err(VfioError::NotBoundToVfio {
                bdf: bdf.into(),
                driver,
            });
        }
        let members = host
            .group_devices(group)
            .map_err(sysfs_err(format!("{}/{group}/devices", sys::IOMMU_GROUPS)))?
            .into_iter()
            .map(|member| {
                let driver = host
                    .driver(&member)
                    .map_err(sysfs_err(format!("{}/{member}/driver", sys::PCI_DEVICES)))?;
                Ok(GroupMember {
                    bdf: member,
                    driver,
                })
            })
            .collect::<Result<Vec<_>, VfioError>>()?;
        let blocking = blocking_members(bdf, &members);
        if !blocking.is_empty() {
            return Err(VfioError::GroupNotViable {
                bdf: bdf.into(),
                group,
                blocking,
            });
        }
        let ops = host.open(bdf).map_err(|failure| match failure {
            OpenFailure::Container(source) => VfioError::NoVfio { source },
            OpenFailure::NoType1 => VfioError::NoType1Iommu,
            OpenFailure::GroupNotViable => VfioError::GroupNotViable {
                bdf: bdf.into(),
                group,
                blocking: Vec::new(),
            },
            OpenFailure::SetIommu(source) => VfioError::SetIommu {
                bdf: bdf.into(),
                source,
            },
            OpenFailure::Group(source) => VfioError::OpenGroup {
                bdf: bdf.into(),
                group,
                source,
            },
            OpenFailure::Device(source) => VfioError::OpenDevice {
                bdf: bdf.into(),
                source,
            },
        })?;
        let device = Self {
            bdf: bdf.into(),
            ops,
            msi: None,
        };
        device.enable_bus_master()?;
        Ok(device)
    }

    /// The PCI address this device was opened with.
    pub fn bdf(&self) -> &str {
        &self.bdf
    }

    /// Maps BAR `index` (0-5): by mmap when VFIO allows it, else through the device fd.
    /// Map once and keep the [`Bar`]; each call makes a new mapping.
    pub fn bar(&self, index: u8) -> Result<Bar, VfioError> {
        Bar::new(self.bdf.clone(), self.ops.clone(), index)
    }

    /// Allocates `len` bytes (rounded up to whole 4 KiB pages) of zeroed memory and maps it
    /// into the IOMMU at `iova` (4 KiB aligned) for device reads and writes. The mapping is
    /// removed when the buffer is dropped or [`DmaBuffer::unmap`]ped.
    pub fn alloc_dma(&self, len: usize, iova: Iova) -> Result<DmaBuffer, VfioError> {
        DmaBuffer::new(self.ops.clone(), len, iova)
    }

    /// Routes MSI vector 0 to an eventfd that [`Self::wait_irq`] polls. The kernel programs
    /// the device's MSI capability; do not write it yourself. Calling it again does nothing.
    pub fn enable_msi(&mut self) -> Result<(), VfioError> {
        if self.msi.is_some() {
            return Ok(());
        }
        if self.ops.irq_count(VFIO_PCI_MSI_IRQ_INDEX) == 0 {
            return Err(VfioError::NoMsi {
                bdf: self.bdf.to_string(),
            });
        }
        let fd = EventFd::new().map_err(|source| self.irq_err("create an msi eventfd", source))?;
        self.ops
            .enable_msi(&fd)
            .map_err(|source| self.irq_err("enable msi (VFIO_DEVICE_SET_IRQS)", source))?;
        self.msi = Some(fd);
        Ok(())
    }

    /// Waits up to `timeout` for an MSI. Returns `true` if at least one arrived since the last
    /// call (several arrivals are coalesced into one), `false` on timeout.
    pub fn wait_irq(&self, timeout: Duration) -> Result<bool, VfioError> {
        let fd = self.msi.as_ref().ok_or_else(|| VfioError::MsiNotEnabled {
            bdf: self.bdf.to_string(),
        })?;
        fd.wait(timeout)
            .map_err(|source| self.irq_err("wait on the msi eventfd", source))
    }

    fn irq_err(&self, op: &'static str, source: std::io::Error) -> VfioError {
        VfioError::Irq {
            bdf: self.bdf.to_string(),
            op,
            source,
        }
    }

    fn config_read16(&self, offset: u64) -> Result<u16, VfioError> {
        let mut buf = [0u8; 2];
        self.ops
            .region_read(VFIO_PCI_CONFIG_REGION_INDEX, offset, &mut buf)
            .map_err(|source| self.config_err(offset, false, source))?;
        Ok(u16::from_le_bytes(buf))
    }

    fn config_write16(&self, offset: u64, value: u16) -> Result<(), VfioError> {
        self.ops
            .region_write(VFIO_PCI_CONFIG_REGION_INDEX, offset, &value.to_le_bytes())
            .map_err(|source| self.config_err(offset, true, source))
    }

    fn config_err(&self, offset: u64, write: bool, source: std::io::Error) -> VfioError {
        VfioError::Region {
            bdf: self.bdf.to_string(),
            region: VFIO_PCI_CONFIG_REGION_INDEX,
            offset,
            len: 2,
            write,
            source,
        }
    }

    /// Sets bit 2 (bus master enable) of the PCI command register. vfio-pci enables memory
    /// decoding but not bus mastering; without it the device's DMA and MSI writes are dropped.
    fn enable_bus_master(&self) -> Result<(), VfioError> {
        let command = self.config_read16(PCI_COMMAND)?;
        if command & PCI_COMMAND_MASTER == 0 {
            self.config_write16(PCI_COMMAND, command | PCI_COMMAND_MASTER)?;
        }
        let command = self.config_read16(PCI_COMMAND)?;
        if command & PCI_COMMAND_MASTER == 0 {
            return Err(VfioError::BusMasterNotSet {
                bdf: self.bdf.to_string(),
                command,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::fake::{FakeDevice, FakeHost};
    use crate::BarOffset;

    const BDF: &str = "0000:00:03.0";

    fn member(bdf: &str, driver: Option<&str>) -> GroupMember {
        GroupMember {
            bdf: bdf.into(),
            driver: driver.map(Into::into),
        }
    }

    #[test]
    fn rejects_malformed_addresses_before_touching_sysfs() {
        for bad in [
            "",
            "00:03.0",
            "0000:00:03.8",
            "0000:00:03",
            "../../../x",
            "0000:0g:03.0",
        ] {
            let err = VfioDevice::open_with(&FakeHost::empty(), bad).unwrap_err();
            assert!(matches!(err, VfioError::InvalidBdf { .. }), "{bad}: {err}");
        }
        assert!(validate_bdf("0000:af:1f.7").is_ok());
    }

    #[test]
    fn reports_missing_device() {
        let err = VfioDevice::open_with(&FakeHost::empty(), BDF).unwrap_err();
        assert!(matches!(err, VfioError::NoSuchDevice { .. }));
        assert!(err
            .to_string()
            .contains("/sys/bus/pci/devices/0000:00:03.0 does not exist"));
    }

    #[test]
    fn no_iommu_group_names_the_kernel_parameter() {
        let host = FakeHost::with_device(BDF, None, Some("vfio-pci"));
        let err = VfioDevice::open_with(&host, BDF).unwrap_err();
        assert!(matches!(err, VfioError::NoIommu { .. }));
        let msg = err.to_string();
        assert!(
            msg.contains("intel_iommu=on") && msg.contains("amd_iommu=on"),
            "{msg}"
        );
    }

    #[test]
    fn device_bound_elsewhere_names_the_bind_command() {
        let host = FakeHost::with_device(BDF, Some(4), Some("e1000e"));
        let err = VfioDevice::open_with(&host, BDF).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("bound to e1000e, not vfio-pci"), "{msg}");
        assert!(msg.contains("meshctl card bind 0000:00:03.0"), "{msg}");
        assert!(msg.contains("echo vfio-pci > /sys/bus/pci/devices/0000:00:03.0/driver_override"));

        let host = FakeHost::with_device(BDF, Some(4), None);
        let err = VfioDevice::open_with(&host, BDF).unwrap_err();
        assert!(err.to_string().contains("bound to no driver"), "{err}");
    }

    #[test]
    fn group_with_host_driver_is_not_viable_and_names_it() {
        let host = FakeHost::with_device(BDF, Some(4), Some("vfio-pci"))
            .with_member(4, "0000:00:03.1", Some("snd_hda_intel"))
            .with_member(4, "0000:00:03.2", None);
        let err = VfioDevice::open_with(&host, BDF).unwrap_err();
        match &err {
            VfioError::GroupNotViable {
                group, blocking, ..
            } => {
                assert_eq!(*group, 4);
                assert_eq!(blocking, &[member("0000:00:03.1", Some("snd_hda_intel"))]);
            }
            other => panic!("unexpected {other}"),
        }
        assert!(
            err.to_string().contains("0000:00:03.1 (snd_hda_intel)"),
            "{err}"
        );
        assert!(
            !host.opened(),
            "open must not be attempted on a non-viable group"
        );
    }

    #[test]
    fn group_viability_accepts_vfio_unbound_stub_and_bridges() {
        let members = [
            member(BDF, Some("vfio-pci")),
            member("0000:00:03.1", Some("vfio-pci")),
            member("0000:00:03.2", None),
            member("0000:00:03.3", Some("pci-stub")),
            member("0000:00:01.0", Some("pcieport")),
        ];
        assert!(blocking_members(BDF, &members).is_empty());
        let mut with_nvme = members.to_vec();
        with_nvme.push(member("0000:00:04.0", Some("nvme")));
        assert_eq!(
            blocking_members(BDF, &with_nvme),
            [member("0000:00:04.0", Some("nvme"))]
        );
    }

    #[test]
    fn open_failures_become_advice() {
        let cases: [(OpenFailure, &str); 4] = [
            (
                OpenFailure::Container(std::io::ErrorKind::NotFound.into()),
                "modprobe vfio-pci",
            ),
            (OpenFailure::NoType1, "modprobe vfio_iommu_type1"),
            (
                OpenFailure::SetIommu(std::io::Error::from_raw_os_error(libc::EPERM)),
                "interrupt remapping is missing",
            ),
            (
                OpenFailure::GroupNotViable,
                "iommu group 4 of 0000:00:03.0 is not viable",
            ),
        ];
        for (failure, advice) in cases {
            let host = FakeHost::with_device(BDF, Some(4), Some("vfio-pci")).failing_open(failure);
            let err = VfioDevice::open_with(&host, BDF).unwrap_err();
            assert!(err.to_string().contains(advice), "{err}");
        }
    }

    #[test]
    fn open_sets_bus_master_bit_and_keeps_other_bits() {
        let host = FakeHost::viable(BDF, FakeDevice::new());
        host.device().set_command(0x0002); // memory decode on, as vfio-pci leaves it
        let _dev = VfioDevice::open_with(&host, BDF).unwrap();
        assert_eq!(host.device().command(), 0x0006);
    }

    #[test]
    fn bus_master_that_does_not_stick_is_an_error() {
        let host = FakeHost::viable(BDF, FakeDevice::new().ignoring_bus_master());
        let err = VfioDevice::open_with(&host, BDF).unwrap_err();
        assert!(
            matches!(err, VfioError::BusMasterNotSet { command: 0, .. }),
            "{err}"
        );
    }

    #[test]
    fn config_read_failure_carries_the_os_error() {
        let host = FakeHost::viable(BDF, FakeDevice::new().failing_config());
        let err = VfioDevice::open_with(&host, BDF).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("failed to read 2 bytes at offset 0x4 of vfio region 7"),
            "{err}"
        );
        let source = err.source().expect("io error kept as source");
        assert!(
            source.to_string().contains("Input/output error"),
            "{source}"
        );
    }

    #[test]
    fn msi_wait_reports_delivery_and_timeout() {
        let host = FakeHost::viable(BDF, FakeDevice::new());
        let mut dev = VfioDevice::open_with(&host, BDF).unwrap();
        assert!(matches!(
            dev.wait_irq(Duration::ZERO),
            Err(VfioError::MsiNotEnabled { .. })
        ));
        dev.enable_msi().unwrap();
        assert!(!dev.wait_irq(Duration::from_millis(5)).unwrap());
        host.device().fire_msi();
        assert!(dev.wait_irq(Duration::from_millis(5)).unwrap());
        assert!(!dev.wait_irq(Duration::from_millis(5)).unwrap());
    }

    #[test]
    fn msi_set_irqs_errno_is_kept() {
        let host = FakeHost::viable(BDF, FakeDevice::new().failing_msi(libc::EINVAL));
        let mut dev = VfioDevice::open_with(&host, BDF).unwrap();
        let err = dev.enable_msi().unwrap_err();
        assert!(err
            .to_string()
            .contains("enable msi (VFIO_DEVICE_SET_IRQS)"));
        let source = err.source().unwrap().to_string();
        assert!(source.contains("Invalid argument"), "{source}");
        assert!(
            dev.wait_irq(Duration::ZERO).is_err(),
            "msi must stay disabled"
        );
    }

    #[test]
    fn msi_needs_a_vector() {
        let host = FakeHost::viable(BDF, FakeDevice::new().without_msi());
        let mut dev = VfioDevice::open_with(&host, BDF).unwrap();
        assert!(matches!(dev.enable_msi(), Err(VfioError::NoMsi { .. })));
    }

    #[test]
    fn bar_and_dma_keep_the_device_alive_after_drop() {
        let host = FakeHost::viable(BDF, FakeDevice::new());
        let dev = VfioDevice::open_with(&host, BDF).unwrap();
        let bar = dev.bar(0).unwrap();
        let buf = dev.alloc_dma(4096, Iova(0x1000)).unwrap();
        drop(dev);
        bar.write32(BarOffset(0), 7).unwrap();
        assert_eq!(bar.read32(BarOffset(0)).unwrap(), 7);
        buf.write(0, &[1]).unwrap();
    }
}
