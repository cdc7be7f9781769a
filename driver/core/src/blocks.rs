//! Walking the self-describing register blocks (after Corundum's
//! `mqnic_reg_block.c`): start at offset 0, follow next pointers, stop at a
//! zero pointer, refuse pointers past the window and loops.

use crate::{Device, DriverError};
use replimesh_regs::BarOffset;
use replimesh_spec::regmap::{
    BlockSpec, BLOCK_HEADER_BYTES, BLOCK_NEXT_OFFSET, BLOCK_TYPE_OFFSET, BLOCK_VERSION_OFFSET,
};
use replimesh_spec::BlockVersion;

/// Most blocks a chain may hold; a longer chain is treated as a loop.
pub const MAX_BLOCKS: usize = 256;

/// Reads a register, treating all-ones as a vanished card.
pub fn read_checked<D: Device + ?Sized>(
    dev: &mut D,
    offset: BarOffset,
) -> Result<u32, DriverError> {
    if offset.0 + 4 > dev.window_bytes() {
        return Err(DriverError::OutOfWindow {
            offset,
            window_bytes: dev.window_bytes(),
        });
    }
    match dev.read32(offset)? {
        u32::MAX => Err(DriverError::DeviceGone { offset }),
        v => Ok(v),
    }
}

/// One block found on the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundBlock {
    /// Type word (vendor << 16 | kind).
    pub type_word: u32,
    /// Version.
    pub version: BlockVersion,
    /// Window offset of the block header.
    pub base: BarOffset,
}

/// The blocks of one window, in chain order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlockMap {
    blocks: Vec<FoundBlock>,
}

impl BlockMap {
    /// Walks the chain from offset 0.
    pub fn walk<D: Device + ?Sized>(dev: &mut D) -> Result<BlockMap, DriverError> {
        let window = dev.window_bytes();
        let mut blocks: Vec<FoundBlock> = vec![];
        let mut at = BarOffset(0);
        loop {
            if at.0 + BLOCK_HEADER_BYTES as u64 > window {
                return Err(DriverError::OutOfWindow {
                    offset: at,
                    window_bytes: window,
                });
            }
            let type_word = read_checked(dev, at.add(BLOCK_TYPE_OFFSET))?;
            let version = BlockVersion::from_word(read_checked(dev, at.add(BLOCK_VERSION_OFFSET))?);
            let next = read_checked(dev, at.add(BLOCK_NEXT_OFFSET))?;
            blocks.push(FoundBlock {
                type_word,
                version,
                base: at,
            });
            if next == 0 {
                return Ok(BlockMap { blocks });
            }
            if next % 4 != 0 || next as u64 + BLOCK_HEADER_BYTES as u64 > window {
                return Err(DriverError::ChainOutOfWindow { at, next });
            }
            if blocks.iter().any(|b| b.base.0 == next as u64) || blocks.len() >= MAX_BLOCKS {
                return Err(DriverError::ChainLoop { at, next });
            }
            at = BarOffset(next as u64);
        }
    }

    /// Every block, in chain order.
    pub fn blocks(&self) -> &[FoundBlock] {
        &self.blocks
    }

    /// The `index`th block of `type_word` with major version `major`.
    pub fn find(&self, type_word: u32, major: u8, index: usize) -> Result<FoundBlock, DriverError> {
        self.blocks
            .iter()
            .filter(|b| b.type_word == type_word && b.version.major == major)
            .nth(index)
            .copied()
            .ok_or(DriverError::BlockNotFound {
                type_word,
                major,
                index,
            })
    }

    /// The first block matching `spec`; a block of the right type but another
    /// major version is an [`DriverError::IncompatibleVersion`].
    pub fn find_spec(&self, spec: &BlockSpec) -> Result<FoundBlock, DriverError> {
        self.find(spec.type_word(), spec.version.major, 0)
            .map_err(
                |e| match self.blocks.iter().find(|b| b.type_word == spec.type_word()) {
                    Some(b) => DriverError::IncompatibleVersion {
                        what: spec.name,
                        found: b.version,
                        supported: spec.version,
                    },
                    None => e,
                },
            )
    }
}
