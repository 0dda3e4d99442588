"""reload.json (benchmarks/reload_study.py) -> a markdown section for REPORT.md."""
from __future__ import annotations


def render_markdown(results: dict) -> str:
    cpu = results["machine"]["cpu"]
    a, b = results["bundles"]["A"], results["bundles"]["B"]
    load, ans, rss = results["load"], results["answers"], results["rss_mb"]
    rps = load["requests"] / (load["duration_us"] / 1e6) if load["duration_us"] else 0.0
    lines = [
        "## Hot reload under load (`fashion-edge serve`)",
        "",
        f"{results['format']} on {results['backend']}, {results['workers']} worker interpreter(s); {cpu['model']}, "
        f"{cpu['cores']} core(s) shared with {results['tool']} ({results['concurrency']} keep-alive connections, "
        f"connection i sending photo i of {results['photos']}, every answer written down). 20 reloads, POST /v1/admin/reload and "
        f"SIGHUP in turn, {results['pause_s']:g} s of load between them; the good ones alternate bundle A "
        f"`{a['id']}` ({a['model']}, {a['input']}, {a['classes']} classes) and B `{b['id']}` ({b['model']}, "
        f"{b['input']}, {b['classes']} classes).",
        "",
        f"Load: {load['requests']:,} requests in {load['duration_us'] / 1e6:.0f} s ({rps:.0f} req/s), p50 "
        f"{load['p50_us'] / 1e3:.2f} ms, p99 {load['p99_us'] / 1e3:.2f} ms, max {load['max_us'] / 1e3:.0f} ms; "
        f"statuses " + ", ".join(f"{k}: {v:,}" for k, v in sorted(ans["statuses"].items()))
        + f", socket errors {load['socket_errors']}. Answers equal to the named bundle's own output for that photo: "
        f"{ans['matched']:,} of {ans['answers']:,} (" + ", ".join(f"`{k}` {v:,}" for k, v in ans["by_bundle"].items())
        + f"). Server RSS {rss['after_first_reload']:.1f} MB after the first reload, {rss['end']:.1f} MB at the end "
        f"({rss['growth']:+.1f} MB); replaced models freed (logged): {results['freed_logged']}. "
        f"`fashion_edge_reloads_total`: " + ", ".join(f"{k} {v}" for k, v in sorted(results["metrics"].items())) + ".",
        "",
        "| # | trigger | bundle | result | s | serving after | as expected |",
        "|---:|---|---|---|---:|---|:---:|",
    ]
    for r in results["reloads"]:
        what = r["what"] if r["kind"] == "good" else f"{r['kind']}: {r['what']}"
        lines.append(f"| {r['n']} | {r['trigger']}{' ' + str(r['status']) if r['status'] else ''} | {what} | "
                     f"{r['result']} | {r['seconds'] or 0:.2f} | `{r['serving']}` | {'yes' if r['as_expected'] else '**no**'} |")
    lines += ["", "| target | measured | limit | met |", "|---|---:|---:|:---:|"]
    for name, t in results["targets"].items():
        lines.append(f"| {name} | {t['value']} | {t['limit']} | {'yes' if t['met'] else '**no**'} |")
    return "\n".join(lines) + "\n"
