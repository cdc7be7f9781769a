//! `bitstreams/manifest.json`: one entry per design of the last recorded run
//! (design, device, tool versions, bitstream digest, date, git hash). The
//! bitstreams themselves are build output in `bitstreams/out/`, never committed;
//! the manifest is committed so a card's bitstream can be traced to a commit,
//! and `meshctl card info` compares a card's ID with it.

use crate::error::{io_err, FlowError};
use crate::tools::ToolVersions;
use std::path::Path;

/// One built bitstream.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ManifestEntry {
    /// Design name (see `designs.rs`).
    pub design: String,
    /// FPGA part.
    pub device: String,
    /// Package.
    pub package: String,
    /// Board the constraints are for.
    pub board: String,
    /// Bitstream file, relative to the repository root.
    pub bitstream: String,
    /// SHA-256 of the bitstream, hex.
    pub sha256: String,
    /// Bitstream size.
    pub bytes: u64,
    /// UTC date of the build, RFC 3339.
    pub date: String,
    /// `git rev-parse HEAD` of the tree built, `-dirty` when it had changes.
    pub git_hash: String,
    /// Value of the router ID register the design answers with (hex).
    pub id_value: String,
    /// Achieved Fmax, MHz.
    pub fmax_mhz: f64,
    /// Tool versions.
    pub tools: ToolVersions,
}

/// The manifest file.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The command that regenerates it.
    pub command: String,
    /// One entry per design, in build order.
    pub entries: Vec<ManifestEntry>,
}

/// The command that writes the committed manifest.
pub const MANIFEST_COMMAND: &str = "cargo run --release -p meshctl -- hw report --json";

impl Manifest {
    /// Reads `path`; a missing file is an empty manifest.
    pub fn load(path: &Path) -> Result<Manifest, FlowError> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| FlowError::Parse {
                path: path.into(),
                what: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest {
                command: MANIFEST_COMMAND.into(),
                entries: vec![],
            }),
            Err(e) => Err(io_err(path)(e)),
        }
    }

    /// Replaces the entry of the same design, or appends.
    pub fn upsert(&mut self, entry: ManifestEntry) {
        match self.entries.iter_mut().find(|e| e.design == entry.design) {
            Some(e) => *e = entry,
            None => self.entries.push(entry),
        }
    }

    /// The entry of `design`.
    pub fn entry(&self, design: &str) -> Option<&ManifestEntry> {
        self.entries.iter().find(|e| e.design == design)
    }

    /// Writes `path` (pretty JSON, trailing newline).
    pub fn save(&self, path: &Path) -> Result<(), FlowError> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| FlowError::Parse {
            path: path.into(),
            what: e.to_string(),
        })?;
        text.push('\n');
        std::fs::write(path, text).map_err(io_err(path))
    }
}
