//! The single source of truth for replimesh's wire formats and addresses.
//!
//! Everything that must agree between the RTL, the host driver and the docs is
//! written here once, as `const` data: the packet header layout, the packet
//! kinds, the port numbering, the mesh geometry rules, the router's
//! configuration registers and the host-interface register map
//! ([`regmap`]: self-describing blocks, error causes, ring descriptors). The RTL header decoder, the host-side
//! encoder/decoder and `docs/packet-format.md` are all generated from these
//! tables, so they cannot drift apart.
//!
//! This crate has no dependencies on purpose: the hardware generator, the
//! driver and the tests all depend on it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod fanout;
mod geometry;
mod header;
pub mod reconfig;
pub mod regmap;
mod router_regs;
pub mod routing;
pub mod service;
#[cfg(test)]
mod test_rng;

pub use fanout::{GroupId, Scope, ScopeMode, GROUP_TABLE_ENTRIES};
pub use geometry::{dor_route, MeshGeometry, NodeId, PortDir, Route, MAX_MESH_DIM, MIN_MESH_DIM};
pub use header::{
    HeaderField, PacketKind, FIELD_DEST, FIELD_KIND, FIELD_LEN, FIELD_LOOPBACK, FIELD_SCOPE,
    FIELD_SEQ, FIELD_SERVICE, FIELD_SRC, FIELD_TRACE, FIELD_TTL, HEADER_BITS, HEADER_FIELDS,
    HEADER_WORDS, ROUTING_WORD,
};
pub use regmap::{spec_hash, validate_regmap, BlockSpec, BlockVersion, RegAccess, RegSpec};
pub use router_regs::{
    addr as router_addr, Access, RouterReg, GROUP_TABLE_BASE, LINK_HOLDDOWN_DEFAULT,
    LINK_STABLE_DEFAULT, LINK_TIMEOUT_DEFAULT, NO_ROUTE_ENTRY, REROUTE_WAIT_DEFAULT,
    ROUTER_ID_VALUE, ROUTER_REGS, ROUTE_TABLE_BANK1_BASE, ROUTE_TABLE_BASE,
};

/// Flit widths the generator supports, in bits.
pub const FLIT_WIDTHS: [u32; 2] = [32, 64];

/// Errors found while checking the spec tables for consistency.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpecError {
    /// Two header fields share a bit.
    FieldOverlap(&'static str, &'static str),
    /// A header field does not fit in its 32-bit word.
    FieldOutOfWord(&'static str),
    /// Two router registers share an address.
    RegisterOverlap(&'static str, &'static str),
}

impl core::fmt::Display for SpecError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SpecError::FieldOverlap(a, b) => write!(f, "header fields {a} and {b} overlap"),
            SpecError::FieldOutOfWord(a) => write!(f, "header field {a} does not fit its word"),
            SpecError::RegisterOverlap(a, b) => {
                write!(f, "router registers {a} and {b} share an address")
            }
        }
    }
}

impl std::error::Error for SpecError {}

/// Checks the tables: fields inside their words and disjoint, registers at
/// distinct addresses below the route table.
pub fn validate() -> Result<(), SpecError> {
    for (i, a) in HEADER_FIELDS.iter().enumerate() {
        if a.lsb + a.width > 32 || a.word >= HEADER_WORDS || a.width == 0 {
            return Err(SpecError::FieldOutOfWord(a.name));
        }
        for b in &HEADER_FIELDS[i + 1..] {
            if a.word == b.word && a.lsb < b.lsb + b.width && b.lsb < a.lsb + a.width {
                return Err(SpecError::FieldOverlap(a.name, b.name));
            }
        }
    }
    // The route table holds up to 256 entries; the group table follows it.
    if ROUTE_TABLE_BASE + 256 > GROUP_TABLE_BASE {
        return Err(SpecError::RegisterOverlap("route_tbl", "group_tbl"));
    }
    // Bank 1 follows the group table (up to 256 entries too).
    if GROUP_TABLE_BASE + 256 > ROUTE_TABLE_BANK1_BASE {
        return Err(SpecError::RegisterOverlap("group_tbl", "route_tbl1"));
    }
    for (i, a) in ROUTER_REGS.iter().enumerate() {
        if a.addr >= ROUTE_TABLE_BASE {
            return Err(SpecError::RegisterOverlap(a.name, "route_tbl"));
        }
        for b in &ROUTER_REGS[i + 1..] {
            if a.addr == b.addr {
                return Err(SpecError::RegisterOverlap(a.name, b.name));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_tables_are_consistent() {
        assert_eq!(validate(), Ok(()));
    }

    #[test]
    fn header_words_are_fully_described() {
        // Every bit of the two header words belongs to exactly one field, so
        // nothing on the wire is left undocumented.
        for word in 0..HEADER_WORDS {
            let used: u32 = HEADER_FIELDS
                .iter()
                .filter(|f| f.word == word)
                .map(|f| f.mask())
                .fold(0, |acc, m| {
                    assert_eq!(acc & m, 0);
                    acc | m
                });
            assert_eq!(used, u32::MAX, "word {word} has undocumented bits");
        }
    }
}
