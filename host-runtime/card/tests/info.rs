//! `card info` over a fake BAR: matching ID accepted, mismatch and all-ones refused.

use replimesh_bitstreams::{ManifestEntry, ToolVersions};
use replimesh_card::{cfg_offset, read_info, CardError, RegRead};
use replimesh_spec::{router_addr, ROUTER_ID_VALUE};
use std::collections::HashMap;

struct FakeBar(HashMap<u64, u32>);

impl RegRead for FakeBar {
    fn read32(&self, offset: u64) -> Result<u32, CardError> {
        Ok(self.0.get(&offset).copied().unwrap_or(0))
    }
}

fn entry(id: &str) -> ManifestEntry {
    ManifestEntry {
        design: "mesh-4x4-w64".into(),
        device: "x".into(),
        package: "x".into(),
        board: "x".into(),
        bitstream: "x".into(),
        sha256: "x".into(),
        bytes: 0,
        date: "x".into(),
        git_hash: "x".into(),
        id_value: id.into(),
        fmax_mhz: 0.0,
        tools: ToolVersions {
            yosys: String::new(),
            nextpnr: String::new(),
            ecppack: String::new(),
            verilator: String::new(),
            wheels: vec![],
        },
    }
}

fn bar(id: u32) -> FakeBar {
    FakeBar(HashMap::from([
        (cfg_offset(0, router_addr::ID), id),
        (cfg_offset(0, router_addr::NODE_ID), 0),
    ]))
}

#[test]
fn accepts_card_matching_manifest() {
    let manifest_id = format!("{ROUTER_ID_VALUE:#010x}");
    let info = read_info(&bar(ROUTER_ID_VALUE), &entry(&manifest_id)).unwrap();
    assert_eq!(info.id, ROUTER_ID_VALUE);
}

#[test]
fn refuses_id_mismatch() {
    let manifest_id = format!("{ROUTER_ID_VALUE:#010x}");
    let e = read_info(&bar(ROUTER_ID_VALUE + 1), &entry(&manifest_id)).unwrap_err();
    assert!(matches!(e, CardError::IdMismatch { .. }), "{e}");
}

#[test]
fn refuses_all_ones() {
    let e = read_info(&bar(u32::MAX), &entry("0xffffffff")).unwrap_err();
    assert!(matches!(e, CardError::DeviceGone { .. }), "{e}");
}

#[test]
fn shim_offsets_put_each_node_in_its_own_page() {
    assert_eq!(cfg_offset(0, router_addr::ID), 0);
    assert_eq!(cfg_offset(3, 0x100), 0x3400);
}

#[test]
fn load_refuses_a_bitstream_not_in_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let bit = dir.path().join("board.bit");
    std::fs::write(&bit, b"not the recorded bitstream").unwrap();
    let mut e = entry("0x0");
    e.sha256 = "00".repeat(32);
    let err = replimesh_card::load::check_bitstream(&bit, &e).unwrap_err();
    assert!(matches!(err, CardError::StaleBitstream { .. }), "{err}");
    // The recorded digest passes.
    use sha2::Digest;
    e.sha256 = sha2::Sha256::digest(b"not the recorded bitstream")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    replimesh_card::load::check_bitstream(&bit, &e).unwrap();
    assert!(matches!(
        replimesh_card::load::check_bitstream(&dir.path().join("missing.bit"), &e),
        Err(CardError::Read { .. })
    ));
}

#[test]
fn board_list_match_is_by_first_word() {
    let list = "board name           FPGA\necp5_evn             ECP5\nulx3s  ECP5\n";
    assert!(replimesh_card::load::board_listed(list, "ecp5_evn"));
    assert!(!replimesh_card::load::board_listed(list, "ecp5"));
}
