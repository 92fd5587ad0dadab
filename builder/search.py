"""Full-text search: index the built site with Pagefind, byte-for-byte reproducibly.

Pagefind (https://pagefind.app) reads the rendered HTML and writes a static search bundle
into ``site/pagefind/``: a WebAssembly search engine, ``pagefind.js`` and the index split
into small gzipped chunks that the browser fetches on demand. No server, no CDN: the
bundle is served from the site itself and finds its own location at run time, so it
works under a base path such as ``/news/`` and on GitHub Pages.

What gets indexed is decided by attributes in the templates (see the Search section of README.md):
``data-pagefind-body`` on a story's ``<article>``, ``data-pagefind-filter`` for topic,
source, year and tag, ``data-pagefind-sort="date:…"``, ``data-pagefind-ignore`` on
navigation and related-story lists. Pages without ``data-pagefind-body`` (indexes, tag
pages, the search page) are not indexed.

Pagefind runs as its command-line binary (from the ``pagefind-bin`` wheel) rather than
through the ``pagefind`` Python package: that package drives the same binary as a service
over base64-encoded pipes and asyncio, which adds nothing for indexing a directory and
hides the exit status and error output that a failed build should show.

Determinism: Pagefind 1.5 writes fragments and word indexes reproducibly, but the filter
indexes and the metadata file that names them come out of a Rust hash map in a different
order on every run (Pagefind/pagefind#638, still open for filters; no option turns it
off). :func:`_make_reproducible` rewrites exactly those files in sorted order and renames
them after their new content, so two builds of the same site are byte-identical.

Reuse: indexing 10,000 stories takes Pagefind tens of seconds, so a rebuild that changed no
HTML must not pay it again. The bundle is kept in ``.gazette-cache/search/`` under a
fingerprint of every HTML file's path and bytes, the Pagefind binary, the index language
and this module's own source; when the fingerprint matches, the kept bundle is linked into
the site instead of running Pagefind. It is the same bundle Pagefind would write, byte for
byte, because the fix-up above makes Pagefind's output a function of those inputs.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from builder.config import SiteConfig
from builder.errors import BuildError, Diagnostic

__all__ = ["BUNDLE_DIR", "SearchStats", "index_site"]

BUNDLE_DIR = "pagefind"
"""Folder of the site that Pagefind writes into; reserved, replaced on every build."""

_PF_MAGIC = b"pagefind_dcd"
"""Pagefind's marker at the start of every decompressed index file."""
_NO_BODY_NOTICE = "Did not find a data-pagefind-body element"
"""What Pagefind prints when no page is marked, and it falls back to indexing whole pages."""
_TIMEOUT_SECONDS = 1800


@dataclass(frozen=True, slots=True)
class SearchStats:
    """What indexing produced, for the build summary."""

    pages: int
    """Pages in the index (story pages, when the templates mark them)."""
    filters: tuple[str, ...]
    """Names of the filters found, sorted (``source``, ``tag``, ``topic``, ``year``)."""
    files: int
    """Files in the bundle, Pagefind's scripts included."""
    bytes: int
    """Total size of the bundle."""
    seconds: float
    reused: bool = False
    """True when no HTML changed since the last indexing and its bundle was reused."""
    warnings: tuple[Diagnostic, ...] = ()


def index_site(site_dir: Path, *, config: SiteConfig) -> SearchStats:
    """Index the rendered site in ``site_dir`` and write its search bundle into it.

    Call it after every page is written and before the site is swapped into place.
    Raises :class:`BuildError` when Pagefind is missing or fails.
    """
    site_dir = Path(site_dir)
    if not site_dir.is_dir():
        raise BuildError(f"cannot index {site_dir}: not a directory")
    binary = _pagefind_binary()
    bundle = site_dir / BUNDLE_DIR
    # A bundle left by an earlier run would keep its stale chunks next to the new ones.
    shutil.rmtree(bundle, ignore_errors=True)
    started = time.perf_counter()
    language = _index_language(config.language)
    fingerprint = _fingerprint(site_dir, binary, language)
    cache = config.cache_path / "search"
    kept = _kept_index(cache, fingerprint)
    warnings: list[Diagnostic] = []
    if kept is not None:
        _link_tree(cache / BUNDLE_DIR, bundle)
        filters, unmarked = tuple(kept["filters"]), bool(kept["unmarked"])
    else:
        unmarked = _NO_BODY_NOTICE in _run_pagefind(binary, site_dir, language)
        try:
            filters = _make_reproducible(bundle)
        except _UnknownLayout as exc:
            # Search still works; only byte-identical rebuilds are lost, so warn, don't fail.
            filters = ()
            warnings.append(Diagnostic(
                path=f"{config.output_dir}/{BUNDLE_DIR}", line=None, severity="warning",
                message=f"this Pagefind writes an index layout Gazette does not know ({exc}), "
                        "so the search bundle may differ between two builds of the same site",
                hint="install the Pagefind that pyproject.toml names: "
                     "pip install 'pagefind-bin>=1.5.2,<1.6'",
            ))
        else:
            _keep_index(cache, fingerprint, bundle, filters, unmarked)
    seconds = time.perf_counter() - started
    files = sorted(p for p in bundle.rglob("*") if p.is_file())
    if unmarked:
        warnings.append(Diagnostic(
            path=f"{config.templates_dir}/story.html", line=None, severity="warning",
            message="no page carries data-pagefind-body, so search indexed every page whole, "
                    "navigation and lists included",
            hint="put data-pagefind-body on the story's <article> (see the Search section of README.md)",
        ))
    return SearchStats(
        pages=_page_count(bundle),
        filters=filters,
        files=len(files),
        bytes=sum(p.stat().st_size for p in files),
        seconds=seconds,
        reused=kept is not None,
        warnings=tuple(warnings),
    )


# -- running Pagefind ----------------------------------------------------------------------

def _pagefind_binary() -> Path:
    """The Pagefind executable shipped by the ``pagefind-bin`` wheel, else one on PATH."""
    try:
        from pagefind_bin import get_executable
    except ImportError:
        found = shutil.which("pagefind")
        if found:
            return Path(found)
    else:
        try:
            return get_executable()
        except FileNotFoundError:
            pass
    raise BuildError(
        "search is on but Pagefind is not installed; install it with "
        "pip install 'pagefind-bin>=1.5.2,<1.6', or set search = false in gazette.toml"
    )


def _index_language(language: str) -> str:
    """Pagefind's language for the whole archive: the primary subtag of the site language.

    One index for every story, whatever its ``lang``: the search page searches one index,
    so per-language indexes would hide stories in other languages from it.
    """
    return language.split("-")[0].lower() or "en"


def _run_pagefind(binary: Path, site_dir: Path, language: str) -> str:
    """Run the Pagefind CLI over ``site_dir``; its console output, or BuildError."""
    command = [
        str(binary), "--site", str(site_dir.resolve()), "--output-subdir", BUNDLE_DIR,
        "--force-language", language,
    ]
    # Pagefind also reads pagefind.{json,toml,yml} from its working directory and
    # PAGEFIND_* variables; the built site and a clean environment keep it hermetic.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAGEFIND_")}
    try:
        done = subprocess.run(command, cwd=site_dir, env=env, capture_output=True, text=True,
                              encoding="utf-8", errors="replace", timeout=_TIMEOUT_SECONDS)
    except OSError as exc:
        raise BuildError(f"could not run Pagefind ({binary}): {exc.strerror or exc}") from None
    except subprocess.TimeoutExpired:
        raise BuildError(f"Pagefind did not finish within {_TIMEOUT_SECONDS} s") from None
    log = done.stdout + done.stderr
    if done.returncode != 0:
        tail = "\n".join(line for line in log.splitlines()[-8:] if line.strip())
        raise BuildError(f"Pagefind failed to index {site_dir} (exit {done.returncode}):\n{tail}")
    return log


def _page_count(bundle: Path) -> int:
    entry = json.loads((bundle / "pagefind-entry.json").read_text(encoding="utf-8"))
    return sum(language["page_count"] for language in entry["languages"].values())


# -- reusing the bundle of an unchanged site ----------------------------------------------------

def _fingerprint(site_dir: Path, binary: Path, language: str) -> str:
    """A digest of everything Pagefind's output depends on (it reads only ``*.html``)."""
    digest = hashlib.sha256()
    tool = binary.stat()
    digest.update(f"{binary}\0{tool.st_size}\0{tool.st_mtime_ns}\0{language}\0".encode())
    digest.update(Path(__file__).read_bytes())
    for page in sorted(site_dir.rglob("*.html")):
        data = page.read_bytes()
        digest.update(f"\0{page.relative_to(site_dir).as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _kept_index(cache: Path, fingerprint: str) -> dict | None:
    """The record of the kept bundle when it was made from the same inputs, else None."""
    try:
        record = json.loads((cache / "index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (not isinstance(record, dict) or record.get("fingerprint") != fingerprint
            or not (cache / BUNDLE_DIR / "pagefind-entry.json").is_file()):
        return None
    return record


def _keep_index(cache: Path, fingerprint: str, bundle: Path, filters: tuple[str, ...],
                unmarked: bool) -> None:
    """Keep ``bundle`` for the next build; the record is written last, so a half-kept
    bundle is never used."""
    try:
        shutil.rmtree(cache, ignore_errors=True)
        _link_tree(bundle, cache / BUNDLE_DIR)
        (cache / "index.json").write_text(json.dumps(
            {"fingerprint": fingerprint, "filters": list(filters), "unmarked": unmarked}),
            encoding="utf-8")
    except OSError:
        # Only the next build's speed depends on the cache, never its output.
        shutil.rmtree(cache, ignore_errors=True)


def _link_tree(source: Path, target: Path) -> None:
    """Hard-link every file of ``source`` into ``target`` (copy across file systems).

    Safe to share: nothing writes into a bundle file in place; a new bundle is new files.
    """
    for path in sorted(source.rglob("*")):
        destination = target / path.relative_to(source)
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, destination)
        except OSError:
            shutil.copy2(path, destination)


# -- making the bundle reproducible ---------------------------------------------------------

class _UnknownLayout(ValueError):
    """A bundle file this module cannot rewrite without risk of corrupting it."""


def _make_reproducible(bundle: Path) -> tuple[str, ...]:
    """Rewrite the filter indexes and metadata in a fixed order; the filter names.

    Each filter file holds ``[name, [[value, [page, …]], …]]`` with the values in hash-map
    order; the metadata file lists ``[name, file hash]`` per filter, also unordered. Both
    are sorted, re-encoded, and renamed after a hash of their new bytes, and
    ``pagefind-entry.json`` is pointed at the new metadata file. Every file is decoded and
    checked before the first one is replaced, so an unknown layout changes nothing.
    """
    entry_path = bundle / "pagefind-entry.json"
    entry = json.loads(entry_path.read_text(encoding="utf-8"))
    renamed: dict[str, str] = {}
    filter_names: set[str] = set()
    replacements: list[tuple[Path, Path, bytes]] = []  # (old file, new file, payload)
    for path in sorted((bundle / "filter").glob("*.pf_filter")):
        index = _read_index(path)
        if len(index) != 2 or not isinstance(index[0], str) or not isinstance(index[1], list):
            raise _UnknownLayout(f"{path.name}: not [name, values]")
        name, values = index
        filter_names.add(name)
        canonical = _cbor_encode([name, sorted(values, key=lambda value: value[0])])
        old_hash = path.name.removesuffix(".pf_filter")
        renamed[old_hash] = _content_name(old_hash.split("_")[0], canonical, 7)
        replacements.append((path, path.with_name(f"{renamed[old_hash]}.pf_filter"), canonical))
    for language in entry["languages"].values():
        old_path = bundle / f"pagefind.{language['hash']}.pf_meta"
        canonical = _cbor_encode([_sorted_filter_list(item, renamed)
                                  for item in _read_index(old_path)])
        language["hash"] = _content_name(language["hash"].split("_")[0], canonical, 10)
        replacements.append((old_path, bundle / f"pagefind.{language['hash']}.pf_meta", canonical))
    for old_path, _, _ in replacements:
        old_path.unlink()
    for _, new_path, payload in replacements:
        # mtime=0: gzip would otherwise stamp the current time into the header.
        new_path.write_bytes(gzip.compress(_PF_MAGIC + payload, compresslevel=9, mtime=0))
    entry["languages"] = dict(sorted(entry["languages"].items()))
    entry_path.unlink()  # a new file, never a write through a hard link to a previous site
    entry_path.write_text(json.dumps(entry, ensure_ascii=False, separators=(",", ":")),
                          encoding="utf-8")
    return tuple(sorted(filter_names))


def _sorted_filter_list(item: object, renamed: dict[str, str]) -> object:
    """``item`` itself, unless it is the metadata's ``[[name, filter hash], …]`` list.

    The list is recognised by its content (pairs naming filter files) rather than by its
    position, so a reordered metadata layout in a later Pagefind still works.
    """
    if (isinstance(item, list) and item
            and all(isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], str)
                    and pair[1] in renamed for pair in item)):
        return sorted([name, renamed[old_hash]] for name, old_hash in item)
    return item


def _content_name(language: str, data: bytes, length: int) -> str:
    return f"{language}_{hashlib.sha256(data).hexdigest()[:length]}"


def _read_index(path: Path) -> list:
    """Decode one gzipped, marked CBOR index file, checking that re-encoding is lossless."""
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise _UnknownLayout(f"{path.name}: not gzip ({exc})") from None
    if not raw.startswith(_PF_MAGIC):
        raise _UnknownLayout(f"{path.name}: no Pagefind marker")
    payload = raw[len(_PF_MAGIC):]
    try:
        value, end = _cbor_decode(payload, 0)
    except (IndexError, UnicodeDecodeError) as exc:
        raise _UnknownLayout(f"{path.name}: truncated or invalid CBOR ({exc})") from None
    # Rewriting a file this codec does not reproduce exactly could corrupt the index.
    if end != len(payload) or not isinstance(value, list) or _cbor_encode(value) != payload:
        raise _UnknownLayout(f"{path.name}: encoding not reproduced exactly")
    return value


# -- the CBOR subset Pagefind writes (RFC 8949: integers, text, arrays, maps) -----------------

def _cbor_decode(data: bytes, at: int) -> tuple[object, int]:
    """Decode the item starting at ``data[at]``; the value and the offset after it."""
    major, info = data[at] >> 5, data[at] & 0x1F
    at += 1
    if info < 24:
        argument = info
    elif info <= 27:
        size = 1 << (info - 24)
        argument = int.from_bytes(data[at:at + size], "big")
        at += size
    else:
        raise _UnknownLayout(f"unsupported CBOR item (major type {major}, info {info})")
    if major == 0:
        return argument, at
    if major == 1:
        return -1 - argument, at
    if major == 2:
        return bytes(data[at:at + argument]), at + argument
    if major == 3:
        return data[at:at + argument].decode("utf-8"), at + argument
    if major == 4:
        items = []
        for _ in range(argument):
            item, at = _cbor_decode(data, at)
            items.append(item)
        return items, at
    if major == 5:
        pairs = []
        for _ in range(argument):
            key, at = _cbor_decode(data, at)
            value, at = _cbor_decode(data, at)
            pairs.append((key, value))
        return dict(pairs), at
    raise _UnknownLayout(f"unsupported CBOR major type {major}")


def _cbor_encode(value: object) -> bytes:
    """Shortest-form encoding, as Pagefind's encoder (minicbor) writes it."""
    if isinstance(value, bool):
        raise TypeError("booleans do not occur in Pagefind indexes")
    if isinstance(value, int):
        return _cbor_head(0, value) if value >= 0 else _cbor_head(1, -1 - value)
    if isinstance(value, bytes):
        return _cbor_head(2, len(value)) + value
    if isinstance(value, str):
        encoded = value.encode("utf-8")
        return _cbor_head(3, len(encoded)) + encoded
    if isinstance(value, list):
        return _cbor_head(4, len(value)) + b"".join(_cbor_encode(item) for item in value)
    if isinstance(value, dict):
        return _cbor_head(5, len(value)) + b"".join(
            _cbor_encode(k) + _cbor_encode(v) for k, v in value.items())
    raise TypeError(f"cannot CBOR-encode {type(value).__name__}")


def _cbor_head(major: int, argument: int) -> bytes:
    if argument < 24:
        return bytes([major << 5 | argument])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if argument < 1 << (8 * size):
            return bytes([major << 5 | info]) + argument.to_bytes(size, "big")
    raise ValueError(f"CBOR argument too large: {argument}")
