//! The per-node runtime of replimesh: hosts replicated services and calls
//! them by service id, with the card doing discovery, addressing and
//! fail-over (see `docs/services.md`).
//!
//! [`NodeRuntime`] is synchronous over a [`replimesh_driver::Device`], so the
//! same code drives a VFIO card or the Verilator model; [`run_node`] is its
//! tokio task. On the Verilator card every node's device shares one model
//! (`Rc<RefCell<_>>`), so the nodes run as local tasks of one
//! current-thread runtime: each poll's register accesses clock the model.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cluster;
pub mod control_plane;
pub mod fault_manager;
pub mod policy;
pub mod reliable;
pub mod runtime;
pub mod service;

pub use cluster::Cluster;
pub use control_plane::{ControlPlane, ControlPlaneConfig, ControlPlaneStats, Phase};
pub use fault_manager::{Fault, FaultManager, FaultManagerConfig, FaultSite, Isolation, Symptom};
pub use policy::{parse_scope, scope_name, step_name, PolicyError, SearchPolicy};
pub use reliable::{Message, SendError, TransportConfig, TransportStats, Unconfirmed};
pub use runtime::{CallError, Completion, NodeRuntime, NodeStats, RuntimeConfig, SearchReport};
pub use service::{ticket, SequenceService, Service};

use replimesh_driver::{Device, DriverError};
use std::cell::RefCell;
use std::rc::Rc;

/// A runtime shared between its task and the code that looks at it.
pub type SharedNode<D> = Rc<RefCell<NodeRuntime<D>>>;

/// The node's task: polls until `rounds` rounds ran (`None`: forever) or the
/// device fails; yields to the other nodes after every round. Aborting the
/// task is how the demo kills a node: its heartbeat stops, its lease runs
/// out, and its card refuses requests from then on.
pub async fn run_node<D: Device>(
    node: SharedNode<D>,
    rounds: Option<u64>,
) -> Result<(), DriverError> {
    let mut n = 0u64;
    loop {
        node.borrow_mut().poll()?;
        n += 1;
        if rounds.is_some_and(|r| n >= r) {
            return Ok(());
        }
        tokio::task::yield_now().await;
    }
}
