//! VCD tracing: with the `trace` feature a traced fabric writes a waveform of
//! the routers' signals; without it, asking for a trace is an error, never a
//! silently missing file.

use replimesh_sim::{Fabric, SimError};
use replimesh_spec::MeshGeometry;

fn vcd_path(tag: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("replimesh-trace-{tag}-{}.vcd", std::process::id()))
}

#[cfg(feature = "trace")]
#[test]
fn traced_fabric_writes_a_waveform_with_router_signals() {
    let g = MeshGeometry::new(2, 2).unwrap();
    let path = vcd_path("on");
    {
        let mut f = Fabric::with_trace(g, 64, Some(&path)).unwrap();
        f.step_n(50).unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(text.contains("$enddefinitions"), "no VCD header");
    assert!(text.contains("routers$0"), "router scopes missing");
    // Reset plus table initialisation plus 50 cycles, two edges each.
    let stamps = text.lines().filter(|l| l.starts_with('#')).count();
    assert!(stamps > 100, "only {stamps} timestamps");
}

#[cfg(not(feature = "trace"))]
#[test]
fn asking_for_a_trace_without_the_feature_is_an_error() {
    let g = MeshGeometry::new(2, 2).unwrap();
    let path = vcd_path("off");
    let r = Fabric::with_trace(g, 64, Some(&path));
    assert!(matches!(r, Err(SimError::TraceNotBuilt)));
    assert!(!path.exists());
}
