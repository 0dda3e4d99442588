#!/usr/bin/env bash
# Prove a bundle on a Raspberry Pi userland: Debian bookworm arm64 (= 64-bit Raspberry Pi OS),
# emulated with qemu-user. Installs the project's wheel from PyPI deps with [litert] and with [onnx]
# (no TensorFlow), runs `fashion-edge predict` and the golden vectors, compares with this host.
#
#   bash deploy/pi-check.sh BUNDLE            (root; `make pi-check` builds the bundle first)
#
# The arm64 root is cached in $PI_ROOT between runs on the same machine.
set -euo pipefail
BUNDLE=$(realpath "${1:?usage: pi-check.sh BUNDLE}")
REPO=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${PI_ROOT:-/var/cache/fashion-edge/pi-bookworm-arm64}
CPU=${QEMU_CPU:-cortex-a72}            # Pi 4; cortex-a76 for a Pi 5
HOSTPY=${HOSTPY:-$REPO/.venv/bin/python}
start=$(date +%s)
log() { echo "pi-check: $*"; }

# The Debian mirror this host already uses (no host name is hard-coded here).
MIRROR=$( { grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list || true; } \
         | grep -v security | head -1 | awk '{print $2}')
[ -n "$MIRROR" ] || { echo "pi-check: no Debian mirror found in apt sources" >&2; exit 1; }

# 1. qemu >= 8 (bookworm's 7.2 segfaults both runtimes), debootstrap, binfmt_misc.
qemu_major() { { qemu-aarch64-static --version 2>/dev/null || true; } | sed -n 's/.*version \([0-9]*\).*/\1/p' | head -1; }
major=$(qemu_major); major=${major:-0}
if [ "$major" -lt 8 ] || ! command -v debootstrap >/dev/null; then
  log "installing qemu-user-static from bookworm-backports, debootstrap, binfmt-support"
  echo "deb $MIRROR bookworm-backports main" > /etc/apt/sources.list.d/fashion-edge-backports.list
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap binfmt-support >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports qemu-user-static >/dev/null
fi
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
# An older registration's "F" flag pins the old binary: drop it, then register the current one.
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] && echo -1 > /proc/sys/fs/binfmt_misc/qemu-aarch64
if [ -f /usr/lib/binfmt.d/qemu-aarch64.conf ]; then     # qemu >= 8 ships systemd-binfmt configs
  cat /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register
else
  update-binfmts --enable qemu-aarch64 >/dev/null
fi
log "qemu $(qemu-aarch64-static --version | head -1 | awk '{print $3}'), QEMU_CPU=$CPU, mirror from host sources"

# 2. The arm64 root (cached).
if [ ! -e "$ROOT/.fashion-edge-ready" ]; then
  log "debootstrap bookworm arm64 into $ROOT (first run only)"
  rm -rf "$ROOT" && mkdir -p "$ROOT"
  debootstrap --arch=arm64 --foreign --variant=minbase bookworm "$ROOT" "$MIRROR" >/dev/null
  cp "$(command -v qemu-aarch64-static)" "$ROOT/usr/bin/"
  QEMU_CPU=$CPU chroot "$ROOT" /debootstrap/debootstrap --second-stage >/dev/null
  echo "deb $MIRROR bookworm main" > "$ROOT/etc/apt/sources.list"
  mount -t proc proc "$ROOT/proc"
  trap 'umount "$ROOT/proc" 2>/dev/null || true' EXIT
  QEMU_CPU=$CPU chroot "$ROOT" apt-get update -qq
  QEMU_CPU=$CPU DEBIAN_FRONTEND=noninteractive chroot "$ROOT" apt-get install -y -qq --no-install-recommends \
      python3 python3-venv python3-pip ca-certificates >/dev/null
  touch "$ROOT/.fashion-edge-ready"
else
  cp "$(command -v qemu-aarch64-static)" "$ROOT/usr/bin/"
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  trap 'umount "$ROOT/proc" 2>/dev/null || true' EXIT
fi
# Only proc is mounted; never /dev or /sys, so removing $ROOT can never reach the host's files.

# 3. What goes onto the "Pi": the wheel, the bundle, a few images, the host's answers.
WORK="$ROOT/opt/fashion-edge-check"
rm -rf "$WORK" && mkdir -p "$WORK"
"$HOSTPY" -m pip wheel --no-deps --no-build-isolation -q -w "$WORK" "$REPO"
cp -r "$BUNDLE" "$WORK/bundle"
"$HOSTPY" "$REPO/deploy/pi_expected.py" "$WORK/bundle" "$WORK"
cp "$REPO/deploy/pi_compare.py" "$WORK/"
cp /etc/ssl/certs/ca-certificates.crt "$WORK/ca.crt"
WHEEL=$(basename "$WORK"/fashion_edge-*.whl)

# 4. Inside: one venv per backend extra, pip isolated from the host's configuration.
for extra in litert onnx; do
  log "[$extra] pip install $WHEEL[$extra] (aarch64 wheels from PyPI)"
  QEMU_CPU=$CPU chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
      PIP_CERT=/opt/fashion-edge-check/ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 LANG=C.UTF-8 QEMU_CPU=$CPU \
      sh -c "set -e; [ -x /opt/venv-$extra/bin/python ] || python3 -m venv /opt/venv-$extra
             /opt/venv-$extra/bin/pip install -q '/opt/fashion-edge-check/$WHEEL[$extra]'
             /opt/venv-$extra/bin/pip install -q --no-deps --force-reinstall /opt/fashion-edge-check/$WHEEL
             cd /opt/fashion-edge-check
             /opt/venv-$extra/bin/python pi_compare.py bundle $extra"
done
log "done in $(( $(date +%s) - start )) s; arm64 root uses $(du -sh --exclude=./proc "$ROOT" 2>/dev/null | cut -f1)"
