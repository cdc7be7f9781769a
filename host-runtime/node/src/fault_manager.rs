//! The fault manager of one node: detects faults from what this node can
//! see (its router's link monitors and counters, the control plane's
//! link-state database and membership, the quarantine notices, bad traffic
//! by sender), locates each one (which link, router, host or sender), and
//! isolates the two kinds a single node may act on: its own link that
//! flaps is forced down, and a neighbour that keeps sending malformed
//! adverts is quarantined. No master: every node runs one, on its own
//! inputs; `meshctl faults` shows each node's view (`docs/fault-manager.md`).
//!
//! Sans-IO, as the transport: the runtime reads the inputs into an
//! [`Observation`] and carries out the [`Isolation`]s [`FaultManager::observe`]
//! returns.

use replimesh_spec::routing::Faults;
use replimesh_spec::{MeshGeometry, NodeId, PortDir};
use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultManagerConfig {
    /// Cycles between two looks at the inputs.
    pub period_cycles: u64,
    /// Down events of one own link within `flap_window_cycles` that make it
    /// flapping (it is then forced down).
    pub flap_downs: u32,
    /// The window of `flap_downs`.
    pub flap_window_cycles: u64,
    /// Bad adverts from one neighbour that get it quarantined.
    pub bad_adverts: u64,
    /// Act on what is found (force links down, quarantine); off, the
    /// manager only reports.
    pub isolate: bool,
}

impl Default for FaultManagerConfig {
    fn default() -> Self {
        Self {
            period_cycles: 512,
            flap_downs: 3,
            flap_window_cycles: 40_000,
            bad_adverts: 3,
            isolate: true,
        }
    }
}

/// Where a fault is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "at", rename_all = "snake_case")]
pub enum FaultSite {
    /// A mesh link, named by its end with the lower node id.
    Link {
        /// Node at that end.
        node: u8,
        /// Its port.
        #[serde(serialize_with = "port_name")]
        port: PortDir,
    },
    /// A whole router (its links all down around it).
    Router {
        /// The node.
        node: u8,
    },
    /// A host whose router lives on (its adverts stopped: its lease ran out).
    Host {
        /// The node.
        node: u8,
    },
    /// A node as a sender of traffic.
    Sender {
        /// The node.
        node: u8,
    },
}

impl std::fmt::Display for FaultSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FaultSite::Link { node, port } => write!(f, "link {node}.{port:?}"),
            FaultSite::Router { node } => write!(f, "router {node}"),
            FaultSite::Host { node } => write!(f, "host {node}"),
            FaultSite::Sender { node } => write!(f, "sender {node}"),
        }
    }
}

/// What is wrong there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Symptom {
    /// The link is down (seen by its routers, or in the database).
    LinkDown,
    /// The link went down `flap_downs` times in the window.
    Flapping,
    /// The link's check (parity) failed on this node's end.
    CheckErrors,
    /// The router is dead.
    RouterDead,
    /// The host is dead (lease ran out), the router alive.
    HostDead,
    /// The node is quarantined.
    Quarantined,
    /// The node sent malformed adverts.
    MalformedTraffic,
}

/// What this node did about a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Force this node's link on `port` down (its `link_down` bit).
    ForceLinkDown {
        /// The port.
        #[serde(serialize_with = "port_name")]
        port: PortDir,
    },
    /// Quarantine `node` (a notice to every node).
    Quarantine {
        /// The node.
        node: u8,
    },
}

/// One fault in this node's view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fault {
    /// Where.
    #[serde(flatten)]
    pub site: FaultSite,
    /// What.
    pub symptom: Symptom,
    /// Cycle it was first seen.
    pub since: u64,
    /// Whether it still holds at the last look.
    pub active: bool,
    /// How many times it was seen (down events, check errors, bad adverts).
    pub count: u64,
    /// What this node did about it, if anything.
    pub action: Option<Isolation>,
}

/// What the runtime read for one look.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// The cycle.
    pub now: u64,
    /// Its links up (the router's `link_state` bits 3..0).
    pub links_up: u8,
    /// Its links forced down (the router's `link_down` bits 3..0).
    pub forced_down: u8,
    /// Down events per port (N, E, S, W).
    pub down_events: [u32; 4],
    /// Check errors per port.
    pub check_errors: [u32; 4],
    /// The control plane's graph and members, if it runs.
    pub graph: Option<(Faults, BTreeSet<u8>)>,
    /// The links each origin's newest advert in the database claims up
    /// (bits N, E, S, W): what tells a dead router (its neighbours report
    /// their links to it down) from a dead host (they stay up).
    pub adverts: BTreeMap<u8, u8>,
    /// Nodes quarantined now.
    pub quarantined: BTreeSet<u8>,
    /// Bad adverts received so far, per sending neighbour.
    pub bad_adverts_from: BTreeMap<u8, u64>,
}

const PORTS: [PortDir; 4] = [PortDir::N, PortDir::E, PortDir::S, PortDir::W];

/// A port as its letter (the spec's types carry no serde).
fn port_name<S: Serializer>(p: &PortDir, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{p:?}"))
}

/// One node's fault manager.
#[derive(Debug)]
pub struct FaultManager {
    geom: MeshGeometry,
    me: NodeId,
    cfg: FaultManagerConfig,
    faults: BTreeMap<(FaultSite, Symptom), Fault>,
    last: Option<Observation>,
    /// Recent down events per own port (their cycles).
    downs: [VecDeque<u64>; 4],
    next_look: u64,
}

impl FaultManager {
    /// Node `me`'s manager on a mesh of `geom`.
    pub fn new(geom: MeshGeometry, me: NodeId, cfg: FaultManagerConfig) -> Self {
        Self {
            geom,
            me,
            cfg,
            faults: BTreeMap::new(),
            last: None,
            downs: Default::default(),
            next_look: 0,
        }
    }

    /// Settings.
    pub fn config(&self) -> FaultManagerConfig {
        self.cfg
    }

    /// Whether a look is due at `now`.
    pub fn due(&self, now: u64) -> bool {
        now >= self.next_look
    }

    /// Every fault seen, active or past.
    pub fn view(&self) -> Vec<Fault> {
        self.faults.values().cloned().collect()
    }

    /// Looks at `obs`; returns what to isolate now (each at most once).
    pub fn observe(&mut self, obs: Observation) -> Vec<Isolation> {
        let now = obs.now;
        self.next_look = now + self.cfg.period_cycles;
        let mut seen: BTreeSet<(FaultSite, Symptom)> = BTreeSet::new();
        let mut isolate = vec![];
        let prev = self.last.take();
        let me = self.me.0;

        // This node's own links.
        for (k, p) in PORTS.into_iter().enumerate() {
            let bit = 1u8 << p as u8;
            let Some(site) = self.link_site(p) else {
                continue; // the mesh edge
            };
            let (d0, e0) = prev
                .as_ref()
                .map_or((0, 0), |o| (o.down_events[k], o.check_errors[k]));
            let new_downs = obs.down_events[k].wrapping_sub(d0) & 0xffff;
            let new_errors = obs.check_errors[k].wrapping_sub(e0) & 0xffff;
            let q = &mut self.downs[k];
            for _ in 0..new_downs.min(64) {
                q.push_back(now);
            }
            while q
                .front()
                .is_some_and(|&t| t + self.cfg.flap_window_cycles < now)
            {
                q.pop_front();
            }
            let recent = q.len() as u64;
            let flapping = recent >= self.cfg.flap_downs as u64;
            {
                if obs.links_up & bit == 0 {
                    seen.insert((site, Symptom::LinkDown));
                    self.note(site, Symptom::LinkDown, now, new_downs as u64);
                }
                if new_errors > 0 {
                    seen.insert((site, Symptom::CheckErrors));
                    self.note(site, Symptom::CheckErrors, now, new_errors as u64);
                }
                let known = self.faults.contains_key(&(site, Symptom::Flapping));
                if flapping || known {
                    // Counted from the downs in the window that made it one.
                    let count = if known { new_downs as u64 } else { recent };
                    seen.insert((site, Symptom::Flapping));
                    self.note(site, Symptom::Flapping, now, count);
                    if self.cfg.isolate && obs.forced_down & bit == 0 {
                        let f = self
                            .faults
                            .get_mut(&(site, Symptom::Flapping))
                            .expect("noted");
                        if f.action.is_none() {
                            let act = Isolation::ForceLinkDown { port: p };
                            f.action = Some(act);
                            isolate.push(act);
                        }
                    }
                }
            }
        }

        // The rest of the mesh, from the control plane's database.
        if let Some((graph, members)) = &obs.graph {
            let g = graph.geometry();
            let alive = |n: NodeId| members.contains(&n.0) || obs.quarantined.contains(&n.0);
            let claims_up = |n: NodeId, p: PortDir| {
                obs.adverts
                    .get(&n.0)
                    .is_some_and(|links| links & 1 << p as u8 != 0)
            };
            for n in g.node_ids() {
                // A link a member says is down, its far end alive (a dead
                // end is the router's or host's fault, below).
                if members.contains(&n.0) && n.0 != me {
                    for p in PORTS {
                        let Some(m) = g.neighbour(n, p) else { continue };
                        if m.0 == me || !alive(m) || claims_up(n, p) {
                            continue;
                        }
                        let site = if n.0 < m.0 {
                            FaultSite::Link { node: n.0, port: p }
                        } else {
                            FaultSite::Link {
                                node: m.0,
                                port: p.opposite(),
                            }
                        };
                        if seen.insert((site, Symptom::LinkDown)) {
                            self.note(site, Symptom::LinkDown, now, 0);
                        }
                    }
                }
                if alive(n) || n.0 == me {
                    continue;
                }
                // Out of the graph: a dead router takes its links down at
                // every neighbour; a dead host leaves them up.
                let neighbours: Vec<(NodeId, PortDir)> = PORTS
                    .into_iter()
                    .filter_map(|p| g.neighbour(n, p).map(|m| (m, p.opposite())))
                    .filter(|&(m, _)| members.contains(&m.0) || m.0 == me)
                    .collect();
                if neighbours.is_empty() {
                    continue; // cut off: nothing can be told
                }
                let any_up = neighbours.iter().any(|&(m, q)| {
                    if m.0 == me {
                        obs.links_up & 1 << q as u8 != 0
                    } else {
                        claims_up(m, q)
                    }
                });
                let (site, symptom) = if any_up {
                    (FaultSite::Host { node: n.0 }, Symptom::HostDead)
                } else {
                    (FaultSite::Router { node: n.0 }, Symptom::RouterDead)
                };
                seen.insert((site, symptom));
                self.note(site, symptom, now, 0);
            }
        }

        for &q in &obs.quarantined {
            let site = FaultSite::Sender { node: q };
            seen.insert((site, Symptom::Quarantined));
            self.note(site, Symptom::Quarantined, now, 0);
        }

        // Malformed traffic, by sender.
        for (&src, &bad) in &obs.bad_adverts_from {
            let before = prev
                .as_ref()
                .and_then(|o| o.bad_adverts_from.get(&src).copied())
                .unwrap_or(0);
            let site = FaultSite::Sender { node: src };
            if bad > before {
                self.note(site, Symptom::MalformedTraffic, now, bad - before);
            }
            let Some(f) = self.faults.get_mut(&(site, Symptom::MalformedTraffic)) else {
                continue;
            };
            let quarantined = obs.quarantined.contains(&src);
            f.active = !quarantined;
            if !quarantined {
                seen.insert((site, Symptom::MalformedTraffic));
            }
            if self.cfg.isolate && f.count >= self.cfg.bad_adverts && f.action.is_none() {
                let act = Isolation::Quarantine { node: src };
                f.action = Some(act);
                isolate.push(act);
            }
        }

        for (k, f) in self.faults.iter_mut() {
            f.active = seen.contains(k);
        }
        self.last = Some(obs);
        isolate
    }

    /// The site of this node's link on `p`: named by its lower-id end.
    fn link_site(&self, p: PortDir) -> Option<FaultSite> {
        let m = self.geom.neighbour(self.me, p)?;
        Some(if self.me.0 < m.0 {
            FaultSite::Link {
                node: self.me.0,
                port: p,
            }
        } else {
            FaultSite::Link {
                node: m.0,
                port: p.opposite(),
            }
        })
    }

    fn note(&mut self, site: FaultSite, symptom: Symptom, now: u64, count: u64) {
        let f = self.faults.entry((site, symptom)).or_insert(Fault {
            site,
            symptom,
            since: now,
            active: true,
            count: 0,
            action: None,
        });
        if !f.active {
            f.since = now;
        }
        f.active = true;
        f.count += count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geom() -> MeshGeometry {
        MeshGeometry::new(4, 4).unwrap()
    }

    fn manager(me: u8) -> FaultManager {
        FaultManager::new(geom(), NodeId(me), FaultManagerConfig::default())
    }

    fn find(m: &FaultManager, site: FaultSite, symptom: Symptom) -> Option<Fault> {
        m.view()
            .into_iter()
            .find(|f| f.site == site && f.symptom == symptom)
    }

    #[test]
    fn a_link_that_goes_down_three_times_in_the_window_is_forced_down_once() {
        let mut m = manager(0);
        let mut obs = Observation {
            links_up: 0b0110, // E and S up (node 0 is a corner)
            ..Default::default()
        };
        let site = FaultSite::Link {
            node: 0,
            port: PortDir::S,
        };
        let mut acts = vec![];
        for (k, now) in [1_000u64, 2_000, 3_000, 4_000].into_iter().enumerate() {
            obs.now = now;
            obs.down_events[PortDir::S as usize] = k.min(3) as u32;
            acts.extend(m.observe(obs.clone()));
            if k < 3 {
                assert!(acts.is_empty(), "{k} downs are not a flap");
            }
        }
        assert_eq!(
            acts,
            vec![Isolation::ForceLinkDown { port: PortDir::S }],
            "forced down once"
        );
        let f = find(&m, site, Symptom::Flapping).unwrap();
        assert_eq!(f.count, 3);
        // Downs far apart are no flap; and a manager that only reports acts on nothing.
        let mut m = FaultManager::new(
            geom(),
            NodeId(0),
            FaultManagerConfig {
                isolate: false,
                ..Default::default()
            },
        );
        for k in 0..6u64 {
            obs.now = k * 100;
            obs.down_events[PortDir::S as usize] = k as u32;
            assert!(m.observe(obs.clone()).is_empty());
        }
        assert!(find(&m, site, Symptom::Flapping).is_some());
        let mut m = manager(0);
        for k in 0..6u64 {
            obs.now = k * 100_000;
            obs.down_events[PortDir::S as usize] = k as u32;
            assert!(m.observe(obs.clone()).is_empty());
        }
        assert!(find(&m, site, Symptom::Flapping).is_none());
    }

    /// Node 5 is out of the graph. Its neighbours' adverts claim their links
    /// to it up: a dead host. Claimed down: a dead router.
    #[test]
    fn a_dead_router_and_a_dead_host_are_told_apart_by_their_neighbours_adverts() {
        let g = geom();
        let mut graph = Faults::new(g);
        graph.set_router_dead(NodeId(5)).unwrap();
        let members: BTreeSet<u8> = (0..16).filter(|&n| n != 5).collect();
        for (claim, want) in [(true, Symptom::HostDead), (false, Symptom::RouterDead)] {
            let mut adverts = BTreeMap::new();
            for n in g.node_ids().filter(|n| n.0 != 5) {
                let mut links = 0u8;
                for p in PORTS {
                    if let Some(m) = g.neighbour(n, p) {
                        if m.0 != 5 || claim {
                            links |= 1 << p as u8;
                        }
                    }
                }
                adverts.insert(n.0, links);
            }
            let mut m = manager(0);
            m.observe(Observation {
                now: 10,
                links_up: 0b0110,
                graph: Some((graph.clone(), members.clone())),
                adverts,
                ..Default::default()
            });
            let site = if claim {
                FaultSite::Host { node: 5 }
            } else {
                FaultSite::Router { node: 5 }
            };
            assert!(find(&m, site, want).is_some(), "{want:?}");
            assert_eq!(m.view().len(), 1, "nothing else: {:?}", m.view());
        }
    }

    #[test]
    fn a_neighbour_sending_bad_adverts_is_quarantined_at_the_threshold_once() {
        let mut m = manager(7);
        let site = FaultSite::Sender { node: 6 };
        let mut obs = Observation::default();
        for bad in 1..=2u64 {
            obs.now = bad * 600;
            obs.bad_adverts_from.insert(6, bad);
            assert!(m.observe(obs.clone()).is_empty());
        }
        obs.now = 2_000;
        obs.bad_adverts_from.insert(6, 3);
        assert_eq!(
            m.observe(obs.clone()),
            vec![Isolation::Quarantine { node: 6 }]
        );
        obs.now = 3_000;
        obs.bad_adverts_from.insert(6, 5);
        obs.quarantined.insert(6);
        assert!(m.observe(obs.clone()).is_empty(), "once");
        let f = find(&m, site, Symptom::MalformedTraffic).unwrap();
        assert_eq!((f.count, f.active), (5, false));
        assert!(find(&m, site, Symptom::Quarantined).is_some_and(|f| f.active));
    }
}
