//! Replicated services on the Verilator card: the scenario the demo runs,
//! the tables `meshctl routes | services | rules` read back through the
//! register map, and `meshctl bench discovery`.
//!
//! Scenario: the sequence service on nodes 5, 10 and 15 of a 4x4 card;
//! every other node calls it; each client's first call starts the hardware
//! expanding search; a third of the way through, the busiest replica's
//! runtime is killed (its heartbeat stops, its card starts refusing) and the
//! clients' rules fail over. The scoreboard checks that every call completed
//! exactly once with its own reply and a ticket nobody else got.

use anyhow::{bail, ensure, Context, Result};
use replimesh_driver::{read_checked, Device, Endpoint, EndpointConfig, ServiceId};
use replimesh_node::{ticket, Cluster, RuntimeConfig, SearchPolicy, SearchReport, SequenceService};
use replimesh_sim::card::{CardSim, SimDevice};
use replimesh_spec::reconfig::table_banks_fields;
use replimesh_spec::regmap::{self as spec};
use replimesh_spec::{
    router_addr, MeshGeometry, NodeId, PortDir, Route, ROUTE_TABLE_BANK1_BASE, ROUTE_TABLE_BASE,
};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Service id of the example.
pub const SEQUENCE_SERVICE: u32 = 1;
/// Nodes hosting it.
pub const REPLICAS: [usize; 3] = [5, 10, 15];

fn svc() -> ServiceId {
    ServiceId::new(SEQUENCE_SERVICE).expect("valid id")
}

/// One client's discovery.
#[derive(Serialize, Clone)]
pub struct Discovery {
    /// Client node.
    pub node: u8,
    /// The search.
    #[serde(flatten)]
    pub search: SearchReport,
}

/// What the scenario did.
#[derive(Serialize)]
pub struct ScenarioReport {
    /// Mesh.
    pub mesh: String,
    /// Service id and name.
    pub service: String,
    /// Nodes hosting it.
    pub replicas: Vec<u8>,
    /// Every search the clients ran (first ones, then background ones).
    pub discoveries: Vec<Discovery>,
    /// Replica whose runtime was killed, and the cycle.
    pub killed: Option<u8>,
    /// Cycle of the kill.
    pub killed_at_cycle: u64,
    /// Calls issued.
    pub calls: u64,
    /// Calls completed with a reply (each exactly once).
    pub completed: u64,
    /// Calls failed.
    pub failed: u64,
    /// Calls resent after a refusal / a timeout.
    pub resent_on_nack: u64,
    /// Resends after timeouts.
    pub resent_on_timeout: u64,
    /// Rules switched by the cards.
    pub failovers: u64,
    /// Calls served per replica.
    pub served_per_replica: BTreeMap<u8, u64>,
    /// Calls served per replica after the kill.
    pub served_after_kill: BTreeMap<u8, u64>,
    /// Cycles from the kill to the first reply from another replica to a
    /// client whose rule named the victim.
    pub failover_cycles: Option<u64>,
    /// Cycles simulated.
    pub cycles: u64,
    /// Longest poll of any node's runtime, in cycles.
    pub max_poll_cycles: u64,
}

/// The card after a scenario, for the tables.
pub struct Scenario {
    /// The nodes.
    pub cluster: Cluster<SimDevice>,
    /// The report.
    pub report: ScenarioReport,
}

fn open(mesh: MeshGeometry) -> Result<Vec<Endpoint<SimDevice>>> {
    let card =
        CardSim::new(mesh).context("building the card model (is it built? see REPLIMESH_CARDS)")?;
    CardSim::devices(&card)
        .into_iter()
        .map(|d| Endpoint::open(d, EndpointConfig::default()).context("opening an endpoint"))
        .collect()
}

/// Runs the scenario: `calls_per_client` calls each, killing a replica a
/// third of the way through when `kill` is set.
pub fn scenario(calls_per_client: u64, kill: bool, policy: SearchPolicy) -> Result<Scenario> {
    let mesh = MeshGeometry::new(4, 4).expect("4x4");
    let cfg = RuntimeConfig {
        policy,
        ..RuntimeConfig::default()
    };
    let mut cluster = Cluster::new(open(mesh)?, &cfg)?;
    for &n in &REPLICAS {
        cluster
            .node(n)
            .register(Box::new(SequenceService::new(svc(), NodeId(n as u8))))?;
    }
    let clients: Vec<usize> = (0..16).filter(|n| !REPLICAS.contains(n)).collect();
    let total = clients.len() as u64 * calls_per_client;
    let mut issued: HashMap<(usize, u16), u64> = HashMap::new();
    let mut completed: HashSet<(usize, u16)> = HashSet::new();
    let mut tickets = HashSet::new();
    let mut served = BTreeMap::new();
    let mut served_after = BTreeMap::new();
    let mut failed = 0u64;
    let mut killed: Option<(usize, u64)> = None;
    let mut victims_clients: HashSet<usize> = HashSet::new();
    let mut failover_cycles = None;
    let mut rounds = 0u64;
    while (completed.len() as u64 + failed) < total {
        rounds += 1;
        if rounds > 20_000 {
            bail!(
                "scenario stalled: {} of {total} calls finished",
                completed.len() as u64 + failed
            );
        }
        for &c in &clients {
            let mut node = cluster.node(c);
            let sent = issued.keys().filter(|(n, _)| *n == c).count() as u64;
            if sent < calls_per_client && node.in_flight() < 2 {
                let tag = (c as u64) << 32 | sent;
                let seq = node.call(svc(), vec![tag]);
                issued.insert((c, seq), tag);
            }
            for done in node.take_completions() {
                let key = (c, done.seq);
                let reply = match done.result {
                    Ok(r) => r,
                    Err(_) => {
                        failed += 1;
                        continue;
                    }
                };
                let (tag, t, replica) = ticket(&reply).context("malformed reply")?;
                ensure!(
                    issued.get(&key) == Some(&tag),
                    "node {c}: reply to the wrong call"
                );
                ensure!(
                    completed.insert(key),
                    "node {c}: call {} completed twice",
                    done.seq
                );
                ensure!(tickets.insert(t), "ticket {t:#x} handed out twice");
                *served.entry(replica).or_insert(0) += 1;
                if let Some((victim, at)) = killed {
                    *served_after.entry(replica).or_insert(0) += 1;
                    if failover_cycles.is_none()
                        && victims_clients.contains(&c)
                        && replica as usize != victim
                    {
                        failover_cycles = Some(done.finished - at);
                    }
                }
            }
        }
        if kill && killed.is_none() && completed.len() as u64 >= total / 3 {
            let victim = *served
                .iter()
                .max_by_key(|(_, n)| **n)
                .map(|(r, _)| r)
                .context("nothing served yet")? as usize;
            for &c in &clients {
                let rule = cluster.node(c).endpoint().rule(svc())?;
                if rule.current() == Some(victim as u8) {
                    victims_clients.insert(c);
                }
            }
            let now = cluster.node(0).endpoint().device().now();
            cluster.kill(victim);
            killed = Some((victim, now));
        }
        cluster.run(1)?;
    }
    let mut discoveries = vec![];
    let (mut resent_nack, mut resent_timeout, mut failovers) = (0, 0, 0);
    let max_poll_cycles = (0..16)
        .map(|n| cluster.node(n).stats().max_poll_cycles)
        .max()
        .unwrap_or(0);
    for &c in &clients {
        let mut node = cluster.node(c);
        for s in node.searches() {
            discoveries.push(Discovery {
                node: c as u8,
                search: s.clone(),
            });
        }
        resent_nack += node.stats().resent_on_nack;
        resent_timeout += node.stats().resent_on_timeout;
        failovers += service_counter(node.endpoint(), "failovers_total")? as u64;
    }
    discoveries.sort_by_key(|d| (d.search.background, d.node));
    let cycles = cluster.node(0).endpoint().device().now();
    let report = ScenarioReport {
        mesh: "4x4".into(),
        service: format!("{SEQUENCE_SERVICE} (sequence)"),
        replicas: REPLICAS.iter().map(|n| *n as u8).collect(),
        discoveries,
        killed: killed.map(|(v, _)| v as u8),
        killed_at_cycle: killed.map_or(0, |(_, at)| at),
        calls: issued.len() as u64,
        completed: completed.len() as u64,
        failed,
        resent_on_nack: resent_nack,
        resent_on_timeout: resent_timeout,
        failovers,
        served_per_replica: served,
        served_after_kill: served_after,
        failover_cycles,
        cycles,
        max_poll_cycles,
    };
    Ok(Scenario { cluster, report })
}

/// A service-block register by name.
pub fn service_counter(ep: &mut Endpoint<SimDevice>, name: &str) -> Result<u32> {
    let reg = replimesh_regs::regmap::service_reg(name)
        .with_context(|| format!("no service register {name}"))?;
    Ok(ep.read(reg)?)
}

/// One route table row.
#[derive(Serialize)]
pub struct RouteRow {
    /// Destination node.
    pub dest: u8,
    /// Primary output port.
    pub primary: char,
    /// Alternate output port.
    pub alternate: char,
    /// `primary`, `alternate` (primary link down) or `unroutable`.
    pub state: &'static str,
    /// The route table bank the row was read from: the one holding the
    /// newest tables (`table_banks` bit 0, `cur`).
    pub bank: u8,
}

/// Reads node `node`'s newest route table bank and link state through its
/// window.
pub fn routes(ep: &mut Endpoint<SimDevice>, mesh: MeshGeometry) -> Result<Vec<RouteRow>> {
    let base = ep.blocks().find_spec(&spec::ROUTER_BLOCK)?.base;
    let at = |addr: u32| base.add(spec::ROUTER_CFG_OFFSET + 4 * addr);
    let down = read_checked(ep.device(), at(router_addr::LINK_DOWN))?;
    let (bank, _) = table_banks_fields(read_checked(ep.device(), at(router_addr::TABLE_BANKS))?);
    let table = if bank == 1 {
        ROUTE_TABLE_BANK1_BASE
    } else {
        ROUTE_TABLE_BASE
    };
    let mut out = vec![];
    for dest in mesh.node_ids() {
        let w = read_checked(ep.device(), at(table + dest.0 as u32))?;
        let r = Route::decode(w).with_context(|| format!("route entry {w:#x} for {}", dest.0))?;
        let is_down = |p: PortDir| p != PortDir::L && down >> (p as u32) & 1 != 0;
        let state = match (is_down(r.primary), is_down(r.alternate)) {
            (false, _) => "primary",
            (true, false) => "alternate",
            (true, true) => "unroutable",
        };
        out.push(RouteRow {
            dest: dest.0,
            primary: r.primary.letter(),
            alternate: r.alternate.letter(),
            state,
            bank,
        });
    }
    Ok(out)
}

/// One presence row.
#[derive(Serialize)]
pub struct ServiceRow {
    /// Node.
    pub node: u8,
    /// Service id.
    pub service: u8,
    /// Hosted.
    pub present: bool,
    /// Taking requests.
    pub accepting: bool,
    /// Load.
    pub load: u8,
    /// The host's liveness lease ran out (the card refuses for it).
    pub lease_expired: bool,
}

/// Node `n`'s presence table (entries in use).
pub fn services(ep: &mut Endpoint<SimDevice>) -> Result<Vec<ServiceRow>> {
    let status = service_counter(ep, "status")?;
    let expired = spec::service::STATUS
        .field("lease_expired")
        .expect("field")
        .get(status)
        != 0;
    let node = ep.node_id().0;
    let mut out = vec![];
    for id in ServiceId::all() {
        let p = ep.presence(id)?;
        if p.present || p.accepting || p.load != 0 {
            out.push(ServiceRow {
                node,
                service: id.get(),
                present: p.present,
                accepting: p.accepting,
                load: p.load,
                lease_expired: expired,
            });
        }
    }
    Ok(out)
}

/// One rule row.
#[derive(Serialize)]
pub struct RuleRow {
    /// Service.
    pub service: u8,
    /// Replica packets go to now.
    pub replica: Option<u8>,
    /// Primary replica.
    pub primary: u8,
    /// Fallback replica.
    pub fallback: Option<u8>,
    /// The card switched to the fallback.
    pub failed_over: bool,
}

/// Node `n`'s reroute rules (valid ones).
pub fn rules(ep: &mut Endpoint<SimDevice>) -> Result<Vec<RuleRow>> {
    let mut out = vec![];
    for id in ServiceId::all() {
        let r = ep.rule(id)?;
        if r.valid {
            out.push(RuleRow {
                service: id.get(),
                replica: r.current(),
                primary: r.primary,
                fallback: r.fallback,
                failed_over: r.use_fallback,
            });
        }
    }
    Ok(out)
}

fn opt(n: Option<u8>) -> String {
    n.map_or("-".into(), |n| n.to_string())
}

/// Prints the tables as text.
pub fn print_routes(node: u8, rows: &[RouteRow]) {
    println!("routes of node {node} (dest: primary/alternate state):");
    for r in rows {
        println!("  {:>3}: {}/{} {}", r.dest, r.primary, r.alternate, r.state);
    }
}

/// Prints presence rows.
pub fn print_services(rows: &[ServiceRow]) {
    println!("services (node service: present accepting load):");
    for r in rows {
        println!(
            "  node {:>2} service {}: present={} accepting={} load={}{}",
            r.node,
            r.service,
            r.present,
            r.accepting,
            r.load,
            if r.lease_expired {
                " (host lease expired: card refuses)"
            } else {
                ""
            }
        );
    }
}

/// Prints rule rows.
pub fn print_rules(node: u8, rows: &[RuleRow]) {
    println!("rules of node {node} (service -> replica, fallback):");
    if rows.is_empty() {
        println!("  (none)");
    }
    for r in rows {
        println!(
            "  service {} -> {} (primary {}, fallback {}{})",
            r.service,
            opt(r.replica),
            r.primary,
            opt(r.fallback),
            if r.failed_over { ", failed over" } else { "" }
        );
    }
}

/// `meshctl routes | services | rules | quarantine`: runs the scenario (with
/// the kill), then reads the tables of `node` (or every node for services);
/// `quarantine` first quarantines `node` from another node's runtime.
pub fn tables(what: &str, node: Option<usize>, json: bool) -> Result<()> {
    let mesh = MeshGeometry::new(4, 4).expect("4x4");
    if let Some(n) = node {
        ensure!(n < 16, "node {n} is not on the 4x4 card (nodes 0..=15)");
    }
    let s = scenario(4, true, SearchPolicy::default())?;
    let nodes: Vec<usize> = match node {
        Some(n) => vec![n],
        None => (0..16).collect(),
    };
    match what {
        "routes" => {
            let n = node.context("--node is required")?;
            let rows = routes(s.cluster.node(n).endpoint(), mesh)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({"node": n, "routes": rows}))?
                );
            } else {
                print_routes(n as u8, &rows);
            }
        }
        "services" => {
            let mut rows = vec![];
            let mut cluster = s.cluster;
            for n in nodes {
                rows.extend(services(cluster.node(n).endpoint())?);
                cluster.run(1)?; // live nodes keep their lease while we read
            }
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({"services": rows}))?
                );
            } else {
                print_services(&rows);
            }
        }
        "quarantine" => {
            let target = node.context("--node is required")?;
            let from = if target == 0 { 1 } else { 0 };
            // meshctl speaks as node `from`'s runtime: the notice goes to every card.
            s.cluster
                .node(from)
                .propagate_quarantine(target as u8, false)?;
            let mut cluster = s.cluster;
            cluster.run_until(1, 2_000, |c| {
                (0..16).all(|n| {
                    c.node(n)
                        .endpoint()
                        .quarantined()
                        .is_ok_and(|q| q.contains(&(target as u8)))
                })
            })?;
            let mut rows = vec![];
            for n in 0..16 {
                let mut node = cluster.node(n);
                let ep = node.endpoint();
                rows.push(serde_json::json!({
                    "node": n,
                    "quarantined": ep.quarantined()?,
                    "quarantine_drops_total": service_counter(ep, "quarantine_drops_total")?,
                }));
            }
            ensure!(
                rows.iter().all(|r| r["quarantined"]
                    .as_array()
                    .is_some_and(|q| q.iter().any(|x| x == target))),
                "the quarantine notice did not reach every card"
            );
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"quarantined": target, "by": from, "nodes": rows})
                    )?
                );
            } else {
                println!("node {target} quarantined by node {from}'s runtime; every card now drops its traffic:");
                for r in rows {
                    println!(
                        "  node {:>2}: quarantined {} (drops {})",
                        r["node"], r["quarantined"], r["quarantine_drops_total"]
                    );
                }
            }
        }
        _ => {
            let n = node.context("--node is required")?;
            let rows = rules(s.cluster.node(n).endpoint())?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({"node": n, "rules": rows}))?
                );
            } else {
                print_rules(n as u8, &rows);
            }
        }
    }
    Ok(())
}

/// `meshctl bench discovery`: prints what [`bench_measure`] measured.
pub fn bench(mesh: MeshGeometry) -> Result<()> {
    let out = bench_measure(mesh)?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// Search cycles in the smallest and the whole scope, discovery messages of
/// the expanding search against one whole-mesh broadcast, and fail-over time.
pub fn bench_measure(mesh: MeshGeometry) -> Result<serde_json::Value> {
    ensure!(
        mesh.width() == 4 && mesh.height() == 4,
        "the discovery bench runs on the 4x4 card"
    );
    let mut eps = open(mesh)?;
    let steps = replimesh_node::SearchPolicy::default().steps;
    for ep in eps.iter_mut() {
        ep.set_search_policy(&steps, 24)?;
    }
    // Replicas at 5, 10, 15; the searcher at 4 has 5 one hop away.
    for &n in &REPLICAS {
        eps[n].set_presence(
            svc(),
            replimesh_driver::Presence {
                present: true,
                accepting: true,
                load: 0,
            },
        )?;
    }
    let seen = |eps: &mut Vec<Endpoint<SimDevice>>| -> Result<u64> {
        let mut t = 0;
        for ep in eps.iter_mut() {
            t += service_counter(ep, "discovery_seen_total")? as u64
                + service_counter(ep, "discovery_answered_total")? as u64;
        }
        Ok(t)
    };
    let run = |eps: &mut Vec<Endpoint<SimDevice>>, who: usize| -> Result<(u32, u8, u64)> {
        let before = seen(eps)?;
        eps[who].start_search(svc(), 255, false)?;
        let st = eps[who].wait_search(100_000, 1)?;
        match st.state {
            replimesh_spec::service::SearchState::Found => {
                Ok((st.cycles, st.step, seen(eps)? - before))
            }
            s => bail!("search ended {s:?}"),
        }
    };
    let (local_cycles, local_step, local_msgs) = run(&mut eps, 4)?;
    // The same search as one whole-mesh broadcast.
    for ep in eps.iter_mut() {
        ep.set_search_policy(
            &[replimesh_driver::SearchStep {
                scope: replimesh_spec::Scope::MESH,
                timeout_cycles: 800,
                area: false,
            }],
            24,
        )?;
    }
    let (mesh_cycles, _, mesh_msgs) = run(&mut eps, 4)?;
    // From node 0 the nearest replica (5) is two hops: found in the quadrant.
    for ep in eps.iter_mut() {
        ep.set_search_policy(&steps, 24)?;
    }
    let (q_cycles, q_step, q_msgs) = run(&mut eps, 0)?;
    drop(eps);
    let s = scenario(6, true, SearchPolicy::default())?;
    let r = &s.report;
    ensure!(r.failed == 0, "{} calls failed", r.failed);
    let out = serde_json::json!({
        "bench": "discovery",
        "mesh": "4x4",
        "replicas": REPLICAS,
        "searcher": 4,
        "discovery_cycles_local": local_cycles,
        "discovery_local_step": local_step,
        "discovery_cycles_mesh": mesh_cycles,
        "discovery_messages_expanding": local_msgs,
        "discovery_messages_full_broadcast": mesh_msgs,
        "discovery_cycles_quadrant_from_node0": q_cycles,
        "discovery_quadrant_step": q_step,
        "discovery_messages_quadrant_from_node0": q_msgs,
        "failover_cycles": r.failover_cycles,
        "failover_calls": r.calls,
        "failover_failed": r.failed,
        "failover_resent_on_nack": r.resent_on_nack,
        "failover_resent_on_timeout": r.resent_on_timeout,
        "messages_counted": "discovery requests delivered to endpoints + answers sent (each counted once per endpoint)",
        "window_cycles": 24,
    });
    Ok(out)
}

/// Reads and checks a search policy file.
pub fn load_policy(path: Option<&std::path::Path>) -> Result<SearchPolicy> {
    let Some(path) = path else {
        return Ok(SearchPolicy::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the search policy {}", path.display()))?;
    SearchPolicy::from_toml(&text).with_context(|| format!("{}", path.display()))
}
