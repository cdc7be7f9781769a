//! Synthetic traffic patterns over a mesh.

use rand::Rng;
use replimesh_spec::{MeshGeometry, NodeId};

/// Where each source sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pattern {
    /// Every other node equally likely.
    Uniform,
    /// `(x, y) -> (y, x)` (wrapped into the mesh when it is not square).
    Transpose,
    /// `(x, y) -> (W-1-x, H-1-y)`.
    Bitcomp,
    /// A quarter of packets to the centre node, the rest uniform.
    Hotspot,
}

impl Pattern {
    /// Parses a CLI name.
    pub fn parse(s: &str) -> Result<Pattern, String> {
        match s {
            "uniform" => Ok(Pattern::Uniform),
            "transpose" => Ok(Pattern::Transpose),
            "bitcomp" => Ok(Pattern::Bitcomp),
            "hotspot" => Ok(Pattern::Hotspot),
            other => Err(format!(
                "unknown pattern '{other}': use uniform, transpose, bitcomp or hotspot"
            )),
        }
    }

    /// Name used in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Pattern::Uniform => "uniform",
            Pattern::Transpose => "transpose",
            Pattern::Bitcomp => "bitcomp",
            Pattern::Hotspot => "hotspot",
        }
    }

    /// Every pattern, in report order.
    pub const ALL: [Pattern; 4] = [
        Pattern::Uniform,
        Pattern::Transpose,
        Pattern::Bitcomp,
        Pattern::Hotspot,
    ];

    /// The node [`Pattern::Hotspot`] sends a quarter of its packets to.
    pub fn hot_node(g: &MeshGeometry) -> NodeId {
        g.node_id(g.width() / 2, g.height() / 2)
    }

    /// The exact distribution [`Pattern::destination`] draws from for a
    /// packet from `src`: `(destination, probability)`, destinations distinct,
    /// none equal to `src`. The probabilities sum to 1, or to 0 (an empty
    /// list) when the pattern maps `src` to itself and it sends nothing.
    pub fn distribution(self, g: &MeshGeometry, src: NodeId) -> Vec<(NodeId, f64)> {
        let Some((x, y)) = g.coords(src) else {
            return vec![];
        };
        let others = g.nodes() as f64 - 1.0;
        let uniform = |share: f64| -> Vec<(NodeId, f64)> {
            g.node_ids()
                .filter(|d| *d != src)
                .map(|d| (d, share / others))
                .collect()
        };
        let single = |d: NodeId| if d == src { vec![] } else { vec![(d, 1.0)] };
        match self {
            Pattern::Uniform => uniform(1.0),
            Pattern::Transpose => single(g.node_id(y % g.width(), x % g.height())),
            Pattern::Bitcomp => single(g.node_id(g.width() - 1 - x, g.height() - 1 - y)),
            Pattern::Hotspot => {
                let hot = Pattern::hot_node(g);
                if hot == src {
                    return uniform(1.0);
                }
                let mut d = uniform(0.75);
                for e in &mut d {
                    if e.0 == hot {
                        e.1 += 0.25;
                    }
                }
                d
            }
        }
    }

    /// Destination for a packet from `src`; `None` when the pattern maps the
    /// source to itself (it sends nothing).
    pub fn destination(self, g: &MeshGeometry, src: NodeId, rng: &mut impl Rng) -> Option<NodeId> {
        let (x, y) = g.coords(src)?;
        let uniform = |rng: &mut dyn rand::RngCore| loop {
            let i = rng.gen_range(0..g.nodes() as usize);
            let d = g.id_at(i);
            if d != src {
                return d;
            }
        };
        let d = match self {
            Pattern::Uniform => uniform(rng),
            Pattern::Transpose => g.node_id(y % g.width(), x % g.height()),
            Pattern::Bitcomp => g.node_id(g.width() - 1 - x, g.height() - 1 - y),
            Pattern::Hotspot => {
                let hot = Pattern::hot_node(g);
                if rng.gen_bool(0.25) && hot != src {
                    hot
                } else {
                    uniform(rng)
                }
            }
        };
        (d != src).then_some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;
    use std::collections::HashMap;

    /// `distribution` is what `destination` draws from: sampled frequencies
    /// agree with it within a few standard deviations, for every pattern and
    /// source, on a square and a non-square mesh.
    #[test]
    fn distribution_matches_what_destination_draws() {
        let draws = 20_000;
        for (w, h) in [(4, 4), (3, 2)] {
            let g = MeshGeometry::new(w, h).unwrap();
            let mut rng = SmallRng::seed_from_u64(5);
            for p in Pattern::ALL {
                for src in g.node_ids() {
                    let dist = p.distribution(&g, src);
                    let total: f64 = dist.iter().map(|d| d.1).sum();
                    assert!(
                        dist.is_empty() || (total - 1.0).abs() < 1e-12,
                        "{p:?} {src:?}: {total}"
                    );
                    assert!(dist.iter().all(|d| d.0 != src));
                    let mut seen: HashMap<NodeId, u32> = HashMap::new();
                    for _ in 0..draws {
                        if let Some(d) = p.destination(&g, src, &mut rng) {
                            *seen.entry(d).or_default() += 1;
                        }
                    }
                    if dist.is_empty() {
                        assert!(seen.is_empty(), "{p:?} {src:?} sent {seen:?}");
                        continue;
                    }
                    for d in g.node_ids() {
                        let want = dist.iter().find(|e| e.0 == d).map_or(0.0, |e| e.1);
                        let got = *seen.get(&d).unwrap_or(&0) as f64 / draws as f64;
                        let sd = (want * (1.0 - want) / draws as f64).sqrt();
                        assert!(
                            (got - want).abs() <= 5.0 * sd + 1e-9,
                            "{p:?} {w}x{h} {src:?} -> {d:?}: drew {got}, distribution says {want}"
                        );
                    }
                }
            }
        }
    }
}
