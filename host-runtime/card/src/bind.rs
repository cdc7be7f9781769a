//! `meshctl card bind BDF`: hand a PCI function to vfio-pci. The sysfs root is
//! a parameter so the logic runs against a fake tree in tests.
//!
//! All checks happen before the first write ([`Sysfs::plan_bind`]); the
//! writes then follow the kernel's documented order
//! (Documentation/driver-api/vfio.rst): set `driver_override`, unbind the
//! current driver, bind to vfio-pci.

use crate::error::CardError;
use std::path::{Path, PathBuf};

/// A sysfs tree (`/sys` on a real machine).
#[derive(Debug, Clone)]
pub struct Sysfs {
    root: PathBuf,
}

/// One write the bind performs: `value` into `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysfsWrite {
    /// File written.
    pub path: PathBuf,
    /// Text written.
    pub value: String,
}

/// What `bind` will do, decided after every check passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindPlan {
    /// Normalised address.
    pub bdf: String,
    /// IOMMU group number.
    pub group: String,
    /// Driver bound before (None: no driver).
    pub previous_driver: Option<String>,
    /// Writes, in order; empty when already bound to vfio-pci.
    pub writes: Vec<SysfsWrite>,
}

/// The vfio driver name.
pub const VFIO_PCI: &str = "vfio-pci";

/// Checks and normalises a PCI address: `DDDD:BB:DD.F` or `BB:DD.F` (domain 0000).
pub fn parse_bdf(text: &str) -> Result<String, CardError> {
    let bad = || CardError::BadBdf(text.into());
    let full = match text.matches(':').count() {
        1 => format!("0000:{text}"),
        2 => text.to_string(),
        _ => return Err(bad()),
    };
    let (dom_bus, dev_fn) = full.rsplit_once(':').ok_or_else(bad)?;
    let (dom, bus) = dom_bus.split_once(':').ok_or_else(bad)?;
    let (dev, func) = dev_fn.split_once('.').ok_or_else(bad)?;
    let hex = |s: &str, len: usize, max: u32| {
        s.len() == len
            && s.chars().all(|c| c.is_ascii_hexdigit())
            && u32::from_str_radix(s, 16).is_ok_and(|v| v <= max)
    };
    if !(hex(dom, 4, 0xffff) && hex(bus, 2, 0xff) && hex(dev, 2, 0x1f) && hex(func, 1, 7)) {
        return Err(bad());
    }
    Ok(full.to_ascii_lowercase())
}

impl Sysfs {
    /// A sysfs tree rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Sysfs {
        Sysfs { root: root.into() }
    }

    /// The real one.
    pub fn system() -> Sysfs {
        Sysfs::new("/sys")
    }

    fn device_dir(&self, bdf: &str) -> PathBuf {
        self.root.join("bus/pci/devices").join(bdf)
    }

    fn driver_dir(&self, driver: &str) -> PathBuf {
        self.root.join("bus/pci/drivers").join(driver)
    }

    /// Name of the driver `dev_dir/driver` links to, if any.
    fn driver_of(dev_dir: &Path) -> Option<String> {
        std::fs::read_link(dev_dir.join("driver"))
            .ok()
            .and_then(|t| t.file_name().map(|n| n.to_string_lossy().to_string()))
    }

    /// The driver `bdf` is bound to now.
    pub fn current_driver(&self, bdf: &str) -> Option<String> {
        Self::driver_of(&self.device_dir(bdf))
    }

    /// Every check, no changes: device present, IOMMU on, vfio-pci loaded,
    /// every other device of the group bound to vfio-pci or to nothing.
    pub fn plan_bind(&self, bdf: &str) -> Result<BindPlan, CardError> {
        let bdf = parse_bdf(bdf)?;
        let dev = self.device_dir(&bdf);
        if !dev.exists() {
            return Err(CardError::DeviceAbsent { bdf, path: dev });
        }
        let group = std::fs::read_link(dev.join("iommu_group"))
            .ok()
            .and_then(|t| t.file_name().map(|n| n.to_string_lossy().to_string()))
            .ok_or_else(|| CardError::NoIommu { bdf: bdf.clone() })?;
        let vfio = self.driver_dir(VFIO_PCI);
        if !vfio.exists() {
            return Err(CardError::VfioPciMissing { path: vfio });
        }
        let members = self
            .root
            .join("kernel/iommu_groups")
            .join(&group)
            .join("devices");
        let entries = std::fs::read_dir(&members).map_err(|source| CardError::Sysfs {
            path: members.clone(),
            source,
        })?;
        let mut others: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| *n != bdf)
            .collect();
        others.sort();
        for other in others {
            if let Some(driver) = Self::driver_of(&members.join(&other)) {
                if driver != VFIO_PCI {
                    return Err(CardError::GroupShared {
                        group,
                        other,
                        driver,
                    });
                }
            }
        }
        let previous_driver = Self::driver_of(&dev);
        let mut writes = vec![];
        if previous_driver.as_deref() != Some(VFIO_PCI) {
            writes.push(SysfsWrite {
                path: dev.join("driver_override"),
                value: VFIO_PCI.into(),
            });
            if let Some(d) = &previous_driver {
                writes.push(SysfsWrite {
                    path: self.driver_dir(d).join("unbind"),
                    value: bdf.clone(),
                });
            }
            writes.push(SysfsWrite {
                path: vfio.join("bind"),
                value: bdf.clone(),
            });
        }
        Ok(BindPlan {
            bdf,
            group,
            previous_driver,
            writes,
        })
    }

    /// Performs the plan's writes in order. Files must exist (sysfs
    /// attributes always do): a missing one is an error, never created.
    pub fn apply(&self, plan: &BindPlan) -> Result<(), CardError> {
        use std::io::Write as _;
        for w in &plan.writes {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&w.path)
                .map_err(|source| CardError::Sysfs {
                    path: w.path.clone(),
                    source,
                })?;
            f.write_all(w.value.as_bytes())
                .map_err(|source| CardError::Sysfs {
                    path: w.path.clone(),
                    source,
                })?;
        }
        Ok(())
    }

    /// After [`Sysfs::apply`]: the device is bound to vfio-pci.
    pub fn verify_bound(&self, bdf: &str) -> Result<(), CardError> {
        match self.current_driver(bdf) {
            Some(d) if d == VFIO_PCI => Ok(()),
            other => Err(CardError::NotBound {
                bdf: bdf.into(),
                driver: other.unwrap_or_else(|| "none".into()),
            }),
        }
    }
}
