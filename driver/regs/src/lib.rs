//! Host-side views of the wire formats defined in `replimesh-spec`.
//!
//! [`PacketHeader`] is the decoded header; [`HeaderWords`] is its exact
//! in-memory layout (two little-endian words, `zerocopy`), the form it takes
//! in DMA buffers. Field positions come from the spec's table, never from
//! literals here. [`regmap`] holds typed handles on the host-interface
//! registers and the ring descriptor layouts, from the same spec.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod regmap;
pub use regmap::{BarOffset, Iova, Reg, RxDesc, TxDesc};

use replimesh_spec::{
    GroupId, HeaderField, NodeId, PacketKind, Scope, FIELD_DEST, FIELD_KIND, FIELD_LEN,
    FIELD_LOOPBACK, FIELD_SCOPE, FIELD_SEQ, FIELD_SERVICE, FIELD_SRC, FIELD_TRACE, FIELD_TTL,
};
use zerocopy::byteorder::little_endian::U32;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// The two header words as they sit in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct HeaderWords {
    /// Routing word.
    pub word0: U32,
    /// Sequence, service and length.
    pub word1: U32,
}

const _: () =
    assert!(core::mem::size_of::<HeaderWords>() * 8 == replimesh_spec::HEADER_BITS as usize);

/// Why a header could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// A value does not fit its field.
    #[error("header field {field} cannot hold {value} (max {max})")]
    FieldOverflow {
        /// Field name.
        field: &'static str,
        /// Value given.
        value: u32,
        /// Largest value the field holds.
        max: u32,
    },
    /// The kind field holds no known kind.
    #[error("header kind {0} is not a known packet kind")]
    UnknownKind(u32),
}

/// A decoded packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PacketHeader {
    /// Destination node (or group for multicast).
    pub dest: u8,
    /// Source node: stamped by the ingress router, ignored when sent.
    pub src: u8,
    /// Packet kind.
    pub kind: PacketKind,
    /// Fan-out kinds: the source gets its own copy too.
    pub loopback: bool,
    /// Hops left.
    pub ttl: u8,
    /// Broadcast scope.
    pub scope: u8,
    /// Ask routers to trace this packet.
    pub trace: bool,
    /// Sequence number.
    pub seq: u16,
    /// Service id.
    pub service: u8,
    /// Payload flits after the header.
    pub len: u8,
}

fn put(word: u32, f: &HeaderField, value: u32) -> Result<u32, HeaderError> {
    f.set(word, value).ok_or(HeaderError::FieldOverflow {
        field: f.name,
        value,
        max: f.max(),
    })
}

impl PacketHeader {
    /// A unicast header to `dest` with the largest TTL.
    pub fn unicast(dest: NodeId, seq: u16, len: u8) -> Self {
        Self {
            dest: dest.0,
            src: 0,
            kind: PacketKind::Unicast,
            loopback: false,
            ttl: FIELD_TTL.max() as u8,
            scope: 0,
            trace: false,
            seq,
            service: 0,
            len,
        }
    }

    /// A multicast header to `group` with the largest TTL.
    pub fn multicast(group: GroupId, seq: u16, len: u8, loopback: bool) -> Self {
        Self {
            dest: group.0,
            kind: PacketKind::Multicast,
            loopback,
            ..Self::unicast(NodeId(0), seq, len)
        }
    }

    /// A scoped broadcast header with the largest TTL; `None` when the scope's
    /// radius does not fit its field.
    pub fn broadcast(scope: Scope, seq: u16, len: u8, loopback: bool) -> Option<Self> {
        Some(Self {
            kind: PacketKind::ScopedBroadcast,
            scope: scope.encode()?,
            loopback,
            ..Self::unicast(NodeId(0), seq, len)
        })
    }

    /// Encodes into the two header words.
    pub fn encode(&self) -> Result<[u32; 2], HeaderError> {
        let mut w0 = put(0, &FIELD_DEST, self.dest.into())?;
        w0 = put(w0, &FIELD_SRC, self.src.into())?;
        w0 = put(w0, &FIELD_KIND, self.kind as u32)?;
        w0 = put(w0, &FIELD_LOOPBACK, self.loopback.into())?;
        w0 = put(w0, &FIELD_TTL, self.ttl.into())?;
        w0 = put(w0, &FIELD_SCOPE, self.scope.into())?;
        w0 = put(w0, &FIELD_TRACE, self.trace.into())?;
        let mut w1 = put(0, &FIELD_SEQ, self.seq.into())?;
        w1 = put(w1, &FIELD_SERVICE, self.service.into())?;
        w1 = put(w1, &FIELD_LEN, self.len.into())?;
        Ok([w0, w1])
    }

    /// Decodes two header words.
    pub fn decode(words: [u32; 2]) -> Result<Self, HeaderError> {
        let [w0, w1] = words;
        let kind = FIELD_KIND.get(w0);
        Ok(Self {
            dest: FIELD_DEST.get(w0) as u8,
            src: FIELD_SRC.get(w0) as u8,
            kind: PacketKind::from_bits(kind).ok_or(HeaderError::UnknownKind(kind))?,
            loopback: FIELD_LOOPBACK.get(w0) != 0,
            ttl: FIELD_TTL.get(w0) as u8,
            scope: FIELD_SCOPE.get(w0) as u8,
            trace: FIELD_TRACE.get(w0) != 0,
            seq: FIELD_SEQ.get(w1) as u16,
            service: FIELD_SERVICE.get(w1) as u8,
            len: FIELD_LEN.get(w1) as u8,
        })
    }

    /// The in-memory layout.
    pub fn to_words(&self) -> Result<HeaderWords, HeaderError> {
        let [a, b] = self.encode()?;
        Ok(HeaderWords {
            word0: U32::new(a),
            word1: U32::new(b),
        })
    }

    /// The header as head flits of `flit_bits` (32: two flits, 64: one).
    pub fn to_flits(&self, flit_bits: u32) -> Result<Vec<u64>, HeaderError> {
        let [a, b] = self.encode()?;
        Ok(match flit_bits {
            32 => vec![a as u64, b as u64],
            _ => vec![a as u64 | (b as u64) << 32],
        })
    }

    /// Number of header flits at `flit_bits`.
    pub fn header_flits(flit_bits: u32) -> usize {
        if flit_bits == 32 {
            2
        } else {
            1
        }
    }

    /// Decodes the header from the first flits of a packet.
    pub fn from_flits(flits: &[u64], flit_bits: u32) -> Option<Result<Self, HeaderError>> {
        let words = match flit_bits {
            32 => [*flits.first()? as u32, *flits.get(1)? as u32],
            _ => {
                let f = *flits.first()?;
                [f as u32, (f >> 32) as u32]
            }
        };
        Some(Self::decode(words))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kind() -> impl Strategy<Value = PacketKind> {
        prop::sample::select(PacketKind::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn header_round_trips(dest: u8, src: u8, k in kind(), loopback: bool, ttl in 0u8..32, scope in 0u8..64,
                              trace: bool, seq: u16, service: u8, len: u8, bits in prop::sample::select(vec![32u32, 64])) {
            let h = PacketHeader { dest, src, kind: k, loopback, ttl, scope, trace, seq, service, len };
            let flits = h.to_flits(bits).unwrap();
            prop_assert_eq!(flits.len(), PacketHeader::header_flits(bits));
            prop_assert_eq!(PacketHeader::from_flits(&flits, bits).unwrap().unwrap(), h);
            let words = h.to_words().unwrap();
            let bytes = words.as_bytes();
            prop_assert_eq!(HeaderWords::read_from_bytes(bytes).unwrap(), words);
        }
    }

    #[test]
    fn rejects_values_that_do_not_fit() {
        let mut h = PacketHeader::unicast(NodeId(3), 1, 0);
        h.ttl = 32;
        assert_eq!(
            h.encode(),
            Err(HeaderError::FieldOverflow {
                field: "ttl",
                value: 32,
                max: 31
            })
        );
        // Every 3-bit kind value is a kind since `service_request` (7).
        assert_eq!(
            PacketHeader::decode([0x7 << 16, 0]).map(|h| h.kind),
            Ok(PacketKind::ServiceRequest)
        );
        // The loopback bit sits just above the 3-bit kind.
        let mut m = PacketHeader::multicast(GroupId(5), 0, 0, true);
        assert_eq!(m.encode().unwrap()[0] & 0xF_0000, (1 << 19) | (1 << 16));
        m.loopback = false;
        assert_eq!(m.encode().unwrap()[0] & 0xF_0000, 1 << 16);
    }
}
