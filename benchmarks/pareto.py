"""The picture a user chooses a model by: test accuracy against batch-of-one latency, every model ×
format × backend × engine options, marker area by file size, the Pareto front highlighted.

An entry is on the front when no other entry is at least as accurate and at least as fast (and
strictly better in one): everything off the front costs latency for nothing, or accuracy for nothing.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from fashion_edge.benchmarks.results import ResultEntry, Results


def front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated (latency, accuracy) points: lower latency and higher accuracy win."""
    keep = []
    for i, (lat, acc) in enumerate(points):
        dominated = any((l2 <= lat and a2 >= acc) and (l2 < lat or a2 > acc) for j, (l2, a2) in enumerate(points) if j != i)
        if not dominated:
            keep.append(i)
    return keep


def plot(runs: Sequence[Results], path: Path) -> list[tuple[str, ResultEntry]]:
    """Write the plot; return the front as (model, entry), fastest first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = [(r.model, e) for r in runs for e in r.results if e.accuracy_images >= 10000]
    points = [(e.latency_us.p50, e.accuracy) for _, e in entries]
    best = front(points)
    fig, ax = plt.subplots(figsize=(10, 6.5))
    colours = {m: c for m, c in zip(sorted({m for m, _ in entries}), ("tab:blue", "tab:orange", "tab:green", "tab:red"))}
    for i, (model, e) in enumerate(entries):
        ax.scatter(e.latency_us.p50, 100 * e.accuracy, s=max(e.size_bytes / 1024 / 4, 8), alpha=0.9 if i in best else 0.3,
                   color=colours[model], edgecolors="black" if i in best else "none", linewidths=1.2)
    ordered = sorted(best, key=lambda i: points[i][0])
    ax.plot([points[i][0] for i in ordered], [100 * points[i][1] for i in ordered], "k--", lw=1, label="Pareto front")
    for i in ordered:
        model, e = entries[i]
        ax.annotate(f"{model} {e.format}\n{e.backend} {e.options_text}", (points[i][0], 100 * points[i][1]),
                    textcoords="offset points", xytext=(6, -4), fontsize=7)
    for model, colour in colours.items():
        ax.scatter([], [], color=colour, label=model)
    ax.set_xscale("log")
    ax.set_xlabel("Classifier.predict p50 latency, batch of one (µs, log)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy vs latency (marker area: file size); outlined points are on the front")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [entries[i] for i in ordered]
