"""How long Pagefind takes to index a built archive, and the size of the search bundle.

    python -m benchmarks.bench_search [--count 10000] [--repeat 3] [--seed 2021] [--site DIR]

By default the stories of ``benchmarks.generate`` are written as story pages marked up the
way the story template marks them (``data-pagefind-body``, filters for topic, source, year
and tag, a date sort key, ignored navigation and tag lists), plus one list page per 20
stories, which Pagefind reads but does not index. That isolates indexing from the rest of
the build. ``--site DIR`` indexes an existing built site instead (e.g. ``site/`` after
``gazette build``); its ``pagefind/`` folder is replaced.

Times are wall-clock medians of ``--repeat`` runs of :func:`builder.search.index_site`
with an empty cache, which includes making the bundle reproducible; peak RSS is Pagefind's
(the largest child process), read from ``getrusage``. A last run over the unchanged site
times the reuse of the kept bundle (what a no-op rebuild pays).
"""

from __future__ import annotations

import argparse
import html
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.generate import GeneratedStory, generate
from builder.config import SiteConfig
from builder.search import SearchStats, index_site

LIST_PAGE_SIZE = 20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_search",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="stories (default: 10000)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs; the median is shown (default: 3)")
    parser.add_argument("--seed", type=int, default=2021, help="corpus seed (default: 2021)")
    parser.add_argument("--site", type=Path, default=None,
                        help="index this built site instead of generating one")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gazette-bench-search-") as scratch:
        site = args.site
        if site is None:
            site = Path(scratch) / "site"
            started = time.perf_counter()
            pages = write_site(site, generate(args.count, seed=args.seed))
            print(f"wrote {pages:,} HTML pages for {args.count:,} stories in "
                  f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
        runs: list[SearchStats] = []
        for run in range(1, args.repeat + 1):
            # A project root of its own per run: an empty cache, so Pagefind really runs.
            config = SiteConfig(root=Path(scratch) / f"run-{run}")
            runs.append(index_site(site, config=config))
            print(f"run {run}: {runs[-1].seconds:.2f} s", file=sys.stderr)
        unchanged = index_site(site, config=config)
        if not unchanged.reused:
            raise SystemExit("error: the unchanged site was indexed again instead of reused")
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    last = runs[-1]
    seconds = statistics.median(stats.seconds for stats in runs)
    print(f"Pagefind indexing, {last.pages:,} story pages: {seconds:.2f} s "
          f"(median of {len(runs)}; {last.pages / seconds:,.0f} pages/s), "
          f"peak RSS {peak_mib:,.0f} MiB, bundle {last.files:,} files, "
          f"{last.bytes / 2**20:,.1f} MiB, filters {', '.join(last.filters)}; "
          f"unchanged site (bundle reused): {unchanged.seconds:.2f} s")
    return 0


def write_site(site: Path, stories: object) -> int:
    """Write a story page per story and list pages; the number of pages written."""
    written = 0
    batch: list[GeneratedStory] = []
    for story in stories:
        path = _story_path(story)
        target = site / path.strip("/") / "index.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(story_page(story), encoding="utf-8")
        written += 1
        batch.append(story)
        if len(batch) == LIST_PAGE_SIZE:
            written += _write_list_page(site, written // (LIST_PAGE_SIZE + 1), batch)
            batch = []
    if batch:
        written += _write_list_page(site, written // (LIST_PAGE_SIZE + 1) + 1, batch)
    return written


def story_page(story: GeneratedStory) -> str:
    """A story page with the search attributes of templates/story.html."""
    e = html.escape
    tags = "".join(f'<li><a href="/tags/x/" data-pagefind-filter="tag">{e(t)}</a></li>'
                   for t in story.tags)
    body = "".join(f"<p>{e(p)}</p>" for p in story.paragraphs)
    day = story.date.isoformat()
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(story.title)}'
        f'</title></head><body><header><nav><a href="/">Home</a> <a href="/search/">Search</a>'
        f'</nav></header><main><article class="story" data-pagefind-body '
        f'data-pagefind-sort="date:{day}"><header><p class="kicker" data-pagefind-ignore>'
        f'<a href="/topics/x/" data-pagefind-filter="topic">{e(story.topic)}</a></p>'
        f'<h1>{e(story.title)}</h1><dl data-pagefind-ignore><dt>Published</dt><dd>'
        f'<time datetime="{day}" data-pagefind-meta="date" data-pagefind-filter="year:'
        f'{story.date.year}">{day}</time></dd><dt>Source</dt><dd><a href="/sources/x/" '
        f'data-pagefind-filter="source">{e(story.source)}</a></dd></dl></header>'
        f'<div class="story-body">{body}</div><aside data-pagefind-ignore><p>{e(story.footer)}'
        f'</p></aside><footer data-pagefind-ignore><ul class="tags">{tags}</ul></footer>'
        f'</article></main><footer><p>A curated news archive.</p></footer></body></html>')


def _story_path(story: GeneratedStory) -> str:
    return f"/{story.date:%Y/%m/%d}/{story.slug}/"


def _write_list_page(site: Path, number: int, stories: list[GeneratedStory]) -> int:
    items = "".join(f'<li><a href="{_story_path(s)}">{html.escape(s.title)}</a></li>'
                    for s in stories)
    target = site / "page" / str(number) / "index.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f'<!DOCTYPE html><html lang="en"><head><title>Page {number}</title>'
                      f'</head><body><ol>{items}</ol></body></html>', encoding="utf-8")
    return 1


if __name__ == "__main__":
    sys.exit(main())
