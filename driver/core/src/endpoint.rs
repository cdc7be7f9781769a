//! One node's endpoint: probe (block walk, version and hash check), ring
//! setup, and the send/receive queue layer shared by every backend.
//!
//! DMA memory layout (one region, which is also the node's DMA window):
//!
//! ```text
//! 0x00  TX consumer mirror (u32, written by the endpoint)
//! 0x04  RX producer mirror (u32, written by the endpoint)
//! 0x40  TX descriptors   tx_size * 16
//!       RX descriptors   rx_size * 16
//!       TX buffers       tx_size * buf_bytes
//!       RX buffers       rx_size * buf_bytes
//! ```
//!
//! The host writes only the TX producer and the RX consumer doorbells; it
//! learns the endpoint's indices from the mirrors in memory, never by MMIO
//! reads on the fast path.

use crate::blocks::{read_checked, BlockMap};
use crate::ring::RingIndex;
use crate::{Device, DmaRegion, DriverError};
use replimesh_regs::regmap::{self as r, Reg};
use replimesh_regs::{BarOffset, PacketHeader, RxDesc, TxDesc};
use replimesh_spec::regmap::{
    self as spec, BlockSpec, ErrorCause, DESC_BYTES, DESC_STATUS_DONE, NODE_WINDOW,
    PACKET_HEADER_BYTES, REGMAP_VERSION,
};
use replimesh_spec::{BlockVersion, NodeId};
use zerocopy::byteorder::little_endian::{U32, U64};

const MIRROR_BYTES: usize = 0x40;

/// How to set the endpoint up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointConfig {
    /// TX descriptors (power of two, 2..=1024).
    pub tx_entries: u32,
    /// RX descriptors (power of two, 2..=1024).
    pub rx_entries: u32,
    /// Interrupt after this many events.
    pub irq_count: u32,
    /// Or this many cycles after the first (0: no limit).
    pub irq_cycles: u32,
    /// Never interrupt; the host polls the mirrors.
    pub poll_mode: bool,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            tx_entries: 64,
            rx_entries: 64,
            irq_count: 1,
            irq_cycles: 0,
            poll_mode: true,
        }
    }
}

/// What the card says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardInfo {
    /// Register map version.
    pub version: BlockVersion,
    /// Spec hash.
    pub spec_hash: u32,
    /// This window's node.
    pub node: NodeId,
    /// Mesh columns.
    pub width: u32,
    /// Mesh rows.
    pub height: u32,
    /// Flit width.
    pub flit_bits: u32,
    /// Largest packet, header included.
    pub max_packet_bytes: u32,
}

/// A received packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Header; `src` was stamped by the sender's ingress router.
    pub header: PacketHeader,
    /// Payload flits.
    pub payload: Vec<u64>,
}

/// Host-side statistics of the queue layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Packets queued on the TX ring.
    pub sent: u64,
    /// Packets taken from the RX ring.
    pub received: u64,
    /// MMIO doorbell writes (TX producer and RX consumer).
    pub doorbells: u64,
    /// TX descriptors the endpoint completed with an error cause.
    pub tx_errors: u64,
    /// RX descriptors the endpoint completed with an error cause.
    pub rx_errors: u64,
    /// The last error cause seen in a completion.
    pub last_error: Option<ErrorCause>,
}

/// The endpoint's counters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Counters {
    /// Packets sent.
    pub tx_packets: u32,
    /// Bytes sent.
    pub tx_bytes: u32,
    /// Packets received.
    pub rx_packets: u32,
    /// Bytes received.
    pub rx_bytes: u32,
    /// Received packets dropped.
    pub rx_drops: u32,
    /// Errors per cause.
    pub errors: Vec<(ErrorCause, u32)>,
}

impl Counters {
    /// The error count of `cause`.
    pub fn error(&self, cause: ErrorCause) -> u32 {
        self.errors
            .iter()
            .find(|(c, _)| *c == cause)
            .map_or(0, |(_, n)| *n)
    }
}

/// The last error the endpoint recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastError {
    /// Cause (None: no error since reset).
    pub cause: Option<ErrorCause>,
    /// Descriptor index or register offset.
    pub info: u32,
    /// Offending value.
    pub value: u64,
}

/// Checks the ID block and every block the driver needs; returns what the
/// card says about itself. Refuses another major version or spec hash.
pub fn probe<D: Device + ?Sized>(dev: &mut D) -> Result<(BlockMap, CardInfo), DriverError> {
    let map = BlockMap::walk(dev)?;
    let first = map.blocks()[0];
    if first.type_word != spec::ID_BLOCK.type_word() {
        return Err(DriverError::NotReplimesh {
            found: first.type_word,
        });
    }
    let id = map.find_spec(&spec::ID_BLOCK)?;
    let version = BlockVersion::from_word(read_checked(dev, r::ID_SPEC_VERSION.at(id.base))?);
    if version.major != REGMAP_VERSION.major {
        return Err(DriverError::IncompatibleVersion {
            what: "register map",
            found: version,
            supported: REGMAP_VERSION,
        });
    }
    let hash = read_checked(dev, r::ID_SPEC_HASH.at(id.base))?;
    if hash != spec::spec_hash() {
        return Err(DriverError::SpecHashMismatch {
            found: hash,
            expected: spec::spec_hash(),
        });
    }
    for p in NODE_WINDOW {
        map.find_spec(p.spec)?;
    }
    let node = read_checked(dev, r::ID_NODE_ID.at(id.base))?;
    let shape = read_checked(dev, r::ID_MESH_SHAPE.at(id.base))?;
    let f = |name| {
        spec::id::MESH_SHAPE
            .field(name)
            .map_or(0, |fl| fl.get(shape))
    };
    let ctrl = map.find_spec(&spec::EP_CTRL_BLOCK)?;
    let max_packet_bytes = read_checked(dev, r::EP_MAX_PACKET_BYTES.at(ctrl.base))?;
    Ok((
        map,
        CardInfo {
            version,
            spec_hash: hash,
            node: NodeId(node as u8),
            width: f("width"),
            height: f("height"),
            flit_bits: f("flit_bits"),
            max_packet_bytes,
        },
    ))
}

/// One node's endpoint, set up and running.
pub struct Endpoint<D: Device> {
    dev: D,
    map: BlockMap,
    info: CardInfo,
    mem: Option<DmaRegion>,
    tx: RingIndex,
    rx: RingIndex,
    tx_prod: u32,
    tx_cons: u32,
    rx_prod: u32,
    rx_cons: u32,
    buf_bytes: u32,
    stats: QueueStats,
}

impl<D: Device> Endpoint<D> {
    /// Probes the card, allocates the rings and buffers, programs the
    /// registers and enables the engines.
    pub fn open(mut dev: D, cfg: EndpointConfig) -> Result<Self, DriverError> {
        let (map, info) = probe(&mut dev)?;
        let tx = RingIndex::new(cfg.tx_entries)?;
        let rx = RingIndex::new(cfg.rx_entries)?;
        let buf_bytes = info
            .max_packet_bytes
            .next_multiple_of(8)
            .max(PACKET_HEADER_BYTES);
        let total =
            MIRROR_BYTES + (tx.size() + rx.size()) as usize * (DESC_BYTES + buf_bytes) as usize;
        let mem = dev.alloc_dma(total)?;
        let mut ep = Endpoint {
            dev,
            map,
            info,
            mem: None,
            tx,
            rx,
            tx_prod: 0,
            tx_cons: 0,
            rx_prod: 0,
            rx_cons: 0,
            buf_bytes,
            stats: QueueStats::default(),
        };
        let iova = mem.iova();
        ep.mem = Some(mem);
        ep.write(r::EP_CONTROL, 0)?;
        // A host that restarts finds the engines as its last run left them:
        // one may still be finishing a descriptor, and would move an index
        // after the reset below. Wait for both to stop.
        let mut waited = 0u64;
        while ep.read(r::EP_STATUS)? & 0b11 != 0 {
            if waited >= 100_000 {
                return Err(DriverError::Timeout {
                    what: "the endpoint's engines to stop",
                    cycles: waited,
                });
            }
            ep.dev.advance_time(16)?;
            waited += 16;
        }
        ep.write(r::EP_DMA_BASE_LO, iova.0 as u32)?;
        ep.write(r::EP_DMA_BASE_HI, (iova.0 >> 32) as u32)?;
        ep.write(r::EP_DMA_SIZE, total as u32)?;
        for (base_lo, base_hi, size, mir_lo, mir_hi, desc, mirror, n) in [
            (
                r::TX_BASE_LO,
                r::TX_BASE_HI,
                r::TX_SIZE,
                r::TX_MIRROR_LO,
                r::TX_MIRROR_HI,
                ep.tx_desc_off(0),
                0usize,
                tx.size(),
            ),
            (
                r::RX_BASE_LO,
                r::RX_BASE_HI,
                r::RX_SIZE,
                r::RX_MIRROR_LO,
                r::RX_MIRROR_HI,
                ep.rx_desc_off(0),
                4,
                rx.size(),
            ),
        ] {
            let d = iova.add(desc as u64).0;
            let m = iova.add(mirror as u64).0;
            ep.write(base_lo, d as u32)?;
            ep.write(base_hi, (d >> 32) as u32)?;
            ep.write(mir_lo, m as u32)?;
            ep.write(mir_hi, (m >> 32) as u32)?;
            ep.write(size, n)?;
        }
        // Writing `size` resets the card's own index of each ring; the
        // host's (TX producer, RX consumer) is a plain register that keeps
        // what a previous run of the driver left in it.
        ep.write(r::TX_PRODUCER, 0)?;
        ep.write(r::RX_CONSUMER, 0)?;
        for i in 0..rx.size() {
            ep.arm_rx(i)?;
        }
        ep.write(r::IRQ_MOD_COUNT, cfg.irq_count)?;
        ep.write(r::IRQ_MOD_CYCLES, cfg.irq_cycles)?;
        ep.write(r::IRQ_POLL_MODE, cfg.poll_mode as u32)?;
        // RX and error causes interrupt; TX completions are learnt from the mirror.
        ep.write(r::IRQ_ENABLE, 0b101)?;
        ep.write(r::EP_CONTROL, 0b11)?;
        Ok(ep)
    }

    /// What the card said at probe.
    pub fn info(&self) -> CardInfo {
        self.info
    }
    /// The blocks found.
    pub fn blocks(&self) -> &BlockMap {
        &self.map
    }
    /// Queue statistics.
    pub fn stats(&self) -> QueueStats {
        self.stats
    }
    /// The device underneath.
    pub fn device(&mut self) -> &mut D {
        &mut self.dev
    }
    /// TX descriptors queued but not yet consumed (as last seen).
    pub fn tx_in_flight(&self) -> u32 {
        self.tx.used(self.tx_prod, self.tx_cons)
    }

    fn base(&self, block: &BlockSpec) -> Result<BarOffset, DriverError> {
        Ok(self.map.find_spec(block)?.base)
    }

    /// Reads a register (all-ones is [`DriverError::DeviceGone`]).
    pub fn read(&mut self, reg: Reg) -> Result<u32, DriverError> {
        let at = reg.at(self.base(reg.block)?);
        read_checked(&mut self.dev, at)
    }

    /// Writes a register.
    pub fn write(&mut self, reg: Reg, value: u32) -> Result<(), DriverError> {
        let at = reg.at(self.base(reg.block)?);
        self.dev.write32(at, value)
    }

    fn mem(&self) -> &DmaRegion {
        self.mem.as_ref().expect("allocated in open")
    }
    fn tx_desc_off(&self, i: u32) -> usize {
        MIRROR_BYTES + (i * DESC_BYTES) as usize
    }
    fn rx_desc_off(&self, i: u32) -> usize {
        MIRROR_BYTES + ((self.tx.size() + i) * DESC_BYTES) as usize
    }
    fn tx_buf_off(&self, i: u32) -> usize {
        MIRROR_BYTES
            + ((self.tx.size() + self.rx.size()) * DESC_BYTES) as usize
            + (i * self.buf_bytes) as usize
    }
    fn rx_buf_off(&self, i: u32) -> usize {
        self.tx_buf_off(self.tx.size()) + (i * self.buf_bytes) as usize
    }

    fn read_mirror(&mut self, off: usize) -> Result<u32, DriverError> {
        let mem = self.mem.take().expect("allocated in open");
        let v = self.dev.dma_read_obj::<U32>(&mem, off);
        self.mem = Some(mem);
        Ok(v?.get())
    }

    fn dma_write_at(&mut self, off: usize, data: &[u8]) -> Result<(), DriverError> {
        let mem = self.mem.take().expect("allocated in open");
        let r = self.dev.dma_write(&mem, off, data);
        self.mem = Some(mem);
        r
    }

    fn dma_read_at(&mut self, off: usize, buf: &mut [u8]) -> Result<(), DriverError> {
        let mem = self.mem.take().expect("allocated in open");
        let r = self.dev.dma_read(&mem, off, buf);
        self.mem = Some(mem);
        r
    }

    fn arm_rx(&mut self, i: u32) -> Result<(), DriverError> {
        let d = RxDesc {
            addr: U64::new(self.mem().iova().add(self.rx_buf_off(i) as u64).0),
            len: U32::new(self.buf_bytes),
            status: U32::new(0),
        };
        let off = self.rx_desc_off(i);
        self.dma_write_at(off, zerocopy::IntoBytes::as_bytes(&d))
    }

    /// Learns how far the endpoint has consumed the TX ring (from the
    /// mirror) and collects error completions.
    pub fn reclaim_tx(&mut self) -> Result<u32, DriverError> {
        let new = self.read_mirror(0)?;
        let moved = self
            .tx
            .check_progress("tx", self.tx_cons, new, self.tx_prod)?;
        for k in 0..moved {
            let i = self.tx.advance(self.tx_cons, k);
            let mut d = TxDesc::default();
            let off = self.tx_desc_off(i);
            self.dma_read_at(off, zerocopy::IntoBytes::as_mut_bytes(&mut d))?;
            let cause = d.status.get() & 0xFF;
            if cause != 0 {
                self.stats.tx_errors += 1;
                self.stats.last_error = ErrorCause::from_code(cause);
            }
        }
        self.tx_cons = new;
        Ok(moved)
    }

    /// Puts one packet on the TX ring without ringing the doorbell.
    fn queue(&mut self, header: &PacketHeader, payload: &[u64]) -> Result<(), DriverError> {
        let bytes = PACKET_HEADER_BYTES as usize + 8 * payload.len();
        if bytes > self.info.max_packet_bytes as usize {
            return Err(DriverError::PacketTooLarge {
                bytes,
                max: self.info.max_packet_bytes,
            });
        }
        if self.tx.free(self.tx_prod, self.tx_cons) == 0 {
            self.reclaim_tx()?;
            if self.tx.free(self.tx_prod, self.tx_cons) == 0 {
                return Err(DriverError::RingFull {
                    size: self.tx.size(),
                });
            }
        }
        let mut h = *header;
        h.len = u8::try_from(payload.len()).map_err(|_| DriverError::PacketTooLarge {
            bytes,
            max: self.info.max_packet_bytes,
        })?;
        let mut buf = Vec::with_capacity(bytes);
        buf.extend_from_slice(zerocopy::IntoBytes::as_bytes(&h.to_words()?));
        for f in payload {
            buf.extend_from_slice(&f.to_le_bytes());
        }
        let i = self.tx_prod;
        let boff = self.tx_buf_off(i);
        self.dma_write_at(boff, &buf)?;
        let d = TxDesc {
            addr: U64::new(self.mem().iova().add(boff as u64).0),
            len: U32::new(bytes as u32),
            status: U32::new(0),
        };
        let doff = self.tx_desc_off(i);
        self.dma_write_at(doff, zerocopy::IntoBytes::as_bytes(&d))?;
        self.tx_prod = self.tx.advance(i, 1);
        self.stats.sent += 1;
        Ok(())
    }

    fn tx_doorbell(&mut self) -> Result<(), DriverError> {
        self.stats.doorbells += 1;
        self.write(r::TX_PRODUCER, self.tx_prod)
    }

    /// Sends one packet: descriptor, then the TX producer doorbell.
    /// [`DriverError::RingFull`] when the ring is full (let time pass, retry).
    pub fn send(&mut self, header: &PacketHeader, payload: &[u64]) -> Result<(), DriverError> {
        self.queue(header, payload)?;
        self.tx_doorbell()
    }

    /// Queues as many of `packets` as fit and rings the doorbell once.
    /// Returns how many were queued.
    pub fn send_batch(
        &mut self,
        packets: &[(PacketHeader, Vec<u64>)],
    ) -> Result<usize, DriverError> {
        let mut n = 0;
        for (h, p) in packets {
            match self.queue(h, p) {
                Ok(()) => n += 1,
                Err(DriverError::RingFull { .. }) => break,
                Err(e) => return Err(e),
            }
        }
        if n > 0 {
            self.tx_doorbell()?;
        }
        Ok(n)
    }

    /// Takes up to `max` received packets and rings the RX consumer
    /// doorbell once (if any were taken).
    pub fn recv_batch(&mut self, max: usize) -> Result<Vec<Received>, DriverError> {
        let mut out = vec![];
        let mut taken = 0;
        while out.len() < max {
            if self.rx_cons == self.rx_prod {
                let new = self.read_mirror(4)?;
                let limit = self.rx.advance(self.rx_cons, self.rx.size() - 1);
                self.rx.check_progress("rx", self.rx_prod, new, limit)?;
                // The producer may not pass the host's consumer.
                if self.rx.used(new, self.rx_cons) < self.rx.used(self.rx_prod, self.rx_cons) {
                    return Err(DriverError::BadDeviceIndex {
                        ring: "rx",
                        index: new,
                        size: self.rx.size(),
                    });
                }
                self.rx_prod = new;
                if self.rx_cons == self.rx_prod {
                    break;
                }
            }
            let i = self.rx_cons;
            let mut d = RxDesc::default();
            let doff = self.rx_desc_off(i);
            self.dma_read_at(doff, zerocopy::IntoBytes::as_mut_bytes(&mut d))?;
            let status = d.status.get();
            let len = d.len.get();
            if status & DESC_STATUS_DONE == 0 {
                return Err(DriverError::BadCompletion {
                    index: i,
                    len,
                    capacity: self.buf_bytes,
                });
            }
            let cause = status & 0xFF;
            if cause != 0 {
                self.stats.rx_errors += 1;
                self.stats.last_error = ErrorCause::from_code(cause);
            } else {
                if len < PACKET_HEADER_BYTES || len > self.buf_bytes || len % 8 != 0 {
                    return Err(DriverError::BadCompletion {
                        index: i,
                        len,
                        capacity: self.buf_bytes,
                    });
                }
                let mut buf = vec![0u8; len as usize];
                let boff = self.rx_buf_off(i);
                self.dma_read_at(boff, &mut buf)?;
                let w = |k: usize| u32::from_le_bytes(buf[k..k + 4].try_into().expect("4 bytes"));
                let header = PacketHeader::decode([w(0), w(4)])?;
                let payload = buf[8..]
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect();
                out.push(Received { header, payload });
                self.stats.received += 1;
            }
            self.arm_rx(i)?;
            self.rx_cons = self.rx.advance(i, 1);
            taken += 1;
        }
        if taken > 0 {
            self.stats.doorbells += 1;
            self.write(r::RX_CONSUMER, self.rx_cons)?;
        }
        Ok(out)
    }

    /// Takes one received packet, if any.
    pub fn recv(&mut self) -> Result<Option<Received>, DriverError> {
        Ok(self.recv_batch(1)?.pop())
    }

    /// Waits up to `max_cycles` for a packet, letting device time pass.
    pub fn recv_wait(&mut self, max_cycles: u64) -> Result<Received, DriverError> {
        let start = self.dev.now();
        loop {
            if let Some(p) = self.recv()? {
                return Ok(p);
            }
            let spent = self.dev.now() - start;
            if spent >= max_cycles {
                return Err(DriverError::Timeout {
                    what: "a received packet",
                    cycles: spent,
                });
            }
            if self.dev.wait((max_cycles - spent).min(16))?.is_some() {
                self.ack_interrupts()?;
            }
        }
    }

    /// Clears every pending interrupt cause; returns the causes.
    pub fn ack_interrupts(&mut self) -> Result<u32, DriverError> {
        let s = self.read(r::IRQ_STATUS)?;
        if s != 0 {
            self.write(r::IRQ_STATUS, s)?;
        }
        Ok(s)
    }

    /// Reads every counter.
    pub fn counters(&mut self) -> Result<Counters, DriverError> {
        let mut errors = vec![];
        for c in ErrorCause::ALL {
            errors.push((c, self.read(r::error_counter(c))?));
        }
        Ok(Counters {
            tx_packets: self.read(r::CNT_TX_PACKETS)?,
            tx_bytes: self.read(r::CNT_TX_BYTES)?,
            rx_packets: self.read(r::CNT_RX_PACKETS)?,
            rx_bytes: self.read(r::CNT_RX_BYTES)?,
            rx_drops: self.read(r::CNT_RX_DROPS)?,
            errors,
        })
    }

    /// Reads the error block.
    pub fn last_error(&mut self) -> Result<LastError, DriverError> {
        let cause = self.read(r::ERR_CAUSE)?;
        let info = self.read(r::ERR_INFO)?;
        let lo = self.read(r::ERR_VALUE_LO)?;
        let hi = self.read(r::ERR_VALUE_HI)?;
        Ok(LastError {
            cause: ErrorCause::from_code(cause),
            info,
            value: (hi as u64) << 32 | lo as u64,
        })
    }

    /// Reads this node's router register `addr` (a word address of
    /// `router-registers.md`, route tables included) through its own window.
    pub fn router_read(&mut self, addr: u32) -> Result<u32, DriverError> {
        let base = self.map.find_spec(&spec::ROUTER_BLOCK)?.base;
        read_checked(&mut self.dev, base.add(spec::ROUTER_CFG_OFFSET + 4 * addr))
    }

    /// Writes this node's router register `addr` through its own window (the
    /// card refuses it while this node is quarantined).
    pub fn router_write(&mut self, addr: u32, value: u32) -> Result<(), DriverError> {
        let base = self.map.find_spec(&spec::ROUTER_BLOCK)?.base;
        self.dev
            .write32(base.add(spec::ROUTER_CFG_OFFSET + 4 * addr), value)
    }

    /// Raw access for tests and tools: writes `value` at a window offset.
    pub fn write_raw(&mut self, offset: BarOffset, value: u32) -> Result<(), DriverError> {
        self.dev.write32(offset, value)
    }

    /// Raw TX descriptor write for fault-injection tests: puts `desc` at the
    /// next slot and rings the doorbell, bypassing the queue layer's checks.
    pub fn send_raw_descriptor(&mut self, desc: TxDesc) -> Result<(), DriverError> {
        if self.tx.free(self.tx_prod, self.tx_cons) == 0 {
            return Err(DriverError::RingFull {
                size: self.tx.size(),
            });
        }
        let off = self.tx_desc_off(self.tx_prod);
        self.dma_write_at(off, zerocopy::IntoBytes::as_bytes(&desc))?;
        self.tx_prod = self.tx.advance(self.tx_prod, 1);
        self.tx_doorbell()
    }

    /// Re-arms RX descriptor `i` with a buffer of `capacity` bytes instead of
    /// the full buffer (for fault-injection tests: a buffer too small).
    pub fn arm_rx_with_capacity(&mut self, i: u32, capacity: u32) -> Result<(), DriverError> {
        self.arm_rx(i)?;
        let off = self.rx_desc_off(i) + 8;
        self.dma_write_at(off, &capacity.to_le_bytes())
    }

    /// The IOVA of TX buffer `i` (for fault-injection tests).
    pub fn tx_buffer_iova(&self, i: u32) -> replimesh_regs::Iova {
        self.mem().iova().add(self.tx_buf_off(i) as u64)
    }

    /// IOVA of the TX consumer mirror (for fault-injection tests).
    pub fn tx_mirror_iova(&self) -> replimesh_regs::Iova {
        self.mem().iova()
    }

    /// IOVA of the RX producer mirror (for fault-injection tests).
    pub fn rx_mirror_iova(&self) -> replimesh_regs::Iova {
        self.mem().iova().add(4)
    }

    /// Bytes of the DMA window the endpoint was given.
    pub fn dma_bytes(&self) -> usize {
        self.mem().len()
    }

    /// Disables the engines and frees the DMA memory.
    pub fn close(mut self) -> Result<D, DriverError> {
        self.write(r::EP_CONTROL, 0)?;
        if let Some(m) = self.mem.take() {
            self.dev.free_dma(m)?;
        }
        Ok(self.dev)
    }
}
