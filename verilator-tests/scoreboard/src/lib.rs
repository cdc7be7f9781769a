//! Checking and loading the simulated fabric.
//!
//! - [`Scoreboard`]: every packet sent must come out exactly once, at its
//!   destination, with its header and payload intact, and (unless routes
//!   change underneath it) in order per source–destination pair; anything
//!   else is reported, and what never arrives is reported lost.
//! - [`Pattern`]: the classic synthetic traffic patterns.
//! - [`run_traffic`]: Bernoulli injection at an offered load, a measured
//!   window, then a drain that must deliver everything;
//!   [`run_traffic_steady`]: the same sources, sampled until steady.
//! - [`bound`]: analytic throughput bounds (busiest channel, bisection).
//! - [`fault_run::FaultRun`]: traffic with failures injected, the control
//!   plane's reroute, and the books checked against what a failure may lose.
#![forbid(unsafe_code)]

pub mod bound;
pub mod fault_run;
mod patterns;
mod runner;
mod scoreboard;

pub use patterns::Pattern;
pub use runner::{
    make_fanout_packet, make_fanout_packet_either, make_packet, payload_flit, run_traffic,
    run_traffic_steady, zero_load, PairLatency, PatternZeroLoad, SteadyConfig, SteadyResult,
    TrafficConfig, TrafficResult, ZeroLoad,
};
pub use scoreboard::{Finding, Report, Scoreboard};
