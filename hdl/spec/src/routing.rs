//! Fault-tolerant unicast routing: up*/down* route tables computed from the
//! link state, and checkers for deadlock freedom and delivery.
//!
//! Every router (or the driver on its behalf) computes [`updown_tables`] from
//! the same [`Faults`]. The result depends only on the *set* of faults, never
//! on the order they were learnt, so all nodes agree without a master.
//!
//! Why up*/down*: dimension order cannot route around a failed link without a
//! Y→X turn, and the reset tables' alternates make exactly those turns (their
//! channel dependency graph has cycles, see the tests). Up*/down* orients every
//! live link by a total order on routers; a path never turns from "down" back
//! to "up", so dependencies only run up→up, up→down or down→down and can never
//! close a cycle. It needs no virtual channel and works on any connected
//! topology, which is what a mesh with holes is.

use crate::geometry::{dor_route, MeshGeometry, NodeId, PortDir, Route};
use std::collections::{BTreeSet, HashSet, VecDeque};
use std::fmt;

/// Route table entry meaning "no route: drop as unroutable" (both 3-bit port
/// fields 7); defined once, with the router registers.
pub use crate::router_regs::NO_ROUTE_ENTRY;

const LINK_PORTS: [PortDir; 4] = [PortDir::N, PortDir::E, PortDir::S, PortDir::W];
const LOCAL: Route = Route {
    primary: PortDir::L,
    alternate: PortDir::L,
};

/// Encodes a table entry: `route.encode()`, or [`NO_ROUTE_ENTRY`] for `None`.
pub fn encode_entry(route: Option<Route>) -> u32 {
    route.map_or(NO_ROUTE_ENTRY, Route::encode)
}

/// A node or link named that is not part of the mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TopologyError {
    /// The id names no node of the mesh.
    NoSuchNode(NodeId),
    /// The node has no mesh link on this port (a mesh edge, or `L`).
    NoSuchLink(NodeId, PortDir),
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopologyError::NoSuchNode(n) => write!(f, "node id {:#04x} is not in the mesh", n.0),
            TopologyError::NoSuchLink(n, p) => write!(
                f,
                "node {:#04x} has no mesh link on port {}",
                n.0,
                p.letter()
            ),
        }
    }
}

impl std::error::Error for TopologyError {}

/// `(x,y)` of a node, or its raw id if it is not in the mesh.
fn at(g: &MeshGeometry, n: NodeId) -> String {
    g.coords(n)
        .map_or_else(|| format!("#{:#04x}", n.0), |(x, y)| format!("({x},{y})"))
}

/// Every undirected mesh link once, named by its west or north end (port `E`
/// or `S`), in increasing node id.
pub fn mesh_links(g: &MeshGeometry) -> Vec<(NodeId, PortDir)> {
    let mut out = Vec::new();
    for n in g.node_ids() {
        for p in [PortDir::E, PortDir::S] {
            if g.neighbour(n, p).is_some() {
                out.push((n, p));
            }
        }
    }
    out
}

/// The link state: down undirected links and dead routers.
///
/// Links are stored canonically (by their west/north end), so naming either
/// end is the same fault and equal sets compare equal whatever the order they
/// were added in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Faults {
    geom: MeshGeometry,
    down: BTreeSet<(NodeId, PortDir)>,
    dead: BTreeSet<NodeId>,
}

impl Faults {
    /// No faults on mesh `geom`.
    pub fn new(geom: MeshGeometry) -> Faults {
        Faults {
            geom,
            down: BTreeSet::new(),
            dead: BTreeSet::new(),
        }
    }

    /// The mesh these faults are on.
    pub fn geometry(&self) -> MeshGeometry {
        self.geom
    }

    fn check_node(&self, node: NodeId) -> Result<(), TopologyError> {
        match self.geom.coords(node) {
            Some(_) => Ok(()),
            None => Err(TopologyError::NoSuchNode(node)),
        }
    }

    /// The canonical `(west/north end, E/S)` name of a link.
    fn canonical(&self, node: NodeId, port: PortDir) -> Result<(NodeId, PortDir), TopologyError> {
        self.check_node(node)?;
        let other = match port {
            PortDir::L => None,
            _ => self.geom.neighbour(node, port),
        };
        let other = other.ok_or(TopologyError::NoSuchLink(node, port))?;
        Ok(match port {
            PortDir::N | PortDir::W => (other, port.opposite()),
            _ => (node, port),
        })
    }

    /// Marks the link on `node`'s `port` down (either end names it).
    pub fn set_link_down(&mut self, node: NodeId, port: PortDir) -> Result<(), TopologyError> {
        let link = self.canonical(node, port)?;
        self.down.insert(link);
        Ok(())
    }

    /// Clears a down mark; links of a dead router stay down.
    pub fn set_link_up(&mut self, node: NodeId, port: PortDir) -> Result<(), TopologyError> {
        let link = self.canonical(node, port)?;
        self.down.remove(&link);
        Ok(())
    }

    /// Marks a router dead: all its links are down and it is no destination.
    pub fn set_router_dead(&mut self, node: NodeId) -> Result<(), TopologyError> {
        self.check_node(node)?;
        self.dead.insert(node);
        Ok(())
    }

    /// Brings a dead router back; its links marked down stay down.
    pub fn set_router_live(&mut self, node: NodeId) -> Result<(), TopologyError> {
        self.check_node(node)?;
        self.dead.remove(&node);
        Ok(())
    }

    /// Whether `node` is in the mesh and not dead.
    pub fn is_live(&self, node: NodeId) -> bool {
        self.geom.coords(node).is_some() && !self.dead.contains(&node)
    }

    /// Whether the mesh link on `node`'s `port` carries traffic: it exists,
    /// is not marked down and both routers are live. `false` for `L`.
    pub fn is_link_up(&self, node: NodeId, port: PortDir) -> bool {
        match self.canonical(node, port) {
            Ok(link) => {
                let far = self.geom.neighbour(node, port);
                !self.down.contains(&link)
                    && self.is_live(node)
                    && far.is_some_and(|n| self.is_live(n))
            }
            Err(_) => false,
        }
    }

    /// Links marked down, canonical names, in order.
    pub fn down_links(&self) -> impl Iterator<Item = (NodeId, PortDir)> + '_ {
        self.down.iter().copied()
    }

    /// Dead routers, in id order.
    pub fn dead_routers(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.dead.iter().copied()
    }

    /// Live routers, in id order.
    pub fn live_nodes(&self) -> Vec<NodeId> {
        self.geom.node_ids().filter(|n| self.is_live(*n)).collect()
    }

    /// `(port, neighbour)` over the live links of `node`, in port order.
    fn live_links(&self, node: NodeId) -> impl Iterator<Item = (PortDir, NodeId)> + '_ {
        LINK_PORTS.into_iter().filter_map(move |p| {
            self.is_link_up(node, p)
                .then(|| self.geom.neighbour(node, p))
                .flatten()
                .map(|n| (p, n))
        })
    }

    /// Per node id: `(component, BFS level from the component's root)`, the
    /// root being the component's lowest id; `None` for dead or absent ids.
    fn explore(&self) -> Vec<Option<(u32, u32)>> {
        let mut info = vec![None; self.geom.table_entries() as usize];
        let mut comp = 0;
        for root in self.live_nodes() {
            if info[root.0 as usize].is_some() {
                continue;
            }
            info[root.0 as usize] = Some((comp, 0));
            let mut queue = VecDeque::from([(root, 0)]);
            while let Some((v, lvl)) = queue.pop_front() {
                let mut next: Vec<NodeId> = self.live_links(v).map(|(_, n)| n).collect();
                next.sort();
                for n in next {
                    if info[n.0 as usize].is_none() {
                        info[n.0 as usize] = Some((comp, lvl + 1));
                        queue.push_back((n, lvl + 1));
                    }
                }
            }
            comp += 1;
        }
        info
    }

    /// Connected components of live routers over live links, each sorted,
    /// ordered by lowest id.
    pub fn components(&self) -> Vec<Vec<NodeId>> {
        let mut comps: Vec<Vec<NodeId>> = Vec::new();
        for (i, c) in self.explore().into_iter().enumerate() {
            if let Some((c, _)) = c {
                if comps.len() <= c as usize {
                    comps.resize(c as usize + 1, Vec::new());
                }
                comps[c as usize].push(NodeId(i as u8));
            }
        }
        comps
    }

    /// Whether a packet can get from `a` to `b` over live links.
    pub fn reachable(&self, a: NodeId, b: NodeId) -> bool {
        let info = self.explore();
        let comp = |n: NodeId| info.get(n.0 as usize).copied().flatten().map(|(c, _)| c);
        comp(a).is_some() && comp(a) == comp(b)
    }

    /// Whether all live routers form one component (true with none live).
    pub fn connected(&self) -> bool {
        self.components().len() <= 1
    }
}

/// One route table entry per (router, destination) node pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTables {
    geom: MeshGeometry,
    entries: Vec<Option<Route>>,
}

impl RouteTables {
    /// Tables holding `f(router, dest)` for every pair of mesh nodes.
    pub fn from_fn(
        geom: MeshGeometry,
        mut f: impl FnMut(NodeId, NodeId) -> Option<Route>,
    ) -> RouteTables {
        let te = geom.table_entries() as usize;
        let mut t = RouteTables {
            geom,
            entries: vec![None; te * te],
        };
        for r in geom.node_ids() {
            for d in geom.node_ids() {
                t.entries[r.0 as usize * te + d.0 as usize] = f(r, d);
            }
        }
        t
    }

    /// The mesh the tables are for.
    pub fn geometry(&self) -> MeshGeometry {
        self.geom
    }

    fn index(&self, router: NodeId, dest: NodeId) -> Result<usize, TopologyError> {
        for n in [router, dest] {
            self.geom.coords(n).ok_or(TopologyError::NoSuchNode(n))?;
        }
        Ok(router.0 as usize * self.geom.table_entries() as usize + dest.0 as usize)
    }

    /// `router`'s entry for `dest`; `None` also for ids outside the mesh.
    pub fn entry(&self, router: NodeId, dest: NodeId) -> Option<Route> {
        self.index(router, dest).ok().and_then(|i| self.entries[i])
    }

    /// Replaces one entry.
    pub fn set(
        &mut self,
        router: NodeId,
        dest: NodeId,
        route: Option<Route>,
    ) -> Result<(), TopologyError> {
        let i = self.index(router, dest)?;
        self.entries[i] = route;
        Ok(())
    }

    /// `(router, dest, entry)` for every pair of mesh nodes, by router then dest.
    pub fn iter(&self) -> impl Iterator<Item = (NodeId, NodeId, Option<Route>)> + '_ {
        let g = &self.geom;
        g.node_ids()
            .flat_map(move |r| g.node_ids().map(move |d| (r, d, self.entry(r, d))))
    }

    /// The `table_entries()` words to load at `router`'s `ROUTE_TABLE_BASE`,
    /// indexed by destination id; ids naming no node get [`NO_ROUTE_ENTRY`].
    pub fn encoded(&self, router: NodeId) -> Result<Vec<u32>, TopologyError> {
        self.index(router, router)?;
        Ok((0..self.geom.table_entries())
            .map(|d| encode_entry(self.entry(router, NodeId(d as u8))))
            .collect())
    }
}

/// One entry write of a table change: `router`'s entry for `dest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryWrite {
    /// Router whose table is written.
    pub router: NodeId,
    /// Destination the entry is for.
    pub dest: NodeId,
    /// The new entry (`None`: [`NO_ROUTE_ENTRY`]).
    pub route: Option<Route>,
}

/// The entry writes that take the loaded tables `old` to `new`, in an order
/// that keeps every mix of old and new entries loop-free: for each
/// destination, routers are written nearest first along the new routes, so a
/// packet that reaches an updated router meets only updated routers from
/// there on, and before that it follows the old (loop-free) routes. Entries
/// that do not change are not written.
pub fn ordered_writes(old: &RouteTables, new: &RouteTables) -> Vec<EntryWrite> {
    let mut writes: Vec<(u32, EntryWrite)> = new
        .iter()
        .filter(|(router, dest, route)| *route != old.entry(*router, *dest))
        .map(|(router, dest, route)| {
            (
                hops_along(new, router, dest),
                EntryWrite {
                    router,
                    dest,
                    route,
                },
            )
        })
        .collect();
    writes.sort_by_key(|(d, w)| (*d, w.dest.0, w.router.0));
    writes.into_iter().map(|(_, w)| w).collect()
}

/// Hops from `router` to `dest` following the primary ports of `tables`
/// (`u32::MAX` where they do not reach it).
fn hops_along(tables: &RouteTables, router: NodeId, dest: NodeId) -> u32 {
    let g = tables.geometry();
    let mut at = router;
    for hops in 0..=g.nodes() {
        if at == dest {
            return hops;
        }
        match tables
            .entry(at, dest)
            .and_then(|r| g.neighbour(at, r.primary))
        {
            Some(next) if next != at => at = next,
            _ => return u32::MAX,
        }
    }
    u32::MAX
}

/// The reset tables: [`dor_route`] for every pair (meant for a fault-free mesh).
pub fn dor_tables(geom: &MeshGeometry) -> RouteTables {
    let g = *geom;
    RouteTables::from_fn(g, |r, d| dor_route(&g, r, d))
}

/// Up*/down* tables for the live mesh.
///
/// Ranks are `(BFS level, node id)` from each component's lowest live id; a
/// move to a lower rank is "up". Tables are indexed by destination only (the
/// packet carries no phase), so for each destination `d` let `D` be the
/// routers with a down-only path to `d`: a router in `D` routes down to a
/// neighbour in `D`, any other router routes up. A packet that has moved down
/// is therefore in `D` and keeps moving down: every mix of primaries and
/// alternates is an up*/down* path, visits distinct routers and ends at `d`.
///
/// Primary: first hop of the shortest such path (ties: the DOR port, then the
/// lowest port). Alternate: the next best hop under the same rule, or the
/// primary if there is none. `None` for dead or unreachable destinations and
/// in the tables of dead routers.
pub fn updown_tables(faults: &Faults) -> RouteTables {
    let g = faults.geometry();
    let te = g.table_entries() as usize;
    let info = faults.explore();
    let rank = |n: NodeId| (info[n.0 as usize].map_or(u32::MAX, |(_, l)| l), n.0);
    let comp = |n: NodeId| info[n.0 as usize].map(|(c, _)| c);
    let mut order = faults.live_nodes();
    order.sort_by_key(|n| rank(*n));
    let mut tables = RouteTables::from_fn(g, |_, _| None);
    for d in faults.live_nodes() {
        // Down-only distance to d (`Some` exactly on D): walk up from d.
        let mut down = vec![None; te];
        down[d.0 as usize] = Some(0u32);
        let mut queue = VecDeque::from([d]);
        while let Some(v) = queue.pop_front() {
            let dv = down[v.0 as usize].unwrap_or(0);
            for (_, w) in faults.live_links(v) {
                if rank(w) < rank(v) && down[w.0 as usize].is_none() {
                    down[w.0 as usize] = Some(dv + 1);
                    queue.push_back(w);
                }
            }
        }
        // Cost outside D: one up move plus the best up neighbour's cost.
        // Increasing rank order sees up neighbours first; the root is in D
        // (its BFS tree path to d only goes down), so every cost is set.
        let mut cost = down.clone();
        let members: Vec<NodeId> = order
            .iter()
            .copied()
            .filter(|n| comp(*n) == comp(d))
            .collect();
        for &r in &members {
            if cost[r.0 as usize].is_none() {
                cost[r.0 as usize] = faults
                    .live_links(r)
                    .filter(|(_, u)| rank(*u) < rank(r))
                    .filter_map(|(_, u)| cost[u.0 as usize])
                    .min()
                    .map(|c| c + 1);
            }
        }
        for &r in &members {
            if r == d {
                tables.entries[r.0 as usize * te + d.0 as usize] = Some(LOCAL);
                continue;
            }
            let in_d = down[r.0 as usize].is_some();
            let dor = dor_route(&g, r, d).map(|x| x.primary);
            let mut hops: Vec<(u32, bool, PortDir)> = faults
                .live_links(r)
                .filter(|(_, v)| {
                    if in_d {
                        rank(*v) > rank(r) && down[v.0 as usize].is_some()
                    } else {
                        rank(*v) < rank(r)
                    }
                })
                .filter_map(|(p, v)| cost[v.0 as usize].map(|c| (c, Some(p) != dor, p)))
                .collect();
            hops.sort();
            if let Some(&(_, _, primary)) = hops.first() {
                let alternate = hops.get(1).map_or(primary, |h| h.2);
                tables.entries[r.0 as usize * te + d.0 as usize] =
                    Some(Route { primary, alternate });
            }
        }
    }
    tables
}

/// A buffer a packet can occupy and wait in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// A router's local input (injection).
    Inject(NodeId),
    /// The directed link leaving a router through a mesh port.
    Link(NodeId, PortDir),
    /// A router's local output (ejection), a sink.
    Eject(NodeId),
}

impl Channel {
    pub(crate) fn index(self) -> usize {
        match self {
            Channel::Link(n, p) => n.0 as usize * 6 + p as usize,
            Channel::Inject(n) => n.0 as usize * 6 + 4,
            Channel::Eject(n) => n.0 as usize * 6 + 5,
        }
    }

    pub(crate) fn from_index(i: usize) -> Channel {
        let n = NodeId((i / 6) as u8);
        match i % 6 {
            4 => Channel::Inject(n),
            5 => Channel::Eject(n),
            p => Channel::Link(n, LINK_PORTS[p]),
        }
    }

    /// Human-readable form with coordinates, e.g. `(1,0)-S->(1,1)`.
    pub fn describe(&self, g: &MeshGeometry) -> String {
        match *self {
            Channel::Inject(n) => format!("inject{}", at(g, n)),
            Channel::Eject(n) => format!("eject{}", at(g, n)),
            Channel::Link(n, p) => match g.neighbour(n, p) {
                Some(m) => format!("{}-{}->{}", at(g, n), p.letter(), at(g, m)),
                None => format!("{}-{}->?", at(g, n), p.letter()),
            },
        }
    }
}

/// Which table ports a router may take, for the checkers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HopModel {
    /// The primary while its link is up, else the alternate: what a router
    /// does under a fixed link state.
    PrimaryFirst,
    /// Either port whose link is up: covers links failing or recovering while
    /// packets are in flight, and any choice between the two.
    Either,
}

/// The ports a router takes for `route` under `model` (`L` is always usable).
pub(crate) fn choices(
    faults: &Faults,
    node: NodeId,
    route: Route,
    model: HopModel,
) -> Vec<PortDir> {
    let usable = |p: PortDir| p == PortDir::L || faults.is_link_up(node, p);
    let mut out: Vec<PortDir> = [route.primary, route.alternate]
        .into_iter()
        .filter(|p| usable(*p))
        .collect();
    out.dedup();
    if model == HopModel::PrimaryFirst {
        out.truncate(1);
    }
    out
}

/// A cycle in the channel dependency graph: the tables can deadlock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyCycle {
    geom: MeshGeometry,
    channels: Vec<Channel>,
    dests: Vec<NodeId>,
}

impl DependencyCycle {
    /// The channels of the cycle, each waiting for the next (the last for the first).
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }

    /// `dests()[i]` is a destination whose packets go from `channels()[i]` to the next.
    pub fn dests(&self) -> &[NodeId] {
        &self.dests
    }
}

impl fmt::Display for DependencyCycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "channel dependency cycle: ")?;
        for (c, d) in self.channels.iter().zip(&self.dests) {
            write!(
                f,
                "{} =[to {}]=> ",
                c.describe(&self.geom),
                at(&self.geom, *d)
            )?;
        }
        match self.channels.first() {
            Some(c) => write!(f, "{}", c.describe(&self.geom)),
            None => Ok(()),
        }
    }
}

impl std::error::Error for DependencyCycle {}

/// [`check_deadlock_free_with`] under [`HopModel::Either`].
pub fn check_deadlock_free(faults: &Faults, tables: &RouteTables) -> Result<(), DependencyCycle> {
    check_deadlock_free_with(faults, tables, HopModel::Either)
}

/// Checks that the channel dependency graph of `tables` on the live mesh has
/// no cycle (Dally and Seitz: then wormhole routing cannot deadlock).
///
/// Packets are injected at every live router for every destination and
/// followed along the ports `model` allows over live links; each move adds an
/// edge from the channel the packet holds to the one it waits for. Entries
/// are looked up by node id in `tables` as given.
pub fn check_deadlock_free_with(
    faults: &Faults,
    tables: &RouteTables,
    model: HopModel,
) -> Result<(), DependencyCycle> {
    let g = faults.geometry();
    let te = g.table_entries() as usize;
    let nch = te * 6;
    let mut seen = vec![false; nch * te];
    let mut adj: Vec<Vec<(usize, NodeId)>> = vec![Vec::new(); nch];
    let mut edges = HashSet::new();
    let mut work = Vec::new();
    for s in faults.live_nodes() {
        for d in g.node_ids() {
            let c = Channel::Inject(s).index();
            seen[c * te + d.0 as usize] = true;
            work.push((c, s, d));
        }
    }
    while let Some((c, node, d)) = work.pop() {
        let Some(route) = tables.entry(node, d) else {
            continue;
        };
        for p in choices(faults, node, route, model) {
            let (out, next) = match p {
                PortDir::L => (Channel::Eject(node).index(), None),
                _ => (Channel::Link(node, p).index(), g.neighbour(node, p)),
            };
            if edges.insert((c, out)) {
                adj[c].push((out, d));
            }
            if let Some(n) = next {
                if !std::mem::replace(&mut seen[out * te + d.0 as usize], true) {
                    work.push((out, n, d));
                }
            }
        }
    }
    match find_cycle(&adj) {
        Some(cycle) => Err(DependencyCycle {
            geom: g,
            channels: cycle.iter().map(|&(n, _)| Channel::from_index(n)).collect(),
            dests: cycle.iter().map(|&(_, d)| d).collect(),
        }),
        None => Ok(()),
    }
}

/// A cycle in a dependency graph given as adjacency lists of `(successor,
/// destination)`, as `(vertex, destination of its edge to the next)`; `None`
/// if the graph is acyclic. Iterative DFS: a grey successor closes a cycle
/// along the DFS path.
pub(crate) fn find_cycle(adj: &[Vec<(usize, NodeId)>]) -> Option<Vec<(usize, NodeId)>> {
    let mut colour = vec![0u8; adj.len()];
    for start in 0..adj.len() {
        if colour[start] != 0 {
            continue;
        }
        colour[start] = 1;
        let mut path = vec![(start, 0usize)];
        while let Some(&(v, i)) = path.last() {
            if i == adj[v].len() {
                colour[v] = 2;
                path.pop();
                continue;
            }
            if let Some(top) = path.last_mut() {
                top.1 += 1;
            }
            let w = adj[v][i].0;
            if colour[w] == 0 {
                colour[w] = 1;
                path.push((w, 0));
            } else if colour[w] == 1 {
                let from = path.iter().position(|&(n, _)| n == w).unwrap_or(0);
                return Some(
                    path[from..]
                        .iter()
                        .map(|&(n, k)| (n, adj[n][k - 1].1))
                        .collect(),
                );
            }
        }
    }
    None
}

/// What [`check_delivery`] found wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryProblem {
    /// A live router's entry for itself is not `L`/`L`.
    LocalNotEjected {
        /// The router.
        router: NodeId,
    },
    /// No route although `dest` is reachable from `router`.
    MissingRoute {
        /// The router.
        router: NodeId,
        /// The destination.
        dest: NodeId,
    },
    /// A route although `dest` is dead or unreachable from `router`.
    SpuriousRoute {
        /// The router.
        router: NodeId,
        /// The destination.
        dest: NodeId,
    },
    /// A walk from `source` takes `L` at `at`, before reaching `dest`.
    EarlyEject {
        /// Where the walk started.
        source: NodeId,
        /// Where it ejects.
        at: NodeId,
        /// Where it should have gone.
        dest: NodeId,
    },
    /// A walk from `source` reaches `at`, where neither port's link is up.
    Stuck {
        /// Where the walk started.
        source: NodeId,
        /// Where it is stuck.
        at: NodeId,
        /// Where it should have gone.
        dest: NodeId,
    },
    /// A walk from `source` comes back to `at`: it can circle forever.
    Loop {
        /// Where the walk started.
        source: NodeId,
        /// A router on the loop.
        at: NodeId,
        /// Where it should have gone.
        dest: NodeId,
    },
}

/// A delivery failure, with the geometry to print coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryError {
    geom: MeshGeometry,
    problem: DeliveryProblem,
}

impl DeliveryError {
    /// What went wrong.
    pub fn problem(&self) -> DeliveryProblem {
        self.problem
    }
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = |n| at(&self.geom, n);
        match self.problem {
            DeliveryProblem::LocalNotEjected { router } => {
                write!(f, "router {} does not eject packets for itself", a(router))
            }
            DeliveryProblem::MissingRoute { router, dest } => {
                write!(
                    f,
                    "router {} has no route to reachable {}",
                    a(router),
                    a(dest)
                )
            }
            DeliveryProblem::SpuriousRoute { router, dest } => {
                write!(f, "router {} routes to unreachable {}", a(router), a(dest))
            }
            DeliveryProblem::EarlyEject { source, at, dest } => write!(
                f,
                "packet {} -> {} ejects early at {}",
                a(source),
                a(dest),
                a(at)
            ),
            DeliveryProblem::Stuck { source, at, dest } => write!(
                f,
                "packet {} -> {} is stuck at {}: no port's link is up",
                a(source),
                a(dest),
                a(at)
            ),
            DeliveryProblem::Loop { source, at, dest } => write!(
                f,
                "packet {} -> {} can loop through {}",
                a(source),
                a(dest),
                a(at)
            ),
        }
    }
}

impl std::error::Error for DeliveryError {}

/// Checks that `tables` deliver on the live mesh: entries are `None` exactly
/// for unreachable pairs, and from every live source every walk over the
/// primary/alternate choices whose link is up ([`HopModel::Either`]) reaches
/// its destination without ejecting early, getting stuck or looping. Without
/// a loop a walk visits distinct routers, so it ends within `nodes()` hops.
pub fn check_delivery(faults: &Faults, tables: &RouteTables) -> Result<(), DeliveryError> {
    let g = faults.geometry();
    let err = |problem| Err(DeliveryError { geom: g, problem });
    let info = faults.explore();
    let comp = |n: NodeId| info.get(n.0 as usize).copied().flatten().map(|(c, _)| c);
    let reach = |a: NodeId, b: NodeId| comp(a).is_some() && comp(a) == comp(b);
    let live = faults.live_nodes();
    for &r in &live {
        for d in g.node_ids() {
            let e = tables.entry(r, d);
            if r == d && e != Some(LOCAL) {
                return err(DeliveryProblem::LocalNotEjected { router: r });
            }
            match (reach(r, d), e) {
                (true, None) => return err(DeliveryProblem::MissingRoute { router: r, dest: d }),
                (false, Some(_)) => {
                    return err(DeliveryProblem::SpuriousRoute { router: r, dest: d })
                }
                _ => {}
            }
        }
    }
    // Per destination the choice graph is shared by all sources: one DFS
    // colouring (0 new, 1 on the path, 2 done) serves them all.
    for &d in &live {
        let mut colour = vec![0u8; g.table_entries() as usize];
        colour[d.0 as usize] = 2;
        for &s in live.iter().filter(|s| reach(**s, d)) {
            if colour[s.0 as usize] != 0 {
                continue;
            }
            let mut path: Vec<(NodeId, Vec<NodeId>)> = Vec::new();
            let mut enter = Some(s);
            loop {
                if let Some(v) = enter.take() {
                    colour[v.0 as usize] = 1;
                    let Some(route) = tables.entry(v, d) else {
                        return err(DeliveryProblem::MissingRoute { router: v, dest: d });
                    };
                    let ports = choices(faults, v, route, HopModel::Either);
                    if ports.contains(&PortDir::L) {
                        return err(DeliveryProblem::EarlyEject {
                            source: s,
                            at: v,
                            dest: d,
                        });
                    }
                    if ports.is_empty() {
                        return err(DeliveryProblem::Stuck {
                            source: s,
                            at: v,
                            dest: d,
                        });
                    }
                    let next = ports.iter().filter_map(|p| g.neighbour(v, *p)).collect();
                    path.push((v, next));
                }
                let Some((v, next)) = path.last_mut() else {
                    break;
                };
                match next.pop() {
                    None => {
                        colour[v.0 as usize] = 2;
                        path.pop();
                    }
                    Some(w) if colour[w.0 as usize] == 0 => enter = Some(w),
                    Some(w) if colour[w.0 as usize] == 1 => {
                        return err(DeliveryProblem::Loop {
                            source: s,
                            at: w,
                            dest: d,
                        })
                    }
                    Some(_) => {}
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;
    use PortDir::{E, L, N, S, W};

    fn mesh(w: u32, h: u32) -> MeshGeometry {
        MeshGeometry::new(w, h).unwrap()
    }

    /// Follows primaries only; `None` if it does not arrive in `nodes()` hops.
    fn primary_hops(t: &RouteTables, s: NodeId, d: NodeId) -> Option<u32> {
        let g = t.geometry();
        let mut at = s;
        for hops in 0..=g.nodes() {
            if at == d {
                return Some(hops);
            }
            at = g.neighbour(at, t.entry(at, d)?.primary)?;
        }
        None
    }

    /// Per node id, the shortest legal up*/down* path from `s` over live
    /// links, without the tables' per-destination restriction.
    fn shortest_updown(f: &Faults, s: NodeId) -> Vec<Option<u32>> {
        let info = f.explore();
        let rank = |n: NodeId| (info[n.0 as usize].unwrap().1, n.0);
        let mut best = vec![None; info.len()];
        let mut seen = HashSet::from([(s, false)]);
        let mut queue = VecDeque::from([(s, false, 0u32)]);
        while let Some((v, went_down, dv)) = queue.pop_front() {
            best[v.0 as usize] = best[v.0 as usize].or(Some(dv));
            for (_, w) in f.live_links(v) {
                let down = rank(w) > rank(v);
                if (down || !went_down) && seen.insert((w, down)) {
                    queue.push_back((w, down, dv + 1));
                }
            }
        }
        best
    }

    /// Both checks pass, `None` exactly for unreachable pairs, and every hop
    /// obeys the destination-consistent up/down rule.
    fn check_all(f: &Faults) -> RouteTables {
        let t = updown_tables(f);
        if let Err(c) = check_deadlock_free(f, &t) {
            panic!("{c} with {f:?}");
        }
        if let Err(e) = check_delivery(f, &t) {
            panic!("{e} with {f:?}");
        }
        let g = f.geometry();
        let info = f.explore();
        let rank = |n: NodeId| (info[n.0 as usize].unwrap().1, n.0);
        let comps = f.components();
        for d in g.node_ids() {
            // Routers with a down-only path to d: search backwards from d.
            let mut in_d = HashSet::new();
            let mut stack: Vec<NodeId> = f.is_live(d).then_some(d).into_iter().collect();
            while let Some(v) = stack.pop() {
                for (_, w) in f.live_links(v) {
                    if rank(w) < rank(v) && in_d.insert(w) {
                        stack.push(w);
                    }
                }
            }
            in_d.insert(d);
            for r in f.live_nodes() {
                let e = t.entry(r, d);
                let reach = comps.iter().any(|c| c.contains(&r) && c.contains(&d));
                assert_eq!(e.is_some(), reach, "{r:?}->{d:?}");
                let Some(route) = e.filter(|_| r != d) else {
                    continue;
                };
                // The hops the rule allows, with the primary-path hops after each.
                let legal: Vec<(PortDir, u32)> = f
                    .live_links(r)
                    .filter(|&(_, v)| match in_d.contains(&r) {
                        true => rank(v) > rank(r) && in_d.contains(&v),
                        false => rank(v) < rank(r),
                    })
                    .map(|(p, v)| (p, primary_hops(&t, v, d).unwrap()))
                    .collect();
                let cost = |p| legal.iter().find(|h| h.0 == p).map(|h| h.1);
                let (Some(pc), Some(ac)) = (cost(route.primary), cost(route.alternate)) else {
                    panic!("{r:?}->{d:?}: {route:?} breaks the up/down rule, legal {legal:?}");
                };
                let others: Vec<u32> = legal
                    .iter()
                    .filter(|h| h.0 != route.primary)
                    .map(|h| h.1)
                    .collect();
                assert!(
                    legal.iter().all(|h| pc <= h.1),
                    "{r:?}->{d:?}: primary not shortest"
                );
                assert!(
                    others.iter().all(|c| ac <= *c),
                    "{r:?}->{d:?}: alternate not shortest"
                );
                assert_eq!(route.alternate == route.primary, others.is_empty());
            }
        }
        t
    }

    #[test]
    fn fault_free_tables_are_minimal_and_pass_both_checks() {
        for (w, h) in [(4, 4), (8, 8), (3, 5), (16, 16)] {
            let g = mesh(w, h);
            let f = Faults::new(g);
            let t = check_all(&f);
            let (mut sum, mut pairs) = (0, 0);
            for s in g.node_ids() {
                let legal = shortest_updown(&f, s);
                for d in g.node_ids() {
                    let hops = primary_hops(&t, s, d).unwrap();
                    assert_eq!(Some(hops), g.hops(s, d), "{s:?}->{d:?}");
                    assert_eq!(Some(hops), legal[d.0 as usize]);
                    sum += hops;
                    pairs += 1;
                }
            }
            println!(
                "{w}x{h} fault-free: {:.3} average hops",
                sum as f64 / pairs as f64
            );
        }
    }

    #[test]
    fn fault_free_primaries_follow_dimension_order_where_legal() {
        // Root (0,0): N and W are up, E and S down. Only a destination to the
        // north-east needs Y first (N is up, E would be down too early).
        let g = mesh(5, 4);
        let t = updown_tables(&Faults::new(g));
        for (r, d, e) in t.iter().filter(|(r, d, _)| r != d) {
            let ((x, y), (dx, dy)) = (g.coords(r).unwrap(), g.coords(d).unwrap());
            let route = e.unwrap();
            let want = if dx > x && dy < y {
                N
            } else {
                dor_route(&g, r, d).unwrap().primary
            };
            assert_eq!(route.primary, want, "({x},{y}) -> ({dx},{dy})");
            // The other dimension is minimal and legal only to the SE and NW.
            let other_minimal = (dx > x && dy > y) || (dx < x && dy < y);
            if other_minimal {
                assert_eq!(route.alternate, dor_route(&g, r, d).unwrap().alternate);
            }
        }
    }

    #[test]
    fn reset_dor_tables_deadlock_only_through_alternates() {
        let g = mesh(4, 4);
        let f = Faults::new(g);
        let t = dor_tables(&g);
        assert_eq!(
            check_deadlock_free_with(&f, &t, HopModel::PrimaryFirst),
            Ok(())
        );
        let cycle = check_deadlock_free(&f, &t).unwrap_err();
        let chans = cycle.channels();
        assert!(chans.len() >= 4, "{cycle}");
        // It is a real cycle: each channel ends where the next leaves, and
        // the recorded destination's entry there takes the next channel.
        for (i, c) in chans.iter().enumerate() {
            let (Channel::Link(u, p), Channel::Link(v, q)) = (*c, chans[(i + 1) % chans.len()])
            else {
                panic!("cycle through a local channel: {cycle}");
            };
            assert_eq!(g.neighbour(u, p), Some(v));
            let r = t.entry(v, cycle.dests()[i]).unwrap();
            assert!(r.primary == q || r.alternate == q);
        }
        // Some turn in it is Y->X, which dimension order never makes.
        let y_to_x = (0..chans.len()).any(|i| {
            matches!(
                (chans[i], chans[(i + 1) % chans.len()]),
                (Channel::Link(_, N | S), Channel::Link(_, E | W))
            )
        });
        assert!(y_to_x, "{cycle}");
        assert!(cycle.to_string().contains(")-"), "{cycle}");
        // A router with its row's link down sends the packet to the next row,
        // whose router (with its own link down) sends it straight back.
        let mut f = Faults::new(g);
        f.set_link_down(g.node_id(0, 0), E).unwrap();
        f.set_link_down(g.node_id(0, 1), E).unwrap();
        let e = check_delivery(&f, &t).unwrap_err();
        assert!(matches!(e.problem(), DeliveryProblem::Loop { .. }), "{e}");
        assert!(check_delivery(&Faults::new(g), &t).is_err());
    }

    #[test]
    fn every_single_link_down_on_4x4_keeps_all_pairs_routable() {
        let g = mesh(4, 4);
        let links = mesh_links(&g);
        assert_eq!(links.len(), 24);
        for (n, p) in links {
            let mut f = Faults::new(g);
            f.set_link_down(n, p).unwrap();
            assert!(!f.is_link_up(n, p) && !f.is_link_up(g.neighbour(n, p).unwrap(), p.opposite()));
            assert!(f.connected());
            let t = check_all(&f);
            assert!(t.iter().all(|(_, _, e)| e.is_some()));
        }
    }

    #[test]
    fn random_faults_route_when_connected_and_drop_exactly_across_partitions() {
        let (mut joined, mut split) = (0, 0);
        // Primary hops, shortest legal hops, Manhattan hops, pairs longer
        // than shortest legal, pairs.
        let mut stats = [0u32; 5];
        for (w, h, seeds) in [(4, 4, 400), (8, 8, 150), (5, 3, 100)] {
            let g = mesh(w, h);
            let links = mesh_links(&g);
            for seed in 0..seeds {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((seed + 1) * 0x1000_0001));
                let mut f = Faults::new(g);
                for _ in 0..1 + rng.below(6) {
                    let (n, p) = links[rng.below(links.len())];
                    f.set_link_down(n, p).unwrap();
                }
                for _ in 0..rng.below(3) {
                    f.set_router_dead(g.id_at(rng.below(g.nodes() as usize)))
                        .unwrap();
                }
                let t = check_all(&f);
                let live = f.live_nodes();
                for &src in &live {
                    let legal = shortest_updown(&f, src);
                    for &d in &live {
                        if let Some(hops) = primary_hops(&t, src, d) {
                            let best = legal[d.0 as usize].unwrap();
                            stats[0] += hops;
                            stats[1] += best;
                            stats[2] += g.hops(src, d).unwrap();
                            stats[3] += u32::from(hops > best);
                            stats[4] += 1;
                        }
                    }
                }
                if f.connected() {
                    joined += 1;
                    assert!(live
                        .iter()
                        .all(|&r| live.iter().all(|&d| t.entry(r, d).is_some())));
                } else {
                    split += 1;
                    let comps = f.components();
                    for &r in &live {
                        for &d in &live {
                            let same = comps.iter().any(|c| c.contains(&r) && c.contains(&d));
                            assert_eq!(t.entry(r, d).is_some(), same);
                        }
                    }
                }
                for d in f.dead_routers() {
                    assert!(g.node_ids().all(|r| t.entry(r, d).is_none()));
                }
            }
        }
        assert!(joined > 100 && split > 10, "joined {joined}, split {split}");
        // Not proven, but never seen otherwise (12M pairs with up to 16
        // faults): indexing by destination alone costs no path length.
        assert_eq!(stats[3], 0, "primary paths longer than up*/down* allows");
        let per_pair = |i: usize| stats[i] as f64 / stats[4] as f64;
        println!(
            "random faults: {:.3} primary hops, {:.3} shortest up*/down*, {:.3} Manhattan \
             per pair; {} of {} pairs longer than shortest up*/down*",
            per_pair(0),
            per_pair(1),
            per_pair(2),
            stats[3],
            stats[4]
        );
    }

    #[test]
    fn clockwise_square_is_reported_as_a_cycle() {
        let g = mesh(4, 4);
        let square = [((0, 0), E), ((1, 0), S), ((1, 1), W), ((0, 1), N)];
        let ids: Vec<NodeId> = square.iter().map(|((x, y), _)| g.node_id(*x, *y)).collect();
        let t = RouteTables::from_fn(g, |r, d| {
            let i = ids.iter().position(|n| *n == r)?;
            ids.contains(&d).then(|| {
                let p = if r == d { L } else { square[i].1 };
                Route {
                    primary: p,
                    alternate: p,
                }
            })
        });
        let f = Faults::new(g);
        let cycle = check_deadlock_free(&f, &t).unwrap_err();
        let mut got = cycle.channels().to_vec();
        got.sort();
        let mut want: Vec<Channel> = ids
            .iter()
            .zip(square)
            .map(|(n, (_, p))| Channel::Link(*n, p))
            .collect();
        want.sort();
        assert_eq!(got, want, "{cycle}");
        println!("{cycle}");
        // Counter-clockwise for one destination only is a chain, not a cycle.
        let mut t = RouteTables::from_fn(g, |_, _| None);
        for (i, n) in ids.iter().enumerate().take(3) {
            t.set(
                *n,
                ids[3],
                Some(Route {
                    primary: square[i].1,
                    alternate: square[i].1,
                }),
            )
            .unwrap();
        }
        assert_eq!(check_deadlock_free(&f, &t), Ok(()));
    }

    #[test]
    fn bad_names_are_errors_and_change_nothing() {
        let g = mesh(3, 5);
        let mut f = Faults::new(g);
        f.set_link_down(g.node_id(1, 1), S).unwrap();
        let before = f.clone();
        let corner = g.node_id(0, 0);
        assert_eq!(
            f.set_link_down(corner, N),
            Err(TopologyError::NoSuchLink(corner, N))
        );
        assert_eq!(
            f.set_link_down(corner, W),
            Err(TopologyError::NoSuchLink(corner, W))
        );
        assert_eq!(
            f.set_link_up(g.node_id(2, 4), E),
            Err(TopologyError::NoSuchLink(g.node_id(2, 4), E))
        );
        assert_eq!(
            f.set_link_down(corner, L),
            Err(TopologyError::NoSuchLink(corner, L))
        );
        // x = 3 is no column of a 3-wide mesh; 0xff is past every row.
        for bad in [NodeId(3), NodeId(0xff)] {
            assert_eq!(f.set_link_down(bad, E), Err(TopologyError::NoSuchNode(bad)));
            assert_eq!(f.set_router_dead(bad), Err(TopologyError::NoSuchNode(bad)));
            assert_eq!(f.set_router_live(bad), Err(TopologyError::NoSuchNode(bad)));
            assert!(!f.is_live(bad) && !f.is_link_up(bad, E) && !f.reachable(bad, bad));
        }
        assert_eq!(f, before);
        assert!(!f.is_link_up(corner, L) && !f.is_link_up(corner, N));
        assert!(TopologyError::NoSuchLink(corner, N)
            .to_string()
            .contains("port N"));
        let mut t = updown_tables(&f);
        let t0 = t.clone();
        assert!(t.set(NodeId(3), corner, None).is_err() && t.set(corner, NodeId(7), None).is_err());
        assert_eq!(t, t0);
        assert_eq!(t.entry(NodeId(3), corner), None);
        assert!(t.encoded(NodeId(3)).is_err());
    }

    #[test]
    fn tables_depend_only_on_the_fault_set() {
        let g = mesh(8, 8);
        let links = mesh_links(&g);
        let mut rng = Rng(12345);
        let picks: Vec<(NodeId, PortDir)> = (0..6).map(|_| links[rng.below(links.len())]).collect();
        let dead = [g.node_id(3, 4), g.node_id(6, 1)];
        let mut a = Faults::new(g);
        for &(n, p) in &picks {
            a.set_link_down(n, p).unwrap();
        }
        for &n in &dead {
            a.set_router_dead(n).unwrap();
        }
        // Reverse order, each link named from its other end, with noise that
        // is undone again.
        let mut b = Faults::new(g);
        b.set_router_dead(g.node_id(0, 0)).unwrap();
        b.set_link_down(g.node_id(7, 7), N).unwrap();
        for &n in dead.iter().rev() {
            b.set_router_dead(n).unwrap();
        }
        for &(n, p) in picks.iter().rev() {
            b.set_link_down(g.neighbour(n, p).unwrap(), p.opposite())
                .unwrap();
        }
        b.set_router_live(g.node_id(0, 0)).unwrap();
        if !picks.contains(&(g.node_id(7, 6), S)) {
            b.set_link_up(g.node_id(7, 6), S).unwrap();
        }
        assert_eq!(a, b);
        let ta = updown_tables(&a);
        assert_eq!(ta, updown_tables(&b));
        assert_eq!(ta, updown_tables(&a));
        assert_ne!(ta, updown_tables(&Faults::new(g)));
    }

    #[test]
    fn dead_router_and_cut_mesh() {
        let g = mesh(4, 4);
        let mut f = Faults::new(g);
        let hole = g.node_id(1, 1);
        f.set_router_dead(hole).unwrap();
        assert!(!f.is_link_up(g.node_id(1, 0), S) && !f.is_link_up(hole, E));
        assert_eq!(f.live_nodes().len(), 15);
        assert!(f.connected());
        let t = check_all(&f);
        assert!(g.node_ids().all(|r| t.entry(r, hole).is_none()));
        // Cut between columns 1 and 2: two halves of 7 and 8 live routers.
        for y in 0..4 {
            f.set_link_down(g.node_id(1, y), E).unwrap();
        }
        let comps = f.components();
        assert_eq!(comps.iter().map(Vec::len).collect::<Vec<_>>(), [7, 8]);
        assert!(!f.connected() && !f.reachable(g.node_id(0, 0), g.node_id(3, 3)));
        assert!(f.reachable(g.node_id(2, 0), g.node_id(3, 3)));
        let t = check_all(&f);
        assert_eq!(t.entry(g.node_id(0, 0), g.node_id(3, 3)), None);
        // The old tables now send packets into the cut.
        let e = check_delivery(&f, &updown_tables(&Faults::new(g))).unwrap_err();
        assert!(
            matches!(e.problem(), DeliveryProblem::SpuriousRoute { .. }),
            "{e}"
        );
    }

    #[test]
    fn entries_encode_no_route_as_all_ones() {
        let g = mesh(3, 3);
        assert_eq!(encode_entry(None), 0x3f);
        assert_eq!(NO_ROUTE_ENTRY, 0x3f);
        assert_eq!(Route::decode(NO_ROUTE_ENTRY), None);
        let r = Route {
            primary: E,
            alternate: S,
        };
        assert_eq!(encode_entry(Some(r)), r.encode());
        let mut f = Faults::new(g);
        f.set_router_dead(g.node_id(2, 2)).unwrap();
        let t = updown_tables(&f);
        let words = t.encoded(g.node_id(0, 0)).unwrap();
        assert_eq!(words.len(), g.table_entries() as usize);
        for (d, w) in words.iter().enumerate() {
            let d = NodeId(d as u8);
            assert_eq!(*w, encode_entry(t.entry(g.node_id(0, 0), d)));
            if g.coords(d).is_none() || d == g.node_id(2, 2) {
                assert_eq!(*w, NO_ROUTE_ENTRY);
            } else {
                assert_ne!(*w, NO_ROUTE_ENTRY);
            }
        }
    }
}
