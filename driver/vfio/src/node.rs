//! [`VfioNode`]: one node's BAR window and DMA memory behind the driver's
//! [`Device`] trait, so the queue layer (`replimesh_driver::Endpoint`) runs
//! on a real vfio-pci device exactly as on the Verilator model.
//!
//! Time on hardware is wall time: the trait's cycles are converted with the
//! card's clock frequency, `wait` blocks on the MSI eventfd and
//! `advance_time` sleeps.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use replimesh_driver::{Device, DmaRegion, DriverError, Event};
use replimesh_spec::regmap::NODE_WINDOW_BYTES;

use crate::{Bar, BarOffset, DmaBuffer, Iova, VfioDevice, VfioError};

/// First IOVA handed out; below 256 MiB for devices with 28-bit DMA.
const IOVA_START: u64 = 0x10_0000;
const PAGE: u64 = 4096;

/// One node's endpoint on a vfio-pci card.
#[derive(Debug)]
pub struct VfioNode {
    device: VfioDevice,
    bar: Bar,
    base: u64,
    window: u64,
    buffers: BTreeMap<u32, (DmaBuffer, usize)>,
    next_iova: u64,
    next_id: u32,
    start: Instant,
    cycle_ns: f64,
}

fn backend(e: VfioError) -> DriverError {
    DriverError::Backend {
        backend: "vfio",
        message: e.to_string(),
    }
}

impl VfioNode {
    /// Node `window`'s BAR window (`window * 64 KiB` into BAR `bar`) of an
    /// opened device, whose card runs at `clock_mhz`. Enables MSI when the
    /// device has it (otherwise run the endpoint in poll mode).
    pub fn new(
        mut device: VfioDevice,
        bar: u8,
        window: u32,
        clock_mhz: u32,
    ) -> Result<Self, DriverError> {
        let bar = device.bar(bar).map_err(backend)?;
        let base = u64::from(window) * u64::from(NODE_WINDOW_BYTES);
        if base >= bar.size() || clock_mhz == 0 {
            return Err(DriverError::OutOfWindow {
                offset: BarOffset(base),
                window_bytes: bar.size(),
            });
        }
        match device.enable_msi() {
            Ok(()) | Err(VfioError::NoMsi { .. }) => {}
            Err(e) => return Err(backend(e)),
        }
        Ok(Self {
            window: (bar.size() - base).min(u64::from(NODE_WINDOW_BYTES)),
            device,
            bar,
            base,
            buffers: BTreeMap::new(),
            next_iova: IOVA_START,
            next_id: 1,
            start: Instant::now(),
            cycle_ns: 1000.0 / f64::from(clock_mhz),
        })
    }

    fn cycles(&self, cycles: u64) -> Duration {
        Duration::from_nanos((cycles as f64 * self.cycle_ns) as u64)
    }

    fn at(&self, offset: BarOffset) -> Result<BarOffset, DriverError> {
        if offset.0 + 4 > self.window {
            return Err(DriverError::OutOfWindow {
                offset,
                window_bytes: self.window,
            });
        }
        Ok(BarOffset(self.base + offset.0))
    }

    fn buffer(&self, region: &DmaRegion) -> Result<&DmaBuffer, DriverError> {
        self.buffers
            .get(&region.id())
            .map(|(b, _)| b)
            .ok_or(DriverError::DmaOutOfRange {
                iova: region.iova(),
                offset: 0,
                len: 0,
                region_bytes: 0,
            })
    }
}

impl Device for VfioNode {
    fn window_bytes(&self) -> u64 {
        self.window
    }

    fn read32(&mut self, offset: BarOffset) -> Result<u32, DriverError> {
        let at = self.at(offset)?;
        match self.bar.read32(at) {
            Ok(v) => Ok(v),
            Err(VfioError::DeviceGone { .. }) => Err(DriverError::DeviceGone { offset }),
            Err(e) => Err(backend(e)),
        }
    }

    fn write32(&mut self, offset: BarOffset, value: u32) -> Result<(), DriverError> {
        let at = self.at(offset)?;
        self.bar.write32(at, value).map_err(backend)
    }

    fn alloc_dma(&mut self, bytes: usize) -> Result<DmaRegion, DriverError> {
        let iova = Iova(self.next_iova);
        let buf = self
            .device
            .alloc_dma(bytes, iova)
            .map_err(|e| DriverError::DmaAlloc {
                bytes,
                reason: e.to_string(),
            })?;
        // The next region starts a guard page after this one.
        self.next_iova += (bytes as u64).div_ceil(PAGE) * PAGE + PAGE;
        let id = self.next_id;
        self.next_id += 1;
        self.buffers.insert(id, (buf, bytes));
        Ok(DmaRegion::new(id, iova, bytes))
    }

    fn free_dma(&mut self, region: DmaRegion) -> Result<(), DriverError> {
        match self.buffers.remove(&region.id()) {
            Some((buf, _)) => buf.unmap().map_err(backend),
            None => Ok(()),
        }
    }

    fn dma_read(
        &mut self,
        region: &DmaRegion,
        offset: usize,
        buf: &mut [u8],
    ) -> Result<(), DriverError> {
        region.check(offset, buf.len())?;
        self.buffer(region)?.read(offset, buf).map_err(backend)
    }

    fn dma_write(
        &mut self,
        region: &DmaRegion,
        offset: usize,
        data: &[u8],
    ) -> Result<(), DriverError> {
        region.check(offset, data.len())?;
        self.buffer(region)?.write(offset, data).map_err(backend)
    }

    fn take_event(&mut self) -> Option<Event> {
        match self.device.wait_irq(Duration::ZERO) {
            Ok(true) => Some(Event {
                vector: 0,
                at_cycle: self.now(),
            }),
            _ => None,
        }
    }

    fn wait(&mut self, max_cycles: u64) -> Result<Option<Event>, DriverError> {
        let timeout = self.cycles(max_cycles);
        match self.device.wait_irq(timeout) {
            Ok(true) => Ok(Some(Event {
                vector: 0,
                at_cycle: self.now(),
            })),
            Ok(false) => Ok(None),
            // No MSI: let the time pass anyway.
            Err(VfioError::MsiNotEnabled { .. }) => {
                std::thread::sleep(timeout);
                Ok(None)
            }
            Err(e) => Err(backend(e)),
        }
    }

    fn advance_time(&mut self, cycles: u64) -> Result<(), DriverError> {
        std::thread::sleep(self.cycles(cycles));
        Ok(())
    }

    fn now(&self) -> u64 {
        (self.start.elapsed().as_nanos() as f64 / self.cycle_ns) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{FakeDevice, FakeHost};

    const BDF: &str = "0000:00:03.0";

    fn node(bar_bytes: u64, window: u32) -> (FakeHost, Result<VfioNode, DriverError>) {
        let host = FakeHost::viable(BDF, FakeDevice::new().with_bar0(bar_bytes, false));
        let dev = VfioDevice::open_with(&host, BDF).unwrap();
        let n = VfioNode::new(dev, 0, window, 250);
        (host, n)
    }

    #[test]
    fn registers_go_to_the_nodes_window_in_the_bar() {
        let (host, n) = node(0x2_0000, 1);
        let mut n = n.unwrap();
        assert_eq!(n.window_bytes(), 0x1_0000);
        n.write32(BarOffset(0x218), 0x1234_5678).unwrap();
        assert_eq!(
            host.device().bar0_bytes(0x1_0218, 4),
            0x1234_5678u32.to_le_bytes()
        );
        assert_eq!(n.read32(BarOffset(0x218)).unwrap(), 0x1234_5678);
        assert!(matches!(
            n.read32(BarOffset(0x1_0000)),
            Err(DriverError::OutOfWindow { .. })
        ));
    }

    #[test]
    fn all_ones_is_device_gone() {
        let (_host, n) = node(0x1_0000, 0);
        let mut n = n.unwrap();
        n.write32(BarOffset(0x10), u32::MAX).unwrap();
        assert!(matches!(
            n.read32(BarOffset(0x10)),
            Err(DriverError::DeviceGone {
                offset: BarOffset(0x10)
            })
        ));
    }

    #[test]
    fn a_window_past_the_bar_is_refused() {
        let (_host, n) = node(0x1_0000, 1);
        assert!(matches!(n, Err(DriverError::OutOfWindow { .. })));
    }

    #[test]
    fn dma_regions_are_mapped_copied_and_unmapped() {
        let (host, n) = node(0x1_0000, 0);
        let mut n = n.unwrap();
        let a = n.alloc_dma(100).unwrap();
        let b = n.alloc_dma(5000).unwrap();
        assert_eq!(a.iova(), Iova(IOVA_START));
        assert_eq!(
            b.iova(),
            Iova(IOVA_START + 2 * PAGE),
            "a guard page between regions"
        );
        n.dma_write(&b, 4990, &[1, 2, 3, 4, 5]).unwrap();
        let mut back = [0u8; 5];
        n.dma_read(&b, 4990, &mut back).unwrap();
        assert_eq!(back, [1, 2, 3, 4, 5]);
        assert!(matches!(
            n.dma_write(&a, 99, &[0, 0]),
            Err(DriverError::DmaOutOfRange { .. })
        ));
        assert_eq!(host.device().dma_maps().len(), 2);
        n.free_dma(a).unwrap();
        assert_eq!(
            host.device().dma_maps(),
            vec![(IOVA_START + 2 * PAGE, 8192)]
        );
    }

    #[test]
    fn msi_becomes_an_event() {
        let (host, n) = node(0x1_0000, 0);
        let mut n = n.unwrap();
        assert!(n.take_event().is_none());
        host.device().fire_msi();
        assert!(n.wait(1_000_000).unwrap().is_some());
    }
}
