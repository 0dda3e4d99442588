#!/usr/bin/env bash
# Prove a bundle on a Raspberry Pi userland: Debian bookworm arm64 (= 64-bit Raspberry Pi OS),
# emulated with qemu-user, installed the way docs/raspberry-pi.md tells a user to: the
# deploy kit (`fashion-edge pack`) copied in and installed with its install.sh (tampered kit refused,
# install, upgrade), then doctor and the golden outputs on each Pi's CPU (Cortex-A53, A72, A76),
# `fashion-edge serve` started as its systemd unit would and asked over loopback from this host, a
# model update and rollbacks reloaded into that running service, and `fashion-edge predict`.
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
FE=${FE:-$REPO/.venv/bin/fashion-edge}
SERVE_PID=
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

# 3. The kit, exactly as docs/raspberry-pi.md builds it (on the build machine).
WORK="$ROOT/opt/fashion-edge-check"
rm -rf "$WORK" && mkdir -p "$WORK"
DIST=$(mktemp -d)
# Every step returns 0 (set -e holds inside the trap too): the exit status stays the script's.
cleanup() {
  if [ -n "$SERVE_PID" ]; then kill "$SERVE_PID" 2>/dev/null || true; kill -CONT "$SERVE_PID" 2>/dev/null || true; fi
  umount "$ROOT/proc" 2>/dev/null || true
  rm -rf "$DIST"
}
trap cleanup EXIT
(cd "$REPO" && "$FE" pack "$BUNDLE" --out "$DIST" >/dev/null)
(cd "$REPO" && "$FE" pack "$BUNDLE" --extra onnx --out "$DIST" >/dev/null)
KIT=$(basename "$DIST"/fashion-edge-*-pi.tar.gz)
KIT_ONNX=$(basename "$DIST"/fashion-edge-*-pi-onnx.tar.gz)
# The model update for the running [onnx] service (section 6): another [onnx] kit with another bundle.
# tests/data/tiny-shapes12 (32x48x3 RGB, 12 labels) packs with onnx-int8 for [onnx], the format the
# service runs, so install.sh can reload it without a restart; the check below holds pack to that.
(cd "$REPO" && "$FE" pack "$REPO/tests/data/tiny-shapes12/bundle" --extra onnx --out "$DIST/update" >/dev/null)
KIT_UPDATE=$(basename "$DIST"/update/fashion-edge-*-pi-onnx.tar.gz)
onnx_format() { tar -xzOf "$1" --wildcards '*/KIT.json' | "$HOSTPY" -c 'import json, sys; print(json.load(sys.stdin)["format_for_extra"]["onnx"])'; }
[ "$(onnx_format "$DIST/$KIT_ONNX")" = "$(onnx_format "$DIST/update/$KIT_UPDATE")" ] \
  || { echo "pi-check: $KIT_UPDATE's [onnx] format is not $KIT_ONNX's: a reload could not serve it" >&2; exit 1; }
log "kit $KIT: $(du -h "$DIST/$KIT" | cut -f1); $KIT_ONNX: $(du -h "$DIST/$KIT_ONNX" | cut -f1); update $KIT_UPDATE"
"$HOSTPY" "$REPO/deploy/pi_expected.py" "$BUNDLE" "$WORK"
cp "$REPO/deploy/pi_compare.py" "$WORK/"
cp /etc/ssl/certs/ca-certificates.crt "$WORK/ca.crt"
# "scp" to the Pi: the user's home in the emulated root
rm -rf "$ROOT/root/kits" && mkdir -p "$ROOT/root/kits" && cp "$DIST/$KIT" "$DIST/$KIT_ONNX" "$DIST/update/$KIT_UPDATE" "$ROOT/root/kits/"

# Inside the "Pi": a clean environment, pip isolated from the host's configuration.
on_pi() {  # on_pi CPU COMMAND...
  local cpu=$1; shift
  QEMU_CPU=$cpu chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
      PIP_CERT=/opt/fashion-edge-check/ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 LANG=C.UTF-8 QEMU_CPU="$cpu" \
      sh -c "$*"
}
rm -rf "$ROOT/opt/fashion-edge"

# 4. install.sh: refuse a tampered kit, install, upgrade in place (no service running yet).
log "tampered kit: one byte of the model changed inside the archive"
on_pi "$CPU" "cd /root/kits && rm -rf t && mkdir t && cd t && tar xzf ../$KIT && \
  printf 'X' | dd of=\$(ls -d fashion-edge-*)/bundle/int8.tflite bs=1 seek=100 conv=notrunc 2>/dev/null && \
  if \$(ls -d fashion-edge-*)/install.sh; then echo 'pi-check: FAIL: tampered kit installed'; exit 1; fi; \
  test ! -e /opt/fashion-edge/current && echo 'pi-check: tampered kit refused, nothing installed'"
log "first install"
on_pi "$CPU" "cd /root/kits && tar xzf $KIT && ${KIT%.tar.gz}/install.sh"
# The upgrade is the [onnx] kit over the [litert] install: one more pip install under emulation
# (minutes each) proves both kits and the upgrade.
log "upgrade: the [onnx] kit's install.sh over the [litert] release"
on_pi "$CPU" "cd /root/kits && tar xzf $KIT_ONNX && ${KIT_ONNX%.tar.gz}/install.sh"
on_pi "$CPU" "test \$(readlink /opt/fashion-edge/current) != \$(readlink /opt/fashion-edge/previous)"

# 5. doctor (every installed backend imported in a child process, run on the golden vectors) on each
#    Pi's CPU; then every format's golden logits and predictions compared with this host's.
for cpu in cortex-a53 cortex-a72 cortex-a76; do   # Pi 3 / Zero 2 W, Pi 4, Pi 5
  for release in /opt/fashion-edge/previous /opt/fashion-edge/current; do   # [litert], [onnx]
    log "[$cpu] doctor ($release -> $(basename "$(readlink "$ROOT$release")"))"
    on_pi "$cpu" "$release/venv/bin/fashion-edge doctor --bundle $release/bundle"
  done
done
for release in /opt/fashion-edge/previous /opt/fashion-edge/current; do
  on_pi "$CPU" "cd /opt/fashion-edge-check && $release/venv/bin/python pi_compare.py $release/bundle"
done
# ... and bundles of two other input contracts (tests/data: 32x48x3 RGB with 12 classes named in four
# scripts; 64x64x3 with probability outputs) through both installed runtimes.
for contract in tiny-shapes12 tiny-stripes2; do
  dir="$WORK/contracts/$contract"
  mkdir -p "$dir" && cp -r "$REPO/tests/data/$contract/bundle" "$dir/bundle" && cp "$REPO/deploy/pi_compare.py" "$dir/"
  "$HOSTPY" "$REPO/deploy/pi_expected.py" "$dir/bundle" "$dir"
  for release in /opt/fashion-edge/previous /opt/fashion-edge/current; do
    on_pi "$CPU" "cd /opt/fashion-edge-check/contracts/$contract && $release/venv/bin/python pi_compare.py bundle"
  done
done

# 6. The service, started as the unit's ExecStart does (no systemd in a chroot), asked from the host.
PORT=${PI_PORT:-18080}
# (current is a link inside the emulated root: resolve it there, not on this host)
EXEC=$(sed -n 's/^ExecStart=//p' "$ROOT$(readlink "$ROOT/opt/fashion-edge/current")/fashion-edge.service" \
       | sed "s/--port [0-9]*/--port $PORT/")
log "service: $EXEC"
# Not through on_pi (a function: `&` would fork a subshell and SIGTERM would reach the subshell, not
# the server): chroot, env and sh all exec, so $! is the server's own pid, as systemd's MainPID would be.
QEMU_CPU=$CPU chroot "$ROOT" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    QEMU_CPU="$CPU" sh -c "exec $EXEC" > "$WORK/serve.log" 2>&1 &
SERVE_PID=$!
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 $SERVE_PID 2>/dev/null || { cat "$WORK/serve.log"; echo "pi-check: serve exited" >&2; exit 1; }
  sleep 1
done
PHOTO="$WORK/images/photo.jpg"
URL="http://127.0.0.1:$PORT"
check_photo() {  # the pi-check bundle's answer for the photo is this host's
  local got
  got=$(curl -fsS --data-binary @"$PHOTO" -H 'Content-Type: image/jpeg' "$URL/v1/classify")
  "$HOSTPY" - "$got" "$WORK/expected.json" <<'PY'
import json, sys
got, expected = json.loads(sys.argv[1]), json.load(open(sys.argv[2]))
want = expected["photo"]
ok = got["label_id"] == want
print(f"pi-check: classify over loopback (arm64 service, host curl): {got['label']} "
      f"({100 * got['confidence']:.1f}%), host says {want}: {'ok' if ok else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
}
check_photo
fail() { tail -n 30 "$WORK/serve.log" >&2; echo "pi-check: FAIL: $*" >&2; exit 1; }
link() { readlink "$ROOT/opt/fashion-edge/$1"; }
release_id() { sha256sum "$ROOT$(link "$1")/bundle/manifest.json" | cut -c1-12; }   # install.sh's bundle id
healthz_id() { curl -fsS -m 5 "$URL/healthz" 2>/dev/null \
                 | "$HOSTPY" -c 'import json, sys; print(json.load(sys.stdin)["bundle"]["id"])' 2>/dev/null || true; }
serving() {  # serving WHAT ID: /healthz and a classify answer both name bundle ID
  local answered
  answered=$(curl -fsS --data-binary @"$PHOTO" -H 'Content-Type: image/jpeg' "$URL/v1/classify" \
             | "$HOSTPY" -c 'import json, sys; print(json.load(sys.stdin)["bundle"]["id"])')
  [ "$answered" = "$2" ] || fail "$1: a classify answer names bundle $answered, not $2"
  [ "$(healthz_id)" = "$2" ] || fail "$1: /healthz names bundle $(healthz_id), not $2"
  log "$1: /healthz and /v1/classify name bundle $2"
}

# 6a. A model update while it serves: install.sh switches current, sends SIGHUP (what the unit's
#     ExecReload does) and waits for /healthz to name the new bundle. The service's pid is this host's;
#     install.sh's kill reaches it from inside the chroot (one pid namespace).
log "update while serving: $KIT_UPDATE's install.sh --service-pid $SERVE_PID"
before=$(link current)
on_pi "$CPU" "cd /root/kits && tar xzf $KIT_UPDATE && ${KIT_UPDATE%.tar.gz}/install.sh --service-pid $SERVE_PID --url $URL --health-timeout 300"
updated=$(link current)
[ "$updated" != "$before" ] || fail "update: current still -> $before"
[ "$(link previous)" = "$before" ] || fail "update: previous -> $(link previous), not $before"
UPDATE_ID=$(release_id current)
serving "update" "$UPDATE_ID"
# 6b. A service that does not answer (SIGSTOP): the rollback must fail, switch back and exit non-zero.
log "rollback with the service stopped: must fail and leave current as it was"
kill -STOP $SERVE_PID
if on_pi "$CPU" "/root/kits/${KIT%.tar.gz}/install.sh --rollback --service-pid $SERVE_PID --url $URL --health-timeout 20"; then
  fail "install.sh --rollback succeeded with the service stopped"
fi
kill -CONT $SERVE_PID
[ "$(link current)" = "$updated" ] || fail "after the failed rollback: current -> $(link current), not $updated"
[ "$(link previous)" = "$before" ] || fail "after the failed rollback: previous -> $(link previous), not $before"
for _ in $(seq 1 300); do [ "$(healthz_id)" = "$UPDATE_ID" ] && break; sleep 1; done
serving "after the failed rollback" "$UPDATE_ID"
# 6c. The rollback for real: the [onnx] pi-check release again, reloaded into the same process.
log "rollback while serving"
on_pi "$CPU" "/root/kits/${KIT%.tar.gz}/install.sh --rollback --service-pid $SERVE_PID --url $URL --health-timeout 300"
[ "$(link current)" = "$before" ] || fail "rollback: current -> $(link current), not $before"
serving "rollback" "$(release_id current)"
check_photo
if ! { kill -TERM "$SERVE_PID" && wait "$SERVE_PID"; }; then echo "pi-check: serve did not exit 0 on SIGTERM" >&2; exit 1; fi
SERVE_PID=
# The release left current is the [onnx] one: predict with the format its kit names for [onnx].
on_pi "$CPU" "/opt/fashion-edge/current/venv/bin/fashion-edge predict /opt/fashion-edge-check/images/photo.jpg --bundle /opt/fashion-edge/current/bundle --format $(onnx_format "$DIST/$KIT_ONNX")"
log "done in $(( $(date +%s) - start )) s; arm64 root uses $(du -sh --exclude=./proc "$ROOT" 2>/dev/null | cut -f1)"
