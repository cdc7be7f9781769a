//! `meshctl bench reroute`: every mesh link cut in turn under uniform load on
//! the Verilator model; how long until traffic crosses the cut again, what
//! the failure lost, whether every run drained; and saturation with every
//! link up and with one link down.

use anyhow::{bail, Result};
use replimesh_scoreboard::fault_run::{lost, FaultRun, ABSORB_CYCLES};
use replimesh_spec::routing::{mesh_links, updown_tables, Faults, RouteTables};
use replimesh_spec::{MeshGeometry, NodeId, PortDir};
use serde::Serialize;

/// Offered load of the cut sweep, packets per node per cycle.
const LOAD: f64 = 0.06;
/// Payload flits per packet in the cut sweep: 1 to this.
const MAX_PAYLOAD: usize = 6;

#[derive(Serialize, Clone)]
pub struct Cut {
    pub node: u8,
    pub port: char,
    pub recovery_cycles: Option<u64>,
    pub lost: usize,
    pub drained: bool,
}

#[derive(Serialize, Clone)]
pub struct RerouteBench {
    pub mesh: String,
    pub cuts_tried: usize,
    /// Links the mesh has (`cuts_tried` is fewer with `--cuts`).
    pub links_in_mesh: usize,
    /// Cut to the first packet, queued after the cut, whose route before the
    /// cut crossed the cut link, delivered (on its new path).
    pub recovery_cycles_max: u64,
    pub recovery_cycles_p50: u64,
    /// Packets lost per cut: on the cut link, or swallowed by it.
    pub lost_in_flight_max: usize,
    /// Runs that did not drain.
    pub deadlocks: usize,
    /// Cuts after which no packet whose old route crossed the link was seen
    /// (no `recovery_cycles`; they are not in the max and p50).
    pub recovery_unmeasured: usize,
    /// Accepted flits per node per cycle, uniform 1-flit packets, every node
    /// offering one packet per cycle.
    pub saturation_all_up: f64,
    pub saturation_one_link_down: f64,
    pub method: Method,
    pub cuts: Vec<Cut>,
}

#[derive(Serialize, Clone)]
pub struct Method {
    pub injection: &'static str,
    pub load_packets_per_node_cycle: f64,
    pub payload_flits: String,
    pub warmup_cycles: u64,
    pub after_cut_cycles: u64,
    pub tables: &'static str,
    pub saturation_window_cycles: u64,
}

/// Does the route from `src` to `dest` by the primaries of `tables` use the
/// link `(node, port)` in either direction?
fn crosses(tables: &RouteTables, src: NodeId, dest: NodeId, link: (NodeId, NodeId)) -> bool {
    let g = tables.geometry();
    let mut at = src;
    for _ in 0..g.nodes() {
        if at == dest {
            return false;
        }
        let Some(next) = tables
            .entry(at, dest)
            .and_then(|r| g.neighbour(at, r.primary))
        else {
            return false;
        };
        if (at, next) == link || (next, at) == link {
            return true;
        }
        at = next;
    }
    false
}

fn one_cut(g: MeshGeometry, k: usize, node: NodeId, port: PortDir) -> Result<Cut> {
    let mut run = FaultRun::new(g, 100 + k as u64, LOAD, MAX_PAYLOAD)?;
    run.nearest_first = true;
    let before = updown_tables(&Faults::new(g));
    run.traffic(400)?;
    let cut_at = run.f.cycle();
    run.cut(node, port)?;
    run.traffic(100)?;
    run.reroute()?;
    run.traffic(1200)?;
    let drained = run.drain(20_000)?;
    let Some(peer) = g.neighbour(node, port) else {
        bail!("no link at {node:?} {port:?}");
    };
    let link = (node, peer);
    let recovery_cycles = run
        .deliveries
        .iter()
        .filter(|(src, dest, seq, _)| {
            run.sent_at
                .get(&(*src, *dest, *seq))
                .is_some_and(|&t| t >= cut_at)
                && crosses(&before, NodeId(*src), NodeId(*dest), link)
        })
        .map(|(_, _, _, tail)| tail - cut_at)
        .min();
    let lost = if drained {
        let report = run.check(cut_at + ABSORB_CYCLES)?;
        lost(&report)
    } else {
        0
    };
    Ok(Cut {
        node: node.0,
        port: port.letter(),
        recovery_cycles,
        lost,
        drained,
    })
}

/// Accepted flits per node per cycle with every node offering a 1-flit
/// packet every cycle it has room, over `window` cycles after a warm-up.
fn saturation(g: MeshGeometry, cut: Option<(NodeId, PortDir)>, window: u64) -> Result<f64> {
    let mut run = FaultRun::new(g, 7, 1.0, 0)?;
    if let Some((node, port)) = cut {
        run.cut(node, port)?;
        run.f.step_n(100)?;
        run.reroute()?;
    }
    run.traffic(1000)?;
    let start = run.deliveries.len();
    run.traffic(window)?;
    let flits = run.deliveries.len() - start;
    if !run.drain(50_000)? {
        bail!("saturation run did not drain");
    }
    Ok(flits as f64 / (g.nodes() as f64 * window as f64))
}

/// Runs the sweep (every link, or `cuts` of them spread evenly over the
/// link list) and prints the JSON.
pub fn run(mesh: MeshGeometry, cuts: Option<usize>) -> Result<()> {
    let out = measure(mesh, cuts, 3000, &mut |_| {})?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// The links a sweep of `cuts` cuts tries: every link, or `cuts` of them
/// spread evenly over [`mesh_links`]'s order (both dimensions, edge and
/// centre).
pub fn chosen_links(mesh: &MeshGeometry, cuts: Option<usize>) -> Vec<(usize, NodeId, PortDir)> {
    let links = mesh_links(mesh);
    let n = links.len();
    let want = cuts.unwrap_or(n).clamp(1, n.max(1));
    (0..want)
        .map(|i| i * n / want)
        .map(|k| (k, links[k].0, links[k].1))
        .collect()
}

/// Runs the sweep over [`chosen_links`], with saturation windows of
/// `window` cycles; `progress` hears about each cut.
pub fn measure(
    mesh: MeshGeometry,
    cuts: Option<usize>,
    window: u64,
    progress: &mut dyn FnMut(&str),
) -> Result<RerouteBench> {
    let chosen = chosen_links(&mesh, cuts);
    let total_links = mesh_links(&mesh).len();
    let mut cuts = Vec::new();
    for (i, (k, node, port)) in chosen.iter().enumerate() {
        progress(&format!("cut {}/{}", i + 1, chosen.len()));
        cuts.push(one_cut(mesh, *k, *node, *port)?);
    }
    let mut rec: Vec<u64> = cuts.iter().filter_map(|c| c.recovery_cycles).collect();
    rec.sort_unstable();
    progress("saturation");
    let centre = mesh.node_id(mesh.width() / 2 - 1, mesh.height() / 2 - 1);
    let out = RerouteBench {
        mesh: format!("{}x{}", mesh.width(), mesh.height()),
        cuts_tried: cuts.len(),
        links_in_mesh: total_links,
        recovery_cycles_max: rec.last().copied().unwrap_or(0),
        recovery_cycles_p50: rec.get(rec.len() / 2).copied().unwrap_or(0),
        lost_in_flight_max: cuts.iter().map(|c| c.lost).max().unwrap_or(0),
        deadlocks: cuts.iter().filter(|c| !c.drained).count(),
        recovery_unmeasured: cuts.iter().filter(|c| c.recovery_cycles.is_none()).count(),
        saturation_all_up: saturation(mesh, None, window)?,
        saturation_one_link_down: saturation(mesh, Some((centre, PortDir::E)), window)?,
        method: Method {
            injection: "Bernoulli per node per cycle, source queue capped at 24 flits; destinations uniform among live reachable nodes",
            load_packets_per_node_cycle: LOAD,
            payload_flits: format!("1-{MAX_PAYLOAD} (plus the header flit)"),
            warmup_cycles: 400,
            after_cut_cycles: 1300,
            tables: "up*/down* (replimesh_spec::routing), recomputed 100 cycles after the cut and loaded by the double scheme, routers nearest the cut first, one at a time over the one configuration bus",
            saturation_window_cycles: window,
        },
        cuts,
    };
    Ok(out)
}
