//! The syscall seam: the only module of this crate that makes system calls, ioctls or mmaps,
//! and the only one allowed `unsafe`.
//!
//! Above this module the crate sees two traits and three small owned types:
//!
//! - [`Host`]: sysfs look-ups (IOMMU group, group members, bound driver) and opening a device
//!   through VFIO. [`LinuxHost`] is the real one; tests use `crate::fake::FakeHost`.
//! - [`DeviceOps`]: one opened VFIO device: region info, region read/write through the device fd,
//!   BAR mmap, IOMMU map/unmap, MSI set-up. [`LinuxDevice`] wraps `vfio-ioctls`.
//! - [`MmioMap`] (a mapped BAR), [`DmaMem`] (anonymous, page-aligned memory a device may DMA
//!   into) and [`EventFd`] (an eventfd with a `poll(2)`-based wait). They are real in tests too:
//!   anonymous memory and eventfds need no `/dev/vfio`, so the fakes hand out the same types.
//!
//! Invariants this module upholds for everything above it:
//!
//! - No `&`/`&mut` reference into BAR or DMA memory is ever created; all access is through raw
//!   pointers with `read_volatile`/`write_volatile`, after a bounds and alignment check.
//! - Every safe function here is sound for every argument: out-of-range offsets are refused
//!   (`None`/`false`/`Err`), never turned into pointer arithmetic.
//! - `vfio-ioctls` calls whose errors it drops or flattens (`region_read`, `region_write`,
//!   `enable_msi`) are not used; their ioctls/syscalls are made here on the device fd instead so
//!   that the errno reaches the caller.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{fence, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vfio_bindings::bindings::vfio::{
    vfio_irq_set, VFIO_BASE, VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_DATA_EVENTFD,
    VFIO_PCI_MSI_IRQ_INDEX, VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ,
    VFIO_REGION_INFO_FLAG_WRITE, VFIO_TYPE,
};
use vfio_ioctls::{VfioContainer, VfioDevice as IoctlDevice, VfioError as IoctlError, VfioOps};

/// Where sysfs lists PCI devices.
pub(crate) const PCI_DEVICES: &str = "/sys/bus/pci/devices";
/// Where sysfs lists IOMMU groups.
pub(crate) const IOMMU_GROUPS: &str = "/sys/kernel/iommu_groups";
/// Page size assumed for DMA buffers and IOVAs (x86-64 and the IOMMU's smallest page).
pub(crate) const PAGE_SIZE: usize = 4096;

/// What VFIO says about one device region (a BAR, or the PCI config space).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RegionInfo {
    /// Size in bytes; 0 means the region (e.g. an unused BAR) is absent.
    pub(crate) size: u64,
    /// The region may be read through the device fd.
    pub(crate) readable: bool,
    /// The region may be written through the device fd.
    pub(crate) writable: bool,
    /// The region may be mmapped.
    pub(crate) mmap: bool,
}

/// Why [`Host::open`] failed, in terms the caller can turn into advice.
#[derive(Debug)]
pub(crate) enum OpenFailure {
    /// `/dev/vfio/vfio` could not be opened (vfio module not loaded, or no permission).
    Container(io::Error),
    /// The container has no type1v2 IOMMU backend (`vfio_iommu_type1` not loaded).
    NoType1,
    /// The kernel says the group is not viable.
    GroupNotViable,
    /// `/dev/vfio/<group>` could not be opened.
    Group(io::Error),
    /// VFIO_SET_IOMMU failed (EPERM: no interrupt remapping).
    SetIommu(io::Error),
    /// Any later step (attach, set IOMMU, get device fd, device info).
    Device(io::Error),
}

/// Sysfs queries and VFIO open: the host side of the seam.
pub(crate) trait Host {
    /// Whether `/sys/bus/pci/devices/<bdf>` exists.
    fn device_exists(&self, bdf: &str) -> bool;
    /// The IOMMU group number of `bdf`; `Ok(None)` when the device has no `iommu_group` link.
    fn iommu_group(&self, bdf: &str) -> io::Result<Option<u32>>;
    /// The PCI addresses of all devices in IOMMU group `group`, sorted.
    fn group_devices(&self, group: u32) -> io::Result<Vec<String>>;
    /// The name of the driver `bdf` is bound to, `None` when unbound.
    fn driver(&self, bdf: &str) -> io::Result<Option<String>>;
    /// Opens container, group and device. The group must already have been checked viable.
    fn open(&self, bdf: &str) -> Result<Arc<dyn DeviceOps>, OpenFailure>;
}

/// One opened VFIO device: the device side of the seam.
pub(crate) trait DeviceOps: Send + Sync {
    /// Info for region `index` (BAR 0-5, config space 7), `None` if VFIO reported none.
    fn region(&self, index: u32) -> Option<RegionInfo>;
    /// Reads `buf.len()` bytes at `offset` of region `index` through the device fd.
    fn region_read(&self, index: u32, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Writes `buf` at `offset` of region `index` through the device fd.
    fn region_write(&self, index: u32, offset: u64, buf: &[u8]) -> io::Result<()>;
    /// Maps the whole of region `index` (which must have the mmap flag).
    fn mmap_region(&self, index: u32) -> io::Result<MmioMap>;
    /// Maps `mem` into the IOMMU at `iova` for device reads and writes.
    fn map_dma(&self, mem: &DmaMem, iova: u64) -> io::Result<()>;
    /// Removes the IOMMU mapping of `len` bytes at `iova`.
    fn unmap_dma(&self, iova: u64, len: usize) -> io::Result<()>;
    /// Number of vectors VFIO offers for interrupt index `index` (1 = MSI).
    fn irq_count(&self, index: u32) -> u32;
    /// Routes MSI vector 0 to `fd` (VFIO_DEVICE_SET_IRQS, DATA_EVENTFD | ACTION_TRIGGER).
    fn enable_msi(&self, fd: &EventFd) -> io::Result<()>;
}

// ---------------------------------------------------------------------------------------------
// Real host: sysfs + vfio-ioctls.

/// The real [`Host`]: reads `/sys` and opens `/dev/vfio`.
#[derive(Debug, Default)]
pub(crate) struct LinuxHost;

fn device_dir(bdf: &str) -> PathBuf {
    Path::new(PCI_DEVICES).join(bdf)
}

fn link_name(path: &Path) -> io::Result<Option<String>> {
    match fs::read_link(path) {
        Ok(target) => Ok(target
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl Host for LinuxHost {
    fn device_exists(&self, bdf: &str) -> bool {
        device_dir(bdf).exists()
    }

    fn iommu_group(&self, bdf: &str) -> io::Result<Option<u32>> {
        let Some(name) = link_name(&device_dir(bdf).join("iommu_group"))? else {
            return Ok(None);
        };
        name.parse().map(Some).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("iommu_group link of {bdf} points at {name:?}, not a number"),
            )
        })
    }

    fn group_devices(&self, group: u32) -> io::Result<Vec<String>> {
        let dir = Path::new(IOMMU_GROUPS)
            .join(group.to_string())
            .join("devices");
        let mut devices = fs::read_dir(dir)?
            .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<io::Result<Vec<_>>>()?;
        devices.sort();
        Ok(devices)
    }

    fn driver(&self, bdf: &str) -> io::Result<Option<String>> {
        link_name(&device_dir(bdf).join("driver"))
    }

    fn open(&self, bdf: &str) -> Result<Arc<dyn DeviceOps>, OpenFailure> {
        let container = VfioContainer::new(None).map_err(|e| match e {
            IoctlError::OpenContainer(io) => OpenFailure::Container(io),
            // VFIO_CHECK_EXTENSION(TYPE1v2) returned 0: no type1 backend registered.
            IoctlError::VfioExtension => OpenFailure::NoType1,
            other => OpenFailure::Device(io::Error::other(other)),
        })?;
        let container = Arc::new(container);
        let ops: Arc<dyn VfioOps> = container.clone();
        let device = IoctlDevice::new(&device_dir(bdf), ops, false).map_err(|e| match e {
            IoctlError::GroupViable => OpenFailure::GroupNotViable,
            IoctlError::OpenGroup(io, _) => OpenFailure::Group(io),
            IoctlError::VfioType1V2 => OpenFailure::NoType1,
            IoctlError::ContainerSetIOMMU(sys) => {
                OpenFailure::SetIommu(io::Error::from_raw_os_error(sys.errno()))
            }
            other => OpenFailure::Device(io::Error::other(other)),
        })?;
        Ok(Arc::new(LinuxDevice { device, container }))
    }
}

/// The real [`DeviceOps`]: a `vfio-ioctls` device plus the container its group sits in.
pub(crate) struct LinuxDevice {
    // Field order is drop order: the device fd is closed before the container.
    device: IoctlDevice,
    container: Arc<VfioContainer>,
}

/// `_IO(VFIO_TYPE, VFIO_BASE + 10)`, as in `<linux/vfio.h>`.
const VFIO_DEVICE_SET_IRQS: libc::c_ulong =
    ((VFIO_TYPE as libc::c_ulong) << 8) | (VFIO_BASE as libc::c_ulong + 10);

/// A `vfio_irq_set` header followed by exactly one eventfd, laid out as the kernel expects.
#[repr(C)]
struct IrqSetOneFd {
    header: vfio_irq_set,
    fd: i32,
}

fn io_err_from_ioctl(e: IoctlError) -> io::Error {
    match e {
        IoctlError::IommuDmaMap(sys) | IoctlError::IommuDmaUnmap(sys) => {
            io::Error::from_raw_os_error(sys.errno())
        }
        other => io::Error::other(other),
    }
}

impl LinuxDevice {
    fn checked_region(&self, index: u32, offset: u64, len: usize) -> io::Result<u64> {
        let info = self
            .region(index)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no region {index}")))?;
        let end = offset.checked_add(len as u64);
        if end.is_none_or(|end| end > info.size) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{len} bytes at {offset:#x} exceed region {index} of {:#x}",
                    info.size
                ),
            ));
        }
        Ok(self.device.get_region_offset(index) + offset)
    }
}

impl DeviceOps for LinuxDevice {
    fn region(&self, index: u32) -> Option<RegionInfo> {
        // vfio-ioctls keeps regions in a Vec indexed by region number; indices stay aligned for
        // BARs 0-5 and config space 7 because those queries do not fail on vfio-pci.
        let flags = self.device.get_region_flags(index);
        if flags == 0 && self.device.get_region_size(index) == 0 {
            return None;
        }
        Some(RegionInfo {
            size: self.device.get_region_size(index),
            readable: flags & VFIO_REGION_INFO_FLAG_READ != 0,
            writable: flags & VFIO_REGION_INFO_FLAG_WRITE != 0,
            mmap: flags & VFIO_REGION_INFO_FLAG_MMAP != 0,
        })
    }

    fn region_read(&self, index: u32, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let pos = self.checked_region(index, offset, buf.len())?;
        let pos = libc::off_t::try_from(pos).map_err(|_| io::ErrorKind::InvalidInput)?;
        // SAFETY: `buf` is a valid, exclusively borrowed buffer of `buf.len()` bytes for the
        // whole call; the fd is the open VFIO device fd owned by `self.device`.
        let n = unsafe {
            libc::pread(
                self.device.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                pos,
            )
        };
        check_full(n, buf.len())
    }

    fn region_write(&self, index: u32, offset: u64, buf: &[u8]) -> io::Result<()> {
        let pos = self.checked_region(index, offset, buf.len())?;
        let pos = libc::off_t::try_from(pos).map_err(|_| io::ErrorKind::InvalidInput)?;
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the whole call; the fd is
        // the open VFIO device fd owned by `self.device`.
        let n =
            unsafe { libc::pwrite(self.device.as_raw_fd(), buf.as_ptr().cast(), buf.len(), pos) };
        check_full(n, buf.len())
    }

    fn mmap_region(&self, index: u32) -> io::Result<MmioMap> {
        let info = self
            .region(index)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no region {index}")))?;
        let len = usize::try_from(info.size).map_err(|_| io::ErrorKind::InvalidInput)?;
        let offset = libc::off_t::try_from(self.device.get_region_offset(index))
            .map_err(|_| io::ErrorKind::InvalidInput)?;
        MmioMap::map_fd(self.device.as_raw_fd(), offset, len)
    }

    fn map_dma(&self, mem: &DmaMem, iova: u64) -> io::Result<()> {
        // SAFETY: `vfio_dma_map` requires that, while mapped, the range is only accessed
        // through raw pointers (volatile/atomic) or syscalls, and that no reference into it
        // exists. `DmaMem` never creates references into its memory (see its docs), and the
        // caller (`DmaBuffer`) unmaps the IOVA before `DmaMem` is dropped and munmapped.
        unsafe {
            self.container
                .vfio_dma_map(iova, mem.len(), mem.ptr.as_ptr())
        }
        .map_err(io_err_from_ioctl)
    }

    fn unmap_dma(&self, iova: u64, len: usize) -> io::Result<()> {
        self.container
            .vfio_dma_unmap(iova, len)
            .map_err(io_err_from_ioctl)
    }

    fn irq_count(&self, index: u32) -> u32 {
        self.device.get_irq_info(index).map_or(0, |irq| irq.count)
    }

    fn enable_msi(&self, fd: &EventFd) -> io::Result<()> {
        let set = IrqSetOneFd {
            header: vfio_irq_set {
                argsz: std::mem::size_of::<IrqSetOneFd>() as u32,
                flags: VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                index: VFIO_PCI_MSI_IRQ_INDEX,
                start: 0,
                count: 1,
                ..Default::default()
            },
            fd: fd.as_raw_fd(),
        };
        // SAFETY: the fd is the open VFIO device fd; `set` is a fully initialised
        // `vfio_irq_set` whose `argsz` covers the header plus the one `i32` fd that follows it
        // at offset 20 (`repr(C)`, both 4-byte aligned), and the kernel only reads it.
        let ret = unsafe {
            libc::ioctl(
                self.device.as_raw_fd(),
                VFIO_DEVICE_SET_IRQS,
                std::ptr::from_ref(&set),
            )
        };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

fn check_full(n: isize, want: usize) -> io::Result<()> {
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n as usize != want {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("short transfer: {n} of {want} bytes"),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Memory mappings.

/// Maps `len` bytes; `fd = None` gives anonymous, zeroed, private memory.
fn mmap(fd: Option<(RawFd, libc::off_t)>, len: usize) -> io::Result<NonNull<u8>> {
    if len == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot map 0 bytes",
        ));
    }
    let (flags, raw_fd, offset) = match fd {
        Some((fd, offset)) => (libc::MAP_SHARED, fd, offset),
        None => (
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
            -1,
            0,
        ),
    };
    // SAFETY: a fresh mapping at an address the kernel chooses (null hint, no MAP_FIXED) cannot
    // alias any existing Rust object; the result is checked against MAP_FAILED below.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            raw_fd,
            offset,
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    NonNull::new(ptr.cast()).ok_or_else(|| io::Error::other("mmap returned null"))
}

fn munmap(ptr: NonNull<u8>, len: usize) {
    // SAFETY: `ptr`/`len` are exactly a mapping this module created and still owns; its owner
    // is being dropped, so no pointer into it is used afterwards. munmap cannot fail for a
    // valid mapping, so the return value carries no information.
    unsafe {
        libc::munmap(ptr.as_ptr().cast(), len);
    }
}

/// True when `[offset, offset + len)` lies inside `size` bytes and `offset` is a multiple of
/// `align`.
pub(crate) fn in_bounds(offset: usize, len: usize, size: usize, align: usize) -> bool {
    offset % align == 0 && offset.checked_add(len).is_some_and(|end| end <= size)
}

/// A mapped device region (BAR). Access is only through bounds-checked volatile 32-bit loads
/// and stores; no reference into the mapping is ever created.
#[derive(Debug)]
pub(crate) struct MmioMap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: `MmioMap` owns its mapping exclusively and only exposes volatile accesses through
// `&self`; device registers are designed for such concurrent access, and nothing is cached.
unsafe impl Send for MmioMap {}
// SAFETY: as above: shared use is a series of independent volatile loads and stores.
unsafe impl Sync for MmioMap {}

impl MmioMap {
    fn map_fd(fd: RawFd, offset: libc::off_t, len: usize) -> io::Result<Self> {
        Ok(Self {
            ptr: mmap(Some((fd, offset)), len)?,
            len,
        })
    }

    /// Anonymous memory standing in for a BAR (tests).
    #[cfg(test)]
    pub(crate) fn anonymous(len: usize) -> io::Result<Self> {
        Ok(Self {
            ptr: mmap(None, len)?,
            len,
        })
    }

    /// Volatile 32-bit load; `None` if `offset` is misaligned or out of range.
    pub(crate) fn read32(&self, offset: usize) -> Option<u32> {
        if !in_bounds(offset, 4, self.len, 4) {
            return None;
        }
        let ptr = self.ptr.as_ptr().wrapping_add(offset).cast::<u32>();
        // SAFETY: `offset + 4 <= len` and `offset` is 4-aligned inside a page-aligned mapping
        // owned by `self`, so `ptr` is valid and aligned for a u32 load. Volatile, because
        // the device may change the value and a read may have side effects.
        Some(unsafe { ptr.read_volatile() })
    }

    /// Volatile 32-bit store; `false` if `offset` is misaligned or out of range.
    pub(crate) fn write32(&self, offset: usize, value: u32) -> bool {
        if !in_bounds(offset, 4, self.len, 4) {
            return false;
        }
        let ptr = self.ptr.as_ptr().wrapping_add(offset).cast::<u32>();
        // SAFETY: as in `read32`: in bounds, aligned, owned mapping; volatile so the store is
        // emitted exactly once and in order.
        unsafe { ptr.write_volatile(value) };
        true
    }
}

impl Drop for MmioMap {
    fn drop(&mut self) {
        munmap(self.ptr, self.len);
    }
}

/// Anonymous, page-aligned, zeroed memory that a device may read and write by DMA at any time.
///
/// No Rust reference into it is ever created: bytes move in and out with volatile accesses
/// only, which is the invariant `vfio_dma_map` requires while the memory is IOMMU-mapped.
#[derive(Debug)]
pub(crate) struct DmaMem {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: `DmaMem` owns its mapping exclusively; all access is volatile through raw pointers,
// which is no less defined from another thread than from this one (the device is already a
// concurrent writer).
unsafe impl Send for DmaMem {}
// SAFETY: as above.
unsafe impl Sync for DmaMem {}

impl DmaMem {
    /// Allocates `len` bytes (`len` a non-zero multiple of [`PAGE_SIZE`]).
    pub(crate) fn new(len: usize) -> io::Result<Self> {
        if len == 0 || len % PAGE_SIZE != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("dma length {len} is not a non-zero multiple of {PAGE_SIZE}"),
            ));
        }
        Ok(Self {
            ptr: mmap(None, len)?,
            len,
        })
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Copies `buf.len()` bytes out, starting at `offset`; `false` (nothing copied) if the
    /// range does not fit.
    pub(crate) fn read(&self, offset: usize, buf: &mut [u8]) -> bool {
        if !in_bounds(offset, buf.len(), self.len, 1) {
            return false;
        }
        // Order the copy after whatever the device completion signalled (a register read or
        // an interrupt) that led the caller here.
        fence(Ordering::Acquire);
        for (i, byte) in buf.iter_mut().enumerate() {
            let ptr = self.ptr.as_ptr().wrapping_add(offset + i);
            // SAFETY: `offset + i < offset + buf.len() <= len`, so `ptr` is inside the mapping
            // owned by `self`; a volatile u8 load has no alignment requirement.
            *byte = unsafe { ptr.read_volatile() };
        }
        true
    }

    /// Copies `buf` in, starting at `offset`; `false` (nothing copied) if it does not fit.
    pub(crate) fn write(&self, offset: usize, buf: &[u8]) -> bool {
        if !in_bounds(offset, buf.len(), self.len, 1) {
            return false;
        }
        for (i, byte) in buf.iter().enumerate() {
            let ptr = self.ptr.as_ptr().wrapping_add(offset + i);
            // SAFETY: as in `read`: in bounds of the owned mapping, u8 needs no alignment.
            unsafe { ptr.write_volatile(*byte) };
        }
        // Make the bytes visible before a later doorbell/register write starts the device.
        fence(Ordering::Release);
        true
    }
}

impl Drop for DmaMem {
    fn drop(&mut self) {
        munmap(self.ptr, self.len);
    }
}

// ---------------------------------------------------------------------------------------------
// Interrupts.

/// A non-blocking eventfd that VFIO signals when the device raises MSI vector 0.
#[derive(Debug)]
pub(crate) struct EventFd {
    fd: OwnedFd,
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl EventFd {
    /// Creates an eventfd with counter 0.
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: eventfd takes no pointers; the result is checked before use.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by eventfd, is open, and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Self { fd })
    }

    /// A second handle on the same eventfd (tests use it to play the kernel's part).
    #[cfg(test)]
    pub(crate) fn try_clone(&self) -> io::Result<Self> {
        Ok(Self {
            fd: self.fd.try_clone()?,
        })
    }

    /// Adds 1 to the counter, as VFIO does on an interrupt (tests).
    #[cfg(test)]
    pub(crate) fn signal(&self) -> io::Result<()> {
        let one = 1u64.to_ne_bytes();
        // SAFETY: `one` is 8 readable bytes for the duration of the call; the fd is owned.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), one.as_ptr().cast(), one.len()) };
        check_full(n, one.len())
    }

    /// Waits up to `timeout` for the counter to become non-zero, then resets it.
    /// Returns whether at least one event arrived.
    pub(crate) fn wait(&self, timeout: Duration) -> io::Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // Round up so a sub-millisecond remainder still waits instead of spinning.
            let ms = libc::c_int::try_from(left.as_nanos().div_ceil(1_000_000))
                .unwrap_or(libc::c_int::MAX);
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: `pfd` is one valid, exclusively borrowed pollfd for the call's duration.
            let ret = unsafe { libc::poll(&mut pfd, 1, ms) };
            if ret < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err);
            }
            if ret == 0 {
                return Ok(false);
            }
            return self.drain();
        }
    }

    /// Reads (and so resets) the counter; `Ok(false)` if it was already 0.
    fn drain(&self) -> io::Result<bool> {
        let mut count = [0u8; 8];
        // SAFETY: `count` is 8 writable bytes for the duration of the call; the fd is owned.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), count.as_mut_ptr().cast(), count.len()) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::WouldBlock {
                return Ok(false);
            }
            return Err(err);
        }
        check_full(n, count.len())?;
        Ok(u64::from_ne_bytes(count) > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmio_map_refuses_out_of_range_and_misaligned_offsets() {
        let map = MmioMap::anonymous(PAGE_SIZE).unwrap();
        assert!(map.write32(PAGE_SIZE - 4, 0x1234_5678));
        assert_eq!(map.read32(PAGE_SIZE - 4), Some(0x1234_5678));
        assert_eq!(map.read32(PAGE_SIZE), None);
        assert_eq!(map.read32(2), None);
        assert_eq!(map.read32(usize::MAX - 1), None);
        assert!(!map.write32(PAGE_SIZE - 2, 0));
    }

    #[test]
    fn dma_mem_copies_in_range_and_refuses_overflow() {
        let mem = DmaMem::new(PAGE_SIZE).unwrap();
        assert!(mem.write(PAGE_SIZE - 3, &[1, 2, 3]));
        let mut out = [0u8; 3];
        assert!(mem.read(PAGE_SIZE - 3, &mut out));
        assert_eq!(out, [1, 2, 3]);
        assert!(!mem.write(PAGE_SIZE - 2, &[1, 2, 3]));
        assert!(!mem.read(usize::MAX, &mut out));
        assert!(DmaMem::new(100).is_err());
    }

    #[test]
    fn eventfd_wait_reports_signal_then_times_out() {
        let fd = EventFd::new().unwrap();
        assert!(!fd.wait(Duration::from_millis(10)).unwrap());
        fd.try_clone().unwrap().signal().unwrap();
        assert!(fd.wait(Duration::from_millis(10)).unwrap());
        // The wait reset the counter.
        assert!(!fd.wait(Duration::from_millis(10)).unwrap());
    }

    #[test]
    fn set_irqs_request_number_matches_linux_header() {
        // _IO(';', 100 + 10) from <linux/vfio.h>.
        assert_eq!(VFIO_DEVICE_SET_IRQS, 0x3b6e);
        assert_eq!(std::mem::size_of::<IrqSetOneFd>(), 24);
    }
}
