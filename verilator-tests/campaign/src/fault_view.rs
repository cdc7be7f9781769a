//! The scenario behind `meshctl faults`: the 4×4 card from reset, every
//! node running the control plane and its fault manager, reliable streams
//! throughout; a link cut, a router killed, a host killed, a link made to
//! flap and a node sending malformed adverts. Then every live node's own
//! view of the faults (`docs/fault-manager.md`).

use crate::streams::{Run, Tally};
use replimesh_node::{ControlPlaneConfig, Fault, FaultManagerConfig};
use replimesh_spec::{MeshGeometry, NodeId, PacketKind, PortDir};
use serde::Serialize;

/// One node's view.
#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    pub node: u8,
    /// Its host runs (a dead host or router has no view).
    pub alive: bool,
    pub faults: Vec<Fault>,
}

/// What the scenario did and what each node saw.
#[derive(Debug, Clone, Serialize)]
pub struct FaultReport {
    /// The faults injected, in order, with their cycle.
    pub injected: Vec<String>,
    /// Whether every change converged.
    pub converged: bool,
    /// The book of the streams that ran the whole time.
    pub delivered: u64,
    pub tally: Tally,
    pub nodes: Vec<NodeView>,
}

/// Node ids the scenario acts on.
pub const CUT: (u8, PortDir) = (5, PortDir::E);
pub const DEAD_ROUTER: u8 = 10;
pub const DEAD_HOST: u8 = 3;
pub const FLAPPING: (u8, PortDir) = (0, PortDir::S);
pub const BAD_SENDER: (u8, u8) = (6, 7);

/// Runs the scenario from `seed`.
pub fn run(seed: u64) -> FaultReport {
    let g = MeshGeometry::new(4, 4).expect("4x4");
    let mut run = Run::master_less_managed(
        g,
        seed,
        10,
        ControlPlaneConfig::default(),
        FaultManagerConfig::default(),
    );
    run.strict = false;
    let load = 0.1;
    let limit = 60_000;
    let mut converged = run.try_converge(0.0, 2 * limit).is_some();
    let mut injected = vec![];
    let index = |run: &Run, id: u8| run.ids.iter().position(|&x| x == id).expect("a node");

    let (n, p) = CUT;
    let i = index(&run, n);
    injected.push(format!(
        "cycle {}: link cut, node {n} port {p:?}",
        run.now()
    ));
    run.card.borrow_mut().cut_link(i, p).unwrap();
    run.faults.set_link_down(NodeId(n), p).unwrap();
    converged &= run.try_converge(load, limit).is_some();

    let v = index(&run, DEAD_ROUTER);
    injected.push(format!("cycle {}: router {DEAD_ROUTER} killed", run.now()));
    run.card.borrow_mut().kill_router(v).unwrap();
    run.cluster.kill(v);
    run.faults.set_router_dead(NodeId(DEAD_ROUTER)).unwrap();
    converged &= run.try_converge(load, limit).is_some();

    let h = index(&run, DEAD_HOST);
    injected.push(format!("cycle {}: host {DEAD_HOST} killed", run.now()));
    run.cluster.kill(h);
    converged &= run.try_converge(load, limit).is_some();

    // Three bursts of bit errors, each long enough to take the link down,
    // apart by more than its hold-down and stable time.
    let (n, p) = FLAPPING;
    let i = index(&run, n);
    injected.push(format!(
        "cycle {}: link node {n} port {p:?} flaps (3 bursts of bit errors)",
        run.now()
    ));
    for _ in 0..3 {
        run.card.borrow_mut().corrupt_link(i, p).unwrap();
        run.rounds(60, load);
        run.card.borrow_mut().restore_link(i, p).unwrap();
        run.rounds(800, load);
    }
    // Its ends' fault managers force it down: it stays out of the graph.
    run.faults.set_link_down(NodeId(n), p).unwrap();
    converged &= run.try_converge(load, limit).is_some();

    let (bad, victim) = BAD_SENDER;
    injected.push(format!(
        "cycle {}: node {bad} sends corrupted adverts to node {victim}",
        run.now()
    ));
    let b = index(&run, bad);
    for k in 0..3u64 {
        let h = replimesh_regs::PacketHeader {
            kind: PacketKind::Control,
            ..replimesh_regs::PacketHeader::unicast(NodeId(victim), 0, 7)
        };
        // Seven words ending in the advert opcode, checksum wrong.
        let mut payload = vec![k, 1, 2, 3, 4, 5];
        payload.push(replimesh_node::control_plane::advert_trailer(NodeId(bad)));
        let _ = run.cluster.node(b).endpoint().send(&h, &payload);
        run.rounds(200, load);
    }
    // Node 7's manager quarantines it.
    run.quarantined.insert(bad);
    run.ever_quarantined.insert(bad);
    converged &= run.try_converge(load, limit).is_some();
    run.rounds(2_000, load);
    run.finish(1_000_000);

    let nodes = (0..run.ids.len())
        .map(|i| {
            let alive = run.polled(i);
            NodeView {
                node: run.ids[i],
                alive,
                faults: if alive {
                    run.cluster.node(i).fault_view()
                } else {
                    vec![]
                },
            }
        })
        .collect();
    FaultReport {
        injected,
        converged,
        delivered: run.delivered,
        tally: run.tally,
        nodes,
    }
}
