//! Mesh geometry: node numbering, port numbering and the reset routing rule.

/// Smallest mesh side: a 1-wide mesh has no second path between nodes.
pub const MIN_MESH_DIM: u32 = 2;
/// Largest mesh side: node ids are 8 bits, `x_bits + y_bits <= 8`.
pub const MAX_MESH_DIM: u32 = 16;

/// A router port, in the one order used everywhere: `N, E, S, W, L` = 0..4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum PortDir {
    /// Towards `y - 1`.
    N = 0,
    /// Towards `x + 1`.
    E = 1,
    /// Towards `y + 1`.
    S = 2,
    /// Towards `x - 1`.
    W = 3,
    /// The local endpoint.
    L = 4,
}

impl PortDir {
    /// All ports in index order.
    pub const ALL: [PortDir; 5] = [PortDir::N, PortDir::E, PortDir::S, PortDir::W, PortDir::L];

    /// Port from its index.
    pub fn from_index(i: u32) -> Option<PortDir> {
        Self::ALL.get(i as usize).copied()
    }

    /// The port on the neighbour that this port's link arrives at.
    pub fn opposite(self) -> PortDir {
        match self {
            PortDir::N => PortDir::S,
            PortDir::S => PortDir::N,
            PortDir::E => PortDir::W,
            PortDir::W => PortDir::E,
            PortDir::L => PortDir::L,
        }
    }

    /// One-letter name.
    pub fn letter(self) -> char {
        ['N', 'E', 'S', 'W', 'L'][self as usize]
    }
}

/// A node id as carried in the header's `dest` and `src` fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u8);

/// A primary and an alternate output port for one destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Route {
    /// Port used while it is up.
    pub primary: PortDir,
    /// Port used when the primary's link is down.
    pub alternate: PortDir,
}

impl Route {
    /// Route table entry encoding: `alternate << 3 | primary`.
    pub fn encode(self) -> u32 {
        (self.alternate as u32) << 3 | self.primary as u32
    }

    /// Decodes a route table entry; `None` for port values past `L`.
    pub fn decode(bits: u32) -> Option<Route> {
        Some(Route {
            primary: PortDir::from_index(bits & 7)?,
            alternate: PortDir::from_index((bits >> 3) & 7)?,
        })
    }
}

/// Width and height of a mesh, checked on construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MeshGeometry {
    width: u32,
    height: u32,
}

fn clog2(n: u32) -> u32 {
    (32 - (n - 1).leading_zeros()).max(1)
}

impl MeshGeometry {
    /// A `width` × `height` mesh; `None` outside `MIN_MESH_DIM..=MAX_MESH_DIM`.
    pub fn new(width: u32, height: u32) -> Option<MeshGeometry> {
        let ok = |d| (MIN_MESH_DIM..=MAX_MESH_DIM).contains(&d);
        (ok(width) && ok(height)).then_some(MeshGeometry { width, height })
    }

    /// Parses `WxH`, e.g. `4x4`.
    pub fn parse(text: &str) -> Result<MeshGeometry, String> {
        let (w, h) = text
            .split_once(['x', 'X'])
            .ok_or_else(|| format!("mesh '{text}' is not of the form WxH (e.g. 4x4)"))?;
        let num = |s: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("mesh '{text}': '{s}' is not a whole number"))
        };
        let (w, h) = (num(w)?, num(h)?);
        MeshGeometry::new(w, h).ok_or_else(|| {
            format!(
                "mesh {w}x{h} is out of range: each side must be {MIN_MESH_DIM}..={MAX_MESH_DIM}"
            )
        })
    }

    /// Columns.
    pub fn width(&self) -> u32 {
        self.width
    }
    /// Rows.
    pub fn height(&self) -> u32 {
        self.height
    }
    /// Number of nodes.
    pub fn nodes(&self) -> u32 {
        self.width * self.height
    }
    /// Bits of the node id that hold `x`.
    pub fn x_bits(&self) -> u32 {
        clog2(self.width)
    }
    /// Bits of the node id that hold `y`.
    pub fn y_bits(&self) -> u32 {
        clog2(self.height)
    }
    /// Route table entries per router (`2^(x_bits + y_bits)`).
    pub fn table_entries(&self) -> u32 {
        1 << (self.x_bits() + self.y_bits())
    }

    /// Node id of column `x`, row `y`.
    pub fn node_id(&self, x: u32, y: u32) -> NodeId {
        assert!(x < self.width && y < self.height, "({x},{y}) outside mesh");
        NodeId((y << self.x_bits() | x) as u8)
    }

    /// Coordinates of a node id, or `None` for an id that names no node.
    pub fn coords(&self, id: NodeId) -> Option<(u32, u32)> {
        let id = id.0 as u32;
        let x = id & ((1 << self.x_bits()) - 1);
        let y = id >> self.x_bits();
        (x < self.width && y < self.height).then_some((x, y))
    }

    /// Node ids in index order (row by row).
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        (0..self.height).flat_map(move |y| (0..self.width).map(move |x| self.node_id(x, y)))
    }

    /// Dense index (`y * width + x`) of a node, used for arrays on the host.
    pub fn index_of(&self, id: NodeId) -> Option<usize> {
        self.coords(id).map(|(x, y)| (y * self.width + x) as usize)
    }

    /// Node id at a dense index.
    pub fn id_at(&self, index: usize) -> NodeId {
        let index = index as u32;
        self.node_id(index % self.width, index / self.width)
    }

    /// Manhattan distance between two nodes.
    pub fn hops(&self, a: NodeId, b: NodeId) -> Option<u32> {
        let (ax, ay) = self.coords(a)?;
        let (bx, by) = self.coords(b)?;
        Some(ax.abs_diff(bx) + ay.abs_diff(by))
    }

    /// Whether router `(x, y)` has a neighbour through `port`.
    pub fn port_exists(&self, x: u32, y: u32, port: PortDir) -> bool {
        match port {
            PortDir::N => y > 0,
            PortDir::S => y + 1 < self.height,
            PortDir::E => x + 1 < self.width,
            PortDir::W => x > 0,
            PortDir::L => true,
        }
    }

    /// Neighbour of `id` through `port` (`L` returns the node itself).
    pub fn neighbour(&self, id: NodeId, port: PortDir) -> Option<NodeId> {
        let (x, y) = self.coords(id)?;
        if !self.port_exists(x, y, port) {
            return None;
        }
        Some(match port {
            PortDir::N => self.node_id(x, y - 1),
            PortDir::S => self.node_id(x, y + 1),
            PortDir::E => self.node_id(x + 1, y),
            PortDir::W => self.node_id(x - 1, y),
            PortDir::L => id,
        })
    }
}

/// The reset routing rule: dimension order (X then Y) as primary; the
/// alternate leaves by the other dimension, so that two disjoint first hops
/// exist for every destination that is not local.
///
/// Destinations in the same row take a neighbouring row as the alternate
/// (and those in the same column a neighbouring column): a detour, but a path.
pub fn dor_route(geom: &MeshGeometry, here: NodeId, dest: NodeId) -> Option<Route> {
    let (x, y) = geom.coords(here)?;
    let (dx, dy) = geom.coords(dest)?;
    let xport = (dx != x).then_some(if dx > x { PortDir::E } else { PortDir::W });
    let yport = (dy != y).then_some(if dy > y { PortDir::S } else { PortDir::N });
    let side_y = if geom.port_exists(x, y, PortDir::S) {
        PortDir::S
    } else {
        PortDir::N
    };
    let side_x = if geom.port_exists(x, y, PortDir::E) {
        PortDir::E
    } else {
        PortDir::W
    };
    Some(match (xport, yport) {
        (Some(xp), Some(yp)) => Route {
            primary: xp,
            alternate: yp,
        },
        (Some(xp), None) => Route {
            primary: xp,
            alternate: side_y,
        },
        (None, Some(yp)) => Route {
            primary: yp,
            alternate: side_x,
        },
        (None, None) => Route {
            primary: PortDir::L,
            alternate: PortDir::L,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_out_of_range_and_garbage() {
        assert!(MeshGeometry::parse("0x0").is_err());
        assert!(MeshGeometry::parse("100x100").is_err());
        assert!(MeshGeometry::parse("4by4").is_err());
        assert!(MeshGeometry::parse("-1x4").is_err());
        assert_eq!(
            MeshGeometry::parse("4x4"),
            Ok(MeshGeometry::new(4, 4).unwrap())
        );
    }

    #[test]
    fn node_ids_round_trip_for_odd_sizes() {
        let g = MeshGeometry::new(3, 5).unwrap();
        assert_eq!(g.x_bits(), 2);
        assert_eq!(g.y_bits(), 3);
        for (i, id) in g.node_ids().enumerate() {
            assert_eq!(g.index_of(id), Some(i));
            assert_eq!(g.id_at(i), id);
        }
        // x = 3 is not a column of a 3-wide mesh.
        assert_eq!(g.coords(NodeId(3)), None);
    }

    #[test]
    fn dor_routes_reach_every_destination_by_minimal_paths() {
        let g = MeshGeometry::new(4, 3).unwrap();
        for s in g.node_ids() {
            for d in g.node_ids() {
                let mut at = s;
                let mut hops = 0;
                while at != d {
                    let r = dor_route(&g, at, d).unwrap();
                    at = g.neighbour(at, r.primary).expect("route leaves the mesh");
                    hops += 1;
                    assert!(hops <= 8);
                }
                assert_eq!(Some(hops), g.hops(s, d));
            }
        }
    }

    #[test]
    fn alternate_port_differs_and_exists() {
        let g = MeshGeometry::new(4, 4).unwrap();
        for s in g.node_ids() {
            let (x, y) = g.coords(s).unwrap();
            for d in g.node_ids().filter(|d| *d != s) {
                let r = dor_route(&g, s, d).unwrap();
                assert_ne!(r.primary, r.alternate);
                assert!(g.port_exists(x, y, r.alternate));
                assert_eq!(Route::decode(r.encode()), Some(r));
            }
        }
    }
}
