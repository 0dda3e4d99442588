"""`fashion-edge doctor`: which (format, backend) pairs work on this machine, and which to use.

The common failure on a Raspberry Pi is a backend wheel that installs and then dies with "illegal
instruction", or runs and computes wrong answers on that CPU. Doctor never imports a backend
itself: each import, and each (format, backend) pair's golden check and latency probe, runs in a
child process (runtime/probe.py), so a crash is a line in the report rather than the end of it.

Exit 0 when at least one pair passes its golden check (without a bundle: when at least one backend
imports), else 1 with one line saying what to install.
"""
from __future__ import annotations

import json
import platform
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from fashion_edge.runtime.backends import BACKENDS, BackendSpec
from fashion_edge.runtime.bundle import Bundle
from fashion_edge.runtime.cpu import CpuInfo, cpu_info
from fashion_edge.runtime.probe import MARKER
from fashion_edge.runtime.versions import module_version, version_of

DEFAULT_BUNDLE = Path("artifacts/edge/bundle")
IMPORT_TIMEOUT_S, PAIR_TIMEOUT_S = 120, 300     # an emulated Pi is slow; a hung import is still reported
MORE_THREADS_GAIN = 0.85   # recommend more threads only if they cut the p50 by 15 % or more


@dataclass(frozen=True)
class Probe:
    """One child process's outcome: its JSON answer, or how it died."""

    status: str                 # ok | failed | crashed | timeout | error
    detail: dict = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def run_probe(*args: str, timeout: float) -> Probe:
    """`python -m fashion_edge.runtime.probe ARGS` in a fresh interpreter, with this environment."""
    try:
        done = subprocess.run([sys.executable, "-m", "fashion_edge.runtime.probe", *args], capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Probe("timeout", error=f"no answer within {timeout:.0f} s (hung)")
    if done.returncode < 0:
        sig = signal.Signals(-done.returncode)
        return Probe("crashed", error=f"crashed with {sig.name} ({signal.strsignal(sig) or sig.name.lower()})")
    answers = [line[len(MARKER):] for line in done.stdout.splitlines() if line.startswith(MARKER)]
    if done.returncode != 0 or not answers:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Probe("error", error=f"exited with code {done.returncode}: {tail[:300]}")
    answer = json.loads(answers[-1])
    if not answer.get("ok"):
        return Probe("failed", answer, answer.get("error", "golden check failed"))
    return Probe("ok", answer)


@dataclass(frozen=True)
class BackendRow:
    name: str
    extra: str
    installed: bool
    version: str | None
    probe: Probe | None          # None when not installed


@dataclass(frozen=True)
class PairRow:
    format: str
    backend: str
    threads: int
    probe: Probe

    def p50(self) -> float:
        return self.probe.detail.get("latency_us", {}).get("p50", float("inf"))


@dataclass(frozen=True)
class Diagnosis:
    platform: dict
    cpu: CpuInfo
    bundle: str | None
    backends: tuple[BackendRow, ...]
    pairs: tuple[PairRow, ...]
    recommendation: dict | None
    ok: bool
    advice: str

    def to_json(self) -> dict:
        def probe(p: Probe | None) -> dict | None:
            return None if p is None else {"status": p.status, "error": p.error or None, **p.detail}

        return {"platform": self.platform, "cpu": self.cpu.to_json(), "bundle": self.bundle,
                "backends": [{**{k: v for k, v in asdict(b).items() if k != "probe"}, "import": probe(b.probe)}
                             for b in self.backends],
                "pairs": [{"format": p.format, "backend": p.backend, "threads": p.threads, "ok": p.probe.ok,
                           **probe(p.probe)} for p in self.pairs],
                "recommendation": self.recommendation, "ok": self.ok, "advice": self.advice}


def _platform() -> dict:
    return {"system": platform.system(), "release": platform.release(), "machine": platform.machine(),
            "python": platform.python_version(), "implementation": platform.python_implementation(),
            "numpy": version_of("numpy"), "pillow": version_of("Pillow"), "fashion_edge": version_of("fashion-edge")}


def _install_hint(specs: list[BackendSpec]) -> str:
    return " or ".join(f'pip install "fashion-edge[{s.extra}]"' for s in specs[:2])


def _advice(bundle: Bundle | None, backends: tuple[BackendRow, ...], best: PairRow | None) -> str:
    if best is not None:
        return (f"use --format {best.format} --backend {best.backend}"
                f"{f' --threads {best.threads}' if best.threads > 1 else ''}: it matches the export here, "
                f"p50 {best.p50():.0f} us per preprocessed image")
    formats = list(bundle.formats) if bundle else []
    useful = [s for s in BACKENDS.values() if not formats or any(s.can_run(f) for f in formats)]
    working = [b.name for b in backends if b.probe is not None and b.probe.ok]
    broken = [f"{b.name}: {b.probe.error}" for b in backends if b.probe is not None and not b.probe.ok]
    missing = [s for s in useful if not s.installed()]
    if bundle is None and working:
        return f"backends that import here: {', '.join(working)}; pass --bundle to check them on a bundle's golden data"
    if not broken and not working:
        return f"no inference backend is installed: {_install_hint(missing)}"
    if not broken:
        return ("every installed backend disagrees with this bundle's golden outputs: check the bundle "
                "(fashion-edge verify, or copy it again)" + (f", or {_install_hint(missing)}" if missing else ""))
    why = "; ".join(broken)
    if missing:
        return f"nothing works here ({why}): {_install_hint(missing)}, then run fashion-edge doctor again"
    return f"nothing works here ({why}): reinstall the backends (pip install --force-reinstall) or report this CPU"


def diagnose(bundle_path: Path | None, log: Callable[[str], None] = lambda _: None) -> Diagnosis:
    cpu = cpu_info()
    path = bundle_path or (DEFAULT_BUNDLE if (DEFAULT_BUNDLE / "manifest.json").is_file() else None)
    bundle = Bundle.load(path) if path else None
    rows = []
    for spec in BACKENDS.values():
        installed = spec.installed()
        log(f"importing {spec.name} in a child process" if installed else f"{spec.name}: not installed")
        probe = run_probe("import", spec.name, timeout=IMPORT_TIMEOUT_S) if installed else None
        rows.append(BackendRow(spec.name, spec.extra, installed, module_version(spec.module) if installed else None,
                               probe))
    backends = tuple(rows)
    importable = {b.name for b in backends if b.probe is not None and b.probe.ok}
    pairs: list[PairRow] = []
    if bundle is not None:
        for fmt in bundle.formats:
            for spec in BACKENDS.values():
                if spec.name in importable and spec.can_run(fmt):
                    log(f"checking {fmt} on {spec.name}")
                    threads = 1 if "threads" in spec.options else 0    # 0: the backend has no such option
                    pairs.append(PairRow(fmt, spec.name, threads, run_probe(
                        "pair", str(bundle.path), fmt, spec.name, str(threads), timeout=PAIR_TIMEOUT_S)))
    passing = sorted((p for p in pairs if p.probe.ok), key=PairRow.p50)
    best = passing[0] if passing else None
    if best is not None and cpu.cores > 1 and not BACKENDS[best.backend].slow:
        log(f"timing {best.format} on {best.backend} with {cpu.cores} threads")
        wide = PairRow(best.format, best.backend, cpu.cores, run_probe(
            "pair", str(bundle.path), best.format, best.backend, str(cpu.cores), timeout=PAIR_TIMEOUT_S))
        pairs.append(wide)
        if wide.probe.ok and wide.p50() < MORE_THREADS_GAIN * best.p50():
            best = wide
    recommendation = None if best is None else {
        "format": best.format, "backend": best.backend, "threads": best.threads, "p50_us": best.p50(),
        "why": "the fastest pair whose outputs match the export's golden data on this machine"}
    ok = best is not None if bundle is not None else bool(importable)
    return Diagnosis(_platform(), cpu, str(bundle.path) if bundle else None, backends, tuple(pairs), recommendation,
                     ok, _advice(bundle, backends, best))


def _failure(probe: Probe) -> str:
    """'CRASHED with SIGILL (Illegal instruction)', 'TIMEOUT: no answer within 120 s (hung)', ..."""
    if probe.status == "crashed":
        return probe.error.replace("crashed", "CRASHED", 1)
    return f"{probe.status.upper()}: {probe.error}"


def render(d: Diagnosis) -> str:
    p = d.platform
    lines = [f"platform  {p['system']} {p['release']} {p['machine']}; Python {p['python']}, numpy {p['numpy']}, "
             f"Pillow {p['pillow']}, fashion-edge {p['fashion_edge']}",
             f"cpu       {d.cpu.model}, {d.cpu.cores} core(s); features ({d.cpu.source}): "
             + (" ".join(d.cpu.present()) or "none of interest")
             + (f"; absent: {' '.join(k for k, v in d.cpu.features.items() if not v)}" if d.cpu.features else ""),
             f"bundle    {d.bundle or 'none (pass --bundle to check formats)'}", "",
             f"{'backend':16s}{'installed':12s}import in a child process"]
    for b in d.backends:
        state = ("not installed: pip install \"fashion-edge[" + b.extra + "]\"") if b.probe is None else (
            f"ok ({b.probe.detail.get('seconds', 0):.2f} s)" if b.probe.ok else _failure(b.probe))
        lines.append(f"{b.name:16s}{(b.version or '-'):12s}{state}")
    if d.pairs:
        lines += ["", f"{'format':16s}{'backend':16s}{'threads':>8s}  golden check (max |dlogit| / allowed)   p50 us"]
        for pr in d.pairs:
            check = pr.probe.detail.get("check")
            figures = f"{check['max_abs_diff']:.1e} / {check['atol']:.1e}" if check else ""
            verdict = "pass" if pr.probe.ok else pr.probe.status.upper()
            text = f"{verdict} {figures}" if check else _failure(pr.probe)
            p50 = f"{pr.p50():8.0f}" if check else ""
            lines.append(f"{pr.format:16s}{pr.backend:16s}{pr.threads or '-':>8}  {text:38s}{p50}")
    lines += ["", ("recommended: " if d.recommendation else "") + d.advice]
    return "\n".join(lines)


def run_doctor(args) -> int:
    verbose = not args.json and sys.stderr.isatty()
    d = diagnose(Path(args.bundle) if args.bundle else None,
                 log=(lambda m: print(f"  {m} ...", file=sys.stderr, flush=True)) if verbose else (lambda _: None))
    if args.json:
        print(json.dumps(d.to_json(), indent=2))
    else:
        print(render(d))
    if not d.ok:
        print(f"fashion-edge doctor: {d.advice}", file=sys.stderr)
    return 0 if d.ok else 1
