//! A heap-backed reference model of one endpoint, for testing the layers
//! above [`Device`] without a simulator.
//!
//! It implements the register map from the spec tables (block headers,
//! access types, reset values), the DMA window check, the TX and RX engines
//! in **loopback** (a sent packet comes back on the same node's RX ring with
//! `src` stamped, as the ingress router would), per-cause error counters,
//! interrupts with count moderation, and a "vanished card" switch. It is a
//! model to check the driver and the RTL against, not a stand-in for the RTL.

use crate::{Device, DmaRegion, DriverError, Event};
use replimesh_regs::{BarOffset, Iova};
use replimesh_spec::regmap::{
    self as spec, ErrorCause, RegAccess, RegSpec, Reset, BLOCK_NEXT_OFFSET, BLOCK_TYPE_OFFSET,
    BLOCK_VERSION_OFFSET, DESC_STATUS_DONE, NODE_WINDOW, NODE_WINDOW_BYTES, PACKET_HEADER_BYTES,
};
use replimesh_spec::FIELD_SRC;
use std::collections::{BTreeMap, VecDeque};

#[derive(Debug, Clone, Copy)]
struct Cell {
    access: RegAccess,
    value: u32,
}

/// The model.
#[derive(Debug)]
pub struct FakeCard {
    regs: BTreeMap<u64, Cell>,
    mem: BTreeMap<u32, (Iova, Vec<u8>)>,
    next_iova: u64,
    next_id: u32,
    now: u64,
    events: VecDeque<Event>,
    pending_events: u32,
    gone: bool,
    node: u8,
    /// Per-cycle packet budget of the model's engines.
    pub packets_per_cycle: u32,
}

fn abs(block: &spec::BlockSpec, reg: &RegSpec) -> u64 {
    spec::placed(block).map_or(0, |p| p.base as u64) + reg.offset as u64
}

impl FakeCard {
    /// A card whose window belongs to `node`, after reset.
    pub fn new(node: u8) -> Self {
        let mut regs = BTreeMap::new();
        for p in NODE_WINDOW {
            let b = p.base as u64;
            for (off, v) in [
                (BLOCK_TYPE_OFFSET, p.spec.type_word()),
                (BLOCK_VERSION_OFFSET, p.spec.version.word()),
                (BLOCK_NEXT_OFFSET, p.next),
            ] {
                regs.insert(
                    b + off as u64,
                    Cell {
                        access: RegAccess::Ro,
                        value: v,
                    },
                );
            }
            for r in p.spec.regs {
                let value = match r.reset {
                    Reset::Value(v) | Reset::Constant(v) => v,
                    Reset::Generated("spec hash") => spec::spec_hash(),
                    Reset::Generated("node id") => node as u32,
                    Reset::Generated(_) => 4 | 4 << 8 | 64 << 16,
                };
                regs.insert(
                    b + r.offset as u64,
                    Cell {
                        access: r.access,
                        value,
                    },
                );
            }
        }
        Self {
            regs,
            mem: BTreeMap::new(),
            next_iova: 0x10_0000,
            next_id: 1,
            now: 0,
            events: VecDeque::new(),
            pending_events: 0,
            gone: false,
            node,
            packets_per_cycle: 1,
        }
    }

    /// Makes every register read return all-ones, as a vanished card does.
    pub fn vanish(&mut self) {
        self.gone = true;
    }

    /// Overwrites a register behind the driver's back (to fake another card).
    pub fn poke(&mut self, offset: u64, value: u32) {
        if let Some(c) = self.regs.get_mut(&offset) {
            c.value = value;
        }
    }

    /// Writes a u32 into host memory at `iova` as a misbehaving endpoint
    /// would (e.g. a mirror index past the ring).
    pub fn poke_mirror(&mut self, iova: Iova, value: u32) {
        let _ = self.mem_write(iova, &value.to_le_bytes());
    }

    fn get(&self, block: &spec::BlockSpec, reg: &RegSpec) -> u32 {
        self.regs.get(&abs(block, reg)).map_or(0, |c| c.value)
    }

    fn set(&mut self, block: &spec::BlockSpec, reg: &RegSpec, v: u32) {
        if let Some(c) = self.regs.get_mut(&abs(block, reg)) {
            c.value = v;
        }
    }

    fn bump(&mut self, block: &spec::BlockSpec, reg: &RegSpec, by: u32) {
        let v = self.get(block, reg).wrapping_add(by);
        self.set(block, reg, v);
    }

    fn error(&mut self, cause: ErrorCause, info: u32, value: u64) {
        use spec::error as e;
        self.bump(&spec::COUNTERS_BLOCK, &spec::counters::for_cause(cause), 1);
        self.set(&spec::ERROR_BLOCK, &e::CAUSE, cause as u32);
        self.set(&spec::ERROR_BLOCK, &e::INFO, info);
        self.set(&spec::ERROR_BLOCK, &e::VALUE_LO, value as u32);
        self.set(&spec::ERROR_BLOCK, &e::VALUE_HI, (value >> 32) as u32);
        self.raise(0b100);
    }

    fn raise(&mut self, bits: u32) {
        use spec::irq;
        let s = self.get(&spec::IRQ_BLOCK, &irq::STATUS) | bits;
        self.set(&spec::IRQ_BLOCK, &irq::STATUS, s);
        if self.get(&spec::IRQ_BLOCK, &irq::POLL_MODE) & 1 != 0
            || self.get(&spec::IRQ_BLOCK, &irq::ENABLE) & bits == 0
        {
            return;
        }
        self.pending_events += 1;
        if self.pending_events >= self.get(&spec::IRQ_BLOCK, &irq::MOD_COUNT).max(1) {
            self.pending_events = 0;
            self.bump(&spec::IRQ_BLOCK, &irq::RAISED_TOTAL, 1);
            self.events.push_back(Event {
                vector: 0,
                at_cycle: self.now,
            });
        }
    }

    fn in_window(&self, addr: u64, len: u64) -> bool {
        use spec::ep_ctrl as c;
        let base = (self.get(&spec::EP_CTRL_BLOCK, &c::DMA_BASE_HI) as u64) << 32
            | self.get(&spec::EP_CTRL_BLOCK, &c::DMA_BASE_LO) as u64;
        let size = self.get(&spec::EP_CTRL_BLOCK, &c::DMA_SIZE) as u64;
        addr >= base && addr.checked_add(len).is_some_and(|end| end <= base + size)
    }

    fn locate(&mut self, iova: Iova, len: usize) -> Option<(&mut Vec<u8>, usize)> {
        self.mem.values_mut().find_map(|(base, bytes)| {
            let off = iova.0.checked_sub(base.0)? as usize;
            (off + len <= bytes.len()).then_some((bytes, off))
        })
    }

    fn mem_read(&mut self, iova: Iova, len: usize) -> Option<Vec<u8>> {
        self.locate(iova, len)
            .map(|(b, off)| b[off..off + len].to_vec())
    }

    fn mem_write(&mut self, iova: Iova, data: &[u8]) -> Option<()> {
        let (b, off) = self.locate(iova, data.len())?;
        b[off..off + data.len()].copy_from_slice(data);
        Some(())
    }

    fn ring_addr(&self, block: &spec::BlockSpec, lo: &RegSpec, hi: &RegSpec) -> u64 {
        (self.get(block, hi) as u64) << 32 | self.get(block, lo) as u64
    }

    /// Moves at most one packet from the TX ring to the RX ring (loopback).
    fn engine_step(&mut self) {
        use spec::{rx_ring as rx, tx_ring as tx};
        let ctrl = self.get(&spec::EP_CTRL_BLOCK, &spec::ep_ctrl::CONTROL);
        let (t, rb) = (&spec::TX_RING_BLOCK, &spec::RX_RING_BLOCK);
        let tsize = self.get(t, &tx::SIZE);
        let rsize = self.get(rb, &rx::SIZE);
        if ctrl & 0b11 != 0b11 || tsize == 0 || rsize == 0 {
            return;
        }
        let tcons = self.get(t, &tx::CONSUMER);
        if tcons == self.get(t, &tx::PRODUCER) {
            return;
        }
        let rprod = self.get(rb, &rx::PRODUCER);
        if (rprod + 1) % rsize == self.get(rb, &rx::CONSUMER) {
            return; // RX ring full: back-pressure, nothing lost.
        }
        let tdesc = self.ring_addr(t, &tx::BASE_LO, &tx::BASE_HI) + 16 * tcons as u64;
        if !self.in_window(tdesc, 16) {
            self.error(ErrorCause::DmaWindow, tcons, tdesc);
            self.set(t, &tx::CONSUMER, (tcons + 1) % tsize);
            return;
        }
        let d = self.mem_read(Iova(tdesc), 16).unwrap_or_default();
        let addr = u64::from_le_bytes(d[0..8].try_into().expect("16 bytes"));
        let len = u32::from_le_bytes(d[8..12].try_into().expect("16 bytes"));
        let max = self.get(&spec::EP_CTRL_BLOCK, &spec::ep_ctrl::MAX_PACKET_BYTES);
        let mut status = DESC_STATUS_DONE;
        if len < PACKET_HEADER_BYTES || len % 8 != 0 || len > max {
            self.error(ErrorCause::TxLength, tcons, len as u64);
            status |= ErrorCause::TxLength as u32;
        } else if !self.in_window(addr, len as u64) {
            self.error(ErrorCause::DmaWindow, tcons, addr);
            status |= ErrorCause::DmaWindow as u32;
        } else {
            let mut pkt = self.mem_read(Iova(addr), len as usize).unwrap_or_default();
            let w0 = u32::from_le_bytes(pkt[0..4].try_into().expect("header"));
            let w0 = FIELD_SRC.set(w0, self.node as u32).unwrap_or(w0);
            pkt[0..4].copy_from_slice(&w0.to_le_bytes());
            self.bump(&spec::COUNTERS_BLOCK, &spec::counters::TX_PACKETS, 1);
            self.bump(&spec::COUNTERS_BLOCK, &spec::counters::TX_BYTES, len);
            self.deliver(&pkt);
        }
        let _ = self.mem_write(Iova(tdesc + 12), &status.to_le_bytes());
        let tcons = (tcons + 1) % tsize;
        self.set(t, &tx::CONSUMER, tcons);
        let m = self.ring_addr(t, &tx::MIRROR_LO, &tx::MIRROR_HI);
        if self.in_window(m, 4) {
            let _ = self.mem_write(Iova(m), &tcons.to_le_bytes());
        }
        self.raise(0b010);
    }

    fn deliver(&mut self, pkt: &[u8]) {
        use spec::rx_ring as rx;
        let rb = &spec::RX_RING_BLOCK;
        let rsize = self.get(rb, &rx::SIZE);
        let rprod = self.get(rb, &rx::PRODUCER);
        let rdesc = self.ring_addr(rb, &rx::BASE_LO, &rx::BASE_HI) + 16 * rprod as u64;
        if !self.in_window(rdesc, 16) {
            self.error(ErrorCause::DmaWindow, rprod, rdesc);
            self.bump(&spec::COUNTERS_BLOCK, &spec::counters::RX_DROPS, 1);
            return;
        }
        let d = self.mem_read(Iova(rdesc), 16).unwrap_or_default();
        let addr = u64::from_le_bytes(d[0..8].try_into().expect("16 bytes"));
        let cap = u32::from_le_bytes(d[8..12].try_into().expect("16 bytes"));
        let mut status = DESC_STATUS_DONE;
        let mut len = pkt.len() as u32;
        if len > cap {
            self.error(ErrorCause::RxOverflow, rprod, len as u64);
            self.bump(&spec::COUNTERS_BLOCK, &spec::counters::RX_DROPS, 1);
            status |= ErrorCause::RxOverflow as u32;
            len = 0;
        } else if !self.in_window(addr, len as u64) {
            self.error(ErrorCause::DmaWindow, rprod, addr);
            self.bump(&spec::COUNTERS_BLOCK, &spec::counters::RX_DROPS, 1);
            status |= ErrorCause::DmaWindow as u32;
            len = 0;
        } else {
            let _ = self.mem_write(Iova(addr), pkt);
            self.bump(&spec::COUNTERS_BLOCK, &spec::counters::RX_PACKETS, 1);
            self.bump(&spec::COUNTERS_BLOCK, &spec::counters::RX_BYTES, len);
        }
        let _ = self.mem_write(Iova(rdesc + 8), &len.to_le_bytes());
        let _ = self.mem_write(Iova(rdesc + 12), &status.to_le_bytes());
        let rprod = (rprod + 1) % rsize;
        self.set(rb, &rx::PRODUCER, rprod);
        let m = self.ring_addr(rb, &rx::MIRROR_LO, &rx::MIRROR_HI);
        if self.in_window(m, 4) {
            let _ = self.mem_write(Iova(m), &rprod.to_le_bytes());
        }
        self.raise(0b001);
    }

    fn tick(&mut self) {
        self.now += 1;
        for _ in 0..self.packets_per_cycle {
            self.engine_step();
        }
    }

    fn register_write(&mut self, offset: u64, value: u32) {
        let Some(cell) = self.regs.get(&offset).copied() else {
            self.error(ErrorCause::RegUnmapped, offset as u32, value as u64);
            return;
        };
        let ring = |b: &spec::BlockSpec, r: &RegSpec| abs(b, r) == offset;
        match cell.access {
            RegAccess::Ro => self.error(ErrorCause::RegReadOnly, offset as u32, value as u64),
            RegAccess::W1c => {
                self.regs.insert(
                    offset,
                    Cell {
                        value: cell.value & !value,
                        ..cell
                    },
                );
            }
            RegAccess::Rw => {
                let (t, r) = (&spec::TX_RING_BLOCK, &spec::RX_RING_BLOCK);
                if ring(t, &spec::tx_ring::SIZE) || ring(r, &spec::rx_ring::SIZE) {
                    if value != 0 && !(value.is_power_of_two() && (2..=1024).contains(&value)) {
                        self.error(ErrorCause::RingSize, offset as u32, value as u64);
                        return;
                    }
                    let b = if ring(t, &spec::tx_ring::SIZE) { t } else { r };
                    self.set(b, &spec::tx_ring::PRODUCER, 0);
                    self.set(b, &spec::tx_ring::CONSUMER, 0);
                }
                let idx = if ring(t, &spec::tx_ring::PRODUCER) {
                    Some(self.get(t, &spec::tx_ring::SIZE))
                } else if ring(r, &spec::rx_ring::CONSUMER) {
                    Some(self.get(r, &spec::rx_ring::SIZE))
                } else {
                    None
                };
                if let Some(size) = idx {
                    if value >= size {
                        self.error(ErrorCause::RingIndex, offset as u32, value as u64);
                        return;
                    }
                }
                self.regs.insert(offset, Cell { value, ..cell });
            }
        }
    }
}

impl Device for FakeCard {
    fn window_bytes(&self) -> u64 {
        NODE_WINDOW_BYTES as u64
    }

    fn read32(&mut self, offset: BarOffset) -> Result<u32, DriverError> {
        self.tick();
        if self.gone {
            return Ok(u32::MAX);
        }
        match self.regs.get(&offset.0) {
            Some(c) => Ok(c.value),
            None => {
                self.error(ErrorCause::RegUnmapped, offset.0 as u32, 0);
                Ok(0)
            }
        }
    }

    fn write32(&mut self, offset: BarOffset, value: u32) -> Result<(), DriverError> {
        self.tick();
        if !self.gone {
            self.register_write(offset.0, value);
        }
        Ok(())
    }

    fn alloc_dma(&mut self, bytes: usize) -> Result<DmaRegion, DriverError> {
        let id = self.next_id;
        self.next_id += 1;
        let iova = Iova(self.next_iova);
        self.next_iova += (bytes as u64).next_multiple_of(0x1000) + 0x1000;
        self.mem.insert(id, (iova, vec![0; bytes]));
        Ok(DmaRegion::new(id, iova, bytes))
    }

    fn free_dma(&mut self, region: DmaRegion) -> Result<(), DriverError> {
        self.mem.remove(&region.id());
        Ok(())
    }

    fn dma_read(
        &mut self,
        region: &DmaRegion,
        offset: usize,
        buf: &mut [u8],
    ) -> Result<(), DriverError> {
        region.check(offset, buf.len())?;
        let (_, bytes) = self
            .mem
            .get(&region.id())
            .ok_or(DriverError::DmaOutOfRange {
                iova: region.iova(),
                offset,
                len: buf.len(),
                region_bytes: 0,
            })?;
        buf.copy_from_slice(&bytes[offset..offset + buf.len()]);
        Ok(())
    }

    fn dma_write(
        &mut self,
        region: &DmaRegion,
        offset: usize,
        data: &[u8],
    ) -> Result<(), DriverError> {
        region.check(offset, data.len())?;
        let (_, bytes) = self
            .mem
            .get_mut(&region.id())
            .ok_or(DriverError::DmaOutOfRange {
                iova: region.iova(),
                offset,
                len: data.len(),
                region_bytes: 0,
            })?;
        bytes[offset..offset + data.len()].copy_from_slice(data);
        Ok(())
    }

    fn take_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn wait(&mut self, max_cycles: u64) -> Result<Option<Event>, DriverError> {
        for _ in 0..max_cycles {
            if let Some(e) = self.events.pop_front() {
                return Ok(Some(e));
            }
            self.tick();
        }
        Ok(self.events.pop_front())
    }

    fn advance_time(&mut self, cycles: u64) -> Result<(), DriverError> {
        for _ in 0..cycles {
            self.tick();
        }
        Ok(())
    }

    fn now(&self) -> u64 {
        self.now
    }
}
