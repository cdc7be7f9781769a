//! Fan-out: broadcast scopes, the broadcast spanning tree and multicast trees.
//!
//! This module is the reference the router RTL is checked against and the
//! control plane's tree computation:
//!
//! - [`Scope`] is the header's `scope` field: a region mode and a hop radius.
//! - [`broadcast_mask`] is the per-router rule the hardware applies to a
//!   scoped broadcast (the RTL block `router::fanout::BroadcastMask` computes
//!   the same function; a fabric test compares them).
//! - [`multicast_tree`] computes the dimension-ordered (X then Y) tree from a
//!   source to a member set, as the per-router output masks written into the
//!   routers' group tables.
//!
//! Masks hold one bit per port in the usual order: bit 0 N, 1 E, 2 S, 3 W, 4 L.

use crate::geometry::{MeshGeometry, NodeId, PortDir};
use std::collections::BTreeMap;

/// Entries of each router's multicast group table (group ids `0..32`).
pub const GROUP_TABLE_ENTRIES: u32 = 32;

/// A multicast group id, carried in the header's `dest` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub u8);

/// Bit of `port` in an output mask.
pub const fn port_bit(port: PortDir) -> u8 {
    1 << port as u8
}

/// Which region a scoped broadcast covers (bits 5..4 of `scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ScopeMode {
    /// Every node of the mesh.
    Mesh = 0,
    /// The source's row.
    Row = 1,
    /// The source's quadrant: the mesh is split at column `ceil(W/2)` and row
    /// `ceil(H/2)` (for odd sizes the west and north blocks get the extra
    /// column or row).
    Quadrant = 2,
    /// The source's column.
    Column = 3,
}

impl ScopeMode {
    /// Every mode, in encoding order.
    pub const ALL: [ScopeMode; 4] = [
        ScopeMode::Mesh,
        ScopeMode::Row,
        ScopeMode::Quadrant,
        ScopeMode::Column,
    ];
}

/// A broadcast scope: region and hop radius (0 = unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scope {
    /// Region.
    pub mode: ScopeMode,
    /// Largest Manhattan distance from the source, 1..=15; 0 = no limit.
    pub radius: u8,
}

impl Scope {
    /// The whole mesh, no radius.
    pub const MESH: Scope = Scope {
        mode: ScopeMode::Mesh,
        radius: 0,
    };

    /// The `scope` field value, or `None` if the radius does not fit 4 bits.
    pub fn encode(self) -> Option<u8> {
        (self.radius <= 15).then_some((self.mode as u8) << 4 | self.radius)
    }

    /// Decodes a 6-bit `scope` field value (higher bits ignored).
    pub fn decode(bits: u8) -> Scope {
        Scope {
            mode: ScopeMode::ALL[((bits >> 4) & 3) as usize],
            radius: bits & 15,
        }
    }

    /// Whether routers reject this scope on `geom`: a radius larger than the
    /// mesh diameter names a scope larger than the mesh.
    pub fn is_error(self, geom: &MeshGeometry) -> bool {
        self.radius as u32 > diameter(geom)
    }
}

/// Largest Manhattan distance in the mesh.
pub fn diameter(geom: &MeshGeometry) -> u32 {
    geom.width() - 1 + geom.height() - 1
}

/// Column where the east quadrants start (`ceil(W/2)`) and row where the
/// south quadrants start (`ceil(H/2)`).
pub fn quadrant_split(geom: &MeshGeometry) -> (u32, u32) {
    (geom.width().div_ceil(2), geom.height().div_ceil(2))
}

/// Inclusive bounds `(x_lo, x_hi, y_lo, y_hi)` of the region `mode` around a
/// source at `(sx, sy)`.
pub fn region(geom: &MeshGeometry, sx: u32, sy: u32, mode: ScopeMode) -> (u32, u32, u32, u32) {
    let (wl, hl) = (geom.width() - 1, geom.height() - 1);
    let (cx, cy) = quadrant_split(geom);
    match mode {
        ScopeMode::Mesh => (0, wl, 0, hl),
        ScopeMode::Row => (0, wl, sy, sy),
        ScopeMode::Column => (sx, sx, 0, hl),
        ScopeMode::Quadrant => {
            let (xl, xh) = if sx < cx { (0, cx - 1) } else { (cx, wl) };
            let (yl, yh) = if sy < cy { (0, cy - 1) } else { (cy, hl) };
            (xl, xh, yl, yh)
        }
    }
}

/// Whether `node` lies in `scope` of a broadcast from `src` (the source
/// itself is in scope; whether it gets a copy depends on `loopback`).
pub fn in_scope(geom: &MeshGeometry, src: NodeId, scope: Scope, node: NodeId) -> bool {
    let (Some((sx, sy)), Some((x, y))) = (geom.coords(src), geom.coords(node)) else {
        return false;
    };
    let (xl, xh, yl, yh) = region(geom, sx, sy, scope.mode);
    let dist = x.abs_diff(sx) + y.abs_diff(sy);
    (xl..=xh).contains(&x)
        && (yl..=yh).contains(&y)
        && (scope.radius == 0 || dist <= scope.radius as u32)
}

/// The nodes that receive one copy of a broadcast from `src`.
pub fn broadcast_receivers(
    geom: &MeshGeometry,
    src: NodeId,
    scope: Scope,
    loopback: bool,
) -> Vec<NodeId> {
    if scope.is_error(geom) {
        return vec![];
    }
    geom.node_ids()
        .filter(|n| in_scope(geom, src, scope, *n) && (loopback || *n != src))
        .collect()
}

/// The broadcast tree rule at router `here` for a packet from `src` that
/// arrived through `in_port` (`L` at the source): X along the source's row,
/// every row router branches N and S, off the row keep going N or S; a
/// neighbour outside the scope gets nothing. The `L` bit says `here` is in
/// scope (the ingress router clears it unless `loopback`). A scope error
/// ([`Scope::is_error`]) gives an empty mask: the router drops the packet.
///
/// The scope is closed under the X-then-Y path from the source (a rectangle
/// containing the source intersected with a diamond around it), so pruning at
/// the first out-of-scope neighbour loses no one in scope.
pub fn broadcast_mask(
    geom: &MeshGeometry,
    here: NodeId,
    src: NodeId,
    in_port: PortDir,
    scope: Scope,
) -> u8 {
    let (Some((_, y)), Some((_, sy))) = (geom.coords(here), geom.coords(src)) else {
        return 0;
    };
    if scope.is_error(geom) {
        // Dropped and counted in `fanout_errors_total`.
        return 0;
    }
    let neighbour_in = |p: PortDir| {
        geom.neighbour(here, p)
            .is_some_and(|n| in_scope(geom, src, scope, n))
    };
    let mut m = 0u8;
    let mut add = |p: PortDir| {
        if neighbour_in(p) {
            m |= port_bit(p);
        }
    };
    let on_row = y == sy;
    match in_port {
        PortDir::L => {
            for p in [PortDir::N, PortDir::E, PortDir::S, PortDir::W] {
                add(p);
            }
        }
        PortDir::W if on_row => {
            for p in [PortDir::N, PortDir::E, PortDir::S] {
                add(p);
            }
        }
        PortDir::E if on_row => {
            for p in [PortDir::N, PortDir::S, PortDir::W] {
                add(p);
            }
        }
        PortDir::N if !on_row => add(PortDir::S),
        PortDir::S if !on_row => add(PortDir::N),
        _ => {}
    }
    if in_scope(geom, src, scope, here) {
        m |= port_bit(PortDir::L);
    }
    m
}

/// The dimension-ordered multicast tree from `src` to `members`: from the
/// source along its row to every column holding members, then along each such
/// column. Returns the output mask of every router on the tree (routers not
/// listed forward nothing). The source's `L` bit is set when the source is a
/// member; the router delivers that copy only to a packet with `loopback`.
///
/// Members outside the mesh are ignored.
pub fn multicast_tree(
    geom: &MeshGeometry,
    src: NodeId,
    members: &[NodeId],
) -> BTreeMap<NodeId, u8> {
    let mut masks: BTreeMap<NodeId, u8> = BTreeMap::new();
    let Some((sx, sy)) = geom.coords(src) else {
        return masks;
    };
    let mut set = |n: NodeId, p: PortDir| *masks.entry(n).or_insert(0) |= port_bit(p);
    for &m in members {
        let Some((mx, my)) = geom.coords(m) else {
            continue;
        };
        // Along the row.
        let mut x = sx;
        while x != mx {
            let p = if mx > x { PortDir::E } else { PortDir::W };
            set(geom.node_id(x, sy), p);
            x = if mx > x { x + 1 } else { x - 1 };
        }
        // Along the column.
        let mut y = sy;
        while y != my {
            let p = if my > y { PortDir::S } else { PortDir::N };
            set(geom.node_id(mx, y), p);
            y = if my > y { y + 1 } else { y - 1 };
        }
        set(m, PortDir::L);
    }
    masks
}

/// Follows per-router masks from `src` (reference walk for tests): returns
/// how many copies each node receives. `mask_at(router, in_port)` gives the
/// mask a router applies; the source's own `L` bit counts only with
/// `loopback`. Stops after `limit` link hops so a bad tree cannot loop.
pub fn walk_tree(
    geom: &MeshGeometry,
    src: NodeId,
    loopback: bool,
    limit: usize,
    mut mask_at: impl FnMut(NodeId, PortDir) -> u8,
) -> BTreeMap<NodeId, u32> {
    let mut copies = BTreeMap::new();
    let mut frontier = vec![(src, PortDir::L)];
    let mut hops = 0;
    while let Some((at, from)) = frontier.pop() {
        let m = mask_at(at, from);
        if m & port_bit(PortDir::L) != 0 && (from != PortDir::L || loopback) {
            *copies.entry(at).or_insert(0) += 1;
        }
        for p in [PortDir::N, PortDir::E, PortDir::S, PortDir::W] {
            if m & port_bit(p) != 0 {
                hops += 1;
                if hops > limit {
                    return copies;
                }
                if let Some(n) = geom.neighbour(at, p) {
                    frontier.push((n, p.opposite()));
                }
            }
        }
    }
    copies
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geoms() -> Vec<MeshGeometry> {
        [(2, 2), (4, 4), (3, 5), (5, 3), (8, 8)]
            .iter()
            .map(|&(w, h)| MeshGeometry::new(w, h).unwrap())
            .collect()
    }

    fn scopes() -> Vec<Scope> {
        let mut v = vec![];
        for mode in ScopeMode::ALL {
            for radius in [0, 1, 2, 3, 5] {
                v.push(Scope { mode, radius });
            }
        }
        v
    }

    #[test]
    fn scope_round_trips() {
        for s in scopes() {
            assert_eq!(Scope::decode(s.encode().unwrap()), s);
        }
        assert_eq!(
            Scope {
                mode: ScopeMode::Row,
                radius: 16
            }
            .encode(),
            None
        );
    }

    #[test]
    fn broadcast_tree_reaches_each_in_scope_node_exactly_once() {
        for g in geoms() {
            for src in g.node_ids() {
                for scope in scopes() {
                    for loopback in [false, true] {
                        let copies = walk_tree(&g, src, loopback, 1000, |at, from| {
                            broadcast_mask(&g, at, src, from, scope)
                        });
                        let want = broadcast_receivers(&g, src, scope, loopback);
                        let got: Vec<NodeId> = copies.keys().copied().collect();
                        assert_eq!(got, want, "{g:?} src {src:?} {scope:?}");
                        assert!(copies.values().all(|c| *c == 1));
                    }
                }
            }
        }
    }

    #[test]
    fn broadcast_never_leaves_the_mesh_or_the_scope() {
        for g in geoms() {
            for src in g.node_ids() {
                for scope in scopes() {
                    for here in g.node_ids() {
                        let (x, y) = g.coords(here).unwrap();
                        for from in PortDir::ALL {
                            let m = broadcast_mask(&g, here, src, from, scope);
                            for p in [PortDir::N, PortDir::E, PortDir::S, PortDir::W] {
                                if m & port_bit(p) != 0 {
                                    assert!(g.port_exists(x, y, p));
                                    let n = g.neighbour(here, p).unwrap();
                                    assert!(in_scope(&g, src, scope, n));
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn quadrants_partition_the_mesh() {
        for g in geoms() {
            for n in g.node_ids() {
                let owners = g
                    .node_ids()
                    .filter(|s| {
                        let (sx, sy) = g.coords(*s).unwrap();
                        let (xl, xh, yl, yh) = region(&g, sx, sy, ScopeMode::Quadrant);
                        let (x, y) = g.coords(n).unwrap();
                        (xl..=xh).contains(&x) && (yl..=yh).contains(&y)
                    })
                    .count();
                assert!(owners >= 1);
            }
        }
        let g = MeshGeometry::new(3, 5).unwrap();
        assert_eq!(region(&g, 0, 0, ScopeMode::Quadrant), (0, 1, 0, 2));
        assert_eq!(region(&g, 2, 4, ScopeMode::Quadrant), (2, 2, 3, 4));
    }

    #[test]
    fn radius_past_the_diameter_is_an_error() {
        let g = MeshGeometry::new(4, 4).unwrap();
        let s = |radius| Scope {
            mode: ScopeMode::Mesh,
            radius,
        };
        assert!(!s(6).is_error(&g));
        assert!(s(7).is_error(&g));
        assert!(broadcast_receivers(&g, NodeId(0), s(7), true).is_empty());
    }

    #[test]
    fn multicast_tree_delivers_each_member_once_and_no_one_else() {
        for g in geoms() {
            let ids: Vec<NodeId> = g.node_ids().collect();
            for (k, &src) in ids.iter().enumerate() {
                // Several member sets: singletons, everyone, strided subsets.
                let mut sets: Vec<Vec<NodeId>> = vec![ids.clone(), vec![ids[(k + 1) % ids.len()]]];
                for stride in [2, 3, 5] {
                    sets.push(
                        ids.iter()
                            .copied()
                            .skip(k % stride)
                            .step_by(stride)
                            .collect(),
                    );
                }
                for members in sets {
                    let tree = multicast_tree(&g, src, &members);
                    for loopback in [false, true] {
                        let copies = walk_tree(&g, src, loopback, 1000, |at, _| {
                            tree.get(&at).copied().unwrap_or(0)
                        });
                        let mut want: Vec<NodeId> = members
                            .iter()
                            .copied()
                            .filter(|m| loopback || *m != src)
                            .collect();
                        want.sort();
                        want.dedup();
                        let got: Vec<NodeId> = copies.keys().copied().collect();
                        assert_eq!(got, want);
                        assert!(copies.values().all(|c| *c == 1));
                    }
                }
            }
        }
    }

    #[test]
    fn multicast_tree_is_dimension_ordered() {
        // Off the source row, a router only continues in the direction the
        // packet travels (N or S) or delivers: no Y-to-X turn, no U-turn.
        let g = MeshGeometry::new(4, 4).unwrap();
        let src = g.node_id(1, 2);
        let members: Vec<NodeId> = g.node_ids().collect();
        for (n, m) in multicast_tree(&g, src, &members) {
            let (_, y) = g.coords(n).unwrap();
            if y != 2 {
                assert_eq!(m & (port_bit(PortDir::E) | port_bit(PortDir::W)), 0);
                let away = if y < 2 { PortDir::S } else { PortDir::N };
                assert_eq!(m & port_bit(away), 0, "router {n:?} turns back");
            }
        }
    }
}
