#!/usr/bin/env bash
# Proves replimesh-vfio on a real vfio-pci device: QEMU's `edu` (1234:11e8) inside a TCG guest
# with an emulated Intel IOMMU. Prints the guest's check lines and exits 0 only when the guest
# prints `VFIO-EDU PASS`.
#
# Self-contained for Debian bookworm with Rust: installs qemu-system-x86, busybox-static and cpio
# if missing (apt-get, non-interactive), downloads the guest kernel package with `apt-get
# download` and unpacks it with `dpkg-deb -x` into a cache (nothing is installed into the host's
# /boot, no initramfs-tools hooks run), builds the check binary statically, packs an initramfs
# and boots it. Idempotent: the unpacked kernel is cached in the work dir.
#
# Environment:
#   VFIO_QEMU_WORK     work/cache dir      (default: ${TMPDIR:-/tmp}/replimesh-vfio-qemu)
#   VFIO_QEMU_TIMEOUT  guest time limit, s (default: 120)
#   CARGO_TARGET_DIR   honoured for the build (default: <repo>/target)
#   CARGO_BUILD_JOBS   honoured by cargo
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
work=${VFIO_QEMU_WORK:-${TMPDIR:-/tmp}/replimesh-vfio-qemu}
guest_timeout=${VFIO_QEMU_TIMEOUT:-120}
target_triple=x86_64-unknown-linux-gnu
# Load order matters: busybox insmod ignores module dependencies.
modules=(irqbypass vfio vfio_iommu_type1 vfio_virqfd vfio-pci-core vfio-pci)

say() { echo "run.sh: $*" >&2; }
die() {
	say "FAIL: $*"
	exit 1
}

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || die "not root and no sudo: cannot apt-get install"
	sudo_cmd=(sudo -n)
fi

apt_updated=0
apt_update_once() {
	if [ "$apt_updated" -eq 0 ]; then
		say "apt-get update"
		"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
		apt_updated=1
	fi
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

# --- 1. host packages ------------------------------------------------------------------------
missing=()
for pkg in qemu-system-x86 busybox-static cpio xz-utils zstd; do
	installed "$pkg" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
	apt_update_once
	say "installing ${missing[*]}"
	"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
fi
busybox=/bin/busybox
[ -x "$busybox" ] || die "$busybox missing after installing busybox-static"

# --- 2. guest kernel (unpacked, not installed) -----------------------------------------------
mkdir -p "$work/kernel"
kernel_pkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'; }
kpkg=$(kernel_pkg)
if [ -z "$kpkg" ]; then
	apt_update_once
	kpkg=$(kernel_pkg)
fi
[ -n "$kpkg" ] || die "cannot resolve linux-image-amd64 to a kernel package (apt sources?)"
kdir="$work/kernel/$kpkg"
if [ ! -e "$kdir/.unpacked" ]; then
	say "downloading and unpacking $kpkg into $kdir"
	rm -rf "$kdir" "$work/kernel/dl"
	mkdir -p "$work/kernel/dl"
	(cd "$work/kernel/dl" && apt-get download -qq -o APT::Sandbox::User=root "$kpkg" </dev/null) ||
		{ apt_update_once && (cd "$work/kernel/dl" && apt-get download -qq -o APT::Sandbox::User=root "$kpkg" </dev/null); }
	dpkg-deb -x "$work/kernel/dl/${kpkg}"_*.deb "$kdir"
	rm -rf "$work/kernel/dl"
	touch "$kdir/.unpacked"
fi
vmlinuz=$(ls "$kdir"/boot/vmlinuz-* 2>/dev/null | head -n 1)
[ -n "$vmlinuz" ] || die "no vmlinuz in $kdir/boot"
kver=${vmlinuz##*/vmlinuz-}
moddir="$kdir/lib/modules/$kver"

# --- 3. the check binary, static ---------------------------------------------------------------
target_dir=${CARGO_TARGET_DIR:-$repo/target}
say "building vfio-edu-check (static, $target_triple)"
(cd "$repo" && RUSTFLAGS="-C target-feature=+crt-static" \
	cargo build --quiet --release --target "$target_triple" -p replimesh-vfio --bin vfio-edu-check)
check_bin="$target_dir/$target_triple/release/vfio-edu-check"
[ -x "$check_bin" ] || die "$check_bin not built"

# --- 4. initramfs ------------------------------------------------------------------------------
root="$work/initramfs"
rm -rf "$root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules}
cp "$busybox" "$root/bin/busybox"
for applet in sh mount insmod echo cat sleep dmesg grep tail poweroff; do
	ln -s busybox "$root/bin/$applet"
done
cp "$check_bin" "$root/bin/vfio-edu-check"
for m in "${modules[@]}"; do
	ko=$(find "$moddir" \( -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" \) | head -n 1)
	[ -n "$ko" ] || die "module $m not found under $moddir"
	case "$ko" in
	*.xz) xz -dc "$ko" >"$root/lib/modules/$m.ko" ;;
	*.zst) zstd -qdc "$ko" >"$root/lib/modules/$m.ko" ;;
	*) cp "$ko" "$root/lib/modules/$m.ko" ;;
	esac
done
cat >"$root/init" <<EOF
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
dmesg -n 1
for m in ${modules[*]}; do
	insmod /lib/modules/\$m.ko || echo "guest: insmod \$m failed"
done
echo 1234 11e8 > /sys/bus/pci/drivers/vfio-pci/new_id || echo "guest: vfio-pci new_id failed"
i=0
while [ ! -e /dev/vfio/vfio ] && [ \$i -lt 50 ]; do sleep 0.1; i=\$((i + 1)); done
/bin/vfio-edu-check
echo "guest: vfio-edu-check exit status \$?"
dmesg | grep -i -E 'dmar|vfio' | tail -n 8 | while read -r line; do echo "guest-dmesg: \$line"; done
poweroff -f
EOF
chmod +x "$root/init"
initrd="$work/initrd.cpio.gz"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd"

# --- 5. boot ---------------------------------------------------------------------------------
# TCG only: KVM opens on some hosts but guests hang under it.
log="$work/guest.log"
say "booting $kver with edu behind an intel-iommu (TCG, limit ${guest_timeout}s), log: $log"
start=$(date +%s)
set +e
timeout "$guest_timeout" qemu-system-x86_64 \
	-M q35,kernel-irqchip=split -device intel-iommu,intremap=on -device edu \
	-m 512 -nographic -no-reboot \
	-kernel "$vmlinuz" -initrd "$initrd" \
	-append "console=ttyS0 intel_iommu=on panic=-1 quiet" </dev/null >"$log" 2>&1
qemu_rc=$?
set -e
elapsed=$(($(date +%s) - start))
tr -d '\r' <"$log" >"$log.txt"

# -o: the first guest line can carry terminal escapes from the firmware in front of it.
grep -a -o -E '(vfio-edu|guest|guest-dmesg): .*' "$log.txt" >&2 || true
result=$(grep -a -o -E 'VFIO-EDU (PASS|FAIL).*' "$log.txt" | tail -n 1 || true)
if [ "$result" = "VFIO-EDU PASS" ]; then
	say "guest ran ${elapsed}s"
	echo "$result"
	exit 0
fi
if [ "$qemu_rc" -eq 124 ]; then
	say "guest timed out after ${guest_timeout}s"
fi
say "no PASS line (qemu exit $qemu_rc, ${elapsed}s); guest log tail:"
tail -n 40 "$log.txt" >&2
echo "${result:-VFIO-EDU FAIL: no result line from the guest}"
exit 1
