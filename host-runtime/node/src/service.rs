//! What a node hosts, and the example service.

use replimesh_driver::ServiceId;
use replimesh_spec::NodeId;

/// A service a node hosts: requests in, replies out (payload flits).
pub trait Service {
    /// Its id in the presence table and the rules.
    fn id(&self) -> ServiceId;
    /// Handles one request from `from`; the reply goes back as an `ack`.
    fn handle(&mut self, from: NodeId, request: &[u64]) -> Vec<u64>;
    /// Load level to report in discovery answers (0 idle .. 255 full).
    fn load(&self) -> u8;
}

/// The example: a replicated **sequence service** handing out tickets that
/// are unique across the whole mesh without any coordination between
/// replicas: `ticket = counter << 8 | replica node`, the counter
/// incrementing at each replica. A client retrying the same request is
/// answered from the runtime's reply cache, so a ticket is never issued
/// twice for one call.
///
/// Request: one flit, the client's own tag (echoed). Reply: `[tag, ticket,
/// replica node]`.
pub struct SequenceService {
    id: ServiceId,
    node: NodeId,
    counter: u64,
    served: u64,
}

impl SequenceService {
    /// The service `id` on `node`.
    pub fn new(id: ServiceId, node: NodeId) -> Self {
        Self {
            id,
            node,
            counter: 0,
            served: 0,
        }
    }
}

impl Service for SequenceService {
    fn id(&self) -> ServiceId {
        self.id
    }

    fn handle(&mut self, _from: NodeId, request: &[u64]) -> Vec<u64> {
        self.counter += 1;
        self.served += 1;
        let tag = request.first().copied().unwrap_or(0);
        vec![
            tag,
            self.counter << 8 | self.node.0 as u64,
            self.node.0 as u64,
        ]
    }

    /// Load grows with the tickets handed out (coarse, saturating): enough
    /// for searchers to prefer a fresher replica.
    fn load(&self) -> u8 {
        (self.served / 64).min(255) as u8
    }
}

/// Decodes a sequence-service reply: (tag, ticket, replica).
pub fn ticket(reply: &[u64]) -> Option<(u64, u64, u8)> {
    match reply {
        [tag, t, n, ..] => Some((*tag, *t, *n as u8)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_are_unique_across_replicas() {
        let id = ServiceId::new(1).unwrap();
        let mut a = SequenceService::new(id, NodeId(3));
        let mut b = SequenceService::new(id, NodeId(7));
        let mut seen = std::collections::HashSet::new();
        for i in 0..100 {
            let (_, t, _) = ticket(&a.handle(NodeId(0), &[i])).unwrap();
            assert!(seen.insert(t));
            let (tag, t, n) = ticket(&b.handle(NodeId(0), &[i])).unwrap();
            assert!(seen.insert(t));
            assert_eq!((tag, n), (i, 7));
        }
    }
}
