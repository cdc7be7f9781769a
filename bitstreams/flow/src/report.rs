//! Reading the tools' JSON (yosys `stat -json`, nextpnr `--report`) and the
//! per-design report the flow prints.

use crate::error::{io_err, FlowError};
use crate::tools::ToolVersions;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Cell counts by type from a yosys `stat -json` file (the whole design).
pub fn yosys_cells(path: &Path) -> Result<BTreeMap<String, u64>, FlowError> {
    let v = read_json(path)?;
    let cells = v
        .pointer("/design/num_cells_by_type")
        .and_then(Value::as_object)
        .ok_or_else(|| FlowError::Parse {
            path: path.into(),
            what: "no design.num_cells_by_type".into(),
        })?;
    Ok(cells
        .iter()
        .filter_map(|(k, n)| n.as_u64().map(|n| (k.clone(), n)))
        .collect())
}

/// What nextpnr's `--report` says: used cells by type, and the worst clock.
#[derive(Debug, Clone, PartialEq)]
pub struct PnrReport {
    /// `utilization.<type>.used`.
    pub used: BTreeMap<String, u64>,
    /// Lowest achieved Fmax over the clocks, MHz.
    pub fmax_mhz: f64,
    /// Its constraint, MHz.
    pub target_mhz: f64,
}

/// Parses nextpnr's `--report` JSON.
pub fn nextpnr_report(path: &Path) -> Result<PnrReport, FlowError> {
    let v = read_json(path)?;
    let bad = |what: &str| FlowError::Parse {
        path: path.into(),
        what: what.into(),
    };
    let used = v
        .get("utilization")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("no utilization"))?
        .iter()
        .filter_map(|(k, u)| {
            u.get("used")
                .and_then(Value::as_u64)
                .map(|n| (k.clone(), n))
        })
        .collect();
    let (fmax_mhz, target_mhz) = v
        .get("fmax")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("no fmax"))?
        .values()
        .filter_map(|c| Some((c.get("achieved")?.as_f64()?, c.get("constraint")?.as_f64()?)))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .ok_or_else(|| bad("no clock in fmax"))?;
    Ok(PnrReport {
        used,
        fmax_mhz,
        target_mhz,
    })
}

fn read_json(path: &Path) -> Result<Value, FlowError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    serde_json::from_str(&text).map_err(|e| FlowError::Parse {
        path: path.into(),
        what: e.to_string(),
    })
}

/// LUT equivalents of Xilinx LUT-RAM primitives (LUTs each occupies).
const XILINX_LUTRAM: &[(&str, u64)] = &[
    ("RAM32M", 4),
    ("RAM64M", 4),
    ("RAM32M16", 8),
    ("RAM64M8", 8),
    ("RAM32X1D", 2),
    ("RAM64X1D", 2),
    ("RAM128X1D", 4),
    ("RAM32X1S", 1),
    ("RAM64X1S", 1),
];

/// Sum of the counts of `types` in `cells`.
pub fn count(cells: &BTreeMap<String, u64>, types: &[&str]) -> u64 {
    types.iter().filter_map(|t| cells.get(*t)).sum()
}

/// Xilinx estimate from `synth_xilinx` cells: logic LUTs, LUTs used as RAM, FFs.
pub fn xilinx_estimate(cells: &BTreeMap<String, u64>) -> (u64, u64, u64) {
    let lut = count(cells, &["LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6"]);
    let lutram = XILINX_LUTRAM
        .iter()
        .map(|(t, n)| cells.get(*t).copied().unwrap_or(0) * n)
        .sum();
    let ff = count(cells, &["FDRE", "FDSE", "FDCE", "FDPE"]);
    (lut, lutram, ff)
}

/// Placed resources (nextpnr, design plus wrapper).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Placed {
    /// `TRELLIS_COMB` used: LUT4 sites, including those holding LUT-RAM and carries.
    pub logic_cells: u64,
    /// `TRELLIS_FF` used.
    pub ff: u64,
    /// `TRELLIS_RAMW` used (write ports of LUT-RAM).
    pub ramw: u64,
    /// `DP16KD` used.
    pub bram: u64,
    /// `MULT18X18D` used.
    pub dsp: u64,
    /// `TRELLIS_IO` used.
    pub io: u64,
}

/// What the board wrapper added (board synthesis minus design synthesis).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WrapperCost {
    /// Design input bits fed by the scan chain.
    pub input_bits: u32,
    /// Design output bits folded into the signature.
    pub output_bits: u32,
    /// LUT4 added.
    pub lut4: i64,
    /// `TRELLIS_FF` added.
    pub ff: i64,
}

/// Per-design report: the JSON `meshctl hw report --json` prints.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DesignReport {
    /// Design name.
    pub design: String,
    /// `router` or `mesh`.
    pub shape: String,
    /// Mesh geometry (for a router: the mesh it sits in).
    pub mesh: String,
    /// Flit width in bits.
    pub flit_bits: u32,
    /// Routers in the design.
    pub routers: u32,
    /// Whether the routers have the fan-out logic (`-nomc` designs leave it out).
    pub multicast: bool,
    /// FPGA part.
    pub device: String,
    /// Package.
    pub package: String,
    /// Design alone, yosys `synth_ecp5`: LUT4 cells (wide-LUT muxes counted apart).
    pub lut4: u64,
    /// Design alone: `TRELLIS_FF`.
    pub ff: u64,
    /// Design alone: `DP16KD` block RAMs.
    pub bram: u64,
    /// Design alone: `MULT18X18D` DSPs.
    pub dsp: u64,
    /// Design alone: `TRELLIS_DPR16X4` LUT-RAMs (16×4 each, 4 LUT4 sites + 1 RAMW).
    pub lutram_dpr16x4: u64,
    /// Design alone: `CCU2C` carry cells (2 LUT4 sites each).
    pub ccu2c: u64,
    /// Design alone: `PFUMX` + `L6MUX21` wide-LUT muxes.
    pub widemux: u64,
    /// nextpnr `TRELLIS_COMB` used by design plus wrapper.
    pub logic_cells: u64,
    /// Everything nextpnr placed (design plus wrapper).
    pub placed: Placed,
    /// What the wrapper added.
    pub wrapper: WrapperCost,
    /// Achieved Fmax from nextpnr's timing analysis, MHz.
    pub fmax_mhz: f64,
    /// The LPF's `FREQUENCY` constraint, MHz.
    pub target_mhz: f64,
    /// Design alone, yosys `synth_xilinx -flatten -noiopad`: logic LUTs (LUT1..LUT6).
    pub xilinx_lut: u64,
    /// LUTs used as distributed RAM (RAM32M = 4, ...).
    pub xilinx_lutram: u64,
    /// Flip-flops.
    pub xilinx_ff: u64,
    /// Bitstream path (relative to the output folder).
    pub bitstream: String,
    /// SHA-256 of the bitstream, hex.
    pub bitstream_sha256: String,
    /// Tool versions.
    pub tools: ToolVersions,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xilinx_estimate_counts_lutram_as_luts() {
        let cells: BTreeMap<String, u64> = [("LUT2", 3), ("LUT6", 2), ("RAM32M", 2), ("FDRE", 7)]
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        assert_eq!(xilinx_estimate(&cells), (5, 8, 7));
    }

    #[test]
    fn nextpnr_report_takes_worst_clock() {
        let dir = std::env::temp_dir().join(format!("rm-pnr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("r.json");
        std::fs::write(
            &p,
            r#"{"utilization":{"TRELLIS_COMB":{"used":10,"available":99}},
               "fmax":{"a":{"achieved":150.5,"constraint":200.0},"b":{"achieved":90.0,"constraint":100.0}}}"#,
        )
        .unwrap();
        let r = nextpnr_report(&p).unwrap();
        assert_eq!(r.used["TRELLIS_COMB"], 10);
        assert_eq!((r.fmax_mhz, r.target_mhz), (90.0, 100.0));
        std::fs::write(&p, r#"{"utilization":{}}"#).unwrap();
        assert!(matches!(nextpnr_report(&p), Err(FlowError::Parse { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
