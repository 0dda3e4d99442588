#!/usr/bin/env bash
# fashion-edge deploy kit installer: run on the device (Raspberry Pi OS 64-bit / Debian arm64 or any
# Linux with Python >= 3.9), from the folder the kit was unpacked into:
#
#   tar xzf fashion-edge-edge-pi.tar.gz && sudo fashion-edge-edge-pi/install.sh [--enable-service]
#
# 1. refuses a kit whose files do not match SHA256SUMS (damaged or tampered);
# 2. creates a release under $PREFIX/releases/ with its own venv and installs the kit's wheel with
#    the chosen extra (dependencies from the package index; fashion-edge itself only from the kit);
# 3. verifies the bundle (hashes, golden outputs) and runs `fashion-edge doctor` on it;
# 4. only then points $PREFIX/current at the new release, keeping the one before as $PREFIX/previous;
# 5. with --enable-service, installs the systemd unit and (re)starts it.
#
#   install.sh --rollback     makes $PREFIX/previous current again (and restarts the service if enabled)
set -euo pipefail

KIT=$(cd "$(dirname "$0")" && pwd)
PREFIX=${FASHION_EDGE_PREFIX:-/opt/fashion-edge}
PYTHON=${PYTHON:-python3}
EXTRA=$(sed -n 's/.*"extra": *"\([a-z-]*\)".*/\1/p' "$KIT/KIT.json")
ENABLE=0
ROLLBACK=0
say() { echo "install.sh: $*"; }
die() { echo "install.sh: error: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --enable-service) ENABLE=1 ;;
    --rollback) ROLLBACK=1 ;;
    --prefix) PREFIX=${2:?--prefix needs a folder}; shift ;;
    --extra) EXTRA=${2:?--extra needs litert or onnx}; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done

restart_service() {
  if [ -f /etc/systemd/system/fashion-edge.service ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl restart fashion-edge.service && say "fashion-edge.service restarted"
  fi
}

if [ "$ROLLBACK" = 1 ]; then
  [ -L "$PREFIX/previous" ] || die "nothing to roll back to: $PREFIX/previous does not exist"
  old=$(readlink "$PREFIX/current"); new=$(readlink "$PREFIX/previous")
  ln -sfn "$new" "$PREFIX/current.tmp" && mv -T "$PREFIX/current.tmp" "$PREFIX/current"
  ln -sfn "$old" "$PREFIX/previous.tmp" && mv -T "$PREFIX/previous.tmp" "$PREFIX/previous"
  say "rolled back: current -> $(basename "$new"), previous -> $(basename "$old")"
  restart_service
  exit 0
fi

# 1. the kit must be exactly what was packed
(cd "$KIT" && sha256sum --check --quiet --strict SHA256SUMS) >/dev/null 2>&1 \
  || die "the kit does not match its SHA256SUMS (damaged or tampered): refusing to install"
say "kit checksums ok ($(wc -l < "$KIT/SHA256SUMS") files)"

case "$EXTRA" in litert|onnx) ;; *) die "--extra must be litert or onnx, not '$EXTRA'" ;; esac
"$PYTHON" -c 'import sys, venv; sys.exit(sys.version_info < (3, 9))' 2>/dev/null \
  || die "needs Python >= 3.9 with venv (Debian: apt install python3-venv)"
# The format this extra's backend runs (fashion-edge pack chose it from the format registry).
FORMAT=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1])).get("format_for_extra", {}).get(sys.argv[2], ""))' \
         "$KIT/KIT.json" "$EXTRA")
[ -n "$FORMAT" ] || die "this kit's bundle has no format the [$EXTRA] extra can run"

# 2. a new release with its own venv
WHEEL=$(cd "$KIT" && ls fashion_edge-*.whl)
VERSION=$(echo "$WHEEL" | cut -d- -f2)
RELEASE="$PREFIX/releases/$VERSION-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$PREFIX/releases"
say "installing $WHEEL [$EXTRA,serve] into $RELEASE"
"$PYTHON" -m venv "$RELEASE/venv"
"$RELEASE/venv/bin/pip" install --quiet --disable-pip-version-check "$KIT/$WHEEL[$EXTRA,serve]" \
  || { rm -rf "$RELEASE"; die "pip could not install the wheel (see above); nothing was changed"; }
cp -r "$KIT/bundle" "$RELEASE/bundle"
cp "$KIT/KIT.json" "$RELEASE/"
sed "s#^\(ExecStart=.*\)\$#\1 --format $FORMAT#" "$KIT/fashion-edge.service" > "$RELEASE/fashion-edge.service"

# 3. the bundle and the backend must work on this CPU before anything is switched
"$RELEASE/venv/bin/fashion-edge" verify "$RELEASE/bundle" \
  || { rm -rf "$RELEASE"; die "the bundle did not verify; nothing was changed"; }
"$RELEASE/venv/bin/fashion-edge" doctor --bundle "$RELEASE/bundle" \
  || { rm -rf "$RELEASE"; die "fashion-edge doctor found no working backend on this device; nothing was changed"; }

# 4. switch: current -> new release, previous -> the release that was current
if [ -L "$PREFIX/current" ]; then
  ln -sfn "$(readlink "$PREFIX/current")" "$PREFIX/previous.tmp" && mv -T "$PREFIX/previous.tmp" "$PREFIX/previous"
fi
ln -sfn "$RELEASE" "$PREFIX/current.tmp" && mv -T "$PREFIX/current.tmp" "$PREFIX/current"
say "current -> $(basename "$RELEASE")$( [ -L "$PREFIX/previous" ] && echo ", previous -> $(basename "$(readlink "$PREFIX/previous")") (install.sh --rollback)")"
# Two releases are kept (current and previous: enough to roll back); older ones are removed.
for old in "$PREFIX"/releases/*; do
  case "$old" in "$(readlink "$PREFIX/current")"|"$(readlink "$PREFIX/previous" 2>/dev/null)") ;; *) rm -rf "$old"; say "removed old release $(basename "$old")" ;; esac
done

# 5. the service
if [ "$ENABLE" = 1 ]; then
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    sed "s#/opt/fashion-edge#$PREFIX#g" "$RELEASE/fashion-edge.service" > /etc/systemd/system/fashion-edge.service
    systemctl daemon-reload
    systemctl enable --now fashion-edge.service
    restart_service
    say "fashion-edge.service enabled: curl http://127.0.0.1:8000/healthz"
  else
    say "no systemd here: start the service with: $PREFIX/current/venv/bin/fashion-edge serve --bundle $PREFIX/current/bundle --format $FORMAT"
  fi
fi
say "done: $PREFIX/current/venv/bin/fashion-edge predict photo.jpg --bundle $PREFIX/current/bundle --format $FORMAT"
