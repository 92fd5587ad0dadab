"""Benchmarks: a deterministic corpus generator and the harnesses that time Gazette,
Pelican and Hugo on it (``python -m benchmarks.run``, ``python -m benchmarks.compare``)."""
