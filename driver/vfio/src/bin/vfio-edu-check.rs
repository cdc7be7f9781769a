//! vfio-edu-check: proves replimesh-vfio on a real vfio-pci device, QEMU's `edu` (1234:11e8).
//!
//! Run inside a QEMU guest with an Intel IOMMU (see `driver/vfio/qemu/run.sh`), after binding
//! edu to vfio-pci. Usage: `vfio-edu-check [BDF]` (default: the first 1234:11e8 in sysfs).
//! Progress lines start with `vfio-edu:`; the last line is `VFIO-EDU PASS` or
//! `VFIO-EDU FAIL: <reason>`, and the exit status is 0 only on PASS.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use replimesh_driver::Device;
use replimesh_vfio::{Bar, BarOffset, DmaBuffer, Iova, VfioDevice, VfioError, VfioNode};

/// edu register map (QEMU `hw/misc/edu.c`, docs/specs/edu.rst).
mod edu {
    use replimesh_vfio::BarOffset;
    pub const ID: BarOffset = BarOffset(0x00);
    pub const ID_VALUE: u32 = 0x0100_00ed;
    pub const LIVENESS: BarOffset = BarOffset(0x04);
    pub const IRQ_STATUS: BarOffset = BarOffset(0x24);
    pub const IRQ_RAISE: BarOffset = BarOffset(0x60);
    pub const IRQ_ACK: BarOffset = BarOffset(0x64);
    pub const DMA_SRC: BarOffset = BarOffset(0x80);
    pub const DMA_DST: BarOffset = BarOffset(0x88);
    pub const DMA_COUNT: BarOffset = BarOffset(0x90);
    pub const DMA_CMD: BarOffset = BarOffset(0x98);
    pub const CMD_RUN: u32 = 1;
    /// Direction bit: set = device buffer to RAM, clear = RAM to device buffer.
    pub const CMD_TO_RAM: u32 = 2;
    pub const CMD_IRQ: u32 = 4;
    /// IRQ status bit edu sets when a DMA with `CMD_IRQ` completes.
    pub const DMA_IRQ: u32 = 0x100;
    /// Device-internal DMA buffer: 0x40000..0x41000 (transfers must end before 0x41000 on
    /// QEMU 7.2, which aborts on a transfer touching the last byte).
    pub const DEV_BUF: u64 = 0x40000;
}

const VENDOR: &str = "0x1234";
const DEVICE: &str = "0x11e8";
/// IOVAs of the buffers; edu masks DMA addresses to 28 bits, so all stay below 256 MiB.
const IOVA_SRC: Iova = Iova(0x0010_0000);
const IOVA_DST: Iova = Iova(0x0020_0000);
const IOVA_VICTIM: Iova = Iova(0x0030_0000);
const IOVA_NEVER_MAPPED: Iova = Iova(0x0f00_0000);
const IRQ_TIMEOUT: Duration = Duration::from_secs(5);

fn say(msg: impl std::fmt::Display) {
    println!("vfio-edu: {msg}");
}

fn find_edu() -> Result<String> {
    let dir = std::fs::read_dir("/sys/bus/pci/devices").context("list /sys/bus/pci/devices")?;
    for entry in dir {
        let path = entry?.path();
        let read = |f: &str| std::fs::read_to_string(path.join(f)).unwrap_or_default();
        if read("vendor").trim() == VENDOR && read("device").trim() == DEVICE {
            return Ok(path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into());
        }
    }
    bail!("no pci device {VENDOR}:{DEVICE} (edu) found; start QEMU with -device edu")
}

/// Opening a missing, a malformed and a host-owned device must fail with the clear errors.
fn check_error_paths(edu_bdf: &str) -> Result<()> {
    match VfioDevice::open("0000:ff:1f.7") {
        Err(e @ VfioError::NoSuchDevice { .. }) => say(format!("expected error: {e}")),
        other => bail!("opening a missing device gave {other:?}, want NoSuchDevice"),
    }
    match VfioDevice::open("edu") {
        Err(e @ VfioError::InvalidBdf { .. }) => say(format!("expected error: {e}")),
        other => bail!("opening \"edu\" gave {other:?}, want InvalidBdf"),
    }
    // Any other PCI device (the q35 host bridge) is not bound to vfio-pci.
    let other = std::fs::read_dir("/sys/bus/pci/devices")?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|bdf| bdf != edu_bdf)
        .context("no second pci device to test the not-bound error")?;
    match VfioDevice::open(&other) {
        Err(e @ VfioError::NotBoundToVfio { .. }) => say(format!("expected error: {e}")),
        other_result => bail!("opening {other} gave {other_result:?}, want NotBoundToVfio"),
    }
    Ok(())
}

/// Starts one edu DMA and waits until the device clears the run bit.
fn dma(bar: &Bar, src: u64, dst: u64, count: u32, cmd: u32) -> Result<()> {
    let lo = |v: u64| u32::try_from(v).context("edu dma address above 4 GiB");
    bar.write32(edu::DMA_SRC, lo(src)?)?;
    bar.write32(edu::DMA_DST, lo(dst)?)?;
    bar.write32(edu::DMA_COUNT, count)?;
    bar.write32(edu::DMA_CMD, cmd | edu::CMD_RUN)?;
    let start = Instant::now();
    while bar.read32(edu::DMA_CMD)? & edu::CMD_RUN != 0 {
        ensure!(
            start.elapsed() < Duration::from_secs(10),
            "edu dma {src:#x} -> {dst:#x} ({count} bytes) did not complete in 10 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

fn to_dev(bar: &Bar, from: &DmaBuffer, at: usize, dev_off: u64, count: u32) -> Result<()> {
    to_dev_raw(bar, Iova(from.iova().0 + at as u64), dev_off, count)
}

/// RAM at `from` (mapped or not) to the device buffer at `dev_off`.
fn to_dev_raw(bar: &Bar, from: Iova, dev_off: u64, count: u32) -> Result<()> {
    dma(bar, from.0, edu::DEV_BUF + dev_off, count, 0)
}

fn to_ram(bar: &Bar, dev_off: u64, to: &DmaBuffer, at: usize, count: u32, cmd: u32) -> Result<()> {
    let dst = to.iova().0 + at as u64;
    dma(
        bar,
        edu::DEV_BUF + dev_off,
        dst,
        count,
        edu::CMD_TO_RAM | cmd,
    )
}

fn bytes(buf: &DmaBuffer, at: usize, len: usize) -> Result<Vec<u8>> {
    let mut out = vec![0; len];
    buf.read(at, &mut out)?;
    Ok(out)
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(7) ^ seed).collect()
}

fn run() -> Result<()> {
    let bdf = match std::env::args().nth(1) {
        Some(bdf) => bdf,
        None => find_edu()?,
    };
    say(format!("edu at {bdf}"));
    check_error_paths(&bdf)?;

    let mut dev = VfioDevice::open(&bdf).with_context(|| format!("open {bdf}"))?;
    let bar = dev.bar(0).context("map bar 0")?;
    say(format!(
        "opened {bdf}: bar0 {:#x} bytes, {}",
        bar.size(),
        if bar.is_mapped() {
            "mmapped"
        } else {
            "via device fd"
        }
    ));

    // Registers.
    let id = bar.read32(edu::ID)?;
    ensure!(
        id == edu::ID_VALUE,
        "id register reads {id:#010x}, want {:#010x}",
        edu::ID_VALUE
    );
    for value in [0x1234_5678u32, 0x0f0f_0f0f] {
        bar.write32(edu::LIVENESS, value)?;
        let back = bar.read32(edu::LIVENESS)?;
        ensure!(
            back == !value,
            "liveness: wrote {value:#010x}, read {back:#010x}, want {:#010x}",
            !value
        );
    }
    say("id 0x010000ed and liveness inversion ok");
    match bar.read32(BarOffset(bar.size())) {
        Err(VfioError::BarOffsetOutOfRange { .. }) => {}
        other => bail!("read past bar 0 gave {other:?}, want BarOffsetOutOfRange"),
    }
    match bar.write32(BarOffset(0x06), 0) {
        Err(VfioError::MisalignedBarOffset { .. }) => {}
        other => bail!("misaligned write gave {other:?}, want MisalignedBarOffset"),
    }
    say("out-of-range and misaligned bar accesses refused");

    // MSI through the eventfd.
    dev.enable_msi().context("enable msi")?;
    ensure!(
        !dev.wait_irq(Duration::from_millis(100))?,
        "msi arrived before any was raised"
    );
    bar.write32(edu::IRQ_RAISE, 0x1)?;
    ensure!(
        dev.wait_irq(IRQ_TIMEOUT)?,
        "no msi within {IRQ_TIMEOUT:?} after raising irq 0x1"
    );
    let status = bar.read32(edu::IRQ_STATUS)?;
    ensure!(
        status & 1 != 0,
        "irq status {status:#x} lacks the raised bit 0x1"
    );
    bar.write32(edu::IRQ_ACK, status)?;
    let status = bar.read32(edu::IRQ_STATUS)?;
    ensure!(status == 0, "irq status {status:#x} after ack, want 0");
    ensure!(
        !dev.wait_irq(Duration::from_millis(200))?,
        "spurious msi after ack"
    );
    say("msi delivered through eventfd, acked, no spurious second one");

    // DMA round trip: host buffer -> device buffer -> second host buffer.
    const LEN: usize = 0x400;
    let src = dev.alloc_dma(4096, IOVA_SRC)?;
    let dst = dev.alloc_dma(4096, IOVA_DST)?;
    let data = pattern(LEN, 0xa5);
    src.write(0, &data)?;
    to_dev(&bar, &src, 0, 0, LEN as u32)?;
    to_ram(&bar, 0, &dst, 0, LEN as u32, edu::CMD_IRQ)?;
    ensure!(
        bytes(&dst, 0, LEN)? == data,
        "dma round trip: second host buffer differs from the first"
    );
    ensure!(
        bytes(&dst, LEN, 4096 - LEN)?.iter().all(|b| *b == 0),
        "dma wrote past its count"
    );
    ensure!(
        dev.wait_irq(IRQ_TIMEOUT)?,
        "no msi for a dma with the irq bit"
    );
    let status = bar.read32(edu::IRQ_STATUS)?;
    ensure!(
        status & edu::DMA_IRQ != 0,
        "irq status {status:#x} lacks the dma bit 0x100"
    );
    bar.write32(edu::IRQ_ACK, status)?;
    say(format!("dma round trip of {LEN} bytes via iova {IOVA_SRC} -> device -> iova {IOVA_DST} ok, with msi"));

    // A just-unmapped IOVA must deliver nothing. Control first: the victim buffer works while
    // mapped.
    const N: u32 = 0x100;
    let victim = dev.alloc_dma(4096, IOVA_VICTIM)?;
    let secret = pattern(N as usize, 0x3c);
    victim.write(0, &secret)?;
    to_dev(&bar, &victim, 0, 0x400, N)?;
    to_ram(&bar, 0x400, &dst, 0x800, N, 0)?;
    ensure!(
        bytes(&dst, 0x800, N as usize)? == secret,
        "control dma from the mapped victim failed"
    );
    // Overwrite the device area with something else, then unmap and DMA from the old IOVA.
    let filler = pattern(N as usize, 0xf0);
    src.write(0x400, &filler)?;
    to_dev(&bar, &src, 0x400, 0x400, N)?;
    victim.unmap().context("unmap victim")?;
    to_dev_raw(&bar, IOVA_VICTIM, 0x400, N)?;
    to_ram(&bar, 0x400, &dst, 0xc00, N, 0)?;
    let seen = bytes(&dst, 0xc00, N as usize)?;
    ensure!(
        seen != secret,
        "dma read from unmapped iova {IOVA_VICTIM} delivered the old page's data"
    );
    let what = if seen == filler {
        "device buffer unchanged"
    } else if seen.iter().all(|b| *b == 0) {
        "device read zeros"
    } else {
        "device buffer holds neither the old data nor the filler"
    };
    say(format!(
        "dma read from just-unmapped iova {IOVA_VICTIM} blocked ({what})"
    ));

    // A write to a never-mapped IOVA must not land in any host buffer.
    let before = (bytes(&src, 0, 4096)?, bytes(&dst, 0, 4096)?);
    dma(&bar, edu::DEV_BUF, IOVA_NEVER_MAPPED.0, N, edu::CMD_TO_RAM)?;
    let after = (bytes(&src, 0, 4096)?, bytes(&dst, 0, 4096)?);
    ensure!(
        before == after,
        "dma write to unmapped iova {IOVA_NEVER_MAPPED} changed a host buffer"
    );
    let id = bar.read32(edu::ID)?;
    ensure!(
        id == edu::ID_VALUE,
        "device stopped answering after the blocked dma (id {id:#x})"
    );
    say(format!(
        "dma write to never-mapped iova {IOVA_NEVER_MAPPED} blocked (host buffers unchanged)"
    ));
    drop((src, dst, bar, dev));
    check_device_trait(&bdf)
}

/// The same device again, now only through the driver's `Device` trait (`VfioNode`), the
/// interface the replimesh queue layer uses: registers, a DMA round trip through regions the
/// trait allocated and copies in and out of, and the MSI as an event.
fn check_device_trait(bdf: &str) -> Result<()> {
    /// Nominal card clock for the trait's cycle counts.
    const MHZ: u32 = 250;
    let dev = VfioDevice::open(bdf).with_context(|| format!("reopen {bdf}"))?;
    let mut node = VfioNode::new(dev, 0, 0, MHZ).context("vfio node on bar 0")?;
    let id = node.read32(edu::ID)?;
    ensure!(
        id == edu::ID_VALUE,
        "Device::read32 of the id gave {id:#010x}"
    );
    node.write32(edu::LIVENESS, 0x0bad_f00d)?;
    ensure!(
        node.read32(edu::LIVENESS)? == !0x0bad_f00d,
        "liveness through Device"
    );
    const LEN: usize = 0x200;
    let a = node.alloc_dma(4096)?;
    let b = node.alloc_dma(4096)?;
    let data = pattern(LEN, 0x5a);
    node.dma_write(&a, 0, &data)?;
    let run = |node: &mut VfioNode, src: u64, dst: u64, cmd: u32| -> Result<()> {
        let lo = |v: u64| u32::try_from(v).context("edu dma address above 4 GiB");
        node.write32(edu::DMA_SRC, lo(src)?)?;
        node.write32(edu::DMA_DST, lo(dst)?)?;
        node.write32(edu::DMA_COUNT, LEN as u32)?;
        node.write32(edu::DMA_CMD, cmd | edu::CMD_RUN)?;
        let start = Instant::now();
        while node.read32(edu::DMA_CMD)? & edu::CMD_RUN != 0 {
            ensure!(
                start.elapsed() < Duration::from_secs(10),
                "edu dma did not complete"
            );
            node.advance_time(u64::from(MHZ) * 5_000)?; // 5 ms
        }
        Ok(())
    };
    run(&mut node, a.iova().0, edu::DEV_BUF, 0)?;
    run(
        &mut node,
        edu::DEV_BUF,
        b.iova().0,
        edu::CMD_TO_RAM | edu::CMD_IRQ,
    )?;
    let event = node.wait(u64::from(MHZ) * 5_000_000)?; // 5 s
    ensure!(
        event.is_some(),
        "no interrupt event for a dma with the irq bit"
    );
    let status = node.read32(edu::IRQ_STATUS)?;
    node.write32(edu::IRQ_ACK, status)?;
    let mut back = vec![0; LEN];
    node.dma_read(&b, 0, &mut back)?;
    ensure!(
        back == data,
        "dma round trip through Device regions differs"
    );
    node.free_dma(a)?;
    node.free_dma(b)?;
    say("through the Device trait: id, liveness, dma round trip and msi event ok");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => {
            println!("VFIO-EDU PASS");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("VFIO-EDU FAIL: {e:#}");
            ExitCode::FAILURE
        }
    }
}
