//! `meshctl card load|bind|info`: bring-up of a card (replimesh-card).

use anyhow::{Context, Result};
use replimesh_bitstreams::Manifest;
use replimesh_card::{bind::Sysfs, load, read_info, CardError};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn manifest_entry(manifest: &Path, design: &str) -> Result<replimesh_bitstreams::ManifestEntry> {
    let m = Manifest::load(manifest).map_err(CardError::Manifest)?;
    Ok(m.entry(design)
        .cloned()
        .ok_or_else(|| CardError::NotInManifest(design.into()))?)
}

/// `card load`: check the bitstream against the manifest, then openFPGALoader.
pub fn load_cmd(
    manifest: &Path,
    design: &str,
    board: &str,
    bitstream: Option<PathBuf>,
) -> Result<()> {
    let entry = manifest_entry(manifest, design)?;
    let path = bitstream.unwrap_or_else(|| PathBuf::from(&entry.bitstream));
    load::check_bitstream(&path, &entry)?;
    let loader = load::find_loader()?;
    load::load(&loader, board, &path)?;
    println!("loaded {} ({}) into {board}", path.display(), entry.design);
    Ok(())
}

/// `card bind BDF`: checks, then the sysfs writes, then waits for the kernel to bind.
pub fn bind_cmd(sysfs: &Path, bdf: &str, dry_run: bool) -> Result<()> {
    let sys = Sysfs::new(sysfs);
    let plan = sys.plan_bind(bdf)?;
    println!(
        "{}: IOMMU group {} viable; driver now {}",
        plan.bdf,
        plan.group,
        plan.previous_driver.as_deref().unwrap_or("none")
    );
    if plan.writes.is_empty() {
        println!("{} is already bound to vfio-pci", plan.bdf);
        return Ok(());
    }
    for w in &plan.writes {
        println!(
            "{}echo {} > {}",
            if dry_run { "would: " } else { "" },
            w.value,
            w.path.display()
        );
    }
    if dry_run {
        return Ok(());
    }
    sys.apply(&plan)?;
    let mut last = Ok(());
    for _ in 0..20 {
        last = sys.verify_bound(&plan.bdf);
        if last.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    last?;
    println!("{} bound to vfio-pci", plan.bdf);
    Ok(())
}

/// `card info BDF`: open through VFIO, read the ID, compare with the manifest.
pub fn info_cmd(manifest: &Path, design: &str, bdf: &str) -> Result<()> {
    let entry = manifest_entry(manifest, design)?;
    let bdf = replimesh_card::parse_bdf(bdf)?;
    let dev = replimesh_vfio::VfioDevice::open(&bdf)
        .map_err(CardError::from)
        .with_context(|| {
            format!("opening {bdf} through VFIO (bind it first: meshctl card bind {bdf})")
        })?;
    let bar = dev.bar(0).map_err(CardError::from)?;
    let info = read_info(&bar, &entry)?;
    let out = serde_json::json!({
        "bdf": bdf,
        "id": format!("{:#010x}", info.id),
        "node_id": info.node_id,
        "design": entry.design,
        "manifest_git_hash": entry.git_hash,
        "manifest_sha256": entry.sha256,
        "manifest_date": entry.date,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// `meshctl card ...`.
#[derive(clap::Subcommand)]
pub enum CardCmd {
    /// Program a board with openFPGALoader (bitstream checked against the manifest).
    Load {
        /// Design whose bitstream to load.
        #[arg(long, default_value = "mesh-2x2-w64")]
        design: String,
        /// openFPGALoader board name.
        #[arg(long, default_value = load::DEFAULT_BOARD)]
        board: String,
        /// Bitstream file (default: the manifest's path for the design).
        #[arg(long)]
        bitstream: Option<PathBuf>,
        /// Bitstream manifest.
        #[arg(long, default_value = "bitstreams/manifest.json")]
        manifest: PathBuf,
    },
    /// Hand PCI function BDF to vfio-pci (checks the IOMMU group first).
    Bind {
        /// PCI address, e.g. 0000:01:00.0.
        bdf: String,
        /// Print the sysfs writes without doing them.
        #[arg(long)]
        dry_run: bool,
        /// sysfs root.
        #[arg(long, default_value = "/sys")]
        sysfs: PathBuf,
    },
    /// Read the card's ID through VFIO and compare it with the manifest.
    Info {
        /// PCI address, e.g. 0000:01:00.0.
        bdf: String,
        /// Design the card should run.
        #[arg(long, default_value = "mesh-4x4-w64")]
        design: String,
        /// Bitstream manifest.
        #[arg(long, default_value = "bitstreams/manifest.json")]
        manifest: PathBuf,
    },
}

pub fn run(cmd: CardCmd) -> Result<()> {
    match cmd {
        CardCmd::Load {
            design,
            board,
            bitstream,
            manifest,
        } => load_cmd(&manifest, &design, &board, bitstream),
        CardCmd::Bind {
            bdf,
            dry_run,
            sysfs,
        } => bind_cmd(&sysfs, &bdf, dry_run),
        CardCmd::Info {
            bdf,
            design,
            manifest,
        } => info_cmd(&manifest, &design, &bdf),
    }
}
