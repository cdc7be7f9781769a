//! The card model (mesh plus one endpoint per node) driven through the
//! driver's [`Device`] trait, one [`SimDevice`] per node.
//!
//! [`CardSim`] is the harness: it clocks the Verilator model, serves every
//! endpoint's DMA ports from that node's own host memory (a small
//! root-complex model: each node has its own IOVA space, and an access to an
//! IOVA no region maps is refused — reads answer `rsp_err`, writes are
//! dropped — and counted), and turns interrupt pulses into [`Event`]s.
//! Time passes only when a device waits, advances time, or touches a
//! register (one cycle per access), so the nodes' runtimes share one clock.

use crate::ffi::{CardIo, CardModel, DmaIo, CARD_VARIANTS};
use crate::SimError;
use replimesh_driver::{Device, DmaRegion, DriverError, Event};
use replimesh_regs::{BarOffset, Iova};
use replimesh_spec::reconfig::{table_banks_fields, table_banks_value, OtherBank};
use replimesh_spec::regmap::{self as spec, NODE_WINDOW_BYTES, ROUTER_CFG_OFFSET};
use replimesh_spec::routing::{dor_tables, encode_entry, ordered_writes, RouteTables};
use replimesh_spec::{
    router_addr, MeshGeometry, PortDir, ROUTE_TABLE_BANK1_BASE, ROUTE_TABLE_BASE,
};
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

/// First IOVA a node's allocator hands out.
const IOVA_START: u64 = 0x1000_0000;

#[derive(Default)]
struct HostMemory {
    regions: BTreeMap<u32, (u64, Vec<u8>)>,
    next_iova: u64,
    next_id: u32,
    refused: u64,
}

impl HostMemory {
    fn locate(&mut self, addr: u64, len: usize) -> Option<&mut [u8]> {
        self.regions.values_mut().find_map(|(base, bytes)| {
            let off = addr.checked_sub(*base)? as usize;
            bytes.get_mut(off..off.checked_add(len)?)
        })
    }
}

/// The harness around one card model.
pub struct CardSim {
    model: CardModel,
    geometry: MeshGeometry,
    io: CardIo,
    dma: Vec<DmaIo>,
    pending: Vec<Option<(u64, bool)>>,
    mem: Vec<HostMemory>,
    events: Vec<VecDeque<Event>>,
    cycle: u64,
    vanished: bool,
    bus_errors: u64,
    /// What the routers' tables hold (reset: dimension order).
    loaded: RouteTables,
    /// The same for bank 1.
    loaded1: RouteTables,
    /// The bank (and VC) holding the newest tables at every router.
    cur: u8,
    /// Routers killed by [`CardSim::kill_router`]: they answer no
    /// configuration access, so the table changes pass them by.
    killed: Vec<bool>,
}

/// A shared handle on a card.
pub type SharedCard = Rc<RefCell<CardSim>>;

/// Card sizes compiled into this binary.
pub fn built_cards() -> Vec<MeshGeometry> {
    CARD_VARIANTS
        .iter()
        .filter_map(|v| MeshGeometry::new(v.width, v.height))
        .collect()
}

impl CardSim {
    /// Builds, resets and initialises the card for `geometry`.
    pub fn new(geometry: MeshGeometry) -> Result<SharedCard, SimError> {
        let variant = CARD_VARIANTS
            .iter()
            .find(|v| v.width == geometry.width() && v.height == geometry.height())
            .copied()
            .ok_or_else(|| SimError::NotBuilt {
                width: geometry.width(),
                height: geometry.height(),
                flit_bits: 64,
                built: CARD_VARIANTS
                    .iter()
                    .map(|v| format!("card {}x{}", v.width, v.height))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let model = CardModel::new(variant, None).ok_or(SimError::Model("constructor threw"))?;
        let n = geometry.nodes() as usize;
        let mut card = CardSim {
            model,
            geometry,
            io: CardIo::default(),
            dma: vec![DmaIo::default(); 2 * n],
            pending: vec![None; 2 * n],
            mem: (0..n)
                .map(|_| HostMemory {
                    next_iova: IOVA_START,
                    ..Default::default()
                })
                .collect(),
            events: vec![VecDeque::new(); n],
            cycle: 0,
            vanished: false,
            bus_errors: 0,
            killed: vec![false; geometry.nodes() as usize],
            loaded: dor_tables(&geometry),
            loaded1: dor_tables(&geometry),
            cur: 0,
        };
        card.io.reset = 1;
        for _ in 0..4 {
            card.step()?;
        }
        card.io.reset = 0;
        card.steps(crate::router_init_cycles(geometry) + crate::link_up_cycles())?;
        let router = spec::placed(&spec::ROUTER_BLOCK).map_or(0, |p| p.base);
        let status = router + ROUTER_CFG_OFFSET + 4 * router_addr::STATUS;
        for k in 0..n {
            let (v, _) = card.bus(k, status, None)?;
            if v & 1 == 0 {
                return Err(SimError::InitTimeout(geometry.id_at(k).0));
            }
        }
        Ok(Rc::new(RefCell::new(card)))
    }

    /// One device per node, in dense index order.
    pub fn devices(card: &SharedCard) -> Vec<SimDevice> {
        let n = card.borrow().geometry.nodes() as usize;
        (0..n)
            .map(|node| SimDevice {
                card: Rc::clone(card),
                node,
            })
            .collect()
    }

    /// Mesh size.
    pub fn geometry(&self) -> MeshGeometry {
        self.geometry
    }

    /// Cycles since construction.
    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    /// DMA accesses of `node`'s endpoint the root complex refused.
    pub fn dma_refused(&self, node: usize) -> u64 {
        self.mem[node].refused
    }

    /// Bus accesses the card answered with an error.
    pub fn bus_errors(&self) -> u64 {
        self.bus_errors
    }

    /// Makes every register read return all-ones, as the host sees a card
    /// that fell off the bus (PCIe master abort). The model keeps running.
    pub fn set_vanished(&mut self, vanished: bool) {
        self.vanished = vanished;
    }

    fn link_port(&self, node: usize, port: PortDir) -> Result<usize, SimError> {
        if node >= self.geometry.nodes() as usize {
            return Err(SimError::NoSuchNode(node.min(255) as u8));
        }
        let id = self.geometry.id_at(node);
        match self.geometry.neighbour(id, port) {
            Some(peer) if port != PortDir::L => self
                .geometry
                .index_of(peer)
                .ok_or(SimError::NoSuchLink { node: id.0, port }),
            _ => Err(SimError::NoSuchLink { node: id.0, port }),
        }
    }

    /// Plays the control plane as [`crate::Fabric::load_tables`] does: writes
    /// the entries of `tables` that differ from what each router holds, in
    /// [`ordered_writes`] order, each through that node's own window, into
    /// bank 0 in place: for a card still in reset's `same` (before
    /// [`CardSim::enter_double_scheme`]), on an idle mesh or with tables
    /// whose every mix is deadlock-free.
    pub fn load_tables(&mut self, tables: &RouteTables) -> Result<(), SimError> {
        let router = spec::placed(&spec::ROUTER_BLOCK).map_or(0, |p| p.base);
        for w in ordered_writes(&self.loaded, tables) {
            let node = self
                .geometry
                .index_of(w.router)
                .ok_or(SimError::NoSuchNode(w.router.0))?;
            if self.killed[node] {
                continue;
            }
            let reg = ROUTE_TABLE_BASE + w.dest.0 as u32;
            let (_, err) = self.bus(
                node,
                router + ROUTER_CFG_OFFSET + 4 * reg,
                Some(encode_entry(w.route)),
            )?;
            if err {
                return Err(SimError::CfgRejected {
                    node: w.router.0,
                    addr: reg as u16,
                });
            }
            let _ = self.loaded.set(w.router, w.dest, w.route);
        }
        Ok(())
    }

    /// One router register through `node`'s own window (dense index):
    /// a read, or a write the router must take.
    fn router_cfg(&mut self, node: usize, reg: u32, write: Option<u32>) -> Result<u32, SimError> {
        let router = spec::placed(&spec::ROUTER_BLOCK).map_or(0, |p| p.base);
        let (v, err) = self.bus(node, router + ROUTER_CFG_OFFSET + 4 * reg, write)?;
        if err {
            return Err(SimError::CfgRejected {
                node: self.geometry.id_at(node).0,
                addr: reg as u16,
            });
        }
        Ok(v)
    }

    /// Writes the entries of `node`'s bank `bank` that differ from `tables`.
    fn write_bank(&mut self, node: usize, bank: u8, tables: &RouteTables) -> Result<(), SimError> {
        let id = self.geometry.id_at(node);
        for dest in self.geometry.node_ids().collect::<Vec<_>>() {
            let route = tables.entry(id, dest);
            let held = if bank == 0 {
                &self.loaded
            } else {
                &self.loaded1
            };
            if held.entry(id, dest) == route {
                continue;
            }
            let base = if bank == 0 {
                ROUTE_TABLE_BASE
            } else {
                ROUTE_TABLE_BANK1_BASE
            };
            self.router_cfg(node, base + dest.0 as u32, Some(encode_entry(route)))?;
            let held = if bank == 0 {
                &mut self.loaded
            } else {
                &mut self.loaded1
            };
            let _ = held.set(id, dest, route);
        }
        Ok(())
    }

    /// The double scheme (`docs/deadlock-freedom.md`), through each node's
    /// own window, step by step so that the hosts keep being served between
    /// the steps. First, from reset's `same`: every router moves the heads
    /// on the spare VC up to `cur`'s; returns the VC that must now drain
    /// ([`CardSim::vc_seen_pass`]) before [`CardSim::finish_change`].
    pub fn enter_double_scheme(&mut self) -> Result<u8, SimError> {
        for node in 0..self.geometry.nodes() as usize {
            if self.killed[node] {
                continue;
            }
            let v = table_banks_value(self.cur, OtherBank::Old);
            self.router_cfg(node, router_addr::TABLE_BANKS, Some(v))?;
        }
        Ok(1 - self.cur)
    }

    /// A table change: every router, in node order, gets `tables` written
    /// into its spare bank (`loading`, so routing nothing) and switches to
    /// it at once. Returns the old VC, which must drain before
    /// [`CardSim::finish_change`].
    pub fn switch_tables(&mut self, tables: &RouteTables) -> Result<u8, SimError> {
        let (old, new) = (self.cur, 1 - self.cur);
        for node in 0..self.geometry.nodes() as usize {
            if self.killed[node] {
                continue;
            }
            self.write_bank(node, new, tables)?;
            let v = table_banks_value(new, OtherBank::Old);
            self.router_cfg(node, router_addr::TABLE_BANKS, Some(v))?;
        }
        self.cur = new;
        Ok(old)
    }

    /// `node`'s `table_banks` (dense index): `cur` and the other bank's state.
    pub fn table_banks(&mut self, node: usize) -> Result<(u8, OtherBank), SimError> {
        let v = self.router_cfg(node, router_addr::TABLE_BANKS, None)?;
        Ok(table_banks_fields(v))
    }

    /// One pass over every router's `vc_seen` bit for `vc`, read and then
    /// cleared: `true` if no router had seen it since the pass before. The
    /// first pass of a drain only clears; a later pass that returns `true`
    /// proves the VC was empty at the end of the one before it.
    pub fn vc_seen_pass(&mut self, vc: u8) -> Result<bool, SimError> {
        if vc > 1 {
            return Err(SimError::NoSuchBank(vc));
        }
        let bit = 1 << vc;
        let mut clear = true;
        for node in 0..self.geometry.nodes() as usize {
            if self.killed[node] {
                continue;
            }
            if self.router_cfg(node, router_addr::VC_SEEN, None)? & bit != 0 {
                clear = false;
                self.router_cfg(node, router_addr::VC_SEEN, Some(bit))?;
            }
        }
        Ok(clear)
    }

    /// Waits for `vc` to drain and ends the change: passes over every
    /// router's `vc_seen` (the first only clears) until one finds it clear
    /// everywhere, calling `serve` between passes so that the hosts keep
    /// running, then [`CardSim::finish_change`]. `false` if `max_passes`
    /// passes after the first did not find it clear (the change is left
    /// open).
    pub fn drain_change(
        card: &SharedCard,
        vc: u8,
        max_passes: u32,
        mut serve: impl FnMut(),
    ) -> Result<bool, SimError> {
        card.borrow_mut().vc_seen_pass(vc)?;
        for _ in 0..max_passes {
            serve();
            if card.borrow_mut().vc_seen_pass(vc)? {
                card.borrow_mut().finish_change()?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Ends a change once the old VC has drained: its bank is marked
    /// `loading` everywhere and brought up to the newest tables, so the next
    /// change writes only what changes then.
    pub fn finish_change(&mut self) -> Result<(), SimError> {
        let (cur, old) = (self.cur, 1 - self.cur);
        let newest = if cur == 0 {
            self.loaded.clone()
        } else {
            self.loaded1.clone()
        };
        for node in 0..self.geometry.nodes() as usize {
            if self.killed[node] {
                continue;
            }
            let v = table_banks_value(cur, OtherBank::Loading);
            self.router_cfg(node, router_addr::TABLE_BANKS, Some(v))?;
            self.write_bank(node, old, &newest)?;
        }
        Ok(())
    }

    /// Fault injection, as [`crate::Fabric::cut_link`]: cuts both directions
    /// of the link on `node`'s `port` (dense node index). The routers find
    /// out by themselves; a packet caught on the link reaches its endpoint
    /// with a cut mark and completes with cause `link_cut`.
    pub fn cut_link(&mut self, node: usize, port: PortDir) -> Result<(), SimError> {
        let peer = self.link_port(node, port)?;
        self.io.cut[node] |= 1 << port as u8;
        self.io.cut[peer] |= 1 << port.opposite() as u8;
        Ok(())
    }

    /// Fault injection, as [`crate::Fabric::kill_router`]: `node`'s router
    /// (dense index) stops forwarding and stops its keepalives, so its
    /// neighbours take every link to it down by themselves. Its endpoint
    /// keeps running, cut off from the mesh.
    pub fn kill_router(&mut self, node: usize) -> Result<(), SimError> {
        if node >= self.geometry.nodes() as usize {
            return Err(SimError::NoSuchNode(node.min(255) as u8));
        }
        self.io.kill[node] = 1;
        self.killed[node] = true;
        Ok(())
    }

    /// Fault injection: inverts flit bit 0 on the direction leaving `node`
    /// on `port` until [`CardSim::restore_link`].
    pub fn corrupt_link(&mut self, node: usize, port: PortDir) -> Result<(), SimError> {
        self.link_port(node, port)?;
        self.io.corrupt[node] |= 1 << port as u8;
        Ok(())
    }

    /// Ends every fault on both directions of the link on `node`'s `port`;
    /// it comes back by itself after its hold-down and stable period.
    pub fn restore_link(&mut self, node: usize, port: PortDir) -> Result<(), SimError> {
        let peer = self.link_port(node, port)?;
        for (k, p) in [(node, port), (peer, port.opposite())] {
            self.io.cut[k] &= !(1 << p as u8);
            self.io.corrupt[k] &= !(1 << p as u8);
        }
        Ok(())
    }

    /// Clocks one cycle and serves DMA and interrupts.
    pub fn step(&mut self) -> Result<(), SimError> {
        for (port, p) in self.dma.iter_mut().zip(self.pending.iter_mut()) {
            match p.take() {
                Some((data, err)) => {
                    port.rsp_valid = 1;
                    port.rsp_data = data;
                    port.rsp_err = err as u8;
                }
                None => {
                    port.rsp_valid = 0;
                    port.rsp_err = 0;
                }
            }
        }
        if !self.model.cycle(&mut self.io, &mut self.dma) {
            return Err(SimError::Model("cycle threw"));
        }
        self.cycle += 1;
        for (slot, port) in self.dma.iter().enumerate() {
            if port.valid == 0 {
                continue;
            }
            let mem = &mut self.mem[slot / 2];
            let addr = port.addr & !7;
            if port.write != 0 {
                let bytes = port.wdata.to_le_bytes();
                match mem.locate(addr, 8) {
                    Some(dst) => {
                        for (i, b) in bytes.iter().enumerate() {
                            if port.wstrb >> i & 1 != 0 {
                                dst[i] = *b;
                            }
                        }
                    }
                    None => mem.refused += 1,
                }
            } else {
                self.pending[slot] = Some(match mem.locate(addr, 8) {
                    Some(src) => (u64::from_le_bytes(src.try_into().expect("8 bytes")), false),
                    None => {
                        mem.refused += 1;
                        (0, true)
                    }
                });
            }
        }
        for (k, q) in self.events.iter_mut().enumerate() {
            if self.io.irq[k] != 0 {
                q.push_back(Event {
                    vector: 0,
                    at_cycle: self.cycle,
                });
            }
        }
        Ok(())
    }

    /// Clocks `n` cycles.
    pub fn steps(&mut self, n: u64) -> Result<(), SimError> {
        for _ in 0..n {
            self.step()?;
        }
        Ok(())
    }

    /// One bus access to `node`'s window at `offset`: a read (`None`) or a
    /// write. Returns the read data and whether the card rejected it.
    pub fn bus(
        &mut self,
        node: usize,
        offset: u32,
        write: Option<u32>,
    ) -> Result<(u32, bool), SimError> {
        self.io.bus_addr = (node as u32) << 16 | (offset & 0xFFFF);
        self.io.bus_wdata = write.unwrap_or(0);
        self.io.bus_we = write.is_some() as u8;
        self.io.bus_re = write.is_none() as u8;
        let r = self.step();
        self.io.bus_we = 0;
        self.io.bus_re = 0;
        r?;
        let err = self.io.bus_error != 0;
        self.bus_errors += err as u64;
        Ok((self.io.bus_rdata, err))
    }
}

fn sim_err(e: SimError) -> DriverError {
    DriverError::Backend {
        backend: "verilator",
        message: e.to_string(),
    }
}

/// One node's view of the card: its own BAR window, its own host memory,
/// its own interrupt line.
pub struct SimDevice {
    card: SharedCard,
    node: usize,
}

impl SimDevice {
    /// The card behind this device.
    pub fn card(&self) -> &SharedCard {
        &self.card
    }
    /// Dense node index.
    pub fn node(&self) -> usize {
        self.node
    }
}

impl Device for SimDevice {
    fn window_bytes(&self) -> u64 {
        NODE_WINDOW_BYTES as u64
    }

    fn read32(&mut self, offset: BarOffset) -> Result<u32, DriverError> {
        if offset.0 & 3 != 0 || offset.0 + 4 > NODE_WINDOW_BYTES as u64 {
            return Err(DriverError::OutOfWindow {
                offset,
                window_bytes: NODE_WINDOW_BYTES as u64,
            });
        }
        let mut c = self.card.borrow_mut();
        let (v, _) = c.bus(self.node, offset.0 as u32, None).map_err(sim_err)?;
        Ok(if c.vanished { u32::MAX } else { v })
    }

    fn write32(&mut self, offset: BarOffset, value: u32) -> Result<(), DriverError> {
        if offset.0 & 3 != 0 || offset.0 + 4 > NODE_WINDOW_BYTES as u64 {
            return Err(DriverError::OutOfWindow {
                offset,
                window_bytes: NODE_WINDOW_BYTES as u64,
            });
        }
        let mut c = self.card.borrow_mut();
        if c.vanished {
            return Ok(()); // a write to a vanished card goes nowhere
        }
        c.bus(self.node, offset.0 as u32, Some(value))
            .map_err(sim_err)?;
        Ok(())
    }

    fn alloc_dma(&mut self, bytes: usize) -> Result<DmaRegion, DriverError> {
        let mut c = self.card.borrow_mut();
        let m = &mut c.mem[self.node];
        let id = m.next_id;
        m.next_id += 1;
        let iova = m.next_iova;
        m.next_iova += (bytes as u64).next_multiple_of(0x1000) + 0x1000; // guard page
        m.regions.insert(id, (iova, vec![0; bytes]));
        Ok(DmaRegion::new(id, Iova(iova), bytes))
    }

    fn free_dma(&mut self, region: DmaRegion) -> Result<(), DriverError> {
        self.card.borrow_mut().mem[self.node]
            .regions
            .remove(&region.id());
        Ok(())
    }

    fn dma_read(
        &mut self,
        region: &DmaRegion,
        offset: usize,
        buf: &mut [u8],
    ) -> Result<(), DriverError> {
        region.check(offset, buf.len())?;
        let c = self.card.borrow();
        let (_, bytes) =
            c.mem[self.node]
                .regions
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
        let mut c = self.card.borrow_mut();
        let (_, bytes) =
            c.mem[self.node]
                .regions
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
        self.card.borrow_mut().events[self.node].pop_front()
    }

    fn wait(&mut self, max_cycles: u64) -> Result<Option<Event>, DriverError> {
        let mut c = self.card.borrow_mut();
        for _ in 0..max_cycles {
            if let Some(e) = c.events[self.node].pop_front() {
                return Ok(Some(e));
            }
            c.step().map_err(sim_err)?;
        }
        Ok(c.events[self.node].pop_front())
    }

    fn advance_time(&mut self, cycles: u64) -> Result<(), DriverError> {
        self.card.borrow_mut().steps(cycles).map_err(sim_err)
    }

    fn now(&self) -> u64 {
        self.card.borrow().cycle
    }
}
