//! The Verilator bridge: the mesh's generated Verilog, compiled by
//! `verilator --cc` at build time, driven cycle by cycle from Rust.
//!
//! [`Fabric`] is the safe API: build a mesh, send packets at a node's local
//! port (with the credit protocol a real endpoint follows), take delivered
//! packets, step cycles, and reach every router's registers over the
//! configuration bus.
//!
//! [`card::CardSim`] is the card model (mesh plus one endpoint per node)
//! with a root-complex model, and [`card::SimDevice`] one node's
//! [`replimesh_driver::Device`] on it.
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod card;
mod ffi;

use ffi::{CycleIo, Model, PortIo, VARIANTS};
use replimesh_regs::{HeaderError, PacketHeader};
use replimesh_spec::fanout::multicast_tree;
use replimesh_spec::reconfig::{table_banks_fields, table_banks_value, OtherBank};
use replimesh_spec::routing::{dor_tables, encode_entry, ordered_writes, RouteTables};
use replimesh_spec::{
    router_addr, GroupId, MeshGeometry, NodeId, PortDir, Route, GROUP_TABLE_BASE,
    GROUP_TABLE_ENTRIES, LINK_HOLDDOWN_DEFAULT, LINK_STABLE_DEFAULT, ROUTE_TABLE_BANK1_BASE,
    ROUTE_TABLE_BASE,
};
use std::collections::VecDeque;

/// Errors of the bridge.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// No model of this size and flit width was compiled in.
    #[error(
        "no Verilator model for a {width}x{height} mesh with {flit_bits}-bit flits; built: {built} \
         (8x8 needs the `large-meshes` feature, e.g. `cargo run -p meshctl --features large-meshes`; \
         other sizes: REPLIMESH_MESHES=WxH:bits at build time)"
    )]
    NotBuilt {
        /// Columns asked for.
        width: u32,
        /// Rows asked for.
        height: u32,
        /// Flit width asked for.
        flit_bits: u32,
        /// The variants available.
        built: String,
    },
    /// The C++ model threw.
    #[error("the Verilator model failed: {0}")]
    Model(&'static str),
    /// A node id names no node of this mesh.
    #[error("node {0} is not in this mesh")]
    NoSuchNode(u8),
    /// The router rejected a configuration access.
    #[error("router {node} rejected the access to register 0x{addr:03x}")]
    CfgRejected {
        /// Router.
        node: u8,
        /// Word address.
        addr: u16,
    },
    /// The routers did not finish loading their tables after reset.
    #[error("router {0} did not finish initialising its route table")]
    InitTimeout(u8),
    /// A packet's header cannot be encoded.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// A packet whose payload does not fit the flit width.
    #[error("payload flit {index} (0x{value:x}) does not fit in {flit_bits} bits")]
    PayloadTooWide {
        /// Flit index.
        index: usize,
        /// Value.
        value: u64,
        /// Flit width.
        flit_bits: u32,
    },
    /// A waveform was asked for, but the bridge was built without the `trace` feature.
    #[error("VCD tracing needs the `trace` feature of replimesh-sim (cargo --features replimesh-sim/trace)")]
    TraceNotBuilt,
    /// A route table bank or VC other than 0 and 1.
    #[error("no route table bank {0} (banks are 0 and 1)")]
    NoSuchBank(u8),
    /// A fault-injection call named a port that leads to no neighbour.
    #[error("node {node} has no mesh link on port {port:?}")]
    NoSuchLink {
        /// Node.
        node: u8,
        /// Port.
        port: PortDir,
    },
    /// The mesh links did not all come up after reset.
    #[error("router {node}'s links did not come up after reset (link_state 0x{state:x})")]
    LinksDown {
        /// Router.
        node: u8,
        /// Its `link_state` register.
        state: u32,
    },
    /// The router sent more flits than the credits it was given (a protocol bug).
    #[error("router {0} overran the host's ejection buffer")]
    EjectOverrun(u8),
}

/// Cycles after reset until every router's sequencer has loaded its route
/// table and cleared its group table (plus two for the status to settle).
pub(crate) fn router_init_cycles(geometry: MeshGeometry) -> u64 {
    geometry.table_entries().max(GROUP_TABLE_ENTRIES) as u64 + 2
}

/// Cycles after the tables are loaded until every mesh link has come up
/// (hold-down, then the stable period, then the ready handshake), with margin.
pub(crate) fn link_up_cycles() -> u64 {
    (LINK_HOLDDOWN_DEFAULT + LINK_STABLE_DEFAULT) as u64 + 16
}

/// Lists the compiled variants as `WxH:bits`.
pub fn built_variants() -> Vec<(MeshGeometry, u32)> {
    VARIANTS
        .iter()
        .filter_map(|v| MeshGeometry::new(v.width, v.height).map(|g| (g, v.flit_bits)))
        .collect()
}

/// A packet as the host hands it to its local port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Header (its `src` is overwritten by the ingress router).
    pub header: PacketHeader,
    /// Payload flits after the header.
    pub payload: Vec<u64>,
}

/// A packet taken from a node's local port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Node that received it.
    pub node: NodeId,
    /// Decoded header, or why it failed to decode.
    pub header: Result<PacketHeader, HeaderError>,
    /// Flits after the header flit(s).
    pub payload: Vec<u64>,
    /// Cycle the head flit came out of the router.
    pub head_cycle: u64,
    /// Cycle the tail flit came out of the router.
    pub tail_cycle: u64,
    /// The tail was error-marked: the packet was cut by a link or router
    /// failure on its way, and its flits are not to be trusted.
    pub cut: bool,
}

impl Delivered {
    /// A packet a node's runtime took from its RX ring (the endpoint hands
    /// over only whole, uncut packets; it sees no flit timing, so both
    /// cycles are `cycle`).
    pub fn from_host(node: NodeId, p: replimesh_driver::Received, cycle: u64) -> Delivered {
        Delivered {
            node,
            header: Ok(p.header),
            payload: p.payload,
            head_cycle: cycle,
            tail_cycle: cycle,
            cut: false,
        }
    }
}

/// Per-router counters, read over the configuration bus.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouterCounters {
    /// Head flits switched.
    pub packets_routed: u32,
    /// Flits switched.
    pub flits_routed: u32,
    /// TTL drops.
    pub drop_ttl: u32,
    /// Drops with no live port.
    pub drop_unroutable: u32,
    /// Malformed header drops.
    pub drop_malformed: u32,
    /// Flits that hit a full FIFO.
    pub overflow: u32,
    /// Route table writes.
    pub table_writes: u32,
    /// Rejected configuration accesses.
    pub cfg_errors: u32,
    /// Fan-out packets dropped (bad group, mask or scope, oversize).
    pub fanout_errors: u32,
    /// Worms closed with an error-marked tail (their link in died).
    pub cut_tails: u32,
    /// Worms whose rest was dropped (their link out died).
    pub cut_drops: u32,
    /// Flits discarded on arrival (check failed, link not open).
    pub link_discards: u32,
    /// Unicast heads that waited for a live route.
    pub reroute_waits: u32,
    /// Times each mesh port (N, E, S, W) went down by itself.
    pub link_down_events: [u32; 4],
    /// Cycles each mesh port saw a parity error.
    pub link_check_errors: [u32; 4],
}

#[derive(Default)]
struct NodePort {
    /// Flits waiting to enter the router: (flit, last).
    tx: VecDeque<(u64, bool)>,
    /// Credits for the router's local input FIFO.
    tx_credits: usize,
    /// Flits the router delivered that the host has not consumed: (flit, last, err, cycle).
    rx_buf: VecDeque<(u64, bool, bool, u64)>,
    /// Flits of the packet being assembled, with the head's cycle.
    rx_partial: Vec<u64>,
    rx_head_cycle: u64,
    accepting: bool,
    delivered: VecDeque<Delivered>,
    overrun: bool,
}

/// A simulated mesh: the generated RTL in Verilator plus a host-side model of
/// each node's local port.
pub struct Fabric {
    model: Model,
    geometry: MeshGeometry,
    flit_bits: u32,
    fifo_depth: usize,
    io: CycleIo,
    ports: Vec<PortIo>,
    nodes: Vec<NodePort>,
    cycle: u64,
    /// What every router's route table bank 0 holds (the bridge wrote all
    /// of it: reset loads dimension order, then only `load_tables` and
    /// `load_bank` write).
    loaded: RouteTables,
    /// The same for bank 1 (`load_bank` only).
    loaded1: RouteTables,
}

impl Fabric {
    /// Builds, resets and initialises a mesh of `geometry` with `flit_bits`-bit flits.
    pub fn new(geometry: MeshGeometry, flit_bits: u32) -> Result<Fabric, SimError> {
        Self::with_trace(geometry, flit_bits, None)
    }

    /// As [`Fabric::new`], dumping a VCD to `trace` (needs the `trace` feature).
    pub fn with_trace(
        geometry: MeshGeometry,
        flit_bits: u32,
        trace: Option<&std::path::Path>,
    ) -> Result<Fabric, SimError> {
        if trace.is_some() && !cfg!(feature = "trace") {
            return Err(SimError::TraceNotBuilt);
        }
        let variant = VARIANTS
            .iter()
            .find(|v| {
                v.width == geometry.width()
                    && v.height == geometry.height()
                    && v.flit_bits == flit_bits
            })
            .copied()
            .ok_or_else(|| SimError::NotBuilt {
                width: geometry.width(),
                height: geometry.height(),
                flit_bits,
                built: VARIANTS
                    .iter()
                    .map(|v| format!("{}x{}:{}", v.width, v.height, v.flit_bits))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let model = Model::new(variant, trace).ok_or(SimError::Model("constructor threw"))?;
        let n = geometry.nodes() as usize;
        let mut fabric = Fabric {
            model,
            geometry,
            flit_bits,
            fifo_depth: variant.fifo_depth,
            io: CycleIo::default(),
            ports: vec![PortIo::default(); n],
            nodes: (0..n).map(|_| NodePort::default()).collect(),
            cycle: 0,
            loaded: dor_tables(&geometry),
            loaded1: dor_tables(&geometry),
        };
        fabric.reset()?;
        Ok(fabric)
    }

    /// Resets the RTL and the host ports, then waits until every router has
    /// loaded its dimension-order table.
    pub fn reset(&mut self) -> Result<(), SimError> {
        self.loaded = dor_tables(&self.geometry);
        self.loaded1 = dor_tables(&self.geometry);
        for node in &mut self.nodes {
            *node = NodePort {
                tx_credits: self.fifo_depth,
                accepting: true,
                ..Default::default()
            };
        }
        self.io.reset = 1;
        for _ in 0..4 {
            self.step()?;
        }
        self.io.reset = 0;
        // The sequencer loads the route table and clears the group table.
        self.step_n(router_init_cycles(self.geometry))?;
        for id in self.geometry.node_ids().collect::<Vec<_>>() {
            if self.cfg_read(id, router_addr::STATUS)? & 1 == 0 {
                return Err(SimError::InitTimeout(id.0));
            }
        }
        // Then every mesh link proves itself alive before it carries flits.
        self.step_n(link_up_cycles())?;
        for id in self.geometry.node_ids().collect::<Vec<_>>() {
            let state = self.cfg_read(id, router_addr::LINK_STATE)?;
            if state & 0xf != self.present_ports(id) {
                return Err(SimError::LinksDown { node: id.0, state });
            }
        }
        Ok(())
    }

    /// Mesh size.
    pub fn geometry(&self) -> MeshGeometry {
        self.geometry
    }
    /// Flit width in bits.
    pub fn flit_bits(&self) -> u32 {
        self.flit_bits
    }
    /// Input FIFO depth in flits.
    pub fn fifo_depth(&self) -> usize {
        self.fifo_depth
    }
    /// Cycles simulated since construction.
    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    fn index(&self, node: NodeId) -> Result<usize, SimError> {
        self.geometry
            .index_of(node)
            .ok_or(SimError::NoSuchNode(node.0))
    }

    /// Queues `packet` at `node`'s local port; it enters the router as
    /// credits allow.
    pub fn send(&mut self, node: NodeId, packet: &Packet) -> Result<(), SimError> {
        let i = self.index(node)?;
        let mut flits = packet.header.to_flits(self.flit_bits)?;
        for (index, &value) in packet.payload.iter().enumerate() {
            if self.flit_bits == 32 && value > u32::MAX as u64 {
                return Err(SimError::PayloadTooWide {
                    index,
                    value,
                    flit_bits: 32,
                });
            }
            flits.push(value);
        }
        let n = flits.len();
        let tx = &mut self.nodes[i].tx;
        tx.extend(flits.into_iter().enumerate().map(|(k, f)| (f, k + 1 == n)));
        Ok(())
    }

    /// Flits still waiting at `node`'s local port.
    pub fn queued_flits(&self, node: NodeId) -> usize {
        self.index(node)
            .map(|i| self.nodes[i].tx.len())
            .unwrap_or(0)
    }

    /// Whether `node`'s host takes flits from the router (when not, the
    /// router's local output runs out of credits and the mesh backs up).
    pub fn set_accepting(&mut self, node: NodeId, accepting: bool) -> Result<(), SimError> {
        let i = self.index(node)?;
        self.nodes[i].accepting = accepting;
        Ok(())
    }

    /// Takes the oldest packet delivered at `node`.
    pub fn recv(&mut self, node: NodeId) -> Option<Delivered> {
        let i = self.index(node).ok()?;
        self.nodes[i].delivered.pop_front()
    }

    /// Takes every delivered packet, all nodes.
    pub fn drain_delivered(&mut self) -> Vec<Delivered> {
        self.nodes
            .iter_mut()
            .flat_map(|n| n.delivered.drain(..))
            .collect()
    }

    /// Flits in flight anywhere the host can see: queued at sources or held
    /// in ejection buffers.
    pub fn host_flits_pending(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| n.tx.len() + n.rx_buf.len() + n.rx_partial.len())
            .sum()
    }

    /// Simulates one cycle.
    pub fn step(&mut self) -> Result<(), SimError> {
        let flit_bits = self.flit_bits;
        let geometry = self.geometry;
        for (i, (node, port)) in self.nodes.iter_mut().zip(self.ports.iter_mut()).enumerate() {
            port.inj_valid = 0;
            if node.tx_credits > 0 {
                if let Some((flit, last)) = node.tx.pop_front() {
                    node.tx_credits -= 1;
                    port.inj_valid = 1;
                    port.inj_last = last as u8;
                    port.inj_data = flit;
                }
            }
            port.ej_credit = 0;
            if node.accepting {
                if let Some((flit, last, err, at)) = node.rx_buf.pop_front() {
                    port.ej_credit = 1;
                    if node.rx_partial.is_empty() {
                        node.rx_head_cycle = at;
                    }
                    node.rx_partial.push(flit);
                    if last {
                        let flits = std::mem::take(&mut node.rx_partial);
                        let hf = PacketHeader::header_flits(flit_bits).min(flits.len());
                        let header = PacketHeader::from_flits(&flits, flit_bits)
                            .unwrap_or(Err(HeaderError::UnknownKind(u32::MAX)));
                        node.delivered.push_back(Delivered {
                            node: geometry.id_at(i),
                            header,
                            payload: flits[hf..].to_vec(),
                            head_cycle: node.rx_head_cycle,
                            tail_cycle: at,
                            cut: err,
                        });
                    }
                }
            }
        }
        if !self.model.cycle(&mut self.io, &mut self.ports) {
            return Err(SimError::Model("cycle threw"));
        }
        self.cycle += 1;
        let cycle = self.cycle;
        let mask = if flit_bits == 64 {
            u64::MAX
        } else {
            u32::MAX as u64
        };
        for (node, port) in self.nodes.iter_mut().zip(self.ports.iter()) {
            if port.inj_credit != 0 {
                node.tx_credits += 1;
            }
            if port.ej_valid != 0 {
                if node.rx_buf.len() >= self.fifo_depth {
                    node.overrun = true;
                }
                node.rx_buf.push_back((
                    port.ej_data & mask,
                    port.ej_last != 0,
                    port.ej_err != 0,
                    cycle,
                ));
            }
        }
        if let Some(i) = self.nodes.iter().position(|n| n.overrun) {
            return Err(SimError::EjectOverrun(self.geometry.id_at(i).0));
        }
        Ok(())
    }

    /// Simulates `n` cycles.
    pub fn step_n(&mut self, n: u64) -> Result<(), SimError> {
        for _ in 0..n {
            self.step()?;
        }
        Ok(())
    }

    fn cfg_access(&mut self, node: NodeId, addr: u32, write: Option<u32>) -> Result<u32, SimError> {
        self.index(node)?;
        self.io.cfg_node = node.0;
        self.io.cfg_addr = addr as u16;
        self.io.cfg_wdata = write.unwrap_or(0);
        self.io.cfg_we = write.is_some() as u8;
        self.io.cfg_re = write.is_none() as u8;
        let r = self.step();
        self.io.cfg_we = 0;
        self.io.cfg_re = 0;
        r?;
        if self.io.cfg_error != 0 || addr > u16::MAX as u32 {
            return Err(SimError::CfgRejected {
                node: node.0,
                addr: addr as u16,
            });
        }
        Ok(self.io.cfg_rdata)
    }

    /// Reads a router register (one cycle; traffic keeps moving).
    pub fn cfg_read(&mut self, node: NodeId, addr: u32) -> Result<u32, SimError> {
        self.cfg_access(node, addr, None)
    }

    /// Writes a router register (one cycle; traffic keeps moving).
    pub fn cfg_write(&mut self, node: NodeId, addr: u32, value: u32) -> Result<(), SimError> {
        self.cfg_access(node, addr, Some(value)).map(|_| ())
    }

    /// Rewrites `node`'s route for `dest`.
    pub fn write_route(
        &mut self,
        node: NodeId,
        dest: NodeId,
        route: Route,
    ) -> Result<(), SimError> {
        self.cfg_write(node, ROUTE_TABLE_BASE + dest.0 as u32, route.encode())?;
        let _ = self.loaded.set(node, dest, Some(route));
        Ok(())
    }

    /// Reads `node`'s route for `dest`; `None` if the entry holds no valid route.
    pub fn read_route(&mut self, node: NodeId, dest: NodeId) -> Result<Option<Route>, SimError> {
        Ok(Route::decode(
            self.cfg_read(node, ROUTE_TABLE_BASE + dest.0 as u32)?,
        ))
    }

    /// Reads every counter of `node`'s router.
    pub fn counters(&mut self, node: NodeId) -> Result<RouterCounters, SimError> {
        Ok(RouterCounters {
            packets_routed: self.cfg_read(node, router_addr::PACKETS_ROUTED)?,
            flits_routed: self.cfg_read(node, router_addr::FLITS_ROUTED)?,
            drop_ttl: self.cfg_read(node, router_addr::DROP_TTL)?,
            drop_unroutable: self.cfg_read(node, router_addr::DROP_UNROUTABLE)?,
            drop_malformed: self.cfg_read(node, router_addr::DROP_MALFORMED)?,
            overflow: self.cfg_read(node, router_addr::OVERFLOW)?,
            table_writes: self.cfg_read(node, router_addr::TABLE_WRITES)?,
            cfg_errors: self.cfg_read(node, router_addr::CFG_ERRORS)?,
            fanout_errors: self.cfg_read(node, router_addr::FANOUT_ERRORS)?,
            cut_tails: self.cfg_read(node, router_addr::CUT_TAILS)?,
            cut_drops: self.cfg_read(node, router_addr::CUT_DROPS)?,
            link_discards: self.cfg_read(node, router_addr::LINK_DISCARDS)?,
            reroute_waits: self.cfg_read(node, router_addr::REROUTE_WAITS)?,
            link_down_events: [
                self.cfg_read(node, router_addr::LINK_DOWN_EVENTS)?,
                self.cfg_read(node, router_addr::LINK_DOWN_EVENTS + 1)?,
                self.cfg_read(node, router_addr::LINK_DOWN_EVENTS + 2)?,
                self.cfg_read(node, router_addr::LINK_DOWN_EVENTS + 3)?,
            ],
            link_check_errors: [
                self.cfg_read(node, router_addr::LINK_CHECK_ERRORS)?,
                self.cfg_read(node, router_addr::LINK_CHECK_ERRORS + 1)?,
                self.cfg_read(node, router_addr::LINK_CHECK_ERRORS + 2)?,
                self.cfg_read(node, router_addr::LINK_CHECK_ERRORS + 3)?,
            ],
        })
    }

    /// Mesh ports of `node` that lead to a neighbour, bit per N, E, S, W.
    pub fn present_ports(&self, node: NodeId) -> u32 {
        [PortDir::N, PortDir::E, PortDir::S, PortDir::W]
            .iter()
            .filter(|p| self.geometry.neighbour(node, **p).is_some())
            .fold(0, |m, p| m | 1 << *p as u32)
    }

    /// Reads `node`'s `link_state` register: bits 3..0 mesh ports up.
    pub fn link_state(&mut self, node: NodeId) -> Result<u32, SimError> {
        self.cfg_read(node, router_addr::LINK_STATE)
    }

    /// Writes every router's route table from `tables` (a destination the
    /// tables give no route is written as `NO_ROUTE_ENTRY`: dropped and
    /// counted as unroutable). Only entries that change are written, one
    /// configuration write each, while traffic keeps moving; killed routers
    /// are skipped (they reload dimension order when restored).
    ///
    /// The order ([`ordered_writes`]) keeps every mix of old and new entries
    /// loop-free.
    pub fn load_tables(&mut self, tables: &RouteTables) -> Result<(), SimError> {
        for w in ordered_writes(&self.loaded, tables) {
            if self.is_killed(w.router)? {
                continue;
            }
            self.cfg_write(
                w.router,
                ROUTE_TABLE_BASE + w.dest.0 as u32,
                encode_entry(w.route),
            )?;
            // The bridge's copy; on a table too small for it, nothing changes.
            let _ = self.loaded.set(w.router, w.dest, w.route);
        }
        Ok(())
    }

    /// Writes the entries of `node`'s route table bank `bank` (0 or 1) that
    /// differ from `tables` (no route: `NO_ROUTE_ENTRY`), one configuration
    /// write each while traffic keeps moving; returns how many. In any order:
    /// the double scheme writes a bank no head is routed by
    /// ([`Fabric::set_table_banks`]).
    pub fn load_bank(
        &mut self,
        node: NodeId,
        bank: u8,
        tables: &RouteTables,
    ) -> Result<usize, SimError> {
        let (base, mut loaded) = match bank {
            0 => (
                ROUTE_TABLE_BASE,
                std::mem::replace(&mut self.loaded, dor_tables(&self.geometry)),
            ),
            1 => (
                ROUTE_TABLE_BANK1_BASE,
                std::mem::replace(&mut self.loaded1, dor_tables(&self.geometry)),
            ),
            _ => return Err(SimError::NoSuchBank(bank)),
        };
        let mut written = 0;
        let mut result = Ok(());
        for dest in self.geometry.node_ids().collect::<Vec<_>>() {
            let route = tables.entry(node, dest);
            if route == loaded.entry(node, dest) {
                continue;
            }
            if let Err(e) = self.cfg_write(node, base + dest.0 as u32, encode_entry(route)) {
                result = Err(e);
                break;
            }
            let _ = loaded.set(node, dest, route);
            written += 1;
        }
        match bank {
            0 => self.loaded = loaded,
            _ => self.loaded1 = loaded,
        }
        result.map(|()| written)
    }

    /// Writes `node`'s `table_banks`: `cur` (0 or 1) and the other bank's state.
    pub fn set_table_banks(
        &mut self,
        node: NodeId,
        cur: u8,
        other: OtherBank,
    ) -> Result<(), SimError> {
        if cur > 1 {
            return Err(SimError::NoSuchBank(cur));
        }
        self.cfg_write(
            node,
            router_addr::TABLE_BANKS,
            table_banks_value(cur, other),
        )
    }

    /// Reads `node`'s `table_banks`: `cur` and the other bank's state.
    pub fn table_banks(&mut self, node: NodeId) -> Result<(u8, OtherBank), SimError> {
        let v = self.cfg_read(node, router_addr::TABLE_BANKS)?;
        Ok(table_banks_fields(v))
    }

    /// Reads `node`'s `vc_seen` (bit per VC) and clears the bits of `clear`.
    pub fn vc_seen(&mut self, node: NodeId, clear: u32) -> Result<u32, SimError> {
        let seen = self.cfg_read(node, router_addr::VC_SEEN)?;
        if clear != 0 {
            self.cfg_write(node, router_addr::VC_SEEN, clear)?;
        }
        Ok(seen)
    }

    fn link_port(&self, node: NodeId, port: PortDir) -> Result<(usize, NodeId), SimError> {
        let i = self.index(node)?;
        match self.geometry.neighbour(node, port) {
            Some(peer) if port != PortDir::L => Ok((i, peer)),
            _ => Err(SimError::NoSuchLink { node: node.0, port }),
        }
    }

    /// Fault injection: cuts the direction leaving `node` on `port` (every
    /// wire of it reads zero at the neighbour, the credits `node` returns
    /// included). The routers find out by themselves.
    pub fn cut_link_direction(&mut self, node: NodeId, port: PortDir) -> Result<(), SimError> {
        let (i, _) = self.link_port(node, port)?;
        self.ports[i].cut |= 1 << port as u8;
        Ok(())
    }

    /// Fault injection: cuts both directions of the link on `node`'s `port`.
    pub fn cut_link(&mut self, node: NodeId, port: PortDir) -> Result<(), SimError> {
        let (_, peer) = self.link_port(node, port)?;
        self.cut_link_direction(node, port)?;
        self.cut_link_direction(peer, port.opposite())
    }

    /// Fault injection: inverts flit bit 0 on the direction leaving `node`
    /// on `port` until [`Fabric::restore_link`] (the parity check at the
    /// neighbour fails on every cycle).
    pub fn corrupt_link(&mut self, node: NodeId, port: PortDir) -> Result<(), SimError> {
        let (i, _) = self.link_port(node, port)?;
        self.ports[i].corrupt |= 1 << port as u8;
        Ok(())
    }

    /// Ends every fault on both directions of the link on `node`'s `port`;
    /// the link comes back by itself after its hold-down and stable period.
    pub fn restore_link(&mut self, node: NodeId, port: PortDir) -> Result<(), SimError> {
        let (i, peer) = self.link_port(node, port)?;
        let j = self.index(peer)?;
        self.ports[i].cut &= !(1 << port as u8);
        self.ports[i].corrupt &= !(1 << port as u8);
        self.ports[j].cut &= !(1 << port.opposite() as u8);
        self.ports[j].corrupt &= !(1 << port.opposite() as u8);
        Ok(())
    }

    /// Fault injection: kills `node`'s router. It is held in reset and
    /// silent on every link; what it held is lost. Its host stops: what it
    /// had queued is dropped with it.
    pub fn kill_router(&mut self, node: NodeId) -> Result<(), SimError> {
        let i = self.index(node)?;
        self.ports[i].kill = 1;
        self.nodes[i] = NodePort {
            tx_credits: 0,
            accepting: true,
            ..Default::default()
        };
        Ok(())
    }

    /// Brings a killed router back: it reloads its tables (dimension order)
    /// and its links come up by themselves; its host port starts afresh.
    pub fn restore_router(&mut self, node: NodeId) -> Result<(), SimError> {
        let i = self.index(node)?;
        self.ports[i].kill = 0;
        let dor = dor_tables(&self.geometry);
        for dest in self.geometry.node_ids() {
            let _ = self.loaded.set(node, dest, dor.entry(node, dest));
            let _ = self.loaded1.set(node, dest, dor.entry(node, dest));
        }
        self.nodes[i] = NodePort {
            tx_credits: self.fifo_depth,
            accepting: true,
            ..Default::default()
        };
        Ok(())
    }

    /// Whether `node`'s router is killed.
    pub fn is_killed(&self, node: NodeId) -> Result<bool, SimError> {
        Ok(self.ports[self.index(node)?].kill != 0)
    }

    /// Writes `node`'s group table entry for `group`: the output mask (bit
    /// per port N, E, S, W, L). Ids past the table are rejected by the router.
    pub fn write_group(&mut self, node: NodeId, group: GroupId, mask: u8) -> Result<(), SimError> {
        self.cfg_write(node, GROUP_TABLE_BASE + group.0 as u32, mask as u32)
    }

    /// Reads `node`'s group table entry for `group`.
    pub fn read_group(&mut self, node: NodeId, group: GroupId) -> Result<u8, SimError> {
        Ok(self.cfg_read(node, GROUP_TABLE_BASE + group.0 as u32)? as u8)
    }

    /// Installs the dimension-ordered tree from `src` to `members` as group
    /// `group` in every router (routers off the tree get an empty entry).
    /// Groups are source-rooted: only `src` should send to `group`.
    pub fn install_tree(
        &mut self,
        group: GroupId,
        src: NodeId,
        members: &[NodeId],
    ) -> Result<(), SimError> {
        self.index(src)?;
        let tree = multicast_tree(&self.geometry, src, members);
        for node in self.geometry.node_ids().collect::<Vec<_>>() {
            let mask = tree.get(&node).copied().unwrap_or(0);
            self.write_group(node, group, mask)?;
        }
        Ok(())
    }
}
