//! The scoped broadcast rule: which outputs a broadcast (or discovery
//! request) takes at this router. Combinational; the reference is
//! `replimesh_spec::fanout::broadcast_mask`, and the tests below compare the
//! two for every router, source, input port and scope of several meshes.
//!
//! The tree is X then Y from the source: along the source's row the packet
//! keeps its direction (E from W or L, W from E or L) and every router on the
//! row also branches N and S; off the row it keeps going N or S. A neighbour
//! outside the scope (region rectangle and hop radius) gets nothing, and the
//! local bit says this router is in scope. The scope is closed under the
//! X-then-Y path from the source, so pruning at the first neighbour outside it
//! loses no one.

use crate::common::glue::Pack5;
use replimesh_spec::fanout::{diameter, quadrant_split, ScopeMode};
use replimesh_spec::MeshGeometry;
use rust_hdl::prelude::*;

/// Output mask (bit per port N, E, S, W, L) of a scoped broadcast here.
#[derive(LogicBlock)]
pub struct BroadcastMask {
    /// This router's column.
    pub node_x: Signal<In, Bits<8>>,
    /// This router's row.
    pub node_y: Signal<In, Bits<8>>,
    /// The packet's (stamped) source node id.
    pub src: Signal<In, Bits<8>>,
    /// The input port the packet arrived on, one-hot (bit 4: local).
    pub in_port: Signal<In, Bits<5>>,
    /// Scope mode: 0 mesh, 1 row, 2 quadrant, 3 column.
    pub scope_mode: Signal<In, Bits<2>>,
    /// Hop radius, 0 = unlimited.
    pub radius: Signal<In, Bits<8>>,
    /// Outputs to send to; `L` = this router is in scope.
    pub mask: Signal<Out, Bits<5>>,
    /// The radius exceeds the mesh diameter: drop and count.
    pub scope_error: Signal<Out, Bit>,
    pack: Pack5,
    sx: Signal<Local, Bits<8>>,
    sy: Signal<Local, Bits<8>>,
    dxa: Signal<Local, Bits<8>>,
    dya: Signal<Local, Bits<8>>,
    hops: Signal<Local, Bits<8>>,
    x_lo: Signal<Local, Bits<8>>,
    x_hi: Signal<Local, Bits<8>>,
    y_lo: Signal<Local, Bits<8>>,
    y_hi: Signal<Local, Bits<8>>,
    far_ok: Signal<Local, Bit>,
    here_ok: Signal<Local, Bit>,
    on_row: Signal<Local, Bit>,
    from_n: Signal<Local, Bit>,
    from_e: Signal<Local, Bit>,
    from_s: Signal<Local, Bit>,
    from_w: Signal<Local, Bit>,
    from_l: Signal<Local, Bit>,
    along_row: Signal<Local, Bit>,
    x_in: Signal<Local, Bit>,
    y_in: Signal<Local, Bit>,
    x_mask: Constant<Bits<8>>,
    x_bits: Constant<Bits<8>>,
    w_last: Constant<Bits<8>>,
    h_last: Constant<Bits<8>>,
    cx: Constant<Bits<8>>,
    cy: Constant<Bits<8>>,
    cx_m1: Constant<Bits<8>>,
    cy_m1: Constant<Bits<8>>,
    diam: Constant<Bits<8>>,
    zero8: Constant<Bits<8>>,
    zero5: Constant<Bits<5>>,
    m_row: Constant<Bits<2>>,
    m_quad: Constant<Bits<2>>,
    m_col: Constant<Bits<2>>,
}

impl BroadcastMask {
    /// The rule for a router of mesh `g`.
    pub fn new(g: &MeshGeometry) -> Self {
        let c8 = |v: u32| Constant::new((v as u64).to_bits());
        let c2 = |m: ScopeMode| Constant::new((m as u64).to_bits());
        let (cx, cy) = quadrant_split(g);
        Self {
            node_x: Default::default(),
            node_y: Default::default(),
            src: Default::default(),
            in_port: Default::default(),
            scope_mode: Default::default(),
            radius: Default::default(),
            mask: Default::default(),
            scope_error: Default::default(),
            pack: Default::default(),
            sx: Default::default(),
            sy: Default::default(),
            dxa: Default::default(),
            dya: Default::default(),
            hops: Default::default(),
            x_lo: Default::default(),
            x_hi: Default::default(),
            y_lo: Default::default(),
            y_hi: Default::default(),
            far_ok: Default::default(),
            here_ok: Default::default(),
            on_row: Default::default(),
            from_n: Default::default(),
            from_e: Default::default(),
            from_s: Default::default(),
            from_w: Default::default(),
            from_l: Default::default(),
            along_row: Default::default(),
            x_in: Default::default(),
            y_in: Default::default(),
            x_mask: c8((1 << g.x_bits()) - 1),
            x_bits: c8(g.x_bits()),
            w_last: c8(g.width() - 1),
            h_last: c8(g.height() - 1),
            cx: c8(cx),
            cy: c8(cy),
            cx_m1: c8(cx - 1),
            cy_m1: c8(cy - 1),
            diam: c8(diameter(g)),
            zero8: c8(0),
            zero5: Constant::new(0u64.to_bits()),
            m_row: c2(ScopeMode::Row),
            m_quad: c2(ScopeMode::Quadrant),
            m_col: c2(ScopeMode::Column),
        }
    }
}

impl Logic for BroadcastMask {
    #[hdl_gen]
    fn update(&mut self) {
        self.sx.next = self.src.val() & self.x_mask.val();
        self.sy.next = self.src.val() >> self.x_bits.val();
        self.dxa.next = self.node_x.val() - self.sx.val();
        if self.node_x.val() < self.sx.val() {
            self.dxa.next = self.sx.val() - self.node_x.val();
        }
        self.dya.next = self.node_y.val() - self.sy.val();
        if self.node_y.val() < self.sy.val() {
            self.dya.next = self.sy.val() - self.node_y.val();
        }
        self.hops.next = self.dxa.val() + self.dya.val();
        // The region's bounds.
        self.x_lo.next = self.zero8.val();
        self.x_hi.next = self.w_last.val();
        self.y_lo.next = self.zero8.val();
        self.y_hi.next = self.h_last.val();
        if self.scope_mode.val() == self.m_row.val() {
            self.y_lo.next = self.sy.val();
            self.y_hi.next = self.sy.val();
        }
        if self.scope_mode.val() == self.m_col.val() {
            self.x_lo.next = self.sx.val();
            self.x_hi.next = self.sx.val();
        }
        if self.scope_mode.val() == self.m_quad.val() {
            if self.sx.val() < self.cx.val() {
                self.x_hi.next = self.cx_m1.val();
            } else {
                self.x_lo.next = self.cx.val();
            }
            if self.sy.val() < self.cy.val() {
                self.y_hi.next = self.cy_m1.val();
            } else {
                self.y_lo.next = self.cy.val();
            }
        }
        // Every neighbour the tree sends to is one hop further from the source.
        self.far_ok.next =
            (self.radius.val() == self.zero8.val()) || (self.hops.val() < self.radius.val());
        self.x_in.next =
            (self.node_x.val() >= self.x_lo.val()) && (self.node_x.val() <= self.x_hi.val());
        self.y_in.next =
            (self.node_y.val() >= self.y_lo.val()) && (self.node_y.val() <= self.y_hi.val());
        self.here_ok.next = ((self.radius.val() == self.zero8.val())
            || (self.hops.val() <= self.radius.val()))
            && self.x_in.val()
            && self.y_in.val();
        self.scope_error.next = self.radius.val() > self.diam.val();
        self.on_row.next = self.node_y.val() == self.sy.val();
        self.from_n.next = self.in_port.val().get_bit(0);
        self.from_e.next = self.in_port.val().get_bit(1);
        self.from_s.next = self.in_port.val().get_bit(2);
        self.from_w.next = self.in_port.val().get_bit(3);
        self.from_l.next = self.in_port.val().get_bit(4);
        // On the source's row, coming from the source or along the row.
        self.along_row.next =
            self.on_row.val() && (self.from_l.val() || self.from_w.val() || self.from_e.val());
        self.pack.b0.next = self.far_ok.val()
            && self.x_in.val()
            && (self.node_y.val() > self.y_lo.val())
            && (self.along_row.val() || (!self.on_row.val() && self.from_s.val()));
        self.pack.b1.next = self.far_ok.val()
            && self.y_in.val()
            && (self.node_x.val() < self.x_hi.val())
            && self.on_row.val()
            && (self.from_l.val() || self.from_w.val());
        self.pack.b2.next = self.far_ok.val()
            && self.x_in.val()
            && (self.node_y.val() < self.y_hi.val())
            && (self.along_row.val() || (!self.on_row.val() && self.from_n.val()));
        self.pack.b3.next = self.far_ok.val()
            && self.y_in.val()
            && (self.node_x.val() > self.x_lo.val())
            && self.on_row.val()
            && (self.from_l.val() || self.from_e.val());
        self.pack.b4.next = self.here_ok.val();
        self.mask.next = self.pack.bits.val();
        if self.scope_error.val() {
            self.mask.next = self.zero5.val();
        }
    }
}

/// Ordered acquisition of a fan-out packet's outputs (combinational).
///
/// Outputs are taken in the fixed channel order E, W, N, S, L, which is what
/// keeps fan-out deadlock-free (docs/deadlock-freedom.md): a packet may hold
/// outputs only below the one it waits for. To save cycles it takes, in one
/// cycle, the longest run of still-needed outputs (in that order) that all
/// grant it. It asks for the still-needed outputs up to and including the
/// first one that is not available: that one is reserved for it (the output
/// starts no new packet), the ones after it are not asked for yet.
#[derive(LogicBlock, Default)]
pub struct OrderedAcquire {
    /// Outputs still to acquire.
    pub need: Signal<In, Bits<5>>,
    /// Outputs free with an empty neighbour buffer.
    pub avail: Signal<In, Bits<5>>,
    /// Outputs whose fan-out arbiter picked this input.
    pub granted: Signal<In, Bits<5>>,
    /// Outputs to ask for.
    pub request: Signal<Out, Bits<5>>,
    /// Outputs acquired this cycle (a prefix of `need` in the order).
    pub take: Signal<Out, Bits<5>>,
    rq: Pack5,
    tk: Pack5,
    pre_w: Signal<Local, Bit>,
    pre_n: Signal<Local, Bit>,
    pre_s: Signal<Local, Bit>,
    pre_l: Signal<Local, Bit>,
    tpre_w: Signal<Local, Bit>,
    tpre_n: Signal<Local, Bit>,
    tpre_s: Signal<Local, Bit>,
    tpre_l: Signal<Local, Bit>,
    got: Signal<Local, Bits<5>>,
}

impl Logic for OrderedAcquire {
    #[hdl_gen]
    fn update(&mut self) {
        // Bits: 0 N, 1 E, 2 S, 3 W, 4 L. `pre_o`: every needed output before
        // o in the order E, W, N, S, L is available (`tpre_o`: granted).
        self.pre_w.next = !self.need.val().get_bit(1) || self.avail.val().get_bit(1);
        self.pre_n.next =
            self.pre_w.val() && (!self.need.val().get_bit(3) || self.avail.val().get_bit(3));
        self.pre_s.next =
            self.pre_n.val() && (!self.need.val().get_bit(0) || self.avail.val().get_bit(0));
        self.pre_l.next =
            self.pre_s.val() && (!self.need.val().get_bit(2) || self.avail.val().get_bit(2));
        self.rq.b1.next = self.need.val().get_bit(1);
        self.rq.b3.next = self.need.val().get_bit(3) && self.pre_w.val();
        self.rq.b0.next = self.need.val().get_bit(0) && self.pre_n.val();
        self.rq.b2.next = self.need.val().get_bit(2) && self.pre_s.val();
        self.rq.b4.next = self.need.val().get_bit(4) && self.pre_l.val();
        self.request.next = self.rq.bits.val();
        // An output grants only while available; `got` checks both.
        self.got.next = self.granted.val() & self.avail.val();
        self.tpre_w.next = !self.need.val().get_bit(1) || self.got.val().get_bit(1);
        self.tpre_n.next =
            self.tpre_w.val() && (!self.need.val().get_bit(3) || self.got.val().get_bit(3));
        self.tpre_s.next =
            self.tpre_n.val() && (!self.need.val().get_bit(0) || self.got.val().get_bit(0));
        self.tpre_l.next =
            self.tpre_s.val() && (!self.need.val().get_bit(2) || self.got.val().get_bit(2));
        self.tk.b1.next = self.need.val().get_bit(1) && self.got.val().get_bit(1);
        self.tk.b3.next =
            self.need.val().get_bit(3) && self.got.val().get_bit(3) && self.tpre_w.val();
        self.tk.b0.next =
            self.need.val().get_bit(0) && self.got.val().get_bit(0) && self.tpre_n.val();
        self.tk.b2.next =
            self.need.val().get_bit(2) && self.got.val().get_bit(2) && self.tpre_s.val();
        self.tk.b4.next =
            self.need.val().get_bit(4) && self.got.val().get_bit(4) && self.tpre_l.val();
        self.take.next = self.tk.bits.val();
    }
}

/// Reference for [`OrderedAcquire`]: (request, take). An output counts as
/// granted only while it is available.
pub fn acquire_reference(need: u8, avail: u8, granted: u8) -> (u8, u8) {
    const ORDER: [u8; 5] = [1, 3, 0, 2, 4];
    let (mut request, mut take) = (0u8, 0u8);
    let mut blocked = false;
    for o in ORDER {
        if need & (1 << o) != 0 && !blocked {
            request |= 1 << o;
            blocked = avail & (1 << o) == 0;
        }
    }
    for o in ORDER {
        if need & (1 << o) != 0 {
            if granted & avail & (1 << o) == 0 {
                break;
            }
            take |= 1 << o;
        }
    }
    (request, take)
}

#[cfg(test)]
mod tests {
    use super::*;
    use replimesh_spec::fanout::{broadcast_mask, walk_tree, Scope};
    use replimesh_spec::PortDir;

    fn check_mesh(g: MeshGeometry) {
        let mut uut = BroadcastMask::new(&g);
        uut.connect_all();
        let mut scopes = vec![];
        for mode in ScopeMode::ALL {
            for radius in [0u8, 1, 2, 3, 4, 9, 15] {
                scopes.push(Scope { mode, radius });
            }
        }
        let mut checked = 0;
        // Every (router, input port) a real broadcast reaches, for every
        // source and scope: the cases the hardware meets.
        for src in g.node_ids() {
            for scope in &scopes {
                let mut visits = vec![];
                walk_tree(&g, src, true, 10_000, |at, from| {
                    visits.push((at, from));
                    broadcast_mask(&g, at, src, from, *scope)
                });
                if scope.is_error(&g) {
                    visits = g.node_ids().map(|n| (n, PortDir::L)).collect();
                }
                for (here, port) in visits {
                    let (x, y) = g.coords(here).unwrap();
                    uut.node_x.next = (x as u64).to_bits();
                    uut.node_y.next = (y as u64).to_bits();
                    uut.src.next = (src.0 as u64).to_bits();
                    uut.in_port.next = (1u64 << port as u64).to_bits();
                    uut.scope_mode.next = (scope.mode as u64).to_bits();
                    uut.radius.next = (scope.radius as u64).to_bits();
                    assert!(simulate(&mut uut, 50));
                    let want = broadcast_mask(&g, here, src, port, *scope) as u64;
                    let got = uut.mask.val().to_u64();
                    assert_eq!(
                        got, want,
                        "{g:?} here {here:?} src {src:?} from {port:?} {scope:?}"
                    );
                    assert_eq!(uut.scope_error.val(), scope.is_error(&g));
                    checked += 1;
                }
            }
        }
        assert!(checked > 1000);
    }

    #[test]
    fn matches_the_spec_rule_on_4x4() {
        check_mesh(MeshGeometry::new(4, 4).unwrap());
    }

    #[test]
    fn matches_the_spec_rule_on_odd_meshes() {
        check_mesh(MeshGeometry::new(3, 5).unwrap());
        check_mesh(MeshGeometry::new(5, 2).unwrap());
    }

    #[test]
    fn ordered_acquire_matches_reference_exhaustively() {
        let mut uut = OrderedAcquire::default();
        uut.connect_all();
        for need in 0u8..32 {
            for avail in 0u8..32 {
                for granted in 0u8..32 {
                    uut.need.next = (need as u64).to_bits();
                    uut.avail.next = (avail as u64).to_bits();
                    uut.granted.next = (granted as u64).to_bits();
                    assert!(simulate(&mut uut, 50));
                    let (rq, tk) = acquire_reference(need, avail, granted);
                    assert_eq!(
                        uut.request.val().to_u64() as u8,
                        rq,
                        "{need:05b} {avail:05b}"
                    );
                    assert_eq!(
                        uut.take.val().to_u64() as u8,
                        tk,
                        "{need:05b} {granted:05b}"
                    );
                }
            }
        }
        // The order: with everything needed and E busy, only E is asked for.
        assert_eq!(acquire_reference(0b11111, 0b11101, 0), (0b00010, 0));
        // E and W granted, N not: E and W are taken, S is not.
        assert_eq!(acquire_reference(0b01111, 0b11111, 0b01010).1, 0b01010);
        // E and S granted, W not: only E; S would be held out of order.
        assert_eq!(acquire_reference(0b01111, 0b11111, 0b00110).1, 0b00010);
    }

    #[test]
    fn lints_clean() {
        let mut uut = BroadcastMask::new(&MeshGeometry::new(4, 4).unwrap());
        uut.connect_all();
        let v = generate_verilog(&uut);
        let dir = std::env::temp_dir().join(format!("replimesh-bmask-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("bmask.v");
        std::fs::write(&f, v).unwrap();
        let out = std::process::Command::new("verilator")
            .args([
                "--lint-only",
                "-Wall",
                "-Wno-DECLFILENAME",
                "--top-module",
                "top",
            ])
            .arg(&f)
            .output()
            .expect("verilator on PATH");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
