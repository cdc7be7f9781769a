//! Replicated services on the wire: the payloads of discovery requests and
//! answers, the control messages endpoints act on (refusals, quarantine),
//! and the sizes of the service tables.
//!
//! Every packet here is two 64-bit flits (head + one payload flit); the
//! payload's first 32-bit word carries the fields below, the second word is
//! zero. Endpoints check the length and drop anything else as malformed.
//! `docs/services.md` tells the whole protocol.

use crate::header::HeaderField;

/// Entries of the presence table and the reroute rules: service ids 0..63.
/// Service id 0 means "no service" and is never looked up.
pub const SERVICE_ENTRIES: u32 = 64;
/// Steps of the expanding-search policy.
pub const SEARCH_STEPS: u32 = 8;
/// Payload flits of every discovery and control packet.
pub const SERVICE_PAYLOAD_FLITS: u8 = 1;

/// Reset value of `search_config`: one step, a 16-cycle answer window.
pub const SEARCH_CONFIG_RESET: u32 = 16 << 16 | 1;
/// Reset value of every policy entry: the whole mesh, 1024 cycles.
pub const POLICY_RESET: u32 = 1024 << 8;

const fn word(name: &'static str, lsb: u32, width: u32, doc: &'static str) -> HeaderField {
    HeaderField {
        name,
        word: 0,
        lsb,
        width,
        doc,
        used_by: "endpoint service unit",
    }
}

/// Discovery request payload: answer only when your load is at most this.
pub const REQ_MAX_LOAD: HeaderField = word(
    "max_load",
    0,
    8,
    "discovery request: replicas whose load is above this stay silent",
);
/// Discovery answer payload: the responder's load.
pub const ANS_LOAD: HeaderField = word(
    "load",
    0,
    8,
    "discovery answer: the responder's load for the service",
);
/// Control payload: what to do.
pub const CTRL_OPCODE: HeaderField = word("opcode", 0, 8, "control message: see `ControlOp`");
/// Control payload: the node a quarantine message is about, or the refusing
/// reason of a `nack`.
pub const CTRL_ARG: HeaderField = word(
    "arg",
    8,
    8,
    "control message: node to quarantine or release, or whose host is down (`host_down`); `nack`: why (see `NackReason`)",
);

/// Payload fields, for the docs.
pub const PAYLOAD_FIELDS: &[HeaderField] = &[REQ_MAX_LOAD, ANS_LOAD, CTRL_OPCODE, CTRL_ARG];

/// What a `control` packet asks an endpoint to do. Endpoints act on these in
/// hardware and still deliver the packet to their host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ControlOp {
    /// The sender refuses the service packet with this `seq` and `service`:
    /// the receiver's rule for the service switches to its fallback when the
    /// refusal comes from the rule's current replica.
    Nack = 1,
    /// Quarantine node `arg`: drop its traffic, ignore its answers; when
    /// `arg` is the receiver itself, drop everything its host sends.
    Quarantine = 2,
    /// Lift the quarantine of node `arg`.
    Release = 3,
    /// Node `arg`'s host is down: its card refused a request with
    /// `host_down` (the lease ran out). The node that saw the refusal tells
    /// every node, and each runtime moves its rules off `arg` at once
    /// instead of waiting for a refusal of its own. Cards pass it to the
    /// host and change nothing themselves.
    HostDown = 4,
    /// A link-state advert of node `arg` (`host-runtime/node/src/control_plane.rs`):
    /// the only control message longer than one payload flit, its opcode
    /// word last (so the card reads it with the tail). Cards pass it to the
    /// host and change nothing; the hosts flood it to their neighbours.
    LinkState = 5,
}

impl ControlOp {
    /// Every opcode.
    pub const ALL: [ControlOp; 5] = [
        ControlOp::Nack,
        ControlOp::Quarantine,
        ControlOp::Release,
        ControlOp::HostDown,
        ControlOp::LinkState,
    ];
    /// Decodes an opcode.
    pub fn from_code(code: u32) -> Option<ControlOp> {
        Self::ALL.into_iter().find(|o| *o as u32 == code)
    }
    /// Name for docs and tools.
    pub fn name(self) -> &'static str {
        match self {
            ControlOp::Nack => "nack",
            ControlOp::Quarantine => "quarantine",
            ControlOp::Release => "release",
            ControlOp::HostDown => "host_down",
            ControlOp::LinkState => "link_state",
        }
    }
}

/// Why an endpoint refused a service packet (`arg` of a `nack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum NackReason {
    /// The service is not present here.
    Absent = 1,
    /// Present but not accepting.
    NotAccepting = 2,
    /// The host's lease ran out: the node's host is down.
    HostDown = 3,
}

impl NackReason {
    /// Every reason.
    pub const ALL: [NackReason; 3] = [
        NackReason::Absent,
        NackReason::NotAccepting,
        NackReason::HostDown,
    ];
    /// Decodes a reason.
    pub fn from_code(code: u32) -> Option<NackReason> {
        Self::ALL.into_iter().find(|r| *r as u32 == code)
    }
}

/// State of the search engine (`search_status.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SearchState {
    /// No search since reset.
    Idle = 0,
    /// Requests are out.
    Running = 1,
    /// A replica answered.
    Found = 2,
    /// No replica answered within the last step's timeout.
    NotFound = 3,
}

impl SearchState {
    /// Decodes the 2-bit field.
    pub fn from_code(code: u32) -> SearchState {
        match code & 3 {
            0 => SearchState::Idle,
            1 => SearchState::Running,
            2 => SearchState::Found,
            _ => SearchState::NotFound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcodes_round_trip_and_fit() {
        for o in ControlOp::ALL {
            assert_eq!(ControlOp::from_code(o as u32), Some(o));
            assert!((o as u32) <= CTRL_OPCODE.max());
        }
        assert_eq!(ControlOp::from_code(0), None);
    }

    #[test]
    fn reset_values_decode_through_the_register_fields() {
        use crate::regmap::service::{POLICY, SEARCH_CONFIG};
        let t = |n| POLICY.field(n).unwrap().get(POLICY_RESET);
        assert_eq!((t("scope"), t("timeout_cycles")), (0, 1024));
        let c = |n| SEARCH_CONFIG.field(n).unwrap().get(SEARCH_CONFIG_RESET);
        assert_eq!((c("steps"), c("window_cycles")), (1, 16));
    }
}
