"""The CPU as the inference runtimes see it: model, cores and the ISA features their kernels pick.

Int8 and float kernels are chosen by feature: dot-product (asimddp), int8 matrix multiply (i8mm),
SVE/SME on Arm; AVX2, AVX-512 VNNI and AMX on x86. A wheel built for a feature the CPU lacks dies
with "illegal instruction"; one that picks a different kernel may round differently. Doctor prints
these so a report from a device says which case it is.

Sources: /proc/cpuinfo (`flags` on x86, `Features` on Arm) and, on 64-bit Arm Linux, the kernel's
HWCAP words (getauxval), which are what programs actually test and stay right under qemu-user.
"""
from __future__ import annotations

import ctypes
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

ARM_FEATURES = ("asimd", "asimdhp", "asimddp", "i8mm", "bf16", "sve", "sve2", "sme", "sme2")
X86_FEATURES = ("sse4_2", "avx", "fma", "f16c", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")
# Arm's CPU part numbers (implementer 0x41) for the cores in Raspberry Pis and common boards.
ARM_PARTS = {0xd03: "Cortex-A53", 0xd04: "Cortex-A35", 0xd05: "Cortex-A55", 0xd07: "Cortex-A57", 0xd08: "Cortex-A72",
             0xd09: "Cortex-A73", 0xd0a: "Cortex-A75", 0xd0b: "Cortex-A76", 0xd0c: "Neoverse-N1", 0xd0d: "Cortex-A77",
             0xd40: "Neoverse-V1", 0xd41: "Cortex-A78", 0xd44: "Cortex-X1", 0xd46: "Cortex-A510", 0xd47: "Cortex-A710",
             0xd48: "Cortex-X2", 0xd49: "Neoverse-N2", 0xd4f: "Neoverse-V2", 0xd80: "Cortex-A520", 0xd81: "Cortex-A720"}
# linux/arch/arm64/include/uapi/asm/hwcap.h
_AT_HWCAP, _AT_HWCAP2 = 16, 26
_HWCAP = {"asimd": (1, 1), "asimdhp": (1, 10), "asimddp": (1, 20), "sve": (1, 22),
          "sve2": (2, 1), "i8mm": (2, 13), "bf16": (2, 14), "sme": (2, 23), "sme2": (2, 37)}


@dataclass(frozen=True)
class CpuInfo:
    arch: str
    model: str
    cores: int
    features: dict[str, bool]     # the inference-relevant features of this architecture
    source: str                   # where `features` came from

    def present(self) -> list[str]:
        return [name for name, has in self.features.items() if has]

    def to_json(self) -> dict:
        return {**asdict(self), "present": self.present()}


def _fields(text: str) -> dict[str, str]:
    """The first value of each `key : value` line (the first core stands for all; big.LITTLE aside)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in found:
            found[key.strip()] = value.strip()
    return found


def _hwcap(names) -> dict[str, bool] | None:
    try:
        getauxval = ctypes.CDLL(None).getauxval
        getauxval.restype = ctypes.c_ulong
        words = {1: getauxval(_AT_HWCAP), 2: getauxval(_AT_HWCAP2)}
    except (OSError, AttributeError):
        return None
    return {name: bool(words[word] >> bit & 1) for name, (word, bit) in _HWCAP.items() if name in names}


def _arm_model(fields: dict[str, str]) -> str:
    board = fields.get("Model") or _read("/proc/device-tree/model").rstrip("\0")
    try:
        implementer, part = int(fields.get("CPU implementer", ""), 16), int(fields.get("CPU part", ""), 16)
        core = ARM_PARTS.get(part, f"part {part:#x}") if implementer == 0x41 else f"implementer {implementer:#x} part {part:#x}"
    except ValueError:
        core = ""
    return " / ".join(p for p in (board, core) if p) or platform.processor() or "unknown"


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def cpu_info(cpuinfo_text: str | None = None, arch: str | None = None) -> CpuInfo:
    """This machine's CPU (or the given /proc/cpuinfo text, for tests)."""
    arch = arch or platform.machine()
    live = cpuinfo_text is None
    fields = _fields(_read("/proc/cpuinfo") if live else cpuinfo_text)
    words = set((fields.get("flags") or fields.get("Features") or "").split())
    if arch.lower() in ("aarch64", "arm64", "armv7l", "armv8l"):
        features = {name: name in words for name in ARM_FEATURES}
        source = "/proc/cpuinfo Features"
        hw = _hwcap(ARM_FEATURES) if live and arch.lower() in ("aarch64", "arm64") else None
        if hw is not None:
            features = {name: features[name] or hw.get(name, False) for name in ARM_FEATURES}
            source += " + HWCAP"
        return CpuInfo(arch, _arm_model(fields), cores(), features, source)
    if arch.lower() in ("x86_64", "amd64", "i686", "i386"):
        return CpuInfo(arch, fields.get("model name", platform.processor() or "unknown"), cores(),
                       {name: name in words for name in X86_FEATURES}, "/proc/cpuinfo flags")
    return CpuInfo(arch, platform.processor() or "unknown", cores(), {}, "none for this architecture")
