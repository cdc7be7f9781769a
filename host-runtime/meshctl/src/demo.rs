//! `meshctl demo`: a 4x4 mesh in Verilator carrying checked traffic, the
//! path of traced packets read back from the routers' trace registers, and a
//! link failure routed around by rewriting the tables.

use anyhow::{bail, Context, Result};
use replimesh_scoreboard::{make_packet, run_traffic, Pattern, Scoreboard, TrafficConfig};
use replimesh_sim::{Fabric, Packet};
use replimesh_spec::{router_addr, MeshGeometry, NodeId, PortDir};
use serde::Serialize;

#[derive(Serialize)]
struct Hop {
    node: u8,
    x: u32,
    y: u32,
    in_port: char,
    out_port: char,
}

#[derive(Serialize)]
struct TracedPacket {
    src: u8,
    dest: u8,
    latency_cycles: u64,
    path: Vec<Hop>,
}

#[derive(Serialize)]
struct DemoReport {
    mesh: String,
    packets_sent: u64,
    packets_delivered: u64,
    delivered_per_node: Vec<u64>,
    packets_routed_per_router: Vec<u32>,
    traced: Vec<TracedPacket>,
    link_failure: String,
    traced_after_failure: TracedPacket,
    services: ServicesDemo,
}

/// The replicated-service part of the demo, on the 4x4 card.
#[derive(Serialize)]
struct ServicesDemo {
    #[serde(flatten)]
    scenario: crate::services::ScenarioReport,
    routes: RoutesOf,
    service_tables: Vec<crate::services::ServiceRow>,
    rules: Vec<RulesOf>,
}

#[derive(Serialize)]
struct RoutesOf {
    node: u8,
    routes: Vec<crate::services::RouteRow>,
}

#[derive(Serialize)]
struct RulesOf {
    node: u8,
    rules: Vec<crate::services::RuleRow>,
}

/// Runs the service scenario and reads every table back from the card.
fn services_part(policy: replimesh_node::SearchPolicy) -> Result<ServicesDemo> {
    use crate::services as sv;
    let mut s = sv::scenario(6, true, policy)?;
    if s.report.failed != 0 || s.report.completed != s.report.calls {
        bail!(
            "service scenario: {} of {} calls completed, {} failed",
            s.report.completed,
            s.report.calls,
            s.report.failed
        );
    }
    let g = MeshGeometry::new(4, 4).expect("4x4");
    let victim = s.report.killed.unwrap_or(5) as usize;
    // A client next to the dead replica: its routes and rules show the reroute.
    let watch = (0..16)
        .find(|n| {
            !sv::REPLICAS.contains(n)
                && g.coords(g.id_at(*n)).is_some_and(|(x, y)| {
                    let (vx, vy) = g.coords(g.id_at(victim)).unwrap_or_default();
                    x.abs_diff(vx) + y.abs_diff(vy) == 1
                })
        })
        .unwrap_or(0);
    let routes = RoutesOf {
        node: watch as u8,
        routes: sv::routes(s.cluster.node(watch).endpoint(), g)?,
    };
    s.cluster.run(1)?;
    let mut service_tables = vec![];
    let mut rules = vec![];
    let mut cluster = s.cluster;
    for n in 0..16 {
        service_tables.extend(sv::services(cluster.node(n).endpoint())?);
        if !sv::REPLICAS.contains(&n) {
            rules.push(RulesOf {
                node: n as u8,
                rules: sv::rules(cluster.node(n).endpoint())?,
            });
        }
        // The runtimes keep running while the tables are read (reads clock
        // the model too): live nodes keep their lease.
        cluster.run(1)?;
    }
    Ok(ServicesDemo {
        scenario: s.report,
        routes,
        service_tables,
        rules,
    })
}

fn port_letter(one_hot: u32) -> char {
    PortDir::ALL
        .iter()
        .find(|d| one_hot == 1 << (**d as u32))
        .map(|d| d.letter())
        .unwrap_or('?')
}

/// Sends one traced packet alone and reads its path from the routers.
fn trace(f: &mut Fabric, src: NodeId, dest: NodeId) -> Result<TracedPacket> {
    let g = f.geometry();
    for id in g.node_ids().collect::<Vec<_>>() {
        f.cfg_write(id, router_addr::TRACE, 0)?;
    }
    let mut sb = Scoreboard::new();
    let mut p: Packet = make_packet(&mut sb, f, src, dest, 2);
    p.header.trace = true;
    let sent = f.cycle();
    f.send(src, &p)?;
    let mut got = None;
    while got.is_none() && f.cycle() < sent + 1000 {
        f.step()?;
        got = f.recv(dest);
    }
    let d = got.context("traced packet not delivered")?;
    let mut path = vec![];
    for id in g.node_ids().collect::<Vec<_>>() {
        let t = f.cfg_read(id, router_addr::TRACE)?;
        if t >> 31 == 1 {
            let (x, y) = g.coords(id).unwrap_or_default();
            path.push(Hop {
                node: id.0,
                x,
                y,
                in_port: port_letter((t >> 16) & 0x1f),
                out_port: port_letter((t >> 8) & 0x1f),
            });
        }
    }
    // Order hops from the source: start at the router the packet entered locally.
    let mut ordered = vec![];
    let mut at = src;
    while let Some(i) = path.iter().position(|h| h.node == at.0) {
        let hop = path.remove(i);
        let next = PortDir::ALL
            .iter()
            .find(|d| d.letter() == hop.out_port)
            .copied();
        ordered.push(hop);
        match next.and_then(|d| {
            if d == PortDir::L {
                None
            } else {
                g.neighbour(at, d)
            }
        }) {
            Some(n) => at = n,
            None => break,
        }
    }
    Ok(TracedPacket {
        src: src.0,
        dest: dest.0,
        latency_cycles: d.tail_cycle - sent,
        path: ordered,
    })
}

fn show(t: &TracedPacket) -> String {
    let hops: Vec<String> = t
        .path
        .iter()
        .map(|h| format!("({},{}) {}->{}", h.x, h.y, h.in_port, h.out_port))
        .collect();
    format!(
        "node {:>2} -> node {:>2} in {:>3} cycles: {}",
        t.src,
        t.dest,
        t.latency_cycles,
        hops.join("  ")
    )
}

pub fn run(json: bool, policy: Option<&std::path::Path>) -> Result<()> {
    let policy = crate::services::load_policy(policy)?;
    let g = MeshGeometry::new(4, 4).expect("4x4");
    let mut f = Fabric::new(g, 64).context("building the 4x4 Verilator model")?;
    // Checked uniform traffic at half load.
    let cfg = TrafficConfig {
        pattern: Pattern::Uniform,
        packet_flits: 4,
        offered: 0.4,
        warmup_cycles: 0,
        measure_cycles: 3000,
        drain_limit_cycles: 100_000,
        seed: 7,
    };
    let mut sb = Scoreboard::new();
    let r = run_traffic(&mut f, &cfg, &mut sb)?;
    if !r.report.is_clean() {
        bail!("scoreboard findings: {:?}", r.report.findings);
    }
    let mut per_router = vec![];
    for id in g.node_ids().collect::<Vec<_>>() {
        per_router.push(f.counters(id)?.packets_routed);
    }
    let delivered_per_node = r.delivered_per_node.clone();
    let corners = [
        (g.id_at(0), g.id_at(15)),
        (g.id_at(3), g.id_at(12)),
        (g.id_at(5), g.id_at(6)),
    ];
    let mut traced = vec![];
    for (s, d) in corners {
        traced.push(trace(&mut f, s, d)?);
    }
    // Take the link east of (0,0) down at both ends and steer (0,0)'s
    // eastbound routes onto their alternates.
    let a = g.node_id(0, 0);
    let b = g.node_id(1, 0);
    // Edge ports stay named down: the router refuses a write calling them up.
    let edge = |f: &Fabric, n| !f.present_ports(n) & 0xF;
    f.cfg_write(
        a,
        router_addr::LINK_DOWN,
        edge(&f, a) | 1 << PortDir::E as u32,
    )?;
    f.cfg_write(
        b,
        router_addr::LINK_DOWN,
        edge(&f, b) | 1 << PortDir::W as u32,
    )?;
    let after = trace(&mut f, a, g.id_at(15))?;
    let report = DemoReport {
        mesh: "4x4".into(),
        packets_sent: r.report.sent,
        packets_delivered: r.report.delivered,
        delivered_per_node,
        packets_routed_per_router: per_router,
        traced,
        link_failure: "link (0,0)<->(1,0) marked down; routers fall back to the alternate port"
            .into(),
        traced_after_failure: after,
        services: services_part(policy)?,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("replimesh demo: 4x4 mesh of rust-hdl routers, simulated in Verilator");
    println!(
        "uniform traffic, 4-flit packets, offered 0.4 flits/node/cycle: {} sent, {} delivered exactly once, intact, in order",
        report.packets_sent, report.packets_delivered
    );
    println!("\npackets delivered per node (row by row):");
    for y in 0..4 {
        let row: Vec<String> = (0..4)
            .map(|x| format!("{:>6}", report.delivered_per_node[y * 4 + x]))
            .collect();
        println!("  {}", row.join(""));
    }
    println!("\npackets routed per router (row by row):");
    for y in 0..4 {
        let row: Vec<String> = (0..4)
            .map(|x| format!("{:>6}", report.packets_routed_per_router[y * 4 + x]))
            .collect();
        println!("  {}", row.join(""));
    }
    println!("\npaths read back from the routers' trace registers ((x,y) in->out):");
    for t in &report.traced {
        println!("  {}", show(t));
    }
    println!("\n{}:", report.link_failure);
    println!("  {}", show(&report.traced_after_failure));
    print_services(&report.services);
    Ok(())
}

fn print_services(d: &ServicesDemo) {
    use crate::services as sv;
    let r = &d.scenario;
    println!(
        "\nreplicated services on the 4x4 card (endpoints + routers in Verilator): service {} on nodes {:?}",
        r.service, r.replicas
    );
    println!("discovery by the cards' expanding search (radius 1, then quadrant, then mesh):");
    for x in &r.discoveries {
        let s = &x.search;
        println!(
            "  node {:>2}{}: found {} (fallback {}) in step {} ({}) after {} cycles, {} answers",
            x.node,
            if s.background {
                " (after fail-over)"
            } else {
                ""
            },
            s.replica.map_or("nothing".into(), |n| format!("node {n}")),
            s.fallback.map_or("-".into(), |n| n.to_string()),
            s.step,
            s.scope,
            s.cycles,
            s.answers
        );
    }
    if let Some(v) = r.killed {
        println!(
            "replica node {v} killed at cycle {} (runtime stopped: heartbeat gone, its card refuses requests)",
            r.killed_at_cycle
        );
    }
    println!(
        "calls: {} issued, {} completed exactly once, {} failed; {} resent after a refusal, {} after a timeout; {} rule fail-overs in the cards; first reply from another replica {} cycles after the kill",
        r.calls,
        r.completed,
        r.failed,
        r.resent_on_nack,
        r.resent_on_timeout,
        r.failovers,
        r.failover_cycles.map_or("-".into(), |c| c.to_string())
    );
    println!(
        "served per replica: {:?}; after the kill: {:?}",
        r.served_per_replica, r.served_after_kill
    );
    println!();
    sv::print_routes(d.routes.node, &d.routes.routes);
    println!();
    sv::print_services(&d.service_tables);
    println!();
    for x in &d.rules {
        sv::print_rules(x.node, &x.rules);
    }
}
