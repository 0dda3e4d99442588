"""serve.json (benchmarks/load.py) -> target verdicts and a markdown section for REPORT.md."""
from __future__ import annotations

C1_OVERHEAD_LIMIT_MS = 1.0    # server p50 at concurrency 1 may exceed in-process e2e p50 by this much
C8_SPEEDUP_MIN = 1.6          # throughput at concurrency 8 over concurrency 1 (both cores used)
RSS_GROWTH_LIMIT_MB = 5.0
SOAK_MIN_REQUESTS = 20000


def _level(results: dict, c: int) -> dict:
    return next(entry for entry in results["load"] if entry["concurrency"] == c)


def evaluate(results: dict) -> dict:
    """Each target with its measured value, its limit and whether it was met."""
    c1, c8 = _level(results, 1), _level(results, 8)
    s = results["soak"]
    overhead = c1["p50_ms"] - results["in_process_e2e_ms"]["p50"]
    speedup = c8["rps"] / c1["rps"] if c1["rps"] else 0.0
    return {
        "c1_p50_overhead_ms": {"value": round(overhead, 3), "limit": f"<= {C1_OVERHEAD_LIMIT_MS}",
                               "met": overhead <= C1_OVERHEAD_LIMIT_MS},
        "c8_over_c1_throughput": {"value": round(speedup, 2), "limit": f">= {C8_SPEEDUP_MIN}", "met": speedup >= C8_SPEEDUP_MIN},
        "soak_requests": {"value": s["requests"], "limit": f">= {SOAK_MIN_REQUESTS}", "met": s["requests"] >= SOAK_MIN_REQUESTS},
        "soak_malformed_all_4xx": {"value": f"{s['malformed_4xx']}/{s['malformed']}", "limit": "all",
                                   "met": s["malformed_4xx"] == s["malformed"]},
        "soak_good_all_correct": {"value": f"{s['good_correct']}/{s['good']}", "limit": "all",
                                  "met": s["good_correct"] == s["good"]},
        "soak_no_5xx_or_dropped": {"value": s["server_errors_5xx"] + s["connection_errors"], "limit": "0",
                                   "met": s["server_errors_5xx"] == 0 and s["connection_errors"] == 0},
        "soak_rss_growth_mb": {"value": s["rss_growth_mb"], "limit": f"< {RSS_GROWTH_LIMIT_MB}",
                               "met": s["rss_growth_mb"] < RSS_GROWTH_LIMIT_MB},
    }


def _contention(machine: dict) -> list[str]:
    if "parallel_capacity" not in machine:
        return []
    (cap0, cap1), (load0, load1) = machine["parallel_capacity"], machine["load_average"]
    return ["", f"Other work on the machine: 1-minute load average {load0:.1f} before, {load1:.1f} after; a "
                f"2-thread GIL-free probe got {cap0:.2f} and {cap1:.2f} cores' worth (2.0 = both cores free)."]


def render_markdown(results: dict) -> str:
    """A REPORT.md section: the load table beside the in-process baseline, the soak, the targets."""
    e2e = results["in_process_e2e_ms"]
    default = results.get("in_process_e2e_default_malloc_ms")
    cpu = results["machine"]["cpu"]
    lines = [
        "## Service under load (`fashion-edge serve`)",
        "",
        f"{results['format']} on {results['backend']}, {results['workers']} worker interpreter(s), queue "
        f"{results['queue']}; {cpu['model']}, {cpu['cores']} core(s) shared with the load generator "
        f"({results['tool']}, keep-alive, loopback). Image: {results['image']['source']} "
        f"({results['image']['bytes']:,} bytes, {results['image']['size'][0]}x{results['image']['size'][1]}).",
        *_contention(results["machine"]),
        "",
        f"In-process end-to-end (`Classifier.predict(bytes)`, same file, same run, the server's malloc settings): "
        f"p50 {e2e['p50']:.2f} ms, p99 {e2e['p99']:.2f} ms ({e2e['n']:,} calls)"
        + (f"; with glibc's default malloc settings, as a script gets it: p50 {default['p50']:.2f} ms, "
           f"p99 {default['p99']:.2f} ms." if default else "."),
        "",
        "| concurrency | requests | req/s | p50 ms | p90 ms | p99 ms | non-200 |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for e in results["load"]:
        lines.append(f"| {e['concurrency']} | {e['requests']:,} | {e['rps']:.0f} | {e['p50_ms']:.2f} | {e['p90_ms']:.2f} "
                     f"| {e['p99_ms']:.2f} | {e['non_200'] + e['connection_errors']} |")
    check = results.get("cross_check")
    if check:
        lines += ["", f"Cross-check, concurrency 1 with {check['tool']} (a Go client; it rounds to 0.1 ms and its own "
                      f"CPU time shares the cores): p50 {check['p50_ms']:.2f} ms, p99 {check['p99_ms']:.2f} ms, "
                      f"{check['rps']:.0f} req/s, {check['requests']:,} requests, "
                      f"non-200 {check['non_200'] + check['connection_errors']}."]
    s = results["soak"]
    lines += [
        "",
        f"Soak: {s['requests']:,} requests in {s['seconds']:.0f} s from {s['clients']} clients, {s['malformed']:,} "
        f"malformed ({s['malformed_4xx']:,} answered 4xx), {s['good']:,} good ({s['good_correct']:,} with the "
        f"in-process label); 5xx: {s['server_errors_5xx']}, dropped connections: {s['connection_errors']}; server RSS "
        f"{s['rss_mb_after_warmup']:.1f} MB after {s['warmup_requests']:,} requests -> {s['rss_mb_end']:.1f} MB at the end "
        f"({s['rss_growth_mb']:+.2f} MB). Statuses: "
        + ", ".join(f"{k}: {v:,}" for k, v in s["status_counts"].items()) + ".",
        "",
        "| target | measured | limit | met |",
        "|---|---:|---:|:---:|",
    ]
    for name, t in results["targets"].items():
        lines.append(f"| {name} | {t['value']} | {t['limit']} | {'yes' if t['met'] else '**no**'} |")
    return "\n".join(lines) + "\n"
