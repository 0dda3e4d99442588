"""`fashion-edge bench compare A.json B.json`: two runs side by side (a laptop and a Pi, two builds),
entry by entry, as ratios B/A, with what each ran on."""
from __future__ import annotations

from fashion_edge.benchmarks.results import ResultEntry, Results


def _key(e: ResultEntry) -> tuple[str, str, str]:
    return e.format, e.backend, e.options_text


def _ratio(b: float | None, a: float | None) -> str:
    return f"{b / a:.2f}x" if a and b is not None else "–"


def _describe(name: str, r: Results) -> str:
    env = r.environment or {}
    feats = " ".join(env.get("features") or []) or "?"
    return (f"{name}: {r.model} on {r.machine.get('cpu')} ({r.machine.get('arch', env.get('arch', '?'))}, "
            f"{r.machine.get('cores')} cores; {feats}), Python {r.machine.get('python')}")


def compare(a: Results, b: Results) -> str:
    """A markdown table; entries present in only one run are listed after it."""
    lines = [_describe("A", a), _describe("B", b), "",
             "| format | backend | options | p50 µs A | p50 µs B | B/A | e2e B/A | cold start B/A | peak RSS B/A "
             "| CPU ms @10 Hz B/A | accuracy A | accuracy B |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    index_b = {_key(e): e for e in b.results}
    missing = []
    for ea in a.results:
        eb = index_b.pop(_key(ea), None)
        if eb is None:
            missing.append(f"only in A: {ea.label}")
            continue
        ra, rb = ea.rate(10.0), eb.rate(10.0)
        lines.append(
            f"| {ea.format} | {ea.backend} | {ea.options_text or '–'} | {ea.latency_us.p50:,.1f} | {eb.latency_us.p50:,.1f} "
            f"| {_ratio(eb.latency_us.p50, ea.latency_us.p50)} "
            f"| {_ratio(eb.e2e_latency_us.p50 if eb.e2e_latency_us else None, ea.e2e_latency_us.p50 if ea.e2e_latency_us else None)} "
            f"| {_ratio(eb.cold_start_s, ea.cold_start_s)} | {_ratio(eb.peak_rss_mb, ea.peak_rss_mb)} "
            f"| {_ratio(rb.cpu_ms_per_inference if rb else None, ra.cpu_ms_per_inference if ra else None)} "
            f"| {100 * ea.accuracy:.2f}% | {100 * eb.accuracy:.2f}% |")
    missing += [f"only in B: {e.label}" for e in index_b.values()]
    return "\n".join(lines + ([""] + missing if missing else [])) + "\n"
