//! `meshctl card info`: read the card's ID through VFIO and compare it with
//! the manifest before anything else touches the card.
//!
//! BAR0 layout of the placeholder AXI-Lite shim (bitstreams/xilinx/rtl/
//! axil_cfg_shim.v) until the endpoint (issue 5) brings its own register
//! blocks: router `node`'s configuration register `reg` (a word address of
//! the router's register map) sits at byte offset `node << 12 | reg << 2`.

use crate::error::CardError;
use replimesh_bitstreams::ManifestEntry;
use replimesh_spec::router_addr;

/// Register reads from the card; implemented for a VFIO BAR, faked in tests.
pub trait RegRead {
    /// Reads the 32-bit register at byte `offset` of BAR0.
    fn read32(&self, offset: u64) -> Result<u32, CardError>;
}

impl RegRead for replimesh_vfio::Bar {
    fn read32(&self, offset: u64) -> Result<u32, CardError> {
        match replimesh_vfio::Bar::read32(self, replimesh_vfio::BarOffset(offset)) {
            Err(replimesh_vfio::VfioError::DeviceGone { .. }) => {
                Err(CardError::DeviceGone { offset })
            }
            other => Ok(other?),
        }
    }
}

/// BAR0 byte offset of router `node`'s register `reg` through the shim.
pub fn cfg_offset(node: u8, reg: u32) -> u64 {
    (u64::from(node) << 12) | (u64::from(reg) << 2)
}

/// What the card told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardInfo {
    /// Router 0's ID register.
    pub id: u32,
    /// Router 0's node id register.
    pub node_id: u32,
}

/// Reads router 0's ID and node id; refuses all-ones and an ID that differs
/// from the manifest entry's.
pub fn read_info(regs: &impl RegRead, entry: &ManifestEntry) -> Result<CardInfo, CardError> {
    let read = |reg: u32| -> Result<u32, CardError> {
        let offset = cfg_offset(0, reg);
        match regs.read32(offset)? {
            u32::MAX => Err(CardError::DeviceGone { offset }),
            v => Ok(v),
        }
    };
    let id = read(router_addr::ID)?;
    let expected = u32::from_str_radix(entry.id_value.trim_start_matches("0x"), 16).ok();
    if expected != Some(id) {
        return Err(CardError::IdMismatch {
            card: id,
            manifest: entry.id_value.clone(),
            design: entry.design.clone(),
        });
    }
    let node_id = read(router_addr::NODE_ID)?;
    Ok(CardInfo { id, node_id })
}
