"""A real `fashion-edge serve` process on loopback, and Debian's `hey` load generator pointed at it.

hey (apt-get install hey) writes one CSV row per request with `-o csv`: its response time and its
start offset, so latency percentiles and the achieved request rate come from every request rather
than from hey's rounded summary. Requests that failed at the connection level leave no row; they
are counted as the difference to the number asked for.
"""
from __future__ import annotations

import csv
import io
import re
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
class HeyRun:
    concurrency: int
    asked: int
    latencies_s: tuple[float, ...]
    statuses: tuple[int, ...]
    wall_s: float

    @property
    def rps(self) -> float:
        return len(self.latencies_s) / self.wall_s if self.wall_s > 0 else 0.0


def hey_version() -> str:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "hey"], capture_output=True, text=True, timeout=10)
        return f"hey {out.stdout.strip()}" if out.returncode == 0 else "hey"
    except OSError:
        return "hey"


def run_hey(url: str, body: Path, requests: int, concurrency: int, content_type: str = "image/jpeg") -> HeyRun:
    """POST `body` `requests` times with `concurrency` keep-alive connections."""
    if shutil.which("hey") is None:
        raise RuntimeError("hey is not installed: apt-get install -y hey")
    done = subprocess.run(["hey", "-n", str(requests), "-c", str(concurrency), "-m", "POST", "-T", content_type,
                           "-D", str(body), "-t", "60", "-o", "csv", url], capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"hey failed: {done.stderr.strip()[-500:]}")
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    latencies = tuple(float(r["response-time"]) for r in rows)
    statuses = tuple(int(r["status-code"]) for r in rows)
    starts = np.array([float(r["offset"]) for r in rows])
    ends = starts + np.array(latencies)
    wall = float(ends.max() - starts.min()) if rows else 0.0
    # hey sends n // c requests on each of its c connections
    return HeyRun(concurrency, requests // concurrency * concurrency, latencies, statuses, wall)


def combine(runs: list[HeyRun]) -> dict:
    """Several rounds at one concurrency -> one entry: rate over the summed wall time, percentiles over all requests."""
    latencies = np.concatenate([np.asarray(r.latencies_s) for r in runs]) * 1e3
    statuses = [s for r in runs for s in r.statuses]
    asked = sum(r.asked for r in runs)
    p50, p90, p99 = np.percentile(latencies, [50, 90, 99])
    return {"concurrency": runs[0].concurrency, "requests": len(statuses), "rounds": len(runs),
            "rps": round(len(statuses) / sum(r.wall_s for r in runs), 1),
            "p50_ms": round(float(p50), 3), "p90_ms": round(float(p90), 3), "p99_ms": round(float(p99), 3),
            "non_200": sum(s != 200 for s in statuses), "connection_errors": asked - len(statuses)}
