"""Issue 6, "Preview server" load: 200 open live-reload channels plus 50 page requests a
second against a real ``gazette serve`` on 127.0.0.1 — no errors, p99 latency reported, and
the server's file descriptors and memory flat. The full 60 s run is
``python -m benchmarks.load_serve``; CI runs it for a few seconds here.
"""

from __future__ import annotations

import pytest

from benchmarks.load_serve import run_load, write_project

SECONDS = 5
CHANNELS = 200
RATE = 50
RSS_GROWTH_LIMIT_KB = 16 * 1024
"""Allowed RSS growth over the loaded run: allocator warm-up, not a leak per request
(250 requests leaking even 64 kB each would pass 16 MB)."""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = write_project(tmp_path_factory.mktemp("load"))
    result = run_load(root, seconds=SECONDS, channels=CHANNELS, rate=RATE)
    print("\n" + "\n".join(result.lines()))  # the p99 and the resource figures, with -s
    return result


def test_no_request_or_reload_channel_fails(report):
    assert report.errors == ()
    assert report.sse_open_at_end == CHANNELS
    assert report.requests == SECONDS * RATE


def test_latency_is_reported_and_sane(report):
    p99 = report.percentile(0.99)
    assert 0 < p99 < 1000, f"p99 {p99:.1f} ms for static pages on loopback"


def test_file_descriptors_stay_flat_and_are_released(report):
    # One descriptor per open channel, none per finished request...
    assert report.before.fds >= report.baseline.fds + CHANNELS
    assert abs(report.after.fds - report.before.fds) <= 2
    # ...and every channel's descriptor and thread are given back once its client is gone.
    assert report.idle.fds <= report.baseline.fds + 2
    assert report.idle.threads <= report.baseline.threads + 2


def test_memory_stays_flat(report):
    assert report.after.rss_kb - report.before.rss_kb < RSS_GROWTH_LIMIT_KB
