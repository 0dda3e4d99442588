"""What a benchmark ran on: CPU model and the instruction-set features that decide int8/float speed,
cores, frequency governor and clock, temperature and throttling where the OS exposes them, versions.

Two runs (a laptop and a Pi, or two cloud machines) can only be compared knowing these; everything is
read from /proc and /sys (and Raspberry Pi's `vcgencmd`) and is simply absent where not exposed.
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

# Features that change which kernels the runtimes pick for int8 and float32 work.
X86_FEATURES = ("sse4_1", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16",
                "amx_tile", "amx_int8", "amx_bf16")
ARM_FEATURES = ("neon", "asimd", "asimdhp", "asimddp", "i8mm", "bf16", "sve", "sve2", "sme", "sme2")


def _read(path: str | Path) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def cpu_info(cpuinfo: str | None = None) -> dict:
    """Model name and the relevant ISA flags from /proc/cpuinfo (x86 `flags`, ARM `Features`)."""
    text = cpuinfo if cpuinfo is not None else (_read("/proc/cpuinfo") or "")
    model, flags = None, set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "hardware", "cpu model") and model is None:
            model = value.strip()
        elif key in ("flags", "features"):
            flags |= set(value.split())
        elif key == "cpu part" and model is None:
            model = f"ARM part {value.strip()}"
    known = X86_FEATURES + ARM_FEATURES
    return {"model": model or platform.processor() or platform.machine(), "arch": platform.machine(),
            "features": [f for f in known if f in flags]}


def _thermal() -> dict:
    zones = {}
    for zone in sorted(Path("/sys/class/thermal").glob("thermal_zone*")):
        temp = _read(zone / "temp")
        if temp and temp.lstrip("-").isdigit():
            zones[_read(zone / "type") or zone.name] = int(temp) / 1000
    return zones


def _throttled() -> str | None:
    """Raspberry Pi firmware's throttling bits (0x0 = never throttled or under-volted)."""
    tool = shutil.which("vcgencmd")
    if not tool:
        return None
    try:
        out = subprocess.run([tool, "get_throttled"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out.split("=", 1)[-1] or None


def environment(versions: dict[str, str]) -> dict:
    cpu = cpu_info()
    freq = Path("/sys/devices/system/cpu/cpu0/cpufreq")
    cur = _read(freq / "scaling_cur_freq")
    return {
        "cpu": cpu["model"], "arch": cpu["arch"], "features": cpu["features"],
        "cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "governor": _read(freq / "scaling_governor"),
        "clock_mhz": int(cur) / 1000 if cur and cur.isdigit() else None,
        "temperature_c": _thermal() or None,
        "throttled": _throttled(),
        "os": platform.platform(), "python": platform.python_version(), "versions": versions,
    }
