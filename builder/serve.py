"""``gazette serve``: build, serve, watch, rebuild, and live-reload open browser tabs.

The parts, each small and testable on its own::

    ProjectWatcher  watchdog events for content/, templates/, static/ and the config
         │ add(path)
    ChangeQueue     debounces a burst of events (an editor's save, a git checkout) into one batch
         │ next_batch()
    Rebuilder       reloads the config when it changed, calls the build function, turns the
         │          outcome (pages live, or diagnostics) into a PreviewState
    ReloadHub       holds the current PreviewState; Server-Sent Events clients wait on it
         │
    request handler resolves every request under the CURRENT output directory, injects the
                    live-reload script into HTML it serves (never into built files)

The preview is built into a private temporary directory with ``base_url`` pointing at the
preview server, so it never overwrites the ``site/`` that ``gazette build`` wrote for
deployment. What it serves is byte for byte what ``gazette build --base-url URL`` writes,
apart from the injected script.
"""

from __future__ import annotations

import fnmatch
import html
import ipaddress
import json
import mimetypes
import os
import secrets
import select
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol, TextIO
from urllib.parse import quote, unquote

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from builder.config import CONFIG_FILE, SiteConfig, load_config
from builder.errors import ConfigError, Diagnostic, GazetteError

__all__ = [
    "EVENTS_PATH", "ChangeQueue", "PreviewServer", "PreviewState", "ProjectWatcher",
    "Rebuilder", "Redirect", "Reject", "ReloadChannel", "ReloadHub", "SitePath",
    "host_allowed", "inject_livereload", "livereload_tag", "locate", "resolve_target", "serve",
]

EVENTS_PATH = "/_gazette/events"
"""The Server-Sent Events channel. Slugs never contain ``_``, so no page can shadow it."""

MAX_TARGET_BYTES = 8192
"""Longest request target accepted; the site's URLs are far shorter."""

QUIET_SECONDS = 0.025
"""A burst of file events ends after this long without a new one. An editor's save (a
scratch file, a write, a rename) is a burst of a few milliseconds; a burst cut short only
costs one more rebuild."""
MAX_DEBOUNCE_SECONDS = 2.0
"""A never-ending stream of events still gets a rebuild this often."""
UNSEEN_CHECK_SECONDS = 2.0
"""How long after a rebuild told by the watcher, with no change since, every story file is
looked at for a change the watcher missed (its queue overflowed, say). Not at once: the walk
takes 0.1-0.2 s at 10,000 stories, and a save made meanwhile would wait for it."""
HEARTBEAT_SECONDS = 15.0
"""An idle reload channel sends a comment this often, so proxies keep it open."""
HANGUP_CHECK_SECONDS = 1.0
"""How often an idle reload channel checks whether its client has gone."""

_TEMPORARY_NAMES = ("*~", ".#*", "#*#", "*.swp", "*.swx", "*.swo", "4913", ".DS_Store",
                    "*.tmp", ".*.kate-swp")
"""Editors' scratch files: their events are noise, the real file's events follow."""
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_STOP_CHECK_SECONDS = 0.5
"""How often the main thread wakes to run a stop signal's handler. Python runs handlers in
the main thread when it next runs Python code; a signal the kernel hands to another thread
(the HTTP server's, the watcher's) does not interrupt the main thread's wait, which then
would only end at its timeout."""
_CHANGE_EVENTS = frozenset({"created", "modified", "deleted", "moved"})


class BuildSummary(Protocol):
    """What the preview needs from ``pipeline.build``'s ``BuildResult``."""

    skipped: Any
    """Diagnostics of stories that could not be read (the rest of the site was built)."""
    seconds: float


BuildFunction = Callable[[SiteConfig], BuildSummary]
ToldBuild = Callable[[SiteConfig, "frozenset[str] | None"], BuildSummary]
"""A build told the paths changed since the last (None: not told)."""


# -- state shared with browsers -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PreviewState:
    """What is live right now, as every browser tab should see it."""

    config: SiteConfig
    """The configuration the live pages were built with (its output path is served)."""
    generation: int = 0
    """Counts successful builds; a tab showing an older generation reloads."""
    problems: tuple[Diagnostic, ...] = ()
    """Errors of the latest build attempt, shown in the overlay; empty when all is well."""
    version: int = 0
    """Counts published states, so waiting clients can tell a new one from the old."""

    def to_json(self, instance: str) -> str:
        return json.dumps({
            "page": f"{instance}:{self.generation}",
            "problems": [
                {"path": p.path, "line": p.line, "message": p.message, "hint": p.hint}
                for p in self.problems
            ],
        })


class ReloadHub:
    """The current :class:`PreviewState`, and a place for reload clients to wait for the next."""

    def __init__(self, initial: PreviewState):
        self._changed = threading.Condition()
        self._state = initial
        self._closed = False

    @property
    def state(self) -> PreviewState:
        with self._changed:
            return self._state

    def publish(self, generation: int, problems: tuple[Diagnostic, ...],
                config: SiteConfig) -> PreviewState:
        with self._changed:
            self._state = PreviewState(config=config, generation=generation, problems=problems,
                                       version=self._state.version + 1)
            self._changed.notify_all()
            return self._state

    def wait_for_update(self, seen_version: int, timeout: float) -> PreviewState | None:
        """The state once its version differs from ``seen_version`` (or after ``timeout``,
        unchanged); None when the hub is closed and the client should hang up."""
        with self._changed:
            self._changed.wait_for(lambda: self._closed or self._state.version != seen_version,
                                   timeout)
            return None if self._closed else self._state

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()


# -- watching and debouncing ---------------------------------------------------------------


class ChangeQueue:
    """Collects changed paths and hands them out as one batch per burst of events."""

    def __init__(self, quiet: float = QUIET_SECONDS, max_delay: float = MAX_DEBOUNCE_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self._quiet = quiet
        self._max_delay = max_delay
        self._clock = clock
        self._arrived = threading.Condition()
        self._pending: set[str] = set()
        self._last_event = 0.0
        self._closed = False

    def add(self, path: str) -> None:
        with self._arrived:
            self._pending.add(path)
            self._last_event = self._clock()
            self._arrived.notify_all()

    def close(self) -> None:
        with self._arrived:
            self._closed = True
            self._arrived.notify_all()

    def next_batch(self, timeout: float | None = None) -> frozenset[str] | None:
        """Block until a burst of changes has ended; None once the queue is closed, and an
        empty batch when ``timeout`` seconds passed without a change."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: self._closed or self._pending, timeout):
                return frozenset()
            first = self._clock()
            while not self._closed:
                now = self._clock()
                wait = min(self._last_event + self._quiet, first + self._max_delay) - now
                if wait <= 0:
                    break
                self._arrived.wait(wait)
            if self._closed:
                return None
            batch = frozenset(self._pending)
            self._pending.clear()
            return batch


def is_scratch_file(path: str) -> bool:
    name = os.path.basename(path)
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in _TEMPORARY_NAMES)


class ProjectWatcher:
    """Feeds a :class:`ChangeQueue` with changes to the inputs of a build.

    Only the input folders are watched recursively (never the project root, whose ``site/``,
    ``.git`` or ``.venv`` can hold tens of thousands of folders); the root and the config's
    folder are watched flat, to see the config change and input folders appear.
    """

    def __init__(self, queue: ChangeQueue, config: SiteConfig, config_file: Path):
        self._queue = queue
        self._config_file = str(config_file.absolute())
        self._inputs = tuple(str(p.absolute()) for p in
                             (config.content_path, config.templates_path, config.static_path))
        self._observer = Observer()
        self._recursive: dict[str, Any] = {}
        self._lock = threading.Lock()
        flat = {str(config.root.absolute()), os.path.dirname(self._config_file)}
        for folder in sorted(flat):
            if os.path.isdir(folder):
                self._observer.schedule(_Forward(self._on_event), folder, recursive=False)
        for folder in self._inputs:
            self._watch_input(folder)

    def start(self) -> None:
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join()

    def is_relevant(self, path: str) -> bool:
        if path == self._config_file:
            return True
        if is_scratch_file(path):
            return False
        return any(path == folder or path.startswith(folder + os.sep) for folder in self._inputs)

    def _watch_input(self, folder: str) -> None:
        with self._lock:
            old = self._recursive.pop(folder, None)
            if old is not None:
                try:
                    self._observer.unschedule(old)
                except KeyError:  # watchdog already dropped the watch of a deleted folder
                    pass
            if os.path.isdir(folder):
                self._recursive[folder] = self._observer.schedule(
                    _Forward(self._on_event), folder, recursive=True)

    def _on_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _CHANGE_EVENTS:
            return
        if event.is_directory and event.event_type == "modified":
            return  # a child's own event follows; the folder's mtime says nothing new
        paths = [os.fsdecode(event.src_path)]
        if event.event_type == "moved":
            paths.append(os.fsdecode(event.dest_path))
        for path in paths:
            if path in self._inputs and event.is_directory:
                self._watch_input(path)  # an input folder appeared or went away
            if self.is_relevant(path):
                self._queue.add(path)


class _Forward(FileSystemEventHandler):
    def __init__(self, callback: Callable[[FileSystemEvent], None]):
        self._callback = callback

    def on_any_event(self, event: FileSystemEvent) -> None:
        self._callback(event)


# -- rebuilding ---------------------------------------------------------------------------


class Rebuilder:
    """Runs builds and publishes their outcome; a failed build never ends the preview."""

    def __init__(self, hub: ReloadHub, build: ToldBuild,
                 load: Callable[[], SiteConfig], config_file: Path, out: TextIO):
        self._hub = hub
        self._build = build
        self._load = load
        self._config_file = str(config_file.absolute())
        self._out = out
        self._config = hub.state.config
        """The newest valid configuration: what the next build uses, even when the build
        that first read it failed and the live pages still come from an older one."""

    def rebuild(self, changed: frozenset[str] | None = None) -> PreviewState:
        """Build, told the paths ``changed`` since the last build (None: not told)."""
        current = self._hub.state
        if changed is not None and self._config_file in changed:
            try:
                self._config = self._load()
            except ConfigError as exc:
                problem = Diagnostic(path=os.path.basename(self._config_file), line=None,
                                     message=str(exc), hint="the previous settings stay in use")
                return self._report(current.generation, (problem,), current.config, None)
        config = self._config
        started = time.monotonic()
        try:
            result = self._build(config, changed)
        except GazetteError as exc:
            problems = tuple(getattr(exc, "diagnostics", ())) or (
                Diagnostic(path="gazette build", line=None, message=str(exc)),)
            return self._report(current.generation, problems, current.config, None)
        except Exception as exc:  # a bug in Gazette: show it, keep serving the last good pages
            traceback.print_exc(file=self._out)
            problem = Diagnostic(path="gazette", line=None, message=f"internal error: {exc!r}",
                                 hint="this is a bug in Gazette; the traceback is in the terminal")
            return self._report(current.generation, (problem,), current.config, None)
        problems = tuple(d for d in result.skipped if d.is_error)
        return self._report(current.generation + 1, problems, config,
                            time.monotonic() - started)

    def _report(self, generation: int, problems: tuple[Diagnostic, ...], config: SiteConfig,
                seconds: float | None) -> PreviewState:
        state = self._hub.publish(generation, problems, config)
        for problem in problems:
            print(problem, file=self._out)
        if seconds is None:
            print("gazette: build failed; still serving the last good pages", file=self._out)
        else:
            count = len(problems)
            skipped = f", {count} stor{'ies' if count != 1 else 'y'} skipped" if count else ""
            print(f"gazette: built in {seconds:.2f} s{skipped}", file=self._out)
        self._out.flush()
        return state


# -- requests -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reject:
    status: HTTPStatus
    reason: str


@dataclass(frozen=True, slots=True)
class Redirect:
    location: str
    """Always a path on this server (one leading ``/``), never another host."""


@dataclass(frozen=True, slots=True)
class ReloadChannel:
    pass


@dataclass(frozen=True, slots=True)
class SitePath:
    segments: tuple[str, ...]
    """Decoded path segments below the base path; a trailing ``''`` means a folder URL."""
    url_path: str
    """The decoded URL path, for redirects."""


Route = Reject | Redirect | ReloadChannel | SitePath


def resolve_target(target: str, base_path: str) -> Route:
    """Map a request target to what to serve. Pure: it never looks at the disk.

    Anything that could name a file outside the site (``..`` in any encoding, backslashes,
    NUL, ``//host``) is rejected here, before a path is ever built.
    """
    if len(target.encode("utf-8", "surrogateescape")) > MAX_TARGET_BYTES:
        return Reject(HTTPStatus.REQUEST_URI_TOO_LONG, "request target too long")
    if not target.startswith("/") or target.startswith("//"):
        return Reject(HTTPStatus.BAD_REQUEST, "request target must be a path on this server")
    raw_path = target.split("?", 1)[0].split("#", 1)[0]
    if "\\" in raw_path or "%5c" in raw_path.lower():
        return Reject(HTTPStatus.BAD_REQUEST, "backslash in path")
    try:
        path = unquote(raw_path, errors="strict")
    except UnicodeDecodeError:
        return Reject(HTTPStatus.BAD_REQUEST, "path is not UTF-8")
    if any(ord(ch) < 0x20 or ch in "\x7f\\" for ch in path):
        return Reject(HTTPStatus.BAD_REQUEST, "control character in path")
    segments = path[1:].split("/")
    if any(s in (".", "..") for s in segments) or "" in segments[:-1]:
        return Reject(HTTPStatus.BAD_REQUEST, "path is not canonical")
    if path == EVENTS_PATH:
        return ReloadChannel()
    if not path.startswith(base_path):
        if path == "/" or path + "/" == base_path:
            return Redirect(quote(base_path))
        return Reject(HTTPStatus.NOT_FOUND, f"not found (the site is served under {base_path})")
    return SitePath(tuple(path[len(base_path):].split("/")), path)


def locate(site_dir: Path, segments: tuple[str, ...]) -> Path | None:
    """The real file ``segments`` name inside ``site_dir`` (``index.html`` for a folder), or
    None when there is none or it resolves outside (a symlink to ``/etc``)."""
    root = os.path.realpath(site_dir)
    candidate = os.path.realpath(os.path.join(root, *segments))
    if os.path.isdir(candidate):
        candidate = os.path.realpath(os.path.join(candidate, "index.html"))
    if candidate != root and not candidate.startswith(root + os.sep):
        return None
    return Path(candidate) if os.path.isfile(candidate) else None


def host_allowed(host_header: str | None, *, remote: bool, local_names: frozenset[str]) -> bool:
    """Whether a ``Host`` header names this server rather than someone else's domain.

    A DNS-rebinding page reaches us under its own domain name; IP literals and ``localhost``
    cannot be rebound, so only those (and, when serving remotely, this machine's own names)
    are accepted. A loopback preview accepts loopback addresses only.
    """
    if not host_header:
        return False
    name = host_header.strip().lower()
    if name.startswith("["):
        name = name[1:name.find("]")] if "]" in name else ""
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return remote and name in local_names
    return remote or address.is_loopback


_LIVERELOAD_JS = """(function () {
  var me = document.currentScript, events = me.getAttribute("data-events");
  var page = me.getAttribute("data-page").split(":"), overlay = null, source = null;
  function handle(state) {  /* state.page is "server-instance:build-generation" */
    var live = state.page.split(":");
    if (live[0] !== page[0] || +live[1] > +page[1]) {
      if (source) source.close();
      location.reload();
    } else if (live[1] === page[1]) {
      show(state.problems);
    }  /* else: an older state relayed late; a newer one follows */
  }
  function listen(onState) {
    source = new EventSource(events);
    source.addEventListener("state", function (event) { onState(JSON.parse(event.data)); });
  }
  /* Browsers open about six connections per server, so a reload channel per tab would leave
     the seventh tab unable to load: one tab holds the channel and relays it to the others. */
  if (window.BroadcastChannel && navigator.locks) {
    var channel = new BroadcastChannel("gazette-livereload"), last = null;
    channel.onmessage = function (event) {
      if (event.data === "ask") { if (last) channel.postMessage(last); return; }
      last = event.data;
      handle(last);
    };
    channel.postMessage("ask");
    navigator.locks.request("gazette-livereload", function () {
      listen(function (state) { last = state; channel.postMessage(state); handle(state); });
      return new Promise(function () {});  /* held until this page goes away */
    });
  } else {  /* no Web Locks over plain http to a remote host: hidden tabs hang up instead */
    document.addEventListener("visibilitychange", function () {
      if (document.hidden) { source.close(); } else { listen(handle); }
    });
    listen(handle);
  }
  function el(parent, tag, text, style, name) {
    var node = document.createElement(tag);
    if (name) node.className = name;
    if (text) node.textContent = text;  /* text only: story headers are untrusted */
    if (style) node.setAttribute("style", style);
    parent.appendChild(node);
    return node;
  }
  function show(problems) {
    if (overlay) { overlay.remove(); overlay = null; }
    if (!problems.length) return;
    overlay = document.createElement("div");
    overlay.id = "gazette-error-overlay";
    overlay.setAttribute("role", "alert");
    var box = el(overlay.attachShadow({mode: "open"}), "section", "",
      "position:fixed;inset:0;z-index:2147483647;overflow:auto;padding:2em;" +
      "background:rgba(30,0,0,.92);color:#fff;font:15px/1.5 ui-monospace,monospace");
    el(box, "h2", "Gazette could not build " + problems.length + " file" +
      (problems.length === 1 ? "" : "s"), "margin:0 0 1em;font-size:1.3em");
    problems.forEach(function (p) {
      var item = el(box, "div", "", "margin:0 0 1.2em;padding-left:1em;border-left:3px solid red");
      el(item, "div", p.path + (p.line ? ":" + p.line : ""), "font-weight:bold", "where");
      el(item, "div", p.message, "", "message");
      if (p.hint) el(item, "div", "hint: " + p.hint, "color:#ccc", "hint");
    });
    el(box, "p", "The last good pages are still served. " +
      "Fix the file and save: this page updates itself.", "color:#ccc");
    document.documentElement.appendChild(overlay);
  }
})();"""


def livereload_tag(page: str) -> bytes:
    """The script injected into served HTML; ``page`` identifies the build it came from."""
    return (f'<script data-gazette-livereload data-page="{html.escape(page)}" '
            f'data-events="{EVENTS_PATH}">{_LIVERELOAD_JS}</script>').encode()


def inject_livereload(document: bytes, page: str) -> bytes:
    """``document`` with the live-reload script before its last ``</body>`` (or at the end)."""
    tag = livereload_tag(page)
    at = document.lower().rfind(b"</body")
    return document + tag if at < 0 else document[:at] + tag + document[at:]


def _content_type(path: Path) -> str:
    kind, _ = mimetypes.guess_type(path.name)
    kind = kind or "application/octet-stream"
    textual = kind.startswith("text/") or kind in (
        "application/javascript", "application/json", "application/xml", "image/svg+xml")
    return f"{kind}; charset=utf-8" if textual else kind


class _PreviewHTTPServer(ThreadingHTTPServer):
    """Tracks open connections so that stopping can hang them up and join every thread."""

    daemon_threads = False
    block_on_close = True
    request_queue_size = 256  # a browser restoring many tabs connects all at once

    def __init__(self, address: tuple[str, int], family: socket.AddressFamily,
                 preview: PreviewServer):
        self.address_family = family
        self.preview = preview
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _PreviewRequestHandler)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            (self._connections.add if open_ else self._connections.discard)(connection)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # the client hung up or went silent: nothing to report
        print(f"gazette: internal error while answering {client_address}:", file=self.preview.out)
        traceback.print_exc(file=self.preview.out)

    def hang_up_all(self) -> None:
        with self._connections_lock:
            for connection in self._connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:  # already closed by the peer
                    pass


class _PreviewRequestHandler(BaseHTTPRequestHandler):
    server: _PreviewHTTPServer
    server_version = "GazettePreview"
    sys_version = ""
    timeout = 30  # a silent client gives its thread back
    protocol_version = "HTTP/1.0"
    default_request_version = "HTTP/1.0"  # so even an unparsable request gets a status line

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        try:
            super().finish()
        except OSError:  # the client went away mid-response
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass  # a preview serves hundreds of requests per reload; errors are reported elsewhere

    def do_GET(self) -> None:
        self._respond(head=False)

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def _respond(self, head: bool) -> None:
        preview = self.server.preview
        if self.headers.get("Host") is None:
            return self._plain(HTTPStatus.BAD_REQUEST, "missing Host header", head)
        if not preview.host_allowed(self.headers.get("Host")):
            return self._plain(HTTPStatus.FORBIDDEN, "unknown Host header", head)
        state = preview.hub.state
        route = resolve_target(self.path, state.config.base_path)
        if isinstance(route, Reject):
            if route.status == HTTPStatus.NOT_FOUND:
                return self._not_found(state, head)
            return self._plain(route.status, route.reason, head)
        if isinstance(route, Redirect):
            return self._redirect(route.location, head)
        if isinstance(route, ReloadChannel):
            return self._events(head)
        found = locate(state.config.output_path, route.segments)
        if found is None:
            return self._not_found(state, head)
        if route.segments[-1] != "" and found.name == "index.html" and \
                route.segments[-1] != "index.html":
            return self._redirect(quote(route.url_path + "/"), head)
        self._file(found, HTTPStatus.OK, state, head)

    def _file(self, path: Path, status: HTTPStatus, state: PreviewState, head: bool) -> None:
        try:
            with open(path, "rb") as stream:
                if path.suffix in (".html", ".htm"):
                    body = inject_livereload(stream.read(), self.server.preview.page_id(state))
                    return self._send(status, "text/html; charset=utf-8", body, head)
                size = os.fstat(stream.fileno()).st_size
                self._headers(status, _content_type(path), size)
                if not head:
                    shutil.copyfileobj(stream, self.wfile)
        except FileNotFoundError:  # swapped away by a build between locate and open
            self._not_found(state, head)
        except PermissionError:
            self._plain(HTTPStatus.FORBIDDEN, "file not readable", head)

    def _not_found(self, state: PreviewState, head: bool) -> None:
        custom = locate(state.config.output_path, ("404.html",))
        if custom is not None:
            return self._file(custom, HTTPStatus.NOT_FOUND, state, head)
        page = (f"<!doctype html><meta charset=utf-8><title>Not found</title>"
                f"<h1>Not found</h1><p>{html.escape(unquote(self.path.split('?')[0]))} is not "
                f"part of the site. <a href=\"{html.escape(state.config.base_path)}\">Home</a>"
                f"</p></body>").encode()
        body = inject_livereload(page, self.server.preview.page_id(state))
        self._send(HTTPStatus.NOT_FOUND, "text/html; charset=utf-8", body, head)

    def _events(self, head: bool) -> None:
        preview = self.server.preview
        if not preview.origin_allowed(self.headers.get("Origin"), self.headers.get("Host")):
            return self._plain(HTTPStatus.FORBIDDEN, "foreign Origin", head)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if head:
            return
        seen, last_write = -1, time.monotonic()
        try:
            self.wfile.write(b"retry: 500\n\n")
            while (state := preview.hub.wait_for_update(seen, HANGUP_CHECK_SECONDS)) is not None:
                if state.version != seen:
                    seen = state.version
                    message = state.to_json(preview.instance)
                    self.wfile.write(f"event: state\ndata: {message}\n\n".encode())
                elif self._client_gone():
                    return
                elif time.monotonic() - last_write < HEARTBEAT_SECONDS:
                    continue
                else:
                    self.wfile.write(b": ping\n\n")
                self.wfile.flush()
                last_write = time.monotonic()
        except OSError:  # the tab was closed or reloaded
            pass

    def _client_gone(self) -> bool:
        """Whether the client hung up, so its thread and socket are freed at once rather
        than at the next heartbeat (a reloading tab leaves its old channel behind)."""
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _redirect(self, location: str, head: bool) -> None:
        # Not 301: browsers would keep following it after base_url changes.
        self.send_response(HTTPStatus.FOUND)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def _plain(self, status: HTTPStatus, reason: str, head: bool) -> None:
        self._send(status, "text/plain; charset=utf-8", f"{status.value} {reason}\n".encode(),
                   head)

    def _send(self, status: HTTPStatus, content_type: str, body: bytes, head: bool) -> None:
        self._headers(status, content_type, len(body))
        if not head:
            self.wfile.write(body)

    def _headers(self, status: HTTPStatus, content_type: str, length: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "no-store")  # a preview is never stale in a cache
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()


# -- the whole preview --------------------------------------------------------------------


def _default_build(config: SiteConfig) -> BuildSummary:
    from builder import pipeline

    return pipeline.build(config, strict=False)


def _bind_family(host: str) -> socket.AddressFamily:
    try:
        return socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host}: cannot resolve ({exc.strerror})") from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class PreviewServer:
    """Build once, then serve, watch and rebuild until :meth:`stop`.

    ``build`` is ``pipeline.build`` unless a test gives another; ``quiet`` is the debounce
    period; ``remote`` accepts the machine's own names and any IP in the ``Host`` header.
    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, config: SiteConfig, *, host: str = "127.0.0.1", port: int = 8000,
                 build: BuildFunction = _default_build, out: TextIO | None = None,
                 config_file: Path | None = None, quiet: float = QUIET_SECONDS,
                 remote: bool = False, without_search: bool = False):
        self.config = config
        self.without_search = without_search
        """Preview without the search page and index (``--no-search``), whatever the
        config says: Pagefind indexes the whole site on every rebuild."""
        self.host = host
        self.out = out or sys.stderr
        self.config_file = (config_file or config.root / CONFIG_FILE).absolute()
        self.remote = remote
        self.instance = secrets.token_hex(4)
        """Tells this server's pages from a previous run's, so a restart reloads open tabs."""
        self._workdir = Path(tempfile.mkdtemp(prefix="gazette-preview-"))
        try:
            self._http = _PreviewHTTPServer((host, port), _bind_family(host), self)
        except OSError as exc:
            shutil.rmtree(self._workdir, ignore_errors=True)
            raise GazetteError(f"cannot listen on {host}:{port}: {exc.strerror}; "
                               f"choose another --port, or --port 0 for any free one") from None
        self.port: int = self._http.server_address[1]
        self._local_names = frozenset(
            {socket.gethostname().lower(), socket.getfqdn().lower()} if remote else ())
        self.hub = ReloadHub(PreviewState(config=self._for_preview(config)))
        self._queue = ChangeQueue(quiet=quiet)
        self._warm = None
        if build is _default_build:  # keep parsed stories in memory between rebuilds
            from builder import pipeline

            self._warm = pipeline.WarmBuilds()

        def told_build(config: SiteConfig, changed: frozenset[str] | None) -> BuildSummary:
            if self._warm is not None:
                return self._warm(config, changed=changed)
            return build(config)

        self._rebuilder = Rebuilder(self.hub, told_build, self._load_config, self.config_file,
                                    self.out)
        self._watcher: ProjectWatcher | None = None
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        """Where the site is served now (the base path follows edits of ``base_url``)."""
        return f"{self._origin}{self.hub.state.config.base_path}"

    @property
    def _origin(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()  # wildcard: other machines reach us by name
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def _for_preview(self, config: SiteConfig) -> SiteConfig:
        """``config`` with links pointing at this server and output kept out of ``site/``."""
        return config.replace(base_url=f"{self._origin}{config.base_path}",
                              output_dir=str(self._workdir / "site"),
                              search=config.search and not self.without_search)

    def _load_config(self) -> SiteConfig:
        return self._for_preview(load_config(self.config.root, self.config_file))

    def page_id(self, state: PreviewState) -> str:
        return f"{self.instance}:{state.generation}"

    def host_allowed(self, host_header: str | None) -> bool:
        return host_allowed(host_header, remote=self.remote, local_names=self._local_names)

    def origin_allowed(self, origin: str | None, host_header: str | None) -> bool:
        """Same-origin EventSource requests carry no Origin; any other must be ours."""
        return origin is None or origin.lower() == f"http://{(host_header or '').lower()}"

    def start(self) -> PreviewState:
        """Build, then start serving and watching; returns the state of the first build."""
        try:
            self._watcher = ProjectWatcher(self._queue, self.config, self.config_file)
            self._watcher.start()  # before the first build, so edits made during it count
        except OSError as exc:  # e.g. the inotify watch limit
            raise GazetteError(f"cannot watch {self.config.root} for changes: {exc}; on Linux, "
                               f"raise fs.inotify.max_user_watches") from None
        state = self._rebuilder.rebuild()
        self._threads = [
            threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.1},
                             name="gazette-http"),
            threading.Thread(target=self._rebuild_loop, name="gazette-rebuild"),
        ]
        for thread in self._threads:
            thread.start()
        return state

    def _rebuild_loop(self) -> None:
        """Rebuild after each burst of changes, told what the watcher saw change. Once a
        rebuild so told is live and nothing has changed for a while, look at every story
        file for a change the watcher missed (:meth:`WarmBuilds.unseen_changes`), and
        rebuild untold if there is one."""
        unchecked = False
        while (batch := self._queue.next_batch(
                timeout=UNSEEN_CHECK_SECONDS if unchecked else None)) is not None:
            if batch:
                self._rebuilder.rebuild(batch)
                unchecked = self._warm is not None
            elif self._warm is not None:
                unchecked = False
                if self._warm.unseen_changes():
                    print("gazette: a change the watcher did not report was found; "
                          "rebuilding", file=self.out, flush=True)
                    self._rebuilder.rebuild(None)

    def stop(self) -> None:
        """Stop watching, finish a running build, hang up every client, free the port."""
        if self._watcher is not None:
            self._watcher.stop()
        self._queue.close()
        self.hub.close()
        if self._threads:
            self._http.shutdown()
        self._http.hang_up_all()
        self._http.server_close()  # joins every request thread
        for thread in self._threads:
            thread.join()
        if self._warm is not None:
            self._warm.close()
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> PreviewServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve(config: SiteConfig, *, host: str, port: int, open_browser: bool, allow_remote: bool,
          config_file: Path | None = None, build: BuildFunction = _default_build,
          out: TextIO | None = None, without_search: bool = False) -> int:
    """Run the preview until Ctrl-C (or SIGTERM); returns the exit code (0)."""
    out = out or sys.stderr
    if not is_loopback(host):
        if not allow_remote:
            raise ConfigError(f"--host {host} would expose the preview to the network; "
                              f"pass --allow-remote if that is what you want")
        print(f"gazette: warning: serving on {host}: anyone who can reach this machine can "
              f"read the preview", file=out)
    preview = PreviewServer(config, host=host, port=port, build=build, out=out,
                            config_file=config_file, remote=not is_loopback(host),
                            without_search=without_search)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in _STOP_SIGNALS}
    try:
        print(f"gazette: building {config.root.absolute()} …", file=out, flush=True)
        preview.start()
        print(f"Serving {preview.url} (Ctrl-C to stop)", flush=True)
        if open_browser:
            webbrowser.open(preview.url)
        while not stop.wait(_STOP_CHECK_SECONDS):
            pass
        print("gazette: stopping", file=out, flush=True)
    finally:
        preview.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0

