"""Gazette: a static-site generator for curated news archives.

The pipeline is ``ingest → model → assemble → render → output``; ``pipeline.build``
runs it, ``cli`` and ``serve`` sit at the edge.
"""

__version__ = "0.1.0"
