//! `meshctl card load`: program a board with openFPGALoader, after checking
//! that the bitstream is the one the manifest records.

use crate::error::CardError;
use replimesh_bitstreams::ManifestEntry;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// openFPGALoader's name for the ECP5 Evaluation Board the flow targets.
pub const DEFAULT_BOARD: &str = "ecp5_evn";

/// Finds `openFPGALoader` on `PATH`.
pub fn find_loader() -> Result<PathBuf, CardError> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join("openFPGALoader"))
        .find(|p| p.is_file())
        .ok_or(CardError::LoaderMissing)
}

/// Refuses a bitstream whose digest differs from the manifest entry.
pub fn check_bitstream(path: &Path, entry: &ManifestEntry) -> Result<(), CardError> {
    let bytes = std::fs::read(path).map_err(|source| CardError::Read {
        path: path.into(),
        source,
    })?;
    let actual: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if actual != entry.sha256 {
        return Err(CardError::StaleBitstream {
            path: path.into(),
            actual,
            expected: entry.sha256.clone(),
        });
    }
    Ok(())
}

/// Whether `list` (the output of `openFPGALoader --list-boards`) names `board`.
pub fn board_listed(list: &str, board: &str) -> bool {
    list.lines()
        .any(|l| l.split_whitespace().next() == Some(board))
}

/// Loads `bitstream` into `board`'s SRAM with `loader` (volatile: lost at power-off).
pub fn load(loader: &Path, board: &str, bitstream: &Path) -> Result<(), CardError> {
    let run = |args: &[&std::ffi::OsStr]| {
        Command::new(loader)
            .args(args)
            .output()
            .map_err(|e| CardError::LoaderFailed {
                status: "not started".into(),
                stderr: e.to_string(),
            })
    };
    let list = run(&["--list-boards".as_ref()])?;
    let text =
        String::from_utf8_lossy(&list.stdout).to_string() + &String::from_utf8_lossy(&list.stderr);
    if !board_listed(&text, board) {
        return Err(CardError::BoardUnsupported(board.into()));
    }
    let out = run(&["-b".as_ref(), board.as_ref(), bitstream.as_os_str()])?;
    if !out.status.success() {
        return Err(CardError::LoaderFailed {
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        });
    }
    Ok(())
}
