//! [`Bar`]: bounds-checked 32-bit register access to one PCI BAR.

use std::sync::Arc;

use crate::sys::{DeviceOps, MmioMap};
use crate::{BarOffset, VfioError};

/// What an all-ones read means: nobody answered the read (device gone or being reprogrammed).
const ALL_ONES: u32 = 0xffff_ffff;

enum Access {
    /// The BAR is mmapped: volatile loads and stores, no syscall per access.
    Mapped(MmioMap),
    /// The BAR is not mmap-able: pread/pwrite on the device fd, one syscall per access.
    Region,
}

/// One mapped BAR of a [`crate::VfioDevice`].
///
/// Every access is 32 bits wide, 4-byte aligned and inside the BAR, or an error; a read of
/// `0xffff_ffff` is [`VfioError::DeviceGone`], never a value.
pub struct Bar {
    bdf: Arc<str>,
    index: u8,
    size: u64,
    access: Access,
    ops: Arc<dyn DeviceOps>,
}

impl std::fmt::Debug for Bar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bar")
            .field("bdf", &self.bdf)
            .field("index", &self.index)
            .field("size", &self.size)
            .field("mapped", &self.is_mapped())
            .finish()
    }
}

impl Bar {
    pub(crate) fn new(
        bdf: Arc<str>,
        ops: Arc<dyn DeviceOps>,
        index: u8,
    ) -> Result<Self, VfioError> {
        let info = (index < 6)
            .then(|| ops.region(u32::from(index)))
            .flatten()
            .filter(|info| info.size > 0 && info.readable);
        let Some(info) = info else {
            return Err(VfioError::NoSuchBar {
                bdf: bdf.to_string(),
                index,
            });
        };
        // An mmap refused despite the flag (e.g. a BAR smaller than a page on some kernels)
        // still leaves the fd path, which always works.
        let access = match info.mmap {
            true => ops
                .mmap_region(u32::from(index))
                .map_or(Access::Region, Access::Mapped),
            false => Access::Region,
        };
        Ok(Self {
            bdf,
            index,
            size: info.size,
            access,
            ops,
        })
    }

    /// BAR index (0-5).
    pub fn index(&self) -> u8 {
        self.index
    }

    /// BAR size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether accesses go through an mmap (`true`) or a syscall each (`false`).
    pub fn is_mapped(&self) -> bool {
        matches!(self.access, Access::Mapped(_))
    }

    /// Checks a 4-byte access at `offset`.
    fn check(&self, offset: BarOffset) -> Result<u64, VfioError> {
        if offset.0 % 4 != 0 {
            return Err(VfioError::MisalignedBarOffset {
                bar: self.index,
                offset,
            });
        }
        if offset.0.checked_add(4).is_none_or(|end| end > self.size) {
            return Err(self.out_of_range(offset));
        }
        Ok(offset.0)
    }

    fn out_of_range(&self, offset: BarOffset) -> VfioError {
        VfioError::BarOffsetOutOfRange {
            bar: self.index,
            offset,
            size: self.size,
        }
    }

    fn region_err(&self, offset: u64, write: bool, source: std::io::Error) -> VfioError {
        VfioError::Region {
            bdf: self.bdf.to_string(),
            region: u32::from(self.index),
            offset,
            len: 4,
            write,
            source,
        }
    }

    /// Reads the 32-bit register at `offset`.
    pub fn read32(&self, offset: BarOffset) -> Result<u32, VfioError> {
        let at = self.check(offset)?;
        let value = match &self.access {
            Access::Mapped(map) => usize::try_from(at)
                .ok()
                .and_then(|at| map.read32(at))
                .ok_or_else(|| self.out_of_range(offset))?,
            Access::Region => {
                let mut buf = [0u8; 4];
                self.ops
                    .region_read(u32::from(self.index), at, &mut buf)
                    .map_err(|source| self.region_err(at, false, source))?;
                u32::from_le_bytes(buf)
            }
        };
        if value == ALL_ONES {
            return Err(VfioError::DeviceGone {
                bdf: self.bdf.to_string(),
                bar: self.index,
                offset,
            });
        }
        Ok(value)
    }

    /// Writes `value` to the 32-bit register at `offset`.
    pub fn write32(&self, offset: BarOffset, value: u32) -> Result<(), VfioError> {
        let at = self.check(offset)?;
        match &self.access {
            Access::Mapped(map) => {
                let done = usize::try_from(at).is_ok_and(|at| map.write32(at, value));
                if !done {
                    return Err(self.out_of_range(offset));
                }
                Ok(())
            }
            Access::Region => self
                .ops
                .region_write(u32::from(self.index), at, &value.to_le_bytes())
                .map_err(|source| self.region_err(at, true, source)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{FakeDevice, FakeHost};
    use crate::VfioDevice;

    const BDF: &str = "0000:00:03.0";

    fn open(dev: FakeDevice) -> (FakeHost, VfioDevice) {
        let host = FakeHost::viable(BDF, dev);
        let vfio = VfioDevice::open_with(&host, BDF).unwrap();
        (host, vfio)
    }

    /// Both access paths must behave the same; run each check over both.
    fn both_paths() -> [(bool, Bar, FakeHost); 2] {
        [true, false].map(|mmap| {
            let (host, dev) = open(FakeDevice::new().with_bar0(0x1000, mmap));
            let bar = dev.bar(0).unwrap();
            assert_eq!(bar.is_mapped(), mmap);
            (mmap, bar, host)
        })
    }

    #[test]
    fn reads_back_what_was_written_up_to_the_last_word() {
        for (mmap, bar, _host) in both_paths() {
            bar.write32(BarOffset(0xffc), 0x0100_00ed).unwrap();
            assert_eq!(
                bar.read32(BarOffset(0xffc)).unwrap(),
                0x0100_00ed,
                "mmap={mmap}"
            );
            assert_eq!(bar.read32(BarOffset(0)).unwrap(), 0, "mmap={mmap}");
        }
    }

    #[test]
    fn rejects_offsets_past_the_end() {
        for (mmap, bar, host) in both_paths() {
            for off in [0x1000, 0xffe_u64 + 2, u64::MAX - 3] {
                let err = bar.read32(BarOffset(off)).unwrap_err();
                assert!(
                    matches!(err, VfioError::BarOffsetOutOfRange { size: 0x1000, .. }),
                    "mmap={mmap} off={off:#x}: {err}"
                );
                assert!(bar.write32(BarOffset(off), 1).is_err());
            }
            assert_eq!(
                host.device().bar0_syscalls(),
                0,
                "a refused access reached the device"
            );
        }
    }

    #[test]
    fn rejects_misaligned_offsets() {
        for (_, bar, _host) in both_paths() {
            for off in [1, 2, 3, 0xffd] {
                let err = bar.write32(BarOffset(off), 1).unwrap_err();
                assert!(
                    matches!(err, VfioError::MisalignedBarOffset { .. }),
                    "{err}"
                );
                assert_eq!(
                    err.to_string(),
                    format!("offset {off:#x} in bar 0 is not 4-byte aligned")
                );
            }
        }
    }

    #[test]
    fn all_ones_read_is_device_gone_not_a_value() {
        for (mmap, bar, _host) in both_paths() {
            bar.write32(BarOffset(0x10), 0xffff_ffff).unwrap();
            let err = bar.read32(BarOffset(0x10)).unwrap_err();
            assert!(
                matches!(err, VfioError::DeviceGone { bar: 0, .. }),
                "mmap={mmap}: {err}"
            );
            assert!(err
                .to_string()
                .contains("offset 0x10 on 0000:00:03.0 returned 0xffffffff"));
            // One bit less is a value.
            bar.write32(BarOffset(0x10), 0xffff_fffe).unwrap();
            assert_eq!(bar.read32(BarOffset(0x10)).unwrap(), 0xffff_fffe);
        }
    }

    #[test]
    fn fd_path_uses_little_endian_and_the_device_fd() {
        let (host, dev) = open(FakeDevice::new().with_bar0(0x100, false));
        let bar = dev.bar(0).unwrap();
        bar.write32(BarOffset(4), 0x1122_3344).unwrap();
        assert_eq!(host.device().bar0_bytes(4, 4), [0x44, 0x33, 0x22, 0x11]);
        assert_eq!(host.device().bar0_syscalls(), 1);
    }

    #[test]
    fn absent_bars_are_errors() {
        let (_host, dev) = open(FakeDevice::new());
        for index in [1, 5, 6, 7, 255] {
            let err = dev.bar(index).unwrap_err();
            assert!(
                matches!(err, VfioError::NoSuchBar { .. }),
                "bar {index}: {err}"
            );
        }
    }
}
