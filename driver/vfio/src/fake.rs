//! Test doubles for the syscall seam: a scripted sysfs ([`FakeHost`]) and a device
//! ([`FakeDevice`]) with 256 bytes of config space, an optional BAR 0 and an IOMMU ledger.
//! BAR mmaps and eventfds are real (anonymous memory, eventfd), so the code above the seam
//! runs exactly as on hardware.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::sys::{DeviceOps, DmaMem, EventFd, Host, MmioMap, OpenFailure, RegionInfo};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().expect("fake state poisoned")
}

/// Scripted sysfs plus an `open` that hands out one shared [`FakeDevice`].
pub(crate) struct FakeHost {
    /// bdf -> (iommu group, driver)
    devices: HashMap<String, (Option<u32>, Option<String>)>,
    device: Arc<FakeDevice>,
    open_failure: Mutex<Option<OpenFailure>>,
    opened: Mutex<bool>,
}

impl FakeHost {
    pub(crate) fn empty() -> Self {
        Self {
            devices: HashMap::new(),
            device: Arc::new(FakeDevice::new()),
            open_failure: Mutex::new(None),
            opened: Mutex::new(false),
        }
    }

    pub(crate) fn with_device(bdf: &str, group: Option<u32>, driver: Option<&str>) -> Self {
        Self::empty().with_member_opt(group, bdf, driver)
    }

    /// A device alone in group 7, bound to vfio-pci, opening to `device`.
    pub(crate) fn viable(bdf: &str, device: FakeDevice) -> Self {
        let mut host = Self::with_device(bdf, Some(7), Some("vfio-pci"));
        host.device = Arc::new(device);
        host
    }

    pub(crate) fn with_member(self, group: u32, bdf: &str, driver: Option<&str>) -> Self {
        self.with_member_opt(Some(group), bdf, driver)
    }

    fn with_member_opt(mut self, group: Option<u32>, bdf: &str, driver: Option<&str>) -> Self {
        self.devices
            .insert(bdf.into(), (group, driver.map(Into::into)));
        self
    }

    pub(crate) fn failing_open(self, failure: OpenFailure) -> Self {
        *lock(&self.open_failure) = Some(failure);
        self
    }

    pub(crate) fn device(&self) -> &FakeDevice {
        &self.device
    }

    pub(crate) fn opened(&self) -> bool {
        *lock(&self.opened)
    }
}

impl Host for FakeHost {
    fn device_exists(&self, bdf: &str) -> bool {
        self.devices.contains_key(bdf)
    }

    fn iommu_group(&self, bdf: &str) -> io::Result<Option<u32>> {
        Ok(self.devices.get(bdf).and_then(|(group, _)| *group))
    }

    fn group_devices(&self, group: u32) -> io::Result<Vec<String>> {
        let mut members: Vec<_> = self
            .devices
            .iter()
            .filter(|(_, (g, _))| *g == Some(group))
            .map(|(bdf, _)| bdf.clone())
            .collect();
        members.sort();
        Ok(members)
    }

    fn driver(&self, bdf: &str) -> io::Result<Option<String>> {
        Ok(self.devices.get(bdf).and_then(|(_, d)| d.clone()))
    }

    fn open(&self, _bdf: &str) -> Result<Arc<dyn DeviceOps>, OpenFailure> {
        *lock(&self.opened) = true;
        if let Some(failure) = lock(&self.open_failure).take() {
            return Err(failure);
        }
        Ok(self.device.clone())
    }
}

/// A PCI device behind VFIO, with knobs for the failures the real kernel can produce.
pub(crate) struct FakeDevice {
    config: Mutex<[u8; 256]>,
    config_errno: Option<i32>,
    bus_master_sticks: bool,
    /// BAR 0: (size, mmap-able); `None` = absent.
    bar0: Option<(u64, bool)>,
    bar0_fd_bytes: Mutex<Vec<u8>>,
    bar0_syscalls: Mutex<usize>,
    msi_vectors: u32,
    msi_errno: Option<i32>,
    msi_target: Mutex<Option<EventFd>>,
    /// iova -> len of live IOMMU mappings.
    dma: Mutex<BTreeMap<u64, usize>>,
    map_errno: Mutex<Option<i32>>,
    unmap_fails: Mutex<bool>,
}

impl FakeDevice {
    /// Bus master off, a 4 KiB mmap-able BAR 0, one MSI vector.
    pub(crate) fn new() -> Self {
        Self {
            config: Mutex::new([0; 256]),
            config_errno: None,
            bus_master_sticks: true,
            bar0: Some((0x1000, true)),
            bar0_fd_bytes: Mutex::new(vec![0; 0x1000]),
            bar0_syscalls: Mutex::new(0),
            msi_vectors: 1,
            msi_errno: None,
            msi_target: Mutex::new(None),
            dma: Mutex::new(BTreeMap::new()),
            map_errno: Mutex::new(None),
            unmap_fails: Mutex::new(false),
        }
    }

    pub(crate) fn with_bar0(mut self, size: u64, mmap: bool) -> Self {
        self.bar0 = Some((size, mmap));
        self.bar0_fd_bytes = Mutex::new(vec![0; size as usize]);
        self
    }

    pub(crate) fn ignoring_bus_master(mut self) -> Self {
        self.bus_master_sticks = false;
        self
    }

    pub(crate) fn failing_config(mut self) -> Self {
        self.config_errno = Some(libc::EIO);
        self
    }

    pub(crate) fn failing_msi(mut self, errno: i32) -> Self {
        self.msi_errno = Some(errno);
        self
    }

    pub(crate) fn without_msi(mut self) -> Self {
        self.msi_vectors = 0;
        self
    }

    pub(crate) fn set_command(&self, value: u16) {
        lock(&self.config)[4..6].copy_from_slice(&value.to_le_bytes());
    }

    pub(crate) fn command(&self) -> u16 {
        let config = lock(&self.config);
        u16::from_le_bytes([config[4], config[5]])
    }

    pub(crate) fn bar0_bytes(&self, offset: usize, len: usize) -> Vec<u8> {
        lock(&self.bar0_fd_bytes)[offset..offset + len].to_vec()
    }

    pub(crate) fn bar0_syscalls(&self) -> usize {
        *lock(&self.bar0_syscalls)
    }

    /// Plays the kernel: signals the eventfd MSI vector 0 was routed to.
    pub(crate) fn fire_msi(&self) {
        lock(&self.msi_target)
            .as_ref()
            .expect("msi not enabled")
            .signal()
            .unwrap();
    }

    pub(crate) fn dma_maps(&self) -> Vec<(u64, usize)> {
        lock(&self.dma).iter().map(|(i, l)| (*i, *l)).collect()
    }

    pub(crate) fn fail_map(&self, errno: i32) {
        *lock(&self.map_errno) = Some(errno);
    }

    pub(crate) fn fail_unmap(&self) {
        *lock(&self.unmap_fails) = true;
    }

    fn bar0_range(&self, offset: u64, len: usize) -> io::Result<std::ops::Range<usize>> {
        let (size, _) = self.bar0.ok_or(io::ErrorKind::NotFound)?;
        let start = offset as usize;
        if offset + len as u64 > size {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        *lock(&self.bar0_syscalls) += 1;
        Ok(start..start + len)
    }

    fn config_range(&self, offset: u64, len: usize) -> io::Result<std::ops::Range<usize>> {
        if let Some(errno) = self.config_errno {
            return Err(io::Error::from_raw_os_error(errno));
        }
        let start = offset as usize;
        if start + len > 256 {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        Ok(start..start + len)
    }
}

impl DeviceOps for FakeDevice {
    fn region(&self, index: u32) -> Option<RegionInfo> {
        match index {
            0 => self.bar0.map(|(size, mmap)| RegionInfo {
                size,
                readable: true,
                writable: true,
                mmap,
            }),
            7 => Some(RegionInfo {
                size: 256,
                readable: true,
                writable: true,
                mmap: false,
            }),
            _ => Some(RegionInfo {
                size: 0,
                readable: false,
                writable: false,
                mmap: false,
            }),
        }
    }

    fn region_read(&self, index: u32, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        match index {
            0 => {
                let range = self.bar0_range(offset, buf.len())?;
                buf.copy_from_slice(&lock(&self.bar0_fd_bytes)[range]);
            }
            7 => {
                let range = self.config_range(offset, buf.len())?;
                buf.copy_from_slice(&lock(&self.config)[range]);
            }
            _ => return Err(io::ErrorKind::InvalidInput.into()),
        }
        Ok(())
    }

    fn region_write(&self, index: u32, offset: u64, buf: &[u8]) -> io::Result<()> {
        match index {
            0 => {
                let range = self.bar0_range(offset, buf.len())?;
                lock(&self.bar0_fd_bytes)[range].copy_from_slice(buf);
            }
            7 => {
                let range = self.config_range(offset, buf.len())?;
                let mut config = lock(&self.config);
                config[range].copy_from_slice(buf);
                if !self.bus_master_sticks {
                    config[4] &= !0x04;
                }
            }
            _ => return Err(io::ErrorKind::InvalidInput.into()),
        }
        Ok(())
    }

    fn mmap_region(&self, index: u32) -> io::Result<MmioMap> {
        match (index, self.bar0) {
            (0, Some((size, true))) => MmioMap::anonymous(size as usize),
            _ => Err(io::ErrorKind::InvalidInput.into()),
        }
    }

    fn map_dma(&self, mem: &DmaMem, iova: u64) -> io::Result<()> {
        if let Some(errno) = *lock(&self.map_errno) {
            return Err(io::Error::from_raw_os_error(errno));
        }
        lock(&self.dma).insert(iova, mem.len());
        Ok(())
    }

    fn unmap_dma(&self, iova: u64, len: usize) -> io::Result<()> {
        if *lock(&self.unmap_fails) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        match lock(&self.dma).remove(&iova) {
            Some(mapped) if mapped == len => Ok(()),
            _ => Err(io::Error::from_raw_os_error(libc::ENOENT)),
        }
    }

    fn irq_count(&self, index: u32) -> u32 {
        if index == 1 {
            self.msi_vectors
        } else {
            0
        }
    }

    fn enable_msi(&self, fd: &EventFd) -> io::Result<()> {
        if let Some(errno) = self.msi_errno {
            return Err(io::Error::from_raw_os_error(errno));
        }
        *lock(&self.msi_target) = Some(fd.try_clone()?);
        Ok(())
    }
}
