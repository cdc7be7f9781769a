//! `meshctl`: runs the simulated fabric and measures it.
//!
//! ```text
//! meshctl demo [--json]
//! meshctl bench noc --mesh 4x4 --pattern uniform --packet-flits 1 --json
//! meshctl hw report --json
//! meshctl card load | bind BDF | info BDF
//! meshctl bench multicast --mesh 4x4 --json
//! meshctl bench host --mesh 4x4 --json
//! meshctl dump --mesh 2x2 --node 3
//! meshctl routes --node 5 [--json]
//! meshctl services [--node 5] [--json]
//! meshctl rules --node 0 [--json]
//! meshctl quarantine --node 3 [--json]
//! meshctl bench discovery --mesh 4x4 --json
//! meshctl bench faults --mesh 4x4 --faults 10000 --seed 1 --json [--quick]
//! meshctl bench all --out DIR [--quick]
//! meshctl bench report --in docs/bench --out docs/performance.md
//! ```

mod bench;
mod bench_host;
mod card;
mod demo;
mod dump;
mod faults;
mod hw;
mod multicast;
mod plots;
mod report;
mod reroute;
mod services;
mod suite;

use clap::{Parser, Subcommand};
use replimesh_spec::MeshGeometry;

#[derive(Parser)]
#[command(
    name = "meshctl",
    about = "replimesh: simulate, inspect and measure the mesh"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Simulate a 4x4 mesh in Verilator, send traffic, show deliveries and packet paths.
    Demo {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Expanding-search policy file (TOML, see docs/services.md); the default is one hop, quadrant, mesh.
        #[arg(long)]
        policy: Option<std::path::PathBuf>,
    },
    /// Benchmarks (print JSON).
    Bench {
        #[command(subcommand)]
        what: BenchCmd,
    },
    /// Walk one node's register blocks on the simulated card and print them.
    Dump {
        /// Card size WxH (a card model must be built for it).
        #[arg(long, default_value = "2x2", value_parser = MeshGeometry::parse)]
        mesh: MeshGeometry,
        /// Dense node index (y * width + x).
        #[arg(long, default_value_t = 0)]
        node: usize,
    },
    /// Route table of one node (destination -> primary port, alternate port, state), read from the card after the service scenario.
    Routes {
        /// Dense node index on the 4x4 card.
        #[arg(long)]
        node: usize,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Presence tables (service -> present, accepting, load) after the service scenario.
    Services {
        /// One node only (dense index); every node when absent.
        #[arg(long)]
        node: Option<usize>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Reroute rules of one node (service -> replica, fallback) after the service scenario.
    Rules {
        /// Dense node index on the 4x4 card.
        #[arg(long)]
        node: usize,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Quarantine a node (as another node's runtime) after the service scenario; show every card's quarantine bitmap.
    Quarantine {
        /// Dense node index to quarantine.
        #[arg(long)]
        node: usize,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Every node's fault-manager view after the fault scenario on the 4x4
    /// card (a link cut, a dead router, a dead host, a flapping link, a node
    /// sending malformed adverts), each node locating them on its own.
    Faults {
        /// Seed of the traffic.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Hardware: open-flow synthesis, place and route, area and Fmax.
    Hw {
        #[command(subcommand)]
        what: hw::HwCmd,
    },
    /// Card bring-up: load a bitstream, bind to vfio-pci, check the card's ID.
    Card {
        #[command(subcommand)]
        what: card::CardCmd,
    },
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Network-on-chip latency and throughput under synthetic traffic.
    Noc {
        /// Mesh size WxH.
        #[arg(long, default_value = "4x4", value_parser = MeshGeometry::parse)]
        mesh: MeshGeometry,
        /// uniform, transpose, bitcomp or hotspot.
        #[arg(long, default_value = "uniform", value_parser = replimesh_scoreboard::Pattern::parse)]
        pattern: replimesh_scoreboard::Pattern,
        /// Flits per packet, header included (>= 1 with 64-bit flits).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
        packet_flits: u32,
        /// Cycles per sample window (warm-up and measured windows alike; a
        /// load point runs windows until its averages converge).
        #[arg(long, default_value_t = 4000, value_parser = clap::value_parser!(u64).range(100..=10_000_000))]
        measure_cycles: u64,
        /// Measured windows per load point at most.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
        max_windows: u32,
        /// Convergence tolerance: relative change of the running averages between windows.
        #[arg(long, default_value_t = 0.05, value_parser = parse_tolerance)]
        tolerance: f64,
        /// RNG seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// JSON output (the only format; accepted for symmetry).
        #[arg(long)]
        json: bool,
    },
    /// Every benchmark: one JSON file each, index.json and SVG plots in DIR.
    All {
        /// Output folder (created).
        #[arg(long)]
        out: std::path::PathBuf,
        /// About two minutes: few load points, short windows, 2x2 and 4x4
        /// only, a few reroute cuts, no hardware flow; every file still written.
        #[arg(long)]
        quick: bool,
        /// Hardware designs for `hw report` when its tools are found (repeatable).
        #[arg(long = "hw-design", default_value = "router-w64")]
        hw_designs: Vec<String>,
        /// Leave out `hw report` even when its tools are found.
        #[arg(long)]
        no_hw: bool,
    },
    /// Renders docs/performance.md's generated sections from a `bench all` folder.
    Report {
        /// Folder `bench all` wrote.
        #[arg(long = "in")]
        input: std::path::PathBuf,
        /// Markdown file whose generated sections are replaced (written from
        /// scratch with every section when it does not exist).
        #[arg(long)]
        out: std::path::PathBuf,
        /// Redraw the folder's SVG plots from its JSON first.
        #[arg(long)]
        plots: bool,
    },
    /// In-network broadcast and multicast against unicast repetition.
    Multicast {
        /// Mesh size WxH.
        #[arg(long, default_value = "4x4", value_parser = MeshGeometry::parse)]
        mesh: MeshGeometry,
        /// Source node (dense index y * width + x).
        #[arg(long, default_value_t = 0)]
        source: usize,
        /// Flits per packet, header included (a fan-out packet fits the 8-flit FIFO).
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=8))]
        packet_flits: u32,
        /// RNG seed for the group members of the size sweep.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// JSON output (the only format; accepted for symmetry).
        #[arg(long)]
        json: bool,
    },
    /// Replicated services: hardware discovery cycles and messages, fail-over time.
    Discovery {
        /// Card size WxH (the scenario runs on 4x4).
        #[arg(long, default_value = "4x4", value_parser = MeshGeometry::parse)]
        mesh: MeshGeometry,
        /// JSON output (the only format; accepted for symmetry).
        #[arg(long)]
        json: bool,
    },
    /// Fault tolerance: every mesh link cut in turn under load (recovery,
    /// losses, deadlocks) and saturation with one link down.
    Reroute {
        /// Mesh size WxH (a mesh model must be built for it).
        #[arg(long, default_value = "4x4", value_parser = MeshGeometry::parse)]
        mesh: MeshGeometry,
        /// Cut only this many links, spread evenly over the link list (default: every link).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        cuts: Option<u64>,
        /// JSON output (the only format; accepted for symmetry).
        #[arg(long)]
        json: bool,
    },
    /// Fault campaign: reliable traffic on the card model while faults of
    /// every kind are injected; counts what was lost, repeated or missed.
    Faults {
        /// Card size WxH (a card model must be built for it).
        #[arg(long, default_value = "4x4", value_parser = MeshGeometry::parse)]
        mesh: MeshGeometry,
        /// Faults to inject (default 10000; 30 with --quick).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        faults: Option<u64>,
        /// The test command's size: 30 faults.
        #[arg(long)]
        quick: bool,
        /// RNG seed (the campaign is reproducible from it).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// JSON output (the only format; accepted for symmetry).
        #[arg(long)]
        json: bool,
    },
    /// Host interface: doorbell-to-ring latency, packet rate, doorbells per packet.
    Host {
        /// Card size WxH (a card model must be built for it).
        #[arg(long, default_value = "4x4", value_parser = MeshGeometry::parse)]
        mesh: MeshGeometry,
        /// Payload flits per packet (8 bytes each, after the 8-byte header).
        #[arg(long, default_value_t = 1)]
        payload_flits: usize,
        /// Cycles measured at saturation.
        #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1000..=10_000_000))]
        measure_cycles: u64,
        /// RNG seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// JSON output (the only format; accepted for symmetry).
        #[arg(long)]
        json: bool,
    },
}

/// A relative tolerance in (0, 1).
fn parse_tolerance(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if t > 0.0 && t < 1.0 => Ok(t),
        _ => Err(format!(
            "tolerance '{s}': use a fraction between 0 and 1, e.g. 0.05"
        )),
    }
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            if code == 2 {
                // One clear line, not a page of usage.
                // (the first paragraph: clap puts a missing argument's name
                // on the line after "not provided:").
                let msg = e.to_string();
                let first: Vec<&str> = msg
                    .lines()
                    .take_while(|l| !l.trim().is_empty())
                    .map(str::trim)
                    .collect();
                let first = if first.is_empty() {
                    "bad arguments".to_string()
                } else {
                    first.join(" ")
                };
                eprintln!("meshctl: {}", first.trim_start_matches("error: "));
            } else {
                let _ = e.print();
            }
            std::process::exit(code);
        }
    };
    let result = match cli.cmd {
        Cmd::Demo { json, policy } => demo::run(json, policy.as_deref()),
        Cmd::Bench {
            what:
                BenchCmd::Noc {
                    mesh,
                    pattern,
                    packet_flits,
                    measure_cycles,
                    max_windows,
                    tolerance,
                    seed,
                    json: _,
                },
        } => bench::noc(&bench::NocOptions {
            window_cycles: measure_cycles,
            max_windows,
            tolerance,
            seed,
            ..bench::NocOptions::new(mesh, pattern, packet_flits as usize)
        }),
        Cmd::Bench {
            what:
                BenchCmd::All {
                    out,
                    quick,
                    hw_designs,
                    no_hw,
                },
        } => suite::run(&suite::SuiteOptions {
            out,
            quick,
            hw_designs: if no_hw { vec![] } else { hw_designs },
        }),
        Cmd::Bench {
            what: BenchCmd::Report { input, out, plots },
        } => report::run(&input, &out, plots),
        Cmd::Dump { mesh, node } => dump::dump(mesh, node),
        Cmd::Routes { node, json } => services::tables("routes", Some(node), json),
        Cmd::Services { node, json } => services::tables("services", node, json),
        Cmd::Rules { node, json } => services::tables("rules", Some(node), json),
        Cmd::Quarantine { node, json } => services::tables("quarantine", Some(node), json),
        Cmd::Faults { seed, json } => faults::view(seed, json),
        Cmd::Bench {
            what: BenchCmd::Discovery { mesh, json: _ },
        } => services::bench(mesh),
        Cmd::Bench {
            what:
                BenchCmd::Reroute {
                    mesh,
                    cuts,
                    json: _,
                },
        } => reroute::run(mesh, cuts.map(|c| c as usize)),
        Cmd::Bench {
            what:
                BenchCmd::Faults {
                    mesh,
                    faults: n,
                    quick,
                    seed,
                    json: _,
                },
        } => faults::run(mesh, n, quick, seed),
        Cmd::Hw { what } => hw::run(what),
        Cmd::Card { what } => card::run(what),
        Cmd::Bench {
            what:
                BenchCmd::Multicast {
                    mesh,
                    source,
                    packet_flits,
                    seed,
                    json: _,
                },
        } => multicast::run(mesh, source, packet_flits as usize, seed),
        Cmd::Bench {
            what:
                BenchCmd::Host {
                    mesh,
                    payload_flits,
                    measure_cycles,
                    seed,
                    json: _,
                },
        } => bench_host::host(mesh, payload_flits, measure_cycles, seed),
    };
    if let Err(e) = result {
        eprintln!("meshctl: {e:#}");
        std::process::exit(1);
    }
}
