//! Packet header layout.
//!
//! A packet is a head flit followed by payload flits; a sideband `last` bit on
//! the link marks the tail, so the routers never count flits. The header is
//! two little-endian 32-bit words. Word 0 (the *routing word*) holds all a
//! router reads, and always sits in bits 31..0 of the head flit, so a router's
//! decode is the same for 32- and 64-bit flits. Word 1 travels in bits 63..32
//! of a 64-bit head flit, or in the second flit of a 32-bit packet.

/// Number of 32-bit words in a header.
pub const HEADER_WORDS: u8 = 2;
/// Header size in bits.
pub const HEADER_BITS: u32 = HEADER_WORDS as u32 * 32;
/// The header word a router decodes.
pub const ROUTING_WORD: u8 = 0;

/// One field of the header: where it lives and who reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderField {
    /// Field name, used for generated identifiers: lower snake case.
    pub name: &'static str,
    /// Header word (0 = routing word).
    pub word: u8,
    /// Least significant bit inside the word.
    pub lsb: u32,
    /// Width in bits.
    pub width: u32,
    /// What the field means.
    pub doc: &'static str,
    /// Which blocks read or write it.
    pub used_by: &'static str,
}

impl HeaderField {
    /// Mask of the field's bits inside its word.
    pub const fn mask(&self) -> u32 {
        if self.width == 32 {
            u32::MAX
        } else {
            ((1u32 << self.width) - 1) << self.lsb
        }
    }

    /// Largest value the field holds.
    pub const fn max(&self) -> u32 {
        if self.width == 32 {
            u32::MAX
        } else {
            (1u32 << self.width) - 1
        }
    }

    /// Extracts the field from its word.
    pub const fn get(&self, word: u32) -> u32 {
        (word & self.mask()) >> self.lsb
    }

    /// Returns `word` with the field set to `value`, or `None` when the value
    /// does not fit the field.
    pub const fn set(&self, word: u32, value: u32) -> Option<u32> {
        if value > self.max() {
            return None;
        }
        Some((word & !self.mask()) | (value << self.lsb))
    }
}

const fn field(
    name: &'static str,
    word: u8,
    lsb: u32,
    width: u32,
    doc: &'static str,
    used_by: &'static str,
) -> HeaderField {
    HeaderField {
        name,
        word,
        lsb,
        width,
        doc,
        used_by,
    }
}

/// Destination node id (`y << x_bits | x`), or group id for multicast kinds.
pub const FIELD_DEST: HeaderField = field(
    "dest",
    0,
    0,
    8,
    "destination node id (`y << x_bits | x`), or group id for multicast",
    "router: route table index",
);
/// Source node id, stamped by the ingress router.
pub const FIELD_SRC: HeaderField = field(
    "src",
    0,
    8,
    8,
    "source node id; overwritten by the ingress router, never trusted from the host",
    "ingress router writes; receivers read",
);
/// Packet kind, see [`PacketKind`].
pub const FIELD_KIND: HeaderField = field(
    "kind",
    0,
    16,
    3,
    "packet kind (unicast, multicast, scoped broadcast, discovery request/answer, control, ack, service request)",
    "router: unknown kinds are dropped and counted",
);
/// Deliver a fan-out packet to its own source too.
pub const FIELD_LOOPBACK: HeaderField = field(
    "loopback",
    0,
    19,
    1,
    "fan-out kinds: the source's own node receives a copy too (when it is a member / in scope)",
    "ingress router: clears the local copy unless set",
);
/// Hops left before the packet is dropped.
pub const FIELD_TTL: HeaderField = field(
    "ttl",
    0,
    20,
    5,
    "hops left; each router decrements it and drops the packet at zero",
    "router: decrement, drop and count at zero",
);
/// Scope of a broadcast: mode and hop radius.
pub const FIELD_SCOPE: HeaderField = field(
    "scope",
    0,
    25,
    6,
    "broadcast scope: mode (bits 5..4: 0 whole mesh, 1 source's row, 2 source's quadrant, 3 source's column) and hop radius (bits 3..0: 0 unlimited, else Manhattan distance from the source <= radius)",
    "router (fan-out), endpoint (discovery)",
);
/// Ask every router on the path to capture this packet.
pub const FIELD_TRACE: HeaderField = field(
    "trace",
    0,
    31,
    1,
    "trace flag: every router on the path captures (seq, in port, out port)",
    "router: trace capture register",
);
/// Sequence number, per source–destination pair.
pub const FIELD_SEQ: HeaderField = field(
    "seq",
    1,
    0,
    16,
    "sequence number, per source and destination",
    "endpoint, host: ordering and exactly-once checks",
);
/// Service id the packet is for.
pub const FIELD_SERVICE: HeaderField = field(
    "service",
    1,
    16,
    8,
    "service id (presence table and reroute rules index)",
    "endpoint, host",
);
/// Payload length in flits.
pub const FIELD_LEN: HeaderField = field(
    "len",
    1,
    24,
    8,
    "payload flits after the header flit(s); a fan-out packet may be at most the router FIFO depth (8) flits in all",
    "endpoint, host: checked against the `last` sideband; router (64-bit flits): oversize fan-out packets dropped",
);

/// All header fields, word by word, low bits first.
pub const HEADER_FIELDS: &[HeaderField] = &[
    FIELD_DEST,
    FIELD_SRC,
    FIELD_KIND,
    FIELD_LOOPBACK,
    FIELD_TTL,
    FIELD_SCOPE,
    FIELD_TRACE,
    FIELD_SEQ,
    FIELD_SERVICE,
    FIELD_LEN,
];

/// What a packet is. Values are the `kind` field's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketKind {
    /// Point to point, routed by the destination's table entry.
    Unicast = 0,
    /// To a multicast group (`dest` is the group id).
    Multicast = 1,
    /// To every node within `scope`.
    ScopedBroadcast = 2,
    /// Scoped broadcast asking who offers `service`.
    DiscoveryRequest = 3,
    /// Unicast answer to a discovery request.
    DiscoveryAnswer = 4,
    /// Control plane (link state) message.
    Control = 5,
    /// End-to-end acknowledgement (and a service's reply).
    Ack = 6,
    /// To a service, not a node: the sending endpoint fills `dest` from its
    /// reroute rule for `service` and sends the packet on as `unicast`.
    /// Only hosts write this kind; routers never see it (they drop it as
    /// unknown).
    ServiceRequest = 7,
}

impl PacketKind {
    /// Every kind, in encoding order.
    pub const ALL: [PacketKind; 8] = [
        PacketKind::Unicast,
        PacketKind::Multicast,
        PacketKind::ScopedBroadcast,
        PacketKind::DiscoveryRequest,
        PacketKind::DiscoveryAnswer,
        PacketKind::Control,
        PacketKind::Ack,
        PacketKind::ServiceRequest,
    ];

    /// Decodes a `kind` field value.
    pub fn from_bits(bits: u32) -> Option<PacketKind> {
        Self::ALL.into_iter().find(|k| *k as u32 == bits)
    }

    /// Name used in docs and CLI output.
    pub fn name(self) -> &'static str {
        match self {
            PacketKind::Unicast => "unicast",
            PacketKind::Multicast => "multicast",
            PacketKind::ScopedBroadcast => "scoped_broadcast",
            PacketKind::DiscoveryRequest => "discovery_request",
            PacketKind::DiscoveryAnswer => "discovery_answer",
            PacketKind::Control => "control",
            PacketKind::Ack => "ack",
            PacketKind::ServiceRequest => "service_request",
        }
    }

    /// Whether routers forward this kind point to point (wormhole, by the
    /// route table): every kind but the fan-out kinds and `service_request`
    /// (which the sending endpoint turns into `unicast`).
    pub fn is_point_to_point(self) -> bool {
        !self.is_fanout() && self != PacketKind::ServiceRequest
    }

    /// Whether routers replicate this kind (virtual cut-through, at most the
    /// FIFO depth in flits): multicast by the group table, scoped broadcast
    /// and discovery requests along the scope's spanning tree.
    pub fn is_fanout(self) -> bool {
        matches!(
            self,
            PacketKind::Multicast | PacketKind::ScopedBroadcast | PacketKind::DiscoveryRequest
        )
    }

    /// Whether routers send this kind along the scoped broadcast tree.
    pub fn is_scoped(self) -> bool {
        matches!(
            self,
            PacketKind::ScopedBroadcast | PacketKind::DiscoveryRequest
        )
    }

    /// Highest kind value a router forwards point to point.
    pub const MAX_ROUTED: u32 = PacketKind::Ack as u32;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_set_rejects_values_that_do_not_fit() {
        assert_eq!(FIELD_TTL.set(0, 32), None);
        assert_eq!(FIELD_TTL.set(0, 31), Some(31 << 20));
        assert_eq!(FIELD_TTL.get(31 << 20 | 0xF_FFFF), 31);
    }

    #[test]
    fn kinds_round_trip() {
        for k in PacketKind::ALL {
            assert_eq!(PacketKind::from_bits(k as u32), Some(k));
        }
        assert_eq!(PacketKind::from_bits(8), None);
        assert!(!PacketKind::ServiceRequest.is_point_to_point());
        assert!(!PacketKind::ServiceRequest.is_fanout());
        assert!(PacketKind::ALL
            .iter()
            .all(|k| (*k as u32) <= FIELD_KIND.max()));
    }
}
