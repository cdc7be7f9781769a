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
                let hot = g.node_id(g.width() / 2, g.height() / 2);
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
