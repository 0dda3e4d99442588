"""A real `fashion-edge serve` process on loopback, and Debian's load generators pointed at it.

wrk (apt-get install wrk) is the measuring client: written in C, it spends a few microseconds of CPU
per request on the cores it shares with the server, and its Lua `done` hook (wrk_post.lua) hands
over its whole latency histogram in microseconds, so rounds combine exactly. hey (apt-get install
hey), a Go client, is the cross-check: it writes one CSV row per request with `-o csv`, but rounds
response times to 0.1 ms and costs ~0.3 ms of CPU per request here, which lands on the latency it
reports at concurrency 1. Requests that failed at the connection level are counted, never dropped
from the figures silently.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WRK_SCRIPT = Path(__file__).with_name("wrk_post.lua")
LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


class ServerProcess:
    """`fashion-edge serve ... --port 0` on 127.0.0.1; the port is read from its log."""

    def __init__(self, bundle: Path, *flags: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "fashion_edge.cli", "serve", "--bundle", str(bundle),
                                      "--host", "127.0.0.1", "--port", "0", *flags],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.port = 0
        found = threading.Event()

        def read() -> None:
            for line in self.proc.stderr:
                self.lines.append(line)
                match = LISTENING.search(line)
                if match and not self.port:
                    self.port = int(match.group(1))
                    found.set()
            found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(120) or not self.port:
            self.proc.kill()
            raise RuntimeError("fashion-edge serve did not start:\n" + "".join(self.lines))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_mb(self) -> float:
        """Resident memory of the server process, from /proc (Linux)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)


@dataclass(frozen=True)
class LoadRun:
    """One load generator run at one concurrency: every answered request's latency, and what failed."""

    concurrency: int
    latencies_s: tuple[float, ...]
    non_200: int
    connection_errors: int
    wall_s: float

    @property
    def rps(self) -> float:
        return len(self.latencies_s) / self.wall_s if self.wall_s > 0 else 0.0


def tool_version(package: str) -> str:
    """'wrk 4.1.0-3+b2': the Debian package's version, for the record."""
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, timeout=10)
        return f"{package} {out.stdout.strip()}" if out.returncode == 0 else package
    except OSError:
        return package


def _require(tool: str) -> None:
    if shutil.which(tool) is None:
        raise RuntimeError(f"{tool} is not installed: apt-get install -y {tool}")


def run_wrk(url: str, body: Path, seconds: float, concurrency: int, content_type: str = "image/jpeg") -> LoadRun:
    """POST `body` for `seconds` over `concurrency` keep-alive connections (wrk, one thread per core at most)."""
    _require("wrk")
    threads = max(1, min(concurrency, os.cpu_count() or 1))
    env = {**os.environ, "FASHION_EDGE_BODY": str(body), "FASHION_EDGE_CONTENT_TYPE": content_type}
    done = subprocess.run(["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds:g}s", "--timeout", "60s",
                           "-s", str(WRK_SCRIPT), url], capture_output=True, text=True, timeout=seconds + 120, env=env)
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"wrk failed: {(done.stderr or done.stdout).strip()[-500:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    # The histogram may hold one more request than `requests` (one answered as wrk stopped): the
    # histogram is what was timed, so it is what the percentiles and the rate are computed from.
    latencies = tuple(us / 1e6 for us, count in summary["latency_us"] for _ in range(count))
    return LoadRun(concurrency, latencies, summary["non_2xx"], summary["socket_errors"], summary["duration_us"] / 1e6)


def run_hey(url: str, body: Path, requests: int, concurrency: int, content_type: str = "image/jpeg") -> LoadRun:
    """POST `body` `requests` times with `concurrency` keep-alive connections (hey)."""
    _require("hey")
    done = subprocess.run(["hey", "-n", str(requests), "-c", str(concurrency), "-m", "POST", "-T", content_type,
                           "-D", str(body), "-t", "60", "-o", "csv", url], capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"hey failed: {done.stderr.strip()[-500:]}")
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    latencies = tuple(float(r["response-time"]) for r in rows)
    starts = np.array([float(r["offset"]) for r in rows])
    ends = starts + np.array(latencies)
    wall = float(ends.max() - starts.min()) if rows else 0.0
    asked = requests // concurrency * concurrency      # hey sends n // c requests on each of its c connections
    return LoadRun(concurrency, latencies, sum(r["status-code"] != "200" for r in rows), asked - len(rows), wall)


def combine(runs: list[LoadRun]) -> dict:
    """Several rounds at one concurrency -> one entry: rate over the summed wall time, percentiles over all requests."""
    latencies = np.concatenate([np.asarray(r.latencies_s) for r in runs]) * 1e3
    p50, p90, p99 = np.percentile(latencies, [50, 90, 99])
    return {"concurrency": runs[0].concurrency, "requests": len(latencies), "rounds": len(runs),
            "rps": round(len(latencies) / sum(r.wall_s for r in runs), 1),
            "p50_ms": round(float(p50), 3), "p90_ms": round(float(p90), 3), "p99_ms": round(float(p99), 3),
            "non_200": sum(r.non_200 for r in runs), "connection_errors": sum(r.connection_errors for r in runs)}
