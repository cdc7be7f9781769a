//! The fault campaign in its `--quick` form (issue 13, item 8): 30 faults of
//! every kind on the 4×4 card Verilog under reliable traffic, from reset,
//! the tables computed by the nodes themselves. Nothing lost, repeated,
//! reordered or corrupted; every change converged; every fault noticed by
//! the part that should notice it.

use replimesh_campaign::campaign::{self, CampaignConfig, FaultKind};
use replimesh_spec::MeshGeometry;

#[test]
fn the_quick_campaign_is_clean_and_meets_and_detects_every_kind() {
    let cfg = CampaignConfig::new(
        MeshGeometry::new(4, 4).unwrap(),
        CampaignConfig::QUICK_FAULTS,
        1,
    );
    let report = campaign::run(&cfg, |_, _| {});
    eprintln!(
        "quick campaign: {} faults, {} delivered, {} retransmits, convergence p50 {} max {}, link recovery max {}, {} cycles in {:.0} s",
        report.injected_total,
        report.delivered,
        report.retransmits,
        report.convergence_cycles_p50,
        report.max_convergence_cycles,
        report.max_recovery_cycles_link,
        report.sim_cycles,
        report.wall_seconds
    );
    assert!(report.clean(), "violations: {:#?}", report.violations);
    assert_eq!(report.injected_total, CampaignConfig::QUICK_FAULTS);
    assert!(report.delivered > 1_000, "traffic ran the whole time");
    for kind in FaultKind::ALL {
        let n = report.injected[kind.name()];
        assert!(n > 0, "{} never injected", kind.name());
        assert_eq!(
            report.detected[kind.name()],
            n,
            "{}: {:?}",
            kind.name(),
            report.undetected
        );
    }
    // The hardware path is fast: both ends of a cut link down within 64
    // cycles (issue 13's figure), long before the tables converge.
    assert!(report.max_recovery_cycles_link <= 64);
}
