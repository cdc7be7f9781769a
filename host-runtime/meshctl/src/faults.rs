//! `meshctl bench faults`: the fault campaign on the Verilator card model
//! (`replimesh_campaign::campaign`): reliable streams between every pair of
//! nodes while link cuts and restores, router kills, host kills and
//! restarts, bit flips, malformed packets, ring overflows and quarantines
//! are injected; prints the report as JSON. `meshctl faults`: every node's
//! fault-manager view after the fault scenario
//! (`replimesh_campaign::fault_view`).

use anyhow::{bail, Context, Result};
use replimesh_campaign::campaign::{self, CampaignConfig};
use replimesh_campaign::fault_view;
use replimesh_sim::card::{built_cards, CardSim};
use replimesh_spec::MeshGeometry;

/// Runs `faults` faults (or the quick size) from `seed`; exits non-zero
/// when the campaign found something wrong, after printing the report.
pub fn run(mesh: MeshGeometry, faults: Option<u64>, quick: bool, seed: u64) -> Result<()> {
    if !built_cards().contains(&mesh) {
        let built: Vec<String> = built_cards()
            .iter()
            .map(|g| format!("{}x{}", g.width(), g.height()))
            .collect();
        bail!(
            "no card model is built for {}x{} (built: {})",
            mesh.width(),
            mesh.height(),
            built.join(", ")
        );
    }
    // Fail early and clearly if the model cannot be made.
    drop(CardSim::new(mesh).context("building the card model")?);
    let faults = match (faults, quick) {
        (Some(n), _) => n,
        (None, true) => CampaignConfig::QUICK_FAULTS,
        (None, false) => 10_000,
    };
    let cfg = CampaignConfig::new(mesh, faults, seed);
    let mut last = 0;
    let report = campaign::run(&cfg, |done, total| {
        if done * 10 / total.max(1) != last * 10 / total.max(1) {
            eprintln!("meshctl: {done} of {total} faults injected");
        }
        last = done;
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    if !report.clean() {
        bail!("the campaign found messages lost, repeated, reordered or corrupted, or a change that did not converge (see the report)");
    }
    Ok(())
}

/// Runs the fault scenario and prints every node's view; exits non-zero
/// when a change did not converge or a message went wrong.
pub fn view(seed: u64, json: bool) -> Result<()> {
    let report = fault_view::run(seed);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for line in &report.injected {
            println!("{line}");
        }
        println!(
            "{} messages delivered; converged: {}",
            report.delivered, report.converged
        );
        for n in &report.nodes {
            if !n.alive {
                println!("node {:>2}: (down)", n.node);
                continue;
            }
            println!("node {:>2}:", n.node);
            for f in n.faults.iter().filter(|f| f.active || f.action.is_some()) {
                let action = f
                    .action
                    .map(|a| format!(" -> {}", serde_json::to_value(a).unwrap_or_default()))
                    .unwrap_or_default();
                println!(
                    "    {:<12} {:?} since {} (x{}){}{action}",
                    f.site.to_string(),
                    f.symptom,
                    f.since,
                    f.count,
                    if f.active { "" } else { " (past)" }
                );
            }
        }
    }
    if !report.converged || !report.tally.clean() {
        bail!("a change did not converge or the book found a message wrong (see the report)");
    }
    Ok(())
}
