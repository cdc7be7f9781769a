//! [`DmaBuffer`]: host memory a device reaches through the IOMMU at a fixed IOVA.

use std::sync::Arc;

use crate::sys::{DeviceOps, DmaMem, PAGE_SIZE};
use crate::{Iova, VfioError};

/// Zeroed, page-aligned host memory mapped into the device's IOMMU domain at [`Self::iova`].
///
/// The device may read or write it at any moment, so it is never exposed as a Rust reference:
/// bytes are copied in and out with volatile accesses, bounds-checked. Dropping the buffer
/// removes the IOMMU mapping first, then frees the memory; use [`Self::unmap`] to see an unmap
/// error.
pub struct DmaBuffer {
    // Drop order: `Drop::drop` unmaps the IOVA, then the fields drop (`mem` is munmapped).
    iova: Iova,
    mem: DmaMem,
    ops: Arc<dyn DeviceOps>,
    mapped: bool,
}

impl std::fmt::Debug for DmaBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DmaBuffer")
            .field("iova", &self.iova)
            .field("len", &self.mem.len())
            .finish_non_exhaustive()
    }
}

impl DmaBuffer {
    pub(crate) fn new(ops: Arc<dyn DeviceOps>, len: usize, iova: Iova) -> Result<Self, VfioError> {
        if len == 0 {
            return Err(VfioError::EmptyDmaBuffer);
        }
        let bad_iova = || VfioError::BadIova { iova, len };
        let len = len
            .checked_next_multiple_of(PAGE_SIZE)
            .ok_or_else(bad_iova)?;
        let fits = u64::try_from(len)
            .ok()
            .and_then(|len64| iova.0.checked_add(len64))
            .is_some();
        if iova.0 % PAGE_SIZE as u64 != 0 || !fits {
            return Err(bad_iova());
        }
        let mem = DmaMem::new(len).map_err(|source| VfioError::DmaAlloc { len, source })?;
        ops.map_dma(&mem, iova.0)
            .map_err(|source| VfioError::DmaMap { iova, len, source })?;
        Ok(Self {
            iova,
            mem,
            ops,
            mapped: true,
        })
    }

    /// The address the device uses for byte 0 of this buffer.
    pub fn iova(&self) -> Iova {
        self.iova
    }

    /// Length in bytes (a multiple of 4096).
    pub fn len(&self) -> usize {
        self.mem.len()
    }

    /// Always `false`: buffers have at least one page. (Here for `clippy::len_without_is_empty`.)
    pub fn is_empty(&self) -> bool {
        false
    }

    fn out_of_range(&self, offset: usize, len: usize) -> VfioError {
        VfioError::DmaOutOfRange {
            iova: self.iova,
            offset,
            len,
            size: self.mem.len(),
        }
    }

    /// Copies `buf.len()` bytes starting at `offset` out of the buffer.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), VfioError> {
        if self.mem.read(offset, buf) {
            Ok(())
        } else {
            Err(self.out_of_range(offset, buf.len()))
        }
    }

    /// Copies `data` into the buffer starting at `offset`.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), VfioError> {
        if self.mem.write(offset, data) {
            Ok(())
        } else {
            Err(self.out_of_range(offset, data.len()))
        }
    }

    /// Removes the IOMMU mapping now and frees the memory, reporting an unmap failure
    /// (dropping the buffer does the same but cannot report).
    pub fn unmap(mut self) -> Result<(), VfioError> {
        self.mapped = false;
        self.ops
            .unmap_dma(self.iova.0, self.mem.len())
            .map_err(|source| VfioError::DmaUnmap {
                iova: self.iova,
                len: self.mem.len(),
                source,
            })
    }
}

impl Drop for DmaBuffer {
    fn drop(&mut self) {
        if self.mapped {
            // Nothing to report to: a failed unmap leaves the pages pinned by the kernel (not
            // reusable by this process), so freeing `mem` afterwards is still sound.
            let _ = self.ops.unmap_dma(self.iova.0, self.mem.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{FakeDevice, FakeHost};
    use crate::VfioDevice;

    const BDF: &str = "0000:00:03.0";

    fn open() -> (FakeHost, VfioDevice) {
        let host = FakeHost::viable(BDF, FakeDevice::new());
        let dev = VfioDevice::open_with(&host, BDF).unwrap();
        (host, dev)
    }

    #[test]
    fn maps_rounded_length_at_iova_and_unmaps_on_drop() {
        let (host, dev) = open();
        let buf = dev.alloc_dma(100, Iova(0x10_0000)).unwrap();
        assert_eq!(buf.len(), 4096);
        assert_eq!(host.device().dma_maps(), [(0x10_0000, 4096)]);
        drop(buf);
        assert!(host.device().dma_maps().is_empty());
    }

    #[test]
    fn explicit_unmap_reports_failure() {
        let (host, dev) = open();
        let buf = dev.alloc_dma(8192, Iova(0x2000)).unwrap();
        host.device().fail_unmap();
        let err = buf.unmap().unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to unmap 0x2000 bytes at iova 0x2000 from the iommu (VFIO_IOMMU_UNMAP_DMA)"
        );
    }

    #[test]
    fn round_trips_bytes_within_bounds_only() {
        let (_host, dev) = open();
        let buf = dev.alloc_dma(4096, Iova(0)).unwrap();
        buf.write(4090, &[9; 6]).unwrap();
        let mut out = [0u8; 8];
        buf.read(4088, &mut out).unwrap();
        assert_eq!(out, [0, 0, 9, 9, 9, 9, 9, 9]);

        let err = buf.write(4091, &[1; 6]).unwrap_err();
        assert!(
            matches!(
                err,
                VfioError::DmaOutOfRange {
                    offset: 4091,
                    len: 6,
                    size: 4096,
                    ..
                }
            ),
            "{err}"
        );
        assert!(buf.read(usize::MAX, &mut out).is_err());
        // The refused write changed nothing.
        buf.read(4088, &mut out).unwrap();
        assert_eq!(out, [0, 0, 9, 9, 9, 9, 9, 9]);
    }

    #[test]
    fn rejects_bad_iovas_and_sizes_without_mapping() {
        let (host, dev) = open();
        assert!(matches!(
            dev.alloc_dma(0, Iova(0)),
            Err(VfioError::EmptyDmaBuffer)
        ));
        for (len, iova) in [
            (4096, 0x800),
            (4096, u64::MAX - 4095),
            (8192, u64::MAX - 4095),
        ] {
            let err = dev.alloc_dma(len, Iova(iova)).unwrap_err();
            assert!(
                matches!(err, VfioError::BadIova { .. }),
                "{len} at {iova:#x}: {err}"
            );
        }
        assert!(host.device().dma_maps().is_empty());
    }

    #[test]
    fn map_failure_keeps_errno() {
        let (host, dev) = open();
        host.device().fail_map(libc::EEXIST);
        let err = dev.alloc_dma(4096, Iova(0x1000)).unwrap_err();
        assert!(err.to_string().contains("at iova 0x1000 into the iommu"));
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert!(source.contains("File exists"), "{source}");
    }
}
