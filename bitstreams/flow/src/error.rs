//! The flow's one error type.

use std::path::PathBuf;

/// Why a step of the flow failed. Every variant names the file or tool involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlowError {
    /// A tool is not installed. Never skipped silently: the message says how to install it.
    #[error("{tool} not found on PATH or in ~/.local/bin: run `bash scripts/ensure-fpga-tools.sh` (pip install --user -r bitstreams/ecp5/requirements.txt)")]
    ToolMissing {
        /// Executable name.
        tool: String,
    },
    /// A tool could not be started.
    #[error("starting {tool} in {}", dir.display())]
    Spawn {
        /// Executable name.
        tool: String,
        /// Working directory.
        dir: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A tool ran and failed.
    #[error("{tool} failed ({status}) in {}; see {}:\n{tail}", dir.display(), log.display())]
    ToolFailed {
        /// Executable name.
        tool: String,
        /// Exit status.
        status: String,
        /// Working directory.
        dir: PathBuf,
        /// Its full log.
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
    /// `verilator --lint-only -Wall` rejected a file.
    #[error("verilator lint of {} failed:\n{stderr}", file.display())]
    Lint {
        /// The file linted.
        file: PathBuf,
        /// Verilator's messages.
        stderr: String,
    },
    /// Reading or writing a file failed.
    #[error("accessing {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A tool's JSON output (or the manifest) did not have the expected shape.
    #[error("parsing {}: {what}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was missing or malformed.
        what: String,
    },
    /// The generated Verilog has no `top` module with ports.
    #[error("generated Verilog has no module `top` with ports")]
    NoTop,
    /// A design name not in the design list.
    #[error("unknown design '{name}': known designs are {known}")]
    UnknownDesign {
        /// The name asked for.
        name: String,
        /// The names that exist.
        known: String,
    },
}

/// Shorthand for I/O errors on a path.
pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> FlowError {
    let path = path.into();
    move |source| FlowError::Io { path, source }
}
