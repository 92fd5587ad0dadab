"""The ``gazette`` command: arguments in, one library call, exit code out.

Commands never print from inside the pipeline; what the user sees is written here and
in :mod:`builder.report`.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
from pathlib import Path

from builder import __version__
from builder.config import CONFIG_FILE, SiteConfig, load_config
from builder.errors import GazetteError


def run() -> None:
    """The process's entry point (the ``gazette`` script, ``python -m builder``): run
    :func:`main` and exit with its status, also when Ctrl-C lands as the process ends."""
    try:
        status = main(process_ends=True)
    except KeyboardInterrupt:  # after the command had finished, just before exiting
        print("gazette: interrupted", file=sys.stderr)
        status = 130
    # The work is done and reported: a Ctrl-C from here on changes nothing.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a closed pipe (gazette build | head): the reader has gone
            pass
    # Ends without the interpreter's teardown, which would free one by one what the last
    # build leaves in this process's caches (the rendered pieces keep every story alive):
    # 0.33 s of a 10,000-story build. Every file and the cache's transactions are closed
    # by now. (Also, CPython 3.11 remembers a KeyboardInterrupt that escaped code run by
    # exec() of a string, as dataclasses make their methods while a module imports, as
    # unhandled even once caught, and a normal exit would end the process by SIGINT, not
    # with status 130.)
    os._exit(status)


def main(argv: list[str] | None = None, *, process_ends: bool = False) -> int:
    """Run the command ``argv`` names; ``process_ends``: the process exits right after,
    without freeing what the command leaves (:func:`run`)."""
    parser = _parser()
    args = parser.parse_args(argv)
    args.process_ends = process_ends
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except GazetteError as exc:
        from builder.report import print_error

        print_error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        print("gazette: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gazette",
        description="Build a static news-archive site from the stories in content/.",
    )
    parser.add_argument("--version", action="version", version=f"gazette {__version__}")
    parser.add_argument(
        "--root", type=Path, default=Path("."),
        help="project root holding gazette.toml, content/, templates/ (default: .)",
    )
    parser.add_argument(
        "--config", type=Path, default=None,
        help=f"configuration file (default: ROOT/{CONFIG_FILE})",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command")

    build = commands.add_parser("build", help="build the site into site/",
                                description="Read every story, render the site and swap it "
                                            "into the output directory atomically.")
    build.add_argument("--output", type=str, default=None, help="output directory (default: site/)")
    build.add_argument("--base-url", type=str, default=None,
                       help="absolute URL the site is served from, e.g. https://user.github.io/news/")
    build.add_argument("--strict", action="store_true",
                       help="fail on any story that cannot be read instead of skipping it")
    build.add_argument("--jobs", type=int, default=None,
                       help="processes to build with, this one included (default: one per "
                            "core; 1 builds in this process alone)")
    build.add_argument("--profile", action="store_true", help="print where the time went per stage")
    build.set_defaults(run=_build)

    serve = commands.add_parser("serve", help="preview the site with live reload",
                                description="Build, serve at the configured base path, watch "
                                            "content/, templates/, static/ and the config, rebuild "
                                            "on change and reload open browser tabs.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0 picks a free one)")
    serve.add_argument("--open", action="store_true", help="open the site in a web browser")
    serve.add_argument("--allow-remote", action="store_true",
                       help="allow binding an address other than loopback")
    serve.add_argument("--no-search", action="store_true",
                       help="preview without the search page: rebuilds skip re-indexing the "
                            "whole site (tens of seconds for a big archive)")
    serve.set_defaults(run=_serve)

    normalize = commands.add_parser(
        "normalize", help="print or write stories in the normalized schema",
        description="Read stories and print one JSON object per story (--format jsonl), or "
                    "rewrite raw files as Markdown with YAML front matter (--write).")
    normalize.add_argument("paths", nargs="*", type=Path,
                           help="files or directories (default: content/)")
    normalize.add_argument("--format", choices=("jsonl",), default="jsonl",
                           help="output format (default: jsonl)")
    normalize.add_argument("--write", action="store_true",
                           help="rewrite raw files as Markdown + YAML front matter; the original "
                                "bytes are kept beside each file as FILE.orig")
    normalize.add_argument("--dry-run", action="store_true",
                           help="with --write: show the diff, change nothing")
    normalize.set_defaults(run=_normalize)

    check = commands.add_parser("check", help="validate the whole archive",
                                description="Read every story, report every problem and exit "
                                            "non-zero if there is any error.")
    check.set_defaults(run=_check)
    return parser


def _config(args: argparse.Namespace, **overrides: object) -> SiteConfig:
    return load_config(args.root, args.config, **overrides)


def _build(args: argparse.Namespace) -> int:
    config = _config(args, output_dir=args.output, base_url=args.base_url)
    from builder import pipeline, report

    reporter = report.Reporter.for_stream(sys.stderr)
    if args.process_ends:
        # The build pauses the cyclic collector and would turn it back on as it returns,
        # and the next allocation would make it walk every object the build made (0.07 s
        # at 10,000 stories), in a process about to end.
        gc.disable()
    result = pipeline.build(config, strict=args.strict, jobs=args.jobs, progress=reporter.progress)
    reporter.build_summary(result, profile=args.profile)
    return 1 if result.skipped else 0


def _serve(args: argparse.Namespace) -> int:
    from builder import serve

    config = _config(args)
    return serve.serve(config, host=args.host, port=args.port, open_browser=args.open,
                       allow_remote=args.allow_remote, config_file=args.config,
                       without_search=args.no_search)


def _normalize(args: argparse.Namespace) -> int:
    from builder import normalize

    config = _config(args)
    paths = args.paths or [config.content_path]
    if args.write:
        return normalize.write(config, paths, dry_run=args.dry_run, out=sys.stdout)
    return normalize.print_jsonl(config, paths, out=sys.stdout)


def _check(args: argparse.Namespace) -> int:
    config = _config(args)
    from builder import pipeline, report

    result = pipeline.check(config)
    report.Reporter.for_stream(sys.stderr).check_summary(result)
    return 1 if result.errors else 0
