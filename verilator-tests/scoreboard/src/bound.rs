//! Analytic throughput bounds: the offered load at which the busiest channel
//! of the mesh saturates under a traffic pattern and a set of routes.
//!
//! Every node offers `λ` flits per cycle (a node the pattern maps to itself
//! offers nothing); a packet from `s` goes to `d` with the pattern's
//! probability `p(d | s)` along the primary routes of the tables. A channel
//! `c` (a directed router-to-router link, a node's injection port or its
//! ejection port) then carries `λ · γ_c` flits per cycle with
//!
//! ```text
//! γ_c = Σ_s Σ_d p(d | s) · [c on the route s → d]
//! ```
//!
//! and each channel moves at most one flit per cycle, so no router can
//! accept more than `λ* = 1 / max_c γ_c`. That is an upper bound the router
//! reaches only with perfect flow control and arbitration (Dally and Towles,
//! *Principles and Practices of Interconnection Networks*, ch. 3).
//! [`bisection_bound`] is the other classic bound for uniform traffic: the
//! load across the mesh's middle cut spread evenly over the channels that
//! cross it.

use crate::Pattern;
use replimesh_spec::routing::{dor_tables, RouteTables};
use replimesh_spec::{MeshGeometry, NodeId, PortDir};
use serde::Serialize;
use std::collections::HashMap;

/// What kind of channel limits throughput.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// A router-to-router link, one direction.
    Link,
    /// A node's injection port (its local input).
    Injection,
    /// A node's ejection port (its local output).
    Ejection,
}

/// The busiest channel and the load it allows.
#[derive(Debug, Clone, Serialize)]
pub struct ThroughputBound {
    /// Offered load (flits per node per cycle, every sending node offering
    /// it) at which the busiest channel carries one flit per cycle.
    pub offered_flits_per_node_cycle: f64,
    /// The same bound as accepted throughput averaged over every node,
    /// the unit of a bench's `accepted` and `saturation_throughput`
    /// (lower when some nodes send nothing, as on transpose's diagonal).
    pub accepted_flits_per_node_cycle: f64,
    /// `max_c γ_c`: flits on the busiest channel per flit offered per node.
    pub max_channel_load: f64,
    /// Which kind of channel that is.
    pub kind: ChannelKind,
    /// The channel, e.g. `link 5->6 (E)` or `ejection at 10`.
    pub channel: String,
    /// Fraction of nodes that send at all.
    pub sending_fraction: f64,
}

/// The bound for `pattern` under the routes `tables` holds (primaries).
pub fn pattern_bound(tables: &RouteTables, pattern: Pattern) -> ThroughputBound {
    let g = tables.geometry();
    throughput_bound(tables, |s| pattern.distribution(&g, s))
}

/// The bound for `pattern` under the reset (dimension-order) tables.
pub fn dor_pattern_bound(g: &MeshGeometry, pattern: Pattern) -> ThroughputBound {
    pattern_bound(&dor_tables(g), pattern)
}

/// The bound for any destination distribution `dist(src)` (pairs of
/// destination and probability; an empty list: the source sends nothing)
/// under the primaries of `tables`. Routes that do not arrive are ignored.
pub fn throughput_bound(
    tables: &RouteTables,
    dist: impl Fn(NodeId) -> Vec<(NodeId, f64)>,
) -> ThroughputBound {
    let g = tables.geometry();
    let mut links: HashMap<(NodeId, PortDir), f64> = HashMap::new();
    let mut inject: HashMap<NodeId, f64> = HashMap::new();
    let mut eject: HashMap<NodeId, f64> = HashMap::new();
    let mut sending = 0usize;
    for s in g.node_ids() {
        let d = dist(s);
        if d.iter().any(|e| e.1 > 0.0) {
            sending += 1;
        }
        for (dest, p) in d {
            if p <= 0.0 {
                continue;
            }
            *inject.entry(s).or_default() += p;
            *eject.entry(dest).or_default() += p;
            let mut at = s;
            for _ in 0..g.nodes() {
                if at == dest {
                    break;
                }
                let Some(port) = tables.entry(at, dest).map(|r| r.primary) else {
                    break;
                };
                let Some(next) = g.neighbour(at, port) else {
                    break;
                };
                *links.entry((at, port)).or_default() += p;
                at = next;
            }
        }
    }
    // Busiest channel; ties go to links, then ejection, then injection, and
    // within a kind to the lowest (node, port), so the name is stable.
    let mut best: Option<(f64, ChannelKind, String)> = None;
    let mut consider = |load: f64, kind: ChannelKind, name: String| {
        if best.as_ref().is_none_or(|b| load > b.0 + 1e-12) {
            best = Some((load, kind, name));
        }
    };
    let mut sorted: Vec<_> = links.into_iter().collect();
    sorted.sort_by_key(|((n, p), _)| (n.0, *p as u32));
    for ((n, port), load) in sorted {
        let to = g.neighbour(n, port).map_or(0, |t| t.0);
        consider(
            load,
            ChannelKind::Link,
            format!("link {}->{} ({})", n.0, to, port.letter()),
        );
    }
    for (map, kind, word) in [
        (eject, ChannelKind::Ejection, "ejection at"),
        (inject, ChannelKind::Injection, "injection at"),
    ] {
        let mut v: Vec<_> = map.into_iter().collect();
        v.sort_by_key(|(n, _)| n.0);
        for (n, load) in v {
            consider(load, kind, format!("{word} {}", n.0));
        }
    }
    let (load, kind, channel) = best.unwrap_or((0.0, ChannelKind::Injection, "none".into()));
    let offered = if load > 0.0 { 1.0 / load } else { 0.0 };
    let sending_fraction = sending as f64 / g.nodes() as f64;
    ThroughputBound {
        offered_flits_per_node_cycle: offered,
        accepted_flits_per_node_cycle: offered * sending_fraction,
        max_channel_load: load,
        kind,
        channel,
        sending_fraction,
    }
}

/// The bisection bound: flits per node per cycle at which the channels
/// crossing the mesh's middle cut (across its longer side) are all full,
/// if the load crossing it spread evenly over them:
/// `λ_B = C / Σ_{s, d on opposite sides} p(d | s)` with `C` the channels
/// crossing one way (the larger of the two directions counts).
pub fn bisection_bound(g: &MeshGeometry, dist: impl Fn(NodeId) -> Vec<(NodeId, f64)>) -> f64 {
    // Cut between columns (or rows) k/2 - 1 and k/2 of the longer dimension.
    let vertical_cut = g.width() >= g.height();
    let (span, across) = if vertical_cut {
        (g.width(), g.height())
    } else {
        (g.height(), g.width())
    };
    let side = |n: NodeId| {
        let (x, y) = g.coords(n).expect("node on the mesh");
        let c = if vertical_cut { x } else { y };
        c >= span / 2
    };
    let (mut one_way, mut other_way) = (0.0, 0.0);
    for s in g.node_ids() {
        for (d, p) in dist(s) {
            match (side(s), side(d)) {
                (false, true) => one_way += p,
                (true, false) => other_way += p,
                _ => {}
            }
        }
    }
    let crossing = f64::max(one_way, other_way);
    if crossing > 0.0 {
        across as f64 / crossing
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mesh(w: u32, h: u32) -> MeshGeometry {
        MeshGeometry::new(w, h).unwrap()
    }

    /// Uniform over every node, the source itself included: the textbook
    /// case, whose bound on an even k×k mesh is 4/k.
    fn uniform_with_self(g: MeshGeometry) -> impl Fn(NodeId) -> Vec<(NodeId, f64)> {
        move |_s| {
            let n = g.nodes() as f64;
            g.node_ids().map(|d| (d, 1.0 / n)).collect()
        }
    }

    /// (From k = 4 on: below that 4/k passes one flit per cycle and the
    /// terminal channels bind first.)
    #[test]
    fn uniform_with_self_traffic_on_even_k_by_k_is_four_over_k() {
        for k in [4u32, 6, 8] {
            let g = mesh(k, k);
            // Self-traffic never leaves the node: drop it from the routes.
            let dist = uniform_with_self(g);
            let b = throughput_bound(&dor_tables(&g), |s| {
                dist(s).into_iter().filter(|(d, _)| *d != s).collect()
            });
            let want = 4.0 / k as f64;
            assert!(
                (b.offered_flits_per_node_cycle - want).abs() < 1e-9,
                "{k}x{k}: {} want {want} ({})",
                b.offered_flits_per_node_cycle,
                b.channel
            );
            assert_eq!(b.kind, ChannelKind::Link, "{k}x{k}");
            let bis = bisection_bound(&g, &dist);
            assert!((bis - want).abs() < 1e-9, "{k}x{k} bisection {bis}");
        }
    }

    /// The bench's uniform excludes the source: N(N-1) pairs, so the middle
    /// channel carries k³/(4(N-1)) and the bound is 4(N-1)/(kN); dimension
    /// order loads the middle links exactly as evenly as the bisection bound
    /// assumes.
    #[test]
    fn uniform_without_self_under_dor_meets_the_bisection_bound() {
        for k in [4u32, 6, 8] {
            let g = mesh(k, k);
            let n = (k * k) as f64;
            let want = 4.0 * (n - 1.0) / (k as f64 * n);
            let b = dor_pattern_bound(&g, Pattern::Uniform);
            assert!(
                (b.offered_flits_per_node_cycle - want).abs() < 1e-9,
                "{k}x{k}: {} want {want}",
                b.offered_flits_per_node_cycle
            );
            let bis = bisection_bound(&g, |s| Pattern::Uniform.distribution(&g, s));
            assert!((bis - want).abs() < 1e-9, "{k}x{k} bisection {bis}");
            assert_eq!(b.sending_fraction, 1.0);
        }
        // 4x4: 0.9375 flits/node/cycle.
        let b = dor_pattern_bound(&mesh(4, 4), Pattern::Uniform);
        assert!((b.offered_flits_per_node_cycle - 0.9375).abs() < 1e-12);
        // 2x2: the formula gives 1.5; a node ejects one flit per cycle, and
        // receives from the other three a third each: the terminal bound, 1.
        let g = mesh(2, 2);
        let b = dor_pattern_bound(&g, Pattern::Uniform);
        assert!(
            (b.offered_flits_per_node_cycle - 1.0).abs() < 1e-12,
            "{b:?}"
        );
        assert_eq!(b.kind, ChannelKind::Ejection);
        let bis = bisection_bound(&g, |s| Pattern::Uniform.distribution(&g, s));
        assert!((bis - 1.5).abs() < 1e-12, "{bis}");
    }

    /// Hotspot: a quarter of the traffic of each of the other 15 nodes plus
    /// its uniform share goes to the hot node, 15 · (1/4 + 3/4 · 1/15) = 4.5
    /// flits per flit offered: its ejection port is the busiest channel.
    #[test]
    fn hotspot_is_bound_by_the_hot_nodes_ejection() {
        let g = mesh(4, 4);
        let b = dor_pattern_bound(&g, Pattern::Hotspot);
        assert_eq!(b.kind, ChannelKind::Ejection);
        let hot = Pattern::hot_node(&g);
        assert_eq!(b.channel, format!("ejection at {}", hot.0));
        assert!((b.max_channel_load - 4.5).abs() < 1e-9, "{b:?}");
        assert!((b.offered_flits_per_node_cycle - 1.0 / 4.5).abs() < 1e-9);
    }

    /// Transpose on 4x4 under X-then-Y routing, by hand: (x, y) goes along
    /// row y to column y, then along column y to row x. In row 3 the
    /// eastward link (2,3)->(3,3) carries the flows of x = 0, 1 and 2; in
    /// row 0 the westward link (1,0)->(0,0) those of x = 1, 2, 3; no link
    /// carries more, each ejection port one flow. So the busiest channel
    /// carries 3 flits per flit offered: 1/3 offered, and as 12 of the 16
    /// nodes send (the diagonal maps to itself), 1/4 accepted.
    #[test]
    fn transpose_on_4x4_under_dor_is_one_third() {
        let g = mesh(4, 4);
        let b = dor_pattern_bound(&g, Pattern::Transpose);
        assert!((b.max_channel_load - 3.0).abs() < 1e-9, "{b:?}");
        assert_eq!(b.kind, ChannelKind::Link);
        assert!((b.sending_fraction - 0.75).abs() < 1e-12);
        assert!((b.accepted_flits_per_node_cycle - 0.25).abs() < 1e-9);
    }

    /// The bound follows the tables it is given: two flows into node (1,1)
    /// of a 2x2 share the link (1,0)->(1,1) under dimension order (that link
    /// and the ejection port both carry 2; links are named first on a tie);
    /// send node (0,0)'s flow south first and only the ejection port
    /// carries 2.
    #[test]
    fn the_bound_follows_the_tables() {
        let g = mesh(2, 2);
        let (a, b, dest) = (g.node_id(0, 0), g.node_id(1, 0), g.node_id(1, 1));
        let two = |s: NodeId| {
            if s == a || s == b {
                vec![(dest, 1.0)]
            } else {
                vec![]
            }
        };
        let mut tables = dor_tables(&g);
        let shared = throughput_bound(&tables, two);
        assert_eq!(shared.max_channel_load, 2.0, "{shared:?}");
        assert_eq!(shared.kind, ChannelKind::Link, "{shared:?}");
        assert_eq!(shared.channel, format!("link {}->{} (S)", b.0, dest.0));
        assert_eq!(shared.sending_fraction, 0.5);
        let south_first = replimesh_spec::Route {
            primary: PortDir::S,
            alternate: PortDir::E,
        };
        tables.set(a, dest, Some(south_first)).unwrap();
        let split = throughput_bound(&tables, two);
        assert_eq!(split.max_channel_load, 2.0, "{split:?}");
        assert_eq!(split.kind, ChannelKind::Ejection, "{split:?}");
        assert_eq!(split.channel, format!("ejection at {}", dest.0));
    }
}
