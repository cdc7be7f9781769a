//! The one interface every backend implements: 32-bit registers in a BAR
//! window, DMA memory the device reaches by IOVA, interrupt events and time.
//!
//! DMA memory is never handed out as a Rust reference: the device may write
//! it at any moment, so the trait copies bytes in and out (volatile or
//! bounds-checked copies in the backend), and typed access goes through
//! `zerocopy` on those copies.

use crate::DriverError;
use replimesh_regs::{BarOffset, Iova};
use zerocopy::{FromBytes, Immutable, IntoBytes};

/// A DMA region: host memory the device reaches at `iova`. Owned by the
/// device that allocated it; pass it back to that device only.
#[derive(Debug, PartialEq, Eq)]
pub struct DmaRegion {
    id: u32,
    iova: Iova,
    len: usize,
}

impl DmaRegion {
    /// Made by backends when they allocate.
    pub fn new(id: u32, iova: Iova, len: usize) -> Self {
        Self { id, iova, len }
    }
    /// Backend's handle.
    pub fn id(&self) -> u32 {
        self.id
    }
    /// Where the device sees byte 0.
    pub fn iova(&self) -> Iova {
        self.iova
    }
    /// Bytes.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether the region is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Checks `offset..offset+len` lies inside.
    pub fn check(&self, offset: usize, len: usize) -> Result<(), DriverError> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(DriverError::DmaOutOfRange {
                iova: self.iova,
                offset,
                len,
                region_bytes: self.len,
            }),
        }
    }
}

/// An interrupt delivered by the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Interrupt vector (0 for the endpoint's one line).
    pub vector: u32,
    /// Device time when it was raised, in card clock cycles.
    pub at_cycle: u64,
}

/// A device: one node's endpoint as its host sees it.
///
/// Time is counted in card clock cycles. A simulated device advances its
/// clock only inside [`Device::wait`] and [`Device::advance_time`] (and one
/// cycle per register access), so a runtime that is idle must call one of
/// them; a hardware backend sleeps instead.
pub trait Device {
    /// Bytes of the BAR window.
    fn window_bytes(&self) -> u64;
    /// Reads a 32-bit register. Returns the raw value; callers treat
    /// all-ones as [`DriverError::DeviceGone`] (see [`crate::Regs`]).
    fn read32(&mut self, offset: BarOffset) -> Result<u32, DriverError>;
    /// Writes a 32-bit register.
    fn write32(&mut self, offset: BarOffset, value: u32) -> Result<(), DriverError>;
    /// Allocates and maps `bytes` of zeroed DMA memory.
    fn alloc_dma(&mut self, bytes: usize) -> Result<DmaRegion, DriverError>;
    /// Unmaps and frees a region.
    fn free_dma(&mut self, region: DmaRegion) -> Result<(), DriverError>;
    /// Copies `buf.len()` bytes out of `region` from `offset`.
    fn dma_read(
        &mut self,
        region: &DmaRegion,
        offset: usize,
        buf: &mut [u8],
    ) -> Result<(), DriverError>;
    /// Copies `data` into `region` at `offset`.
    fn dma_write(
        &mut self,
        region: &DmaRegion,
        offset: usize,
        data: &[u8],
    ) -> Result<(), DriverError>;
    /// Takes a pending interrupt event without waiting.
    fn take_event(&mut self) -> Option<Event>;
    /// Lets up to `max_cycles` pass, returning early with the first interrupt.
    fn wait(&mut self, max_cycles: u64) -> Result<Option<Event>, DriverError>;
    /// Lets `cycles` pass (interrupts raised meanwhile stay pending).
    fn advance_time(&mut self, cycles: u64) -> Result<(), DriverError>;
    /// The device's clock, in cycles.
    fn now(&self) -> u64;

    /// Reads a `zerocopy` value out of DMA memory.
    fn dma_read_obj<T: FromBytes + IntoBytes>(
        &mut self,
        region: &DmaRegion,
        offset: usize,
    ) -> Result<T, DriverError>
    where
        Self: Sized,
    {
        let mut v = T::new_zeroed();
        self.dma_read(region, offset, v.as_mut_bytes())?;
        Ok(v)
    }

    /// Writes a `zerocopy` value into DMA memory.
    fn dma_write_obj<T: IntoBytes + Immutable>(
        &mut self,
        region: &DmaRegion,
        offset: usize,
        value: &T,
    ) -> Result<(), DriverError>
    where
        Self: Sized,
    {
        self.dma_write(region, offset, value.as_bytes())
    }
}

impl<D: Device + ?Sized> Device for &mut D {
    fn window_bytes(&self) -> u64 {
        (**self).window_bytes()
    }
    fn read32(&mut self, offset: BarOffset) -> Result<u32, DriverError> {
        (**self).read32(offset)
    }
    fn write32(&mut self, offset: BarOffset, value: u32) -> Result<(), DriverError> {
        (**self).write32(offset, value)
    }
    fn alloc_dma(&mut self, bytes: usize) -> Result<DmaRegion, DriverError> {
        (**self).alloc_dma(bytes)
    }
    fn free_dma(&mut self, region: DmaRegion) -> Result<(), DriverError> {
        (**self).free_dma(region)
    }
    fn dma_read(&mut self, r: &DmaRegion, o: usize, b: &mut [u8]) -> Result<(), DriverError> {
        (**self).dma_read(r, o, b)
    }
    fn dma_write(&mut self, r: &DmaRegion, o: usize, d: &[u8]) -> Result<(), DriverError> {
        (**self).dma_write(r, o, d)
    }
    fn take_event(&mut self) -> Option<Event> {
        (**self).take_event()
    }
    fn wait(&mut self, max_cycles: u64) -> Result<Option<Event>, DriverError> {
        (**self).wait(max_cycles)
    }
    fn advance_time(&mut self, cycles: u64) -> Result<(), DriverError> {
        (**self).advance_time(cycles)
    }
    fn now(&self) -> u64 {
        (**self).now()
    }
}
