"""Load test of the preview server: many open live-reload channels plus a steady stream of
page requests, while watching the server's file descriptors and memory.

    python -m benchmarks.load_serve                      # 200 SSE + 50 req/s for 60 s
    python -m benchmarks.load_serve --seconds 5 --root PATH

``gazette serve --port 0`` runs as a child process on 127.0.0.1 (never another address);
its descriptors and RSS are read from ``/proc/<pid>`` before and after the load, and again
once every client has hung up, so a leak per request or per connection shows.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

PROJECT = Path(__file__).resolve().parent.parent
EVENTS_PATH = "_gazette/events"
"""The reload channel, below the site's base path (see builder.serve.EVENTS_PATH)."""
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class ProcessSample:
    """What the server process holds at one moment."""

    fds: int
    rss_kb: int
    threads: int


@dataclass(frozen=True)
class LoadReport:
    seconds: float
    sse_requested: int
    sse_open_at_end: int
    requests: int
    errors: tuple[str, ...]
    latencies_ms: tuple[float, ...]
    before: ProcessSample
    after: ProcessSample
    idle: ProcessSample
    """After every client hung up and the server had a moment to notice."""
    baseline: ProcessSample
    """Before any client connected."""
    pages: int = 0
    late: int = field(default=0)
    """Requests that started more than 100 ms after their scheduled moment."""

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def lines(self) -> list[str]:
        return [
            f"duration            {self.seconds:.1f} s",
            f"reload channels     {self.sse_open_at_end}/{self.sse_requested} open at the end",
            f"page requests       {self.requests} ({self.requests / self.seconds:.1f}/s over "
            f"{self.pages} pages), {len(self.errors)} errors, {self.late} started late",
            f"latency ms          p50 {self.percentile(0.50):.1f}  p90 {self.percentile(0.90):.1f}"
            f"  p99 {self.percentile(0.99):.1f}  max {max(self.latencies_ms, default=0):.1f}",
            f"server fds          baseline {self.baseline.fds}, loaded {self.before.fds} → "
            f"{self.after.fds}, idle {self.idle.fds}",
            f"server RSS          baseline {self.baseline.rss_kb} kB, loaded "
            f"{self.before.rss_kb} → {self.after.rss_kb} kB, idle {self.idle.rss_kb} kB",
            f"server threads      baseline {self.baseline.threads}, loaded {self.before.threads}"
            f" → {self.after.threads}, idle {self.idle.threads}",
        ]


def sample(pid: int) -> ProcessSample:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
    return ProcessSample(fds=len(os.listdir(f"/proc/{pid}/fd")), rss_kb=rss, threads=threads)


def write_project(root: Path, stories: int = 60) -> Path:
    """A small archive to serve: ``stories`` front-matter stories over four topics."""
    rng = random.Random(4)
    words = "harbour council river energy market vote storm bridge court school".split()
    for number in range(stories):
        folder = root / "content" / ("politics", "economy", "world", "culture")[number % 4]
        folder.mkdir(parents=True, exist_ok=True)
        body = " ".join(rng.choice(words) for _ in range(300))
        (folder / f"story-{number:03d}.md").write_text(
            f"---\ntitle: Story {number} about the {rng.choice(words)}\n"
            f"date: 2021-{1 + number % 12:02d}-{1 + number % 28:02d}\n"
            f"tags: [{rng.choice(words).title()}, {rng.choice(words).title()}]\n---\n{body}\n",
            encoding="utf-8")
    (root / "gazette.toml").write_text('title = "Load test"\nsearch = false\n', encoding="utf-8")
    return root


class Server:
    """``gazette serve --port 0`` in a child process, stopped with SIGINT like Ctrl-C."""

    def __init__(self, root: Path):
        env = {**os.environ, "PYTHONPATH": str(PROJECT), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "builder", "--root", str(root), "serve", "--host", LOOPBACK,
             "--port", "0"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.url = self._wait_for_url()
        parts = urlsplit(self.url)
        self.port = parts.port
        self.base = parts.path

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + 120
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"gazette serve exited: {self.process.stderr.read()}")
            found = re.search(r"(http://\S+)", line)
            if found:
                return found.group(1)
        raise RuntimeError("gazette serve printed no URL within 120 s")

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGINT)
        try:
            _, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return self.process.returncode, err


def open_reload_channel(port: int, path: str) -> socket.socket:
    """An EventSource as a browser opens it; returns once the response headers arrived."""
    sock = socket.create_connection((LOOPBACK, port), timeout=10)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\n"
                 f"Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("reload channel closed before its headers")
        head += chunk
    status = head.split(b"\r\n", 1)[0]
    if b" 200 " not in status + b" ":
        raise ConnectionError(f"reload channel answered {status!r}")
    return sock


def still_open(sock: socket.socket) -> bool:
    """True if the server has not closed the channel (data waiting is fine)."""
    sock.setblocking(False)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


def site_pages(port: int, base: str) -> list[str]:
    """The pages linked from the home page (same site only)."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    connection.request("GET", base)
    home = connection.getresponse().read().decode("utf-8")
    connection.close()
    links = sorted({href for href in re.findall(r'href="([^"#?]+)"', home)
                    if href.startswith(base)})
    return [base, *links]


def paced_requests(port: int, pages: list[str], rate: float, seconds: float,
                   workers: int = 8) -> tuple[list[float], list[str], int]:
    """GET ``pages`` round-robin at ``rate`` per second for ``seconds``; latencies in ms
    from each request's start to its last byte, errors as text, and how many started late."""
    total = int(rate * seconds)
    start = time.monotonic() + 0.2
    latencies: list[float] = []
    errors: list[str] = []
    late = 0
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        nonlocal late
        connection = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
        for number in counter:
            due = start + number / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            began = time.monotonic()
            page = pages[number % len(pages)]
            try:
                connection.request("GET", page, headers={"Host": f"{LOOPBACK}:{port}"})
                response = connection.getresponse()
                body = response.read()
                ok = response.status == 200 and body
                problem = None if ok else f"{page}: HTTP {response.status}"
            except (OSError, http.client.HTTPException) as exc:
                problem = f"{page}: {type(exc).__name__}: {exc}"
                connection.close()
                connection = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
            elapsed = (time.monotonic() - began) * 1000
            with lock:
                latencies.append(elapsed)
                if problem:
                    errors.append(problem)
                if began - due > 0.1:
                    late += 1
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, late


def run_load(root: Path, *, seconds: float, channels: int, rate: float) -> LoadReport:
    """Serve ``root``, hold ``channels`` reload channels open, request pages at ``rate``/s
    for ``seconds``, and report what the server's process looked like throughout."""
    server = Server(root)
    sockets: list[socket.socket] = []
    try:
        pid = server.process.pid
        pages = site_pages(server.port, server.base)
        paced_requests(server.port, pages, rate=20, seconds=1)  # warm caches and threads
        time.sleep(0.5)
        baseline = sample(pid)
        errors: list[str] = []
        for _ in range(channels):
            try:
                sockets.append(open_reload_channel(server.port, server.base + EVENTS_PATH))
            except (OSError, ConnectionError) as exc:
                errors.append(f"reload channel: {exc}")
        before = sample(pid)
        began = time.monotonic()
        latencies, request_errors, late = paced_requests(server.port, pages, rate, seconds)
        elapsed = time.monotonic() - began
        after = sample(pid)
        open_at_end = sum(still_open(sock) for sock in sockets)
        for sock in sockets:
            sock.close()
        sockets.clear()
        # The server notices a closed channel at its next hang-up check (about a second).
        deadline = time.monotonic() + 10
        idle = sample(pid)
        while idle.fds > baseline.fds + 2 and time.monotonic() < deadline:
            time.sleep(0.25)
            idle = sample(pid)
        return LoadReport(seconds=elapsed, sse_requested=channels, sse_open_at_end=open_at_end,
                          requests=len(latencies), errors=tuple(errors + request_errors),
                          latencies_ms=tuple(latencies), before=before, after=after, idle=idle,
                          baseline=baseline, pages=len(pages), late=late)
    finally:
        for sock in sockets:
            sock.close()
        code, err = server.stop()
        if code not in (0, 130) or "Traceback" in err:
            print(f"gazette serve stopped badly (exit {code}):\n{err}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--channels", type=int, default=200, help="open reload (SSE) channels")
    parser.add_argument("--rate", type=float, default=50, help="page requests per second")
    parser.add_argument("--root", type=Path, default=None,
                        help="project to serve (default: a generated 60-story archive)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gazette-load-") as scratch:
        root = args.root or write_project(Path(scratch))
        report = run_load(root, seconds=args.seconds, channels=args.channels, rate=args.rate)
    for line in report.lines():
        print(line)
    for error in report.errors[:20]:
        print(f"error: {error}")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
