//! `card bind` against a fake sysfs tree: the success path writes the right
//! files in the right order; every refusal happens before any write.

use replimesh_card::{CardError, Sysfs, SysfsWrite};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

const CARD: &str = "0000:01:00.0";

/// A fake /sys with drivers `vfio-pci` and `xdma`, and devices in groups.
struct FakeSys {
    dir: tempfile::TempDir,
}

impl FakeSys {
    fn new() -> FakeSys {
        let f = FakeSys {
            dir: tempfile::tempdir().unwrap(),
        };
        for d in ["vfio-pci", "xdma", "nvme"] {
            let dd = f.root().join("bus/pci/drivers").join(d);
            std::fs::create_dir_all(&dd).unwrap();
            for a in ["bind", "unbind"] {
                std::fs::write(dd.join(a), "").unwrap();
            }
        }
        f
    }
    fn root(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
    /// Adds device `bdf` in `group` (None: no IOMMU), bound to `driver`.
    fn device(&self, bdf: &str, group: Option<&str>, driver: Option<&str>) {
        let dev = self.root().join("bus/pci/devices").join(bdf);
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::write(dev.join("driver_override"), "(null)\n").unwrap();
        if let Some(d) = driver {
            symlink(
                self.root().join("bus/pci/drivers").join(d),
                dev.join("driver"),
            )
            .unwrap();
        }
        if let Some(g) = group {
            let gdir = self.root().join("kernel/iommu_groups").join(g);
            std::fs::create_dir_all(gdir.join("devices")).unwrap();
            symlink(&gdir, dev.join("iommu_group")).unwrap();
            symlink(&dev, gdir.join("devices").join(bdf)).unwrap();
        }
    }
    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root().join(rel)).unwrap()
    }
    /// Every regular file and its content, to prove a refusal changed nothing.
    fn snapshot(&self) -> Vec<(PathBuf, String)> {
        fn walk(p: &Path, out: &mut Vec<(PathBuf, String)>) {
            for e in std::fs::read_dir(p).unwrap() {
                let e = e.unwrap();
                let ft = e.file_type().unwrap();
                if ft.is_dir() {
                    walk(&e.path(), out);
                } else if ft.is_file() {
                    out.push((e.path(), std::fs::read_to_string(e.path()).unwrap()));
                }
            }
        }
        let mut out = vec![];
        walk(&self.root(), &mut out);
        out.sort();
        out
    }
}

#[test]
fn binds_card_from_host_driver_in_order() {
    let f = FakeSys::new();
    f.device(CARD, Some("7"), Some("xdma"));
    let sys = Sysfs::new(f.root());
    let plan = sys.plan_bind("01:00.0").unwrap();
    assert_eq!(plan.bdf, CARD);
    assert_eq!(plan.group, "7");
    assert_eq!(plan.previous_driver.as_deref(), Some("xdma"));
    let r = f.root();
    assert_eq!(
        plan.writes,
        vec![
            SysfsWrite {
                path: r.join("bus/pci/devices").join(CARD).join("driver_override"),
                value: "vfio-pci".into()
            },
            SysfsWrite {
                path: r.join("bus/pci/drivers/xdma/unbind"),
                value: CARD.into()
            },
            SysfsWrite {
                path: r.join("bus/pci/drivers/vfio-pci/bind"),
                value: CARD.into()
            },
        ]
    );
    sys.apply(&plan).unwrap();
    assert_eq!(
        f.read(&format!("bus/pci/devices/{CARD}/driver_override")),
        "vfio-pci"
    );
    assert_eq!(f.read("bus/pci/drivers/xdma/unbind"), CARD);
    assert_eq!(f.read("bus/pci/drivers/vfio-pci/bind"), CARD);
    // The fake kernel did not move the link: verification notices.
    assert!(matches!(
        sys.verify_bound(CARD),
        Err(CardError::NotBound { .. })
    ));
    // Once the kernel has bound it, verification passes.
    let dev = r.join("bus/pci/devices").join(CARD);
    std::fs::remove_file(dev.join("driver")).unwrap();
    symlink(r.join("bus/pci/drivers/vfio-pci"), dev.join("driver")).unwrap();
    sys.verify_bound(CARD).unwrap();
}

#[test]
fn binds_unbound_card_without_unbind_and_accepts_vfio_group_peers() {
    let f = FakeSys::new();
    f.device(CARD, Some("3"), None);
    f.device("0000:01:00.1", Some("3"), Some("vfio-pci"));
    f.device("0000:01:00.2", Some("3"), None);
    let plan = Sysfs::new(f.root()).plan_bind(CARD).unwrap();
    let files: Vec<String> = plan
        .writes
        .iter()
        .map(|w| w.path.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert_eq!(files, ["driver_override", "bind"]);
}

#[test]
fn already_bound_card_needs_no_writes() {
    let f = FakeSys::new();
    f.device(CARD, Some("3"), Some("vfio-pci"));
    let plan = Sysfs::new(f.root()).plan_bind(CARD).unwrap();
    assert!(plan.writes.is_empty());
}

fn refusal(f: &FakeSys, bdf: &str) -> CardError {
    let before = f.snapshot();
    let e = Sysfs::new(f.root()).plan_bind(bdf).unwrap_err();
    assert_eq!(before, f.snapshot(), "a refusal changed the tree");
    e
}

#[test]
fn refuses_malformed_bdf() {
    let f = FakeSys::new();
    for bad in [
        "",
        "01:00",
        "0000:01:00.8",
        "0000:01:20.0",
        "zz:00.0",
        "0:01:00.0",
        "../x:00.0",
    ] {
        assert!(matches!(refusal(&f, bad), CardError::BadBdf(_)), "{bad}");
    }
}

#[test]
fn refuses_absent_device() {
    let f = FakeSys::new();
    assert!(matches!(refusal(&f, CARD), CardError::DeviceAbsent { .. }));
}

#[test]
fn refuses_without_iommu() {
    let f = FakeSys::new();
    f.device(CARD, None, Some("xdma"));
    let e = refusal(&f, CARD);
    assert!(matches!(e, CardError::NoIommu { .. }));
    assert!(e.to_string().contains("intel_iommu=on"), "{e}");
}

#[test]
fn refuses_group_shared_with_bound_device() {
    let f = FakeSys::new();
    f.device(CARD, Some("5"), Some("xdma"));
    f.device("0000:02:00.0", Some("5"), Some("nvme"));
    match refusal(&f, CARD) {
        CardError::GroupShared {
            group,
            other,
            driver,
        } => {
            assert_eq!(
                (group.as_str(), other.as_str(), driver.as_str()),
                ("5", "0000:02:00.0", "nvme")
            );
        }
        e => panic!("wrong refusal: {e}"),
    }
}

#[test]
fn refuses_when_vfio_pci_not_loaded() {
    let f = FakeSys::new();
    f.device(CARD, Some("7"), Some("xdma"));
    std::fs::remove_dir_all(f.root().join("bus/pci/drivers/vfio-pci")).unwrap();
    let e = refusal(&f, CARD);
    assert!(matches!(e, CardError::VfioPciMissing { .. }));
    assert!(e.to_string().contains("modprobe vfio-pci"));
}

#[test]
fn apply_never_creates_missing_sysfs_files() {
    let f = FakeSys::new();
    f.device(CARD, Some("7"), Some("xdma"));
    let sys = Sysfs::new(f.root());
    let plan = sys.plan_bind(CARD).unwrap();
    std::fs::remove_file(f.root().join("bus/pci/drivers/vfio-pci/bind")).unwrap();
    assert!(matches!(sys.apply(&plan), Err(CardError::Sysfs { .. })));
    assert!(!f.root().join("bus/pci/drivers/vfio-pci/bind").exists());
}
