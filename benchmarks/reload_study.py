"""Hot reload under load: 20 reloads of a real `fashion-edge serve` while wrk keeps 8 connections busy.

The service's --bundle is a `current` symlink, as the deploy kit's is. The study switches it and asks
for a reload, alternately with POST /v1/admin/reload and SIGHUP, 20 times: 15 good reloads alternate
two different bundles (A and B), and 5 bad bundles come in between, 3 corrupt and 2 tampered, one of
them re-hashed so that only the golden self-check can tell. Meanwhile wrk (benchmarks/wrk_reload.lua,
8 threads with one keep-alive connection each, connection i sending photo i) writes every answer down.

Checked afterwards: no good request got anything but 200; every answer names bundle A or B and
carries exactly the probabilities that bundle's file computes for that photo in this process (same
file, same backend, one thread: equal, not close); each bad bundle was refused while the previous
one served on; the server's RSS at the end is within RSS_LIMIT_MB of its RSS after the first reload
(interpreters of replaced models are freed). -> reload.json beside bundle A, a REPORT.md section.

    python -m fashion_edge.benchmarks.reload_study BUNDLE_A BUNDLE_B [--format tflite-int8]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Callable

from fashion_edge.benchmarks.images import bench_images
from fashion_edge.benchmarks.loadgen import ServerProcess, tool_version
from fashion_edge.export.photo_like import photo_for
from fashion_edge.runtime.bundle import Bundle, sha256_bytes
from fashion_edge.runtime.classifier import Classifier
from fashion_edge.runtime.cpu import cpu_info
from fashion_edge.runtime.formats import DEFAULT_FORMAT
from fashion_edge.runtime.service.model import bundle_id
from fashion_edge.runtime.versions import versions
from fashion_edge.train.artifacts import write_text_atomic

WRK_SCRIPT = Path(__file__).with_name("wrk_reload.lua")
CONCURRENCY = 8
PHOTOS = CONCURRENCY   # one per connection: each answer's photo is known
RSS_LIMIT_MB = 10.0
RELOAD_TIMEOUT_S = 300


class Kind(str, Enum):
    GOOD = "good"
    CORRUPT = "corrupt"
    TAMPERED = "tampered"


@dataclass(frozen=True)
class Step:
    release: str       # "A", "B" or a spoiled copy's name
    kind: Kind
    trigger: str       # "POST" or "SIGHUP"


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _rehashed_golden(bundle: Path) -> None:
    """Move the first golden image's recorded outputs far off, and record golden.json's new sha256 in the
    manifest: every hash matches, only the self-check can tell."""
    golden = json.loads((bundle / "golden.json").read_text())
    for out in golden["outputs"].values():
        out["logits"][0] = [v + 5.0 for v in out["logits"][0]]
    data = json.dumps(golden).encode()
    (bundle / "golden.json").write_bytes(data)
    manifest = json.loads((bundle / "manifest.json").read_text())
    for asset in manifest["assets"]:
        if asset["file"] == "golden.json":
            asset["bytes"], asset["sha256"] = len(data), sha256_bytes(data)
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=1))


# name -> (kind, what was done, how), applied to a copy of bundle B; `model` is the served format's file
SPOILS: dict[str, tuple[Kind, str, Callable[[Path, str], None]]] = {
    "corrupt-manifest": (Kind.CORRUPT, "manifest.json cut in half", lambda b, m: _truncate(b / "manifest.json")),
    "corrupt-model": (Kind.CORRUPT, "the served model file cut in half", lambda b, m: _truncate(b / m)),
    "corrupt-golden": (Kind.CORRUPT, "golden.json replaced by random bytes",
                       lambda b, m: (b / "golden.json").write_bytes(os.urandom(4096))),
    "tampered-model": (Kind.TAMPERED, "one byte of the served model flipped", lambda b, m: _flip(b / m)),
    "tampered-rehashed": (Kind.TAMPERED, "golden outputs altered and re-hashed in the manifest",
                          lambda b, m: _rehashed_golden(b)),
}


def plan() -> list[Step]:
    """20 reloads: the good ones alternate B and A (first and last B, so RSS is compared on the same model),
    the bad ones come in between; POST and SIGHUP take turns."""
    releases = ["B", "A", "corrupt-manifest", "B", "A", "tampered-model", "B", "A", "corrupt-model", "B", "A",
                "tampered-rehashed", "B", "A", "corrupt-golden", "B", "A", "B", "A", "B"]
    return [Step(r, SPOILS[r][0] if r in SPOILS else Kind.GOOD, "POST" if n % 2 == 0 else "SIGHUP")
            for n, r in enumerate(releases)]


def prepare(root: Path, a: Path, b: Path, fmt: str) -> dict[str, Path]:
    """The releases the link will point at: copies of A and B, and spoiled copies of B."""
    model = Bundle.load(b).entry(fmt).file
    found = {"A": Path(shutil.copytree(a, root / "A")), "B": Path(shutil.copytree(b, root / "B"))}
    for name, (_kind, _what, spoil) in SPOILS.items():
        found[name] = Path(shutil.copytree(b, root / name))
        spoil(found[name], model)
    return found


def point(link: Path, target: Path) -> None:
    """Switch the link atomically, as install.sh does: a new link renamed over the old one."""
    tmp = link.with_name(link.name + ".new")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    os.replace(tmp, link)


def _request(port: int, method: str, path: str, timeout: float = RELOAD_TIMEOUT_S) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=b"" if method == "POST" else None)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


def _reload(server: ServerProcess, step: Step) -> dict:
    """One reload by the step's trigger; what the service said about it."""
    if step.trigger == "POST":
        status, body = _request(server.port, "POST", "/v1/admin/reload")
        return {"status": status, "result": body.get("result"), "error": body.get("error"),
                "seconds": body.get("seconds"), "serving": (body.get("serving") or {}).get("id")}
    done = _request(server.port, "GET", "/healthz")[1]["reload"]["done"]
    server.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + RELOAD_TIMEOUT_S
    while time.monotonic() < deadline:
        health = _request(server.port, "GET", "/healthz")[1]
        if health["reload"]["done"] > done and not health["reload"]["running"]:
            last = _request(server.port, "GET", "/v1/info")[1]["reload"]
            return {"status": None, "result": last["last"], "error": last["error"], "seconds": last["seconds"],
                    "serving": health["bundle"]["id"]}
        time.sleep(0.05)
    raise RuntimeError(f"SIGHUP: no reload finished within {RELOAD_TIMEOUT_S} s:\n" + "".join(server.lines[-20:]))


def _start_wrk(url: str, photos: Path, answers: Path, seconds: float) -> subprocess.Popen:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk")
    env = {**os.environ, "FASHION_EDGE_PHOTOS": str(photos), "FASHION_EDGE_ANSWERS": str(answers)}
    return subprocess.Popen(["wrk", "-t", str(CONCURRENCY), "-c", str(CONCURRENCY), "-d", f"{seconds:g}s",
                             "--timeout", "60s", "-s", str(WRK_SCRIPT), url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _stop_wrk(wrk: subprocess.Popen) -> dict:
    wrk.send_signal(signal.SIGINT)      # wrk stops its threads, then runs `done`
    out, err = wrk.communicate(timeout=120)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"wrk printed no summary: {(err or out).strip()[-500:]}")
    return json.loads(lines[-1])


def check_answers(answers: Path, expected: dict[str, list[list[float]]]) -> dict:
    """Every answer wrk wrote down: its status, the bundle it names, and whether its probabilities are that
    bundle's for that photo."""
    statuses: Counter = Counter()
    by_bundle: Counter = Counter()
    matched, wrong = 0, []
    for file in sorted(answers.glob("*.tsv")):
        for line in file.read_text().splitlines():
            photo, status, body = line.split("\t", 2)
            statuses[status] += 1
            if status != "200":
                wrong.append(f"photo {photo}: {status} {body[:200]}")
                continue
            got = json.loads(body)
            named = got.get("bundle", {}).get("id")
            by_bundle[named] += 1
            if named in expected and got["probabilities"] == expected[named][int(photo)]:
                matched += 1
            else:
                wrong.append(f"photo {photo}: named {named}, label {got.get('label')!r}: not that bundle's output")
    total = sum(statuses.values())
    return {"answers": total, "statuses": dict(statuses), "by_bundle": dict(by_bundle), "matched": matched,
            "mismatched": total - matched, "examples": wrong[:5]}


def run_study(a: Path, b: Path, fmt: str = DEFAULT_FORMAT, pause_s: float = 1.5, log=print) -> dict:
    started = time.perf_counter()
    steps = plan()
    with tempfile.TemporaryDirectory(prefix="fashion-edge-reload-") as tmp:
        root = Path(tmp)
        releases = prepare(root / "releases", a, b, fmt)
        ids = {name: bundle_id((path / "manifest.json").read_bytes()) for name, path in releases.items()
               if name in ("A", "B")}
        link = root / "current"
        point(link, releases["A"])
        clf_a = Classifier(releases["A"], format=fmt, threads=1)   # as each server worker: one thread
        frames = bench_images(clf_a.bundle).frames
        photos = [photo_for(frames[i % len(frames)], clf_a.contract.preprocessing.id, 320, 320, noise=0)
                  for i in range(PHOTOS)]
        (root / "photos").mkdir()
        (root / "answers").mkdir()
        for i, photo in enumerate(photos):
            (root / "photos" / f"{i}.jpg").write_bytes(photo)
        expected = {}
        for name in ("A", "B"):
            clf = clf_a if name == "A" else Classifier(releases["B"], format=fmt, threads=1)
            expected[ids[name]] = [list(clf.predict(p).probabilities) for p in photos]
        del clf_a, clf
        server = ServerProcess(link, "--format", fmt)
        try:
            _wait(server)
            info = _request(server.port, "GET", "/v1/info")[1]
            wrk = _start_wrk(server.url + "/v1/classify", root / "photos", root / "answers", 3600)
            try:
                time.sleep(pause_s * 2)
                if wrk.poll() is not None:
                    raise RuntimeError(f"wrk stopped at once: {wrk.communicate()[1].strip()[-500:]}")
                records, serving, rss_first = [], ids["A"], None
                for n, step in enumerate(steps, 1):
                    point(link, releases[step.release])
                    said = _reload(server, step)
                    good = step.kind is Kind.GOOD
                    want = ids[step.release] if good else serving
                    ok = said["result"] == ("ok" if good else "failed") and said["serving"] == want
                    serving = said["serving"] or serving
                    records.append({"n": n, **asdict(step), "kind": step.kind.value,
                                    "what": SPOILS[step.release][1] if step.release in SPOILS else f"bundle {step.release}",
                                    **said, "as_expected": ok})
                    log(f"reload {n:2d} ({step.trigger:6s}) {step.release:18s} -> {said['result']:6s} "
                        f"{said['seconds'] or 0:.2f} s, serving {said['serving']}"
                        + ("" if ok else "  <-- NOT AS EXPECTED") + (f": {said['error'][:100]}" if said["error"] else ""))
                    time.sleep(pause_s)
                    if n == 1:
                        rss_first = server.rss_mb()
                time.sleep(pause_s)
            finally:
                load = _stop_wrk(wrk)
            time.sleep(1.0)
            rss_end = server.rss_mb()
            metrics = _reload_metrics(server.port)
        finally:
            exit_code = server.stop()
        answers = check_answers(root / "answers", expected)
        log_lines = "".join(server.lines)
    results = {
        "machine": {"cpu": cpu_info().to_json(), "platform": platform.platform(),
                    "versions": versions("fashion-edge", "numpy", "Pillow", "fastapi", "uvicorn")},
        "tool": tool_version("wrk"), "concurrency": CONCURRENCY, "photos": PHOTOS, "format": info["format"],
        "backend": info["backend"], "workers": info["workers"], "pause_s": pause_s,
        "bundles": {name: {"id": ids[name], "path": str(path), "model": Bundle.load(path).model,
                           "input": Bundle.load(path).manifest.input.describe(), "classes": len(Bundle.load(path).labels)}
                    for name, path in (("A", a), ("B", b))},
        "reloads": records, "load": load, "answers": answers,
        "rss_mb": {"after_first_reload": round(rss_first, 1), "end": round(rss_end, 1),
                   "growth": round(rss_end - rss_first, 1)},
        "metrics": metrics, "freed_logged": log_lines.count("freed: its last request has finished"),
        "server_exit_code": exit_code, "seconds": round(time.perf_counter() - started, 1),
    }
    results["targets"] = evaluate(results)
    return results


def _wait(server: ServerProcess, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if _request(server.port, "GET", "/healthz", 5)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server never became healthy:\n" + "".join(server.lines))


def _reload_metrics(port: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    found = {}
    for line in text.splitlines():
        if line.startswith("fashion_edge_reloads_total{"):
            result = line.split('result="', 1)[1].split('"', 1)[0]
            found[result] = int(float(line.rsplit(" ", 1)[1]))
    return found


def evaluate(results: dict) -> dict:
    """Each target with its measured value and whether it was met."""
    r, ans, load = results["reloads"], results["answers"], results["load"]
    good = [x for x in r if x["kind"] == Kind.GOOD.value]
    bad = [x for x in r if x["kind"] != Kind.GOOD.value]
    failed_requests = ans["answers"] - ans["statuses"].get("200", 0) + load["socket_errors"]
    growth = results["rss_mb"]["growth"]
    return {
        "reloads": {"value": f"{len(r)} ({len(good)} good, "
                             f"{sum(x['kind'] == Kind.CORRUPT.value for x in r)} corrupt, "
                             f"{sum(x['kind'] == Kind.TAMPERED.value for x in r)} tampered)",
                    "limit": "20 (15, 3, 2)", "met": len(r) == 20 and len(good) == 15 and len(bad) == 5},
        "good_reloads_swapped": {"value": f"{sum(x['as_expected'] for x in good)}/{len(good)}", "limit": "all",
                                 "met": all(x["as_expected"] for x in good)},
        "bad_bundles_refused_old_serving": {"value": f"{sum(x['as_expected'] for x in bad)}/{len(bad)}", "limit": "all",
                                            "met": all(x["as_expected"] for x in bad)},
        "non_200_answers": {"value": failed_requests, "limit": "0", "met": failed_requests == 0},
        "answers_equal_a_named_bundle": {"value": f"{ans['matched']:,}/{ans['answers']:,}", "limit": "all",
                                         "met": ans["matched"] == ans["answers"] > 0},
        "both_bundles_answered": {"value": ", ".join(f"{k}: {v:,}" for k, v in ans["by_bundle"].items()),
                                  "limit": "A and B", "met": set(ans["by_bundle"]) == {b["id"] for b in results["bundles"].values()}},
        "rss_growth_mb": {"value": growth, "limit": f"<= +{RSS_LIMIT_MB:g}", "met": growth <= RSS_LIMIT_MB},
        "clean_exit": {"value": results["server_exit_code"], "limit": "0", "met": results["server_exit_code"] == 0},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fashion_edge.benchmarks.reload_study", description=__doc__.split("\n")[0])
    p.add_argument("bundle_a", type=Path)
    p.add_argument("bundle_b", type=Path)
    p.add_argument("--format", default=DEFAULT_FORMAT)
    p.add_argument("--pause", type=float, default=1.5, help="seconds of load between two reloads")
    p.add_argument("--out", type=Path, default=None, help="default: reload.json beside bundle A")
    args = p.parse_args(argv)
    results = run_study(args.bundle_a, args.bundle_b, args.format, args.pause)
    out = args.out or args.bundle_a.resolve().parent / "reload.json"
    write_text_atomic(out, json.dumps(results, indent=1))
    from fashion_edge.benchmarks.reload_report import render_markdown

    print(render_markdown(results))
    print(f"wrote {out}")
    return 0 if all(t["met"] for t in results["targets"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
