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
# 5. tells the service (fashion-edge.service, or the process of --service-pid): a reload (SIGHUP) when
#    the fashion-edge version and ExecStart (format) stay the same, else a restart; then waits until
#    /healthz serves the new bundle id. If it does not, it switches back, tells the service again,
#    removes the new release and exits non-zero.
#
#   --enable-service      install the systemd unit, enable and start it
#   --rollback            make $PREFIX/previous current again (the same reload and health wait)
#   --service-pid PID     no systemd: send SIGHUP to this `fashion-edge serve` process instead
#   --url URL             the service's address (default http://127.0.0.1:PORT, PORT from the unit, else 8000)
#   --health-timeout S    seconds to wait for /healthz to serve the new bundle (default 120)
#   --prefix DIR          install under DIR (default /opt/fashion-edge; also FASHION_EDGE_PREFIX)
#   --extra litert|onnx   override the kit's extra
set -euo pipefail

KIT=$(cd "$(dirname "$0")" && pwd)
PREFIX=${FASHION_EDGE_PREFIX:-/opt/fashion-edge}
PYTHON=${PYTHON:-python3}
EXTRA=$(sed -n 's/.*"extra": *"\([a-z-]*\)".*/\1/p' "$KIT/KIT.json" 2>/dev/null || true)
UNIT=/etc/systemd/system/fashion-edge.service
ENABLE=0
ROLLBACK=0
SERVICE_PID=
URL=
HEALTH_TIMEOUT=120
ACTION="" WHY="" RESTART_WHY=""
say() { echo "install.sh: $*"; }
die() { echo "install.sh: error: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --enable-service) ENABLE=1 ;;
    --rollback) ROLLBACK=1 ;;
    --prefix) PREFIX=${2:?--prefix needs a folder}; shift ;;
    --extra) EXTRA=${2:?--extra needs litert or onnx}; shift ;;
    --service-pid) SERVICE_PID=${2:?--service-pid needs a process id}; shift ;;
    --url) URL=${2:?--url needs an address such as http://127.0.0.1:8000}; shift ;;
    --health-timeout) HEALTH_TIMEOUT=${2:?--health-timeout needs seconds}; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p;}' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done
case "$SERVICE_PID" in ''|*[!0-9]*) [ -z "$SERVICE_PID" ] || die "--service-pid needs a process id, not '$SERVICE_PID'" ;; esac
case "$HEALTH_TIMEOUT" in ''|*[!0-9]*) die "--health-timeout needs whole seconds, not '$HEALTH_TIMEOUT'" ;; esac
HTTPPY=$PYTHON      # the release's venv python once there is one (curl may be missing on a minimal image)

# --- the service: which release serves, how it is told, and whether it followed ---------------------
systemd_here() { command -v systemctl >/dev/null && [ -d /run/systemd/system ]; }
bundle_id() { sha256sum "$1/bundle/manifest.json" | cut -c1-12; }
version_of() { sed -n 's/.*"wheel": *"fashion_edge-\([^-"]*\)-.*/\1/p' "$1/KIT.json" 2>/dev/null || true; }
exec_start_of() { grep '^ExecStart=' "$1/fashion-edge.service" 2>/dev/null || true; }
unit_text() { sed "s#/opt/fashion-edge#$PREFIX#g" "$1/fashion-edge.service"; }

# The release the running service executes: its interpreter path (the first argument of its command
# line, pinned by pip to one release's venv). After reload-only upgrades it is not `current`, and it must
# never be removed while the process runs. Empty when no service is found.
service_pid() {
  if [ -n "$SERVICE_PID" ]; then echo "$SERVICE_PID"; return; fi
  if systemd_here && systemctl is-active --quiet fashion-edge.service 2>/dev/null; then
    systemctl show -p MainPID --value fashion-edge.service 2>/dev/null || true
  fi
}
running_release() {
  local pid arg
  pid=$(service_pid)
  case "$pid" in ''|0|*[!0-9]*) return 0 ;; esac
  [ -r "/proc/$pid/cmdline" ] || return 0
  for arg in $(tr '\0' '\n' < "/proc/$pid/cmdline" | head -2); do
    case "$arg" in "$PREFIX"/releases/*/venv/*) arg=${arg#"$PREFIX"/releases/}; echo "$PREFIX/releases/${arg%%/*}"; return 0 ;; esac
  done
}

# Why serving release $2 instead of $1 needs a restart (empty: a reload is enough).
restart_reason() {
  local from=$1 to=$2 v1 v2
  [ -n "$from" ] || { echo "no release was serving"; return; }
  v1=$(version_of "$from"); v2=$(version_of "$to")
  if [ -z "$v1" ] || [ "$v1" != "$v2" ]; then echo "fashion-edge ${v1:-?} -> ${v2:-?}"; return; fi
  [ "$(exec_start_of "$from")" = "$(exec_start_of "$to")" ] || echo "ExecStart (format) changes"
}

service_url() {
  if [ -n "$URL" ]; then echo "${URL%/}"; return; fi
  local port
  # the unit and any `systemctl edit` drop-in, continuation lines joined; the last --port wins
  port=$(cat "$UNIT" "$UNIT".d/*.conf 2>/dev/null | sed -e ':a' -e '/\\$/N; s/\\\n//; ta' \
         | sed -n 's/^ExecStart=.*--port[= ]*\([0-9][0-9]*\).*/\1/p' | tail -1 || true)
  echo "http://127.0.0.1:${port:-8000}"
}

# http baseline S | http wait ID S BASELINE HOW CONFIRM: the service's /healthz through Python's urllib.
# baseline: waits (up to S) for the service to answer and for a running reload to end, prints
# reload.done ("-" if no answer).
# wait: until /healthz is ok with bundle ID (and, with CONFIRM 1 and a BASELINE, a reload after it
# succeeded: two releases may share a manifest); fails at once when a reload after BASELINE failed
# (HOW reload) or the restarted service failed to load (HOW restart). Prints why it failed.
http() {
  "$HTTPPY" - "$(service_url)" "$@" <<'PY'
import json, sys, time, urllib.error, urllib.request

url, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]

def get(path):
    try:
        with urllib.request.urlopen(url + path, timeout=2) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.load(e)
        except ValueError:
            return e.code, {}
    except (OSError, ValueError):        # refused, timed out, not JSON
        return None, {}

if mode == "baseline":
    deadline = time.monotonic() + float(args[0])
    while True:
        code, h = get("/healthz")
        reload = h.get("reload") or {}
        # answering, and no load running or due (a service still starting loads the new link itself)
        if (code is not None and not reload.get("running")) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    print(reload.get("done") if isinstance(reload.get("done"), int) else "-")
    sys.exit(0)

want, timeout, baseline, how, confirm = args[0], float(args[1]), args[2], args[3], args[4] == "1"
deadline, seen, why = time.monotonic() + timeout, "no answer", None
while why is None:
    code, h = get("/healthz")
    bundle, reload = h.get("bundle") or {}, h.get("reload") or {}
    done = reload.get("done")
    after = how == "reload" and baseline.isdigit() and isinstance(done, int) and done > int(baseline)
    reloaded = after and reload.get("last") == "ok" or not (confirm and how == "reload" and baseline.isdigit())
    if code == 200 and h.get("status") == "ok" and bundle.get("id") == want and reloaded:
        sys.exit(0)
    if code is not None:
        seen = f"HTTP {code}, status {h.get('status')}, bundle {bundle.get('id')}"
    if after and reload.get("last") == "failed" and not reload.get("running"):
        why = f"the service refused the reload and serves bundle {bundle.get('id')} on"
    elif how == "restart" and h.get("status") == "failed":
        why = "the restarted service could not load its model"
    elif time.monotonic() >= deadline:
        why = f"{url}/healthz did not serve bundle {want} within {timeout:g} s (last: {seen})"
    else:
        time.sleep(1)
code, info = get("/v1/info")
error = (info.get("reload") or {}).get("error") if code == 200 else None
print(f"{why}: {error}" if error else f"{why} (see journalctl -u fashion-edge)")
sys.exit(1)
PY
}

# Before switching from release $1 to $2: how the service will be told (ACTION reload|restart|start|
# none). Returns 1 (WHY says why) when only a restart could apply $2 and this script cannot restart it.
plan_service() {
  local reason running
  running=$(running_release)     # the code that runs is that release's, whatever `current` says
  reason=$(restart_reason "${running:-$1}" "$2")
  if [ -n "$SERVICE_PID" ]; then
    kill -0 "$SERVICE_PID" 2>/dev/null || { WHY="no process $SERVICE_PID (--service-pid)"; return 1; }
    [ -z "$reason" ] || { WHY="$reason: a reload cannot change the code or the format, only a restart can (run without --service-pid, then restart the service)"; return 1; }
    ACTION=reload
  elif systemd_here && { [ -f "$UNIT" ] || [ "$ENABLE" = 1 ]; }; then
    [ -z "$reason" ] && [ "$(unit_text "$2")" != "$(cat "$UNIT" 2>/dev/null)" ] && reason="the unit file changes"
    if systemctl is-active --quiet fashion-edge.service; then
      if [ -z "$reason" ]; then ACTION=reload; else ACTION=restart; RESTART_WHY="$reason, which a reload cannot change"; fi
    elif [ "$ENABLE" = 1 ]; then ACTION=start
    else ACTION=none; say "fashion-edge.service is installed but not running: left stopped"
    fi
  else
    ACTION=none
  fi
  return 0
}

# After switching to release $1: do ACTION, then wait for /healthz to serve $1's bundle (CONFIRM $2:
# see http). Returns 1 (WHY says why) when the service did not follow.
tell_service() {
  local rel=$1 confirm=$2 id baseline=- how=reload
  id=$(bundle_id "$rel")
  if [ "$ACTION" != none ] && [ "$ACTION" != reload ]; then how=restart; fi
  case "$ACTION" in
    none)
      say "no service running (no active fashion-edge.service, no --service-pid): none was reloaded"
      return 0 ;;
    reload)
      baseline=$(http baseline "$HEALTH_TIMEOUT")
      if [ -n "$SERVICE_PID" ]; then
        kill -HUP "$SERVICE_PID" || { WHY="could not signal process $SERVICE_PID"; return 1; }
        say "sent SIGHUP to $SERVICE_PID: reloading bundle $id"
      else
        systemctl reload fashion-edge.service || { WHY="systemctl reload failed"; return 1; }
        say "fashion-edge.service reloading bundle $id"
      fi ;;
    restart|start)
      if [ "$(unit_text "$rel")" != "$(cat "$UNIT" 2>/dev/null)" ]; then
        { unit_text "$rel" > "$UNIT" && systemctl daemon-reload; } || { WHY="could not install $UNIT"; return 1; }
      fi
      systemctl reset-failed fashion-edge.service 2>/dev/null || true   # a crash loop's start limit would refuse it
      systemctl restart fashion-edge.service || { WHY="systemctl restart failed"; return 1; }
      if [ "$ACTION" = restart ]; then
        say "fashion-edge.service restarted: $RESTART_WHY"
      else
        say "fashion-edge.service started"
      fi ;;
  esac
  say "waiting up to $HEALTH_TIMEOUT s for $(service_url)/healthz to serve bundle $id"
  if WHY=$(http wait "$id" "$HEALTH_TIMEOUT" "$baseline" "$how" "$confirm"); then
    say "the service serves bundle $id ($(basename "$rel"))"
  else
    return 1
  fi
}

set_links() {  # set_links CURRENT [PREVIOUS]: each link replaced atomically (no PREVIOUS: none)
  { ln -sfn "$1" "$PREFIX/current.tmp" && mv -T "$PREFIX/current.tmp" "$PREFIX/current"; } || return 1
  if [ -n "${2:-}" ]; then
    { ln -sfn "$2" "$PREFIX/previous.tmp" && mv -T "$PREFIX/previous.tmp" "$PREFIX/previous"; } || return 1
  else
    rm -f "$PREFIX/previous"
  fi
}

# switch_to NEW NEW_PREVIOUS OLD OLD_PREVIOUS: make NEW current and the service serve it; if the service
# does not follow, the links go back to OLD/OLD_PREVIOUS and the service is told again. Returns 1 then.
switch_to() {
  local new=$1 new_prev=$2 old=$3 old_prev=$4 failed
  if ! plan_service "$old" "$new"; then return 1; fi
  set_links "$new" "$new_prev" || { WHY="could not switch $PREFIX/current"; return 1; }
  say "current -> $(basename "$new")${new_prev:+, previous -> $(basename "$new_prev")}"
  if tell_service "$new" 1; then return 0; fi
  failed=$WHY
  say "bundle $(bundle_id "$new") did not come up: $failed"
  if [ -z "$old" ]; then     # a first install: nothing to go back to, so nothing stays installed
    rm -f "$PREFIX/current" "$PREFIX/previous"
    if [ "$ACTION" != none ] && [ -z "$SERVICE_PID" ]; then systemctl stop fashion-edge.service || true; fi
    WHY="$failed; there was no release before it (fashion-edge.service stopped)"; return 1
  fi
  set_links "$old" "$old_prev" || { WHY="$failed; and could not switch $PREFIX/current back"; return 1; }
  say "switched back: current -> $(basename "$old")${old_prev:+, previous -> $(basename "$old_prev")}"
  if [ "$ACTION" = start ] || [ "$ACTION" = restart ]; then ACTION=restart; RESTART_WHY="back to $(basename "$old")"; fi
  if tell_service "$old" 0; then     # the old bundle serving again is enough, reloaded or never left
    WHY=$failed
  else
    WHY="$failed; after switching back: $WHY"
  fi
  return 1
}

if [ "$ROLLBACK" = 1 ]; then
  [ -L "$PREFIX/previous" ] || die "nothing to roll back to: $PREFIX/previous does not exist"
  [ -L "$PREFIX/current" ] || die "nothing to roll back from: $PREFIX/current does not exist"
  old=$(readlink "$PREFIX/current"); new=$(readlink "$PREFIX/previous")
  [ -d "$new" ] || die "$PREFIX/previous points at $new, which does not exist"
  [ ! -x "$new/venv/bin/python" ] || HTTPPY=$new/venv/bin/python
  switch_to "$new" "$old" "$old" "$new" \
    || die "rollback failed: $WHY; current -> $(basename "$(readlink "$PREFIX/current")")"
  say "rolled back: current -> $(basename "$new"), previous -> $(basename "$old")"
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
[ ! -e "$RELEASE" ] || RELEASE="$RELEASE-$$"
mkdir -p "$PREFIX/releases"
say "installing $WHEEL [$EXTRA,serve] into $RELEASE"
"$PYTHON" -m venv "$RELEASE/venv"
"$RELEASE/venv/bin/pip" install --quiet --disable-pip-version-check "$KIT/${WHEEL}[$EXTRA,serve]" \
  || { rm -rf "$RELEASE"; die "pip could not install the wheel (see above); nothing was changed"; }
cp -r "$KIT/bundle" "$RELEASE/bundle"
cp "$KIT/KIT.json" "$RELEASE/"
sed "s#^\(ExecStart=.*\)\$#\1 --format $FORMAT#" "$KIT/fashion-edge.service" > "$RELEASE/fashion-edge.service"
HTTPPY=$RELEASE/venv/bin/python

# 3. the bundle and the backend must work on this CPU before anything is switched
"$RELEASE/venv/bin/fashion-edge" verify "$RELEASE/bundle" \
  || { rm -rf "$RELEASE"; die "the bundle did not verify; nothing was changed"; }
"$RELEASE/venv/bin/fashion-edge" doctor --bundle "$RELEASE/bundle" \
  || { rm -rf "$RELEASE"; die "fashion-edge doctor found no working backend on this device; nothing was changed"; }

# 4-5. switch: current -> new release, previous -> the release that was current; the service follows
OLD=$(readlink "$PREFIX/current" 2>/dev/null || true)
OLD_PREVIOUS=$(readlink "$PREFIX/previous" 2>/dev/null || true)
if ! switch_to "$RELEASE" "$OLD" "$OLD" "$OLD_PREVIOUS"; then
  rm -rf "$RELEASE"
  die "not installed: $WHY; removed $(basename "$RELEASE")${OLD:+, current -> $(basename "$OLD")}"
fi
[ -z "$OLD" ] || say "to go back to $(basename "$OLD"): install.sh --rollback"
# Two releases are kept (current and previous: enough to roll back); older ones are removed.
# The release the running service executes stays too (after reloads it may be neither).
RUNNING=$(running_release)
for old in "$PREFIX"/releases/*; do
  case "$old" in
    "$(readlink "$PREFIX/current")"|"$(readlink "$PREFIX/previous" 2>/dev/null)") ;;
    "$RUNNING") say "kept $(basename "$old"): the running service executes its code" ;;
    *) rm -rf "$old"; say "removed old release $(basename "$old")" ;;
  esac
done

if [ "$ENABLE" = 1 ]; then
  if systemd_here; then
    systemctl enable --quiet fashion-edge.service
    say "fashion-edge.service enabled: curl $(service_url)/healthz"
  else
    say "no systemd here: start the service with: $PREFIX/current/venv/bin/fashion-edge serve --bundle $PREFIX/current/bundle --format $FORMAT"
  fi
fi
say "done: $PREFIX/current/venv/bin/fashion-edge predict photo.jpg --bundle $PREFIX/current/bundle --format $FORMAT"
