//! Every node of a card in one process: the runtimes as local tokio tasks of
//! one current-thread runtime (the Verilator card is one model shared by all
//! nodes). Used by the demo, the benches and the tests; on real hardware
//! each node runs its own process with [`crate::run_node`].

use crate::{run_node, NodeRuntime, RuntimeConfig, SharedNode};
use replimesh_driver::{Device, DriverError, Endpoint};
use std::cell::{RefCell, RefMut};
use std::rc::Rc;

/// The nodes of one card.
pub struct Cluster<D: Device> {
    nodes: Vec<SharedNode<D>>,
    alive: Vec<bool>,
    paused: Vec<bool>,
}

impl<D: Device + 'static> Cluster<D> {
    /// One runtime per opened endpoint, in node order.
    pub fn new(eps: Vec<Endpoint<D>>, cfg: &RuntimeConfig) -> Result<Self, DriverError> {
        let mut nodes = vec![];
        for ep in eps {
            nodes.push(Rc::new(RefCell::new(NodeRuntime::new(ep, cfg.clone())?)));
        }
        let alive = vec![true; nodes.len()];
        let paused = vec![false; nodes.len()];
        Ok(Self {
            nodes,
            alive,
            paused,
        })
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node `i`'s runtime.
    pub fn node(&self, i: usize) -> RefMut<'_, NodeRuntime<D>> {
        self.nodes[i].borrow_mut()
    }

    /// Whether node `i`'s runtime still runs.
    pub fn is_alive(&self, i: usize) -> bool {
        self.alive[i]
    }

    /// Stops node `i`'s runtime for good, as a crash would: no more polls,
    /// no more heartbeats. Its card keeps running.
    pub fn kill(&mut self, i: usize) {
        self.alive[i] = false;
    }

    /// Stalls node `i`'s host for a while, as a busy or descheduled host
    /// would: it is not polled (its rings fill, its heartbeats stop) until
    /// [`Cluster::resume`]. Unlike [`Cluster::kill`], it stays alive.
    pub fn pause(&mut self, i: usize) {
        self.paused[i] = true;
    }

    /// Ends a [`Cluster::pause`].
    pub fn resume(&mut self, i: usize) {
        self.paused[i] = false;
    }

    /// Whether node `i`'s host is stalled by [`Cluster::pause`].
    pub fn is_paused(&self, i: usize) -> bool {
        self.paused[i]
    }

    /// Puts a new runtime in node `i`'s place (its host restarted) and
    /// runs it.
    pub fn replace(&mut self, i: usize, node: NodeRuntime<D>) {
        self.nodes[i] = Rc::new(RefCell::new(node));
        self.alive[i] = true;
        self.paused[i] = false;
    }

    /// Runs every live node's task for `rounds` polls each, concurrently on
    /// one tokio runtime; then returns.
    pub fn run(&mut self, rounds: u64) -> Result<(), DriverError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| DriverError::Backend {
                backend: "tokio",
                message: e.to_string(),
            })?;
        let local = tokio::task::LocalSet::new();
        let tasks: Vec<_> = self
            .nodes
            .iter()
            .zip(self.alive.iter().zip(&self.paused))
            .filter(|(_, (a, p))| **a && !**p)
            .map(|(n, _)| local.spawn_local(run_node(n.clone(), Some(rounds))))
            .collect();
        local.block_on(&rt, async {
            for t in tasks {
                t.await.map_err(|e| DriverError::Backend {
                    backend: "tokio",
                    message: e.to_string(),
                })??;
            }
            Ok(())
        })
    }

    /// Runs rounds of `step` polls until `done` says so or `max_rounds` ran;
    /// returns whether `done` held.
    pub fn run_until(
        &mut self,
        step: u64,
        max_rounds: u64,
        mut done: impl FnMut(&mut Self) -> bool,
    ) -> Result<bool, DriverError> {
        for _ in 0..max_rounds {
            if done(self) {
                return Ok(true);
            }
            self.run(step)?;
        }
        Ok(done(self))
    }
}
