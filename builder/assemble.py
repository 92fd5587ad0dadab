"""Stories → the whole site, as data: every page, its URL, its template and what it shows.

All grouping happens here, before anything is rendered, so every page sees one consistent
site (MkDocs' "gather, then render"). Nothing here does I/O or reads the clock.

Term merging: tags, topics, sources and publishers whose names differ only by case or
Unicode normalisation (``CAFE``/``cafe``, ``Straße``/``STRASSE``, NFC/NFD ``é``) are one
term, deliberately. The term is shown under its most frequent spelling, ties broken
alphabetically. Distinct names that still slugify alike (``C++``/``C``) keep separate pages:
the later name's slug gets a short hash and a warning says so.
"""

from __future__ import annotations

import datetime as dt
import operator
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from itertools import chain, compress
from typing import Any, TypeVar

from builder import similarity, urls
from builder.config import SiteConfig
from builder.errors import BuildError, Diagnostic, by_place
from builder.memo import memo
from builder.model import Moment, Story, chronological, pickled_by_fields

__all__ = [
    "ArchiveNode", "Entry", "Link", "Page", "Pagination", "Site", "Spawn", "Term", "assemble",
    "at_once", "find_collisions", "ready_to_patch", "same", "shown_path", "term_key",
]

TAXONOMY_LABELS = {"topics": "Topics", "tags": "Tags", "sources": "Sources",
                   "publishers": "Publishers"}
TERM_LABELS = {"topics": "Topic", "tags": "Tag", "sources": "Source", "publishers": "Publisher"}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
"""English month names, spelled here so no locale setting can change the output."""
FEED_TAXONOMIES = ("topics", "sources", "tags")
"""Taxonomies whose terms get an Atom feed each."""


@pickled_by_fields()
@dataclass(frozen=True, slots=True)
class Link:
    """A labelled site path (without base path; templates add it)."""

    label: str
    url: str


@pickled_by_fields()
@dataclass(frozen=True, slots=True)
class Entry:
    """A story with the URLs it links to: what list pages and story pages show."""

    story: Story
    url: str
    topic: Link
    tags: tuple[Link, ...] = ()
    source: Link | None = None
    publisher: Link | None = None
    original: Link | None = None
    """For a later wire copy of another story: that earliest version (its canonical URL)."""
    copies: tuple[Link, ...] = ()
    """The other versions of the same wire copy, labelled by who reported them."""
    related: tuple[Link, ...] = ()
    """Related coverage: stories sharing rare tags, the same topic, close in time."""


@pickled_by_fields()
@dataclass(frozen=True, slots=True)
class Term:
    """One tag, topic, source or publisher, with its stories newest first."""

    kind: str
    """The taxonomy: ``tags``, ``topics``, ``sources`` or ``publishers``."""
    name: str
    """Display name: the most frequent spelling among the merged ones."""
    slug: str
    story_ids: tuple[str, ...]
    """Its stories' ids, newest first (their entries are the site's): a term stays the same
    value while its stories are edited in anything but their terms and order."""
    spellings: tuple[str, ...] = ()
    """Every spelling merged into this term, sorted."""
    link: Link = field(init=False, repr=False)
    """Its name and page: made once, so every entry filed under the term shares it."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "link", Link(self.name, urls.term_path(self.kind, self.slug)))

    @property
    def url(self) -> str:
        return self.link.url

    @property
    def count(self) -> int:
        return len(self.story_ids)


@pickled_by_fields()
@dataclass(frozen=True, slots=True)
class ArchiveNode:
    """A year, month or day of the date archive with how many stories it holds."""

    label: str
    url: str
    count: int
    children: tuple[ArchiveNode, ...] = ()


@pickled_by_fields()
@dataclass(frozen=True, slots=True)
class Pagination:
    """Where a list page sits among the pages of its list (page 1 is at ``base``)."""

    number: int
    total: int
    base: str

    def link(self, number: int) -> Link:
        return Link(str(number), urls.paginated(self.base, number))

    @property
    def prev(self) -> Link | None:
        return self.link(self.number - 1) if self.number > 1 else None

    @property
    def next(self) -> Link | None:
        return self.link(self.number + 1) if self.number < self.total else None

    @property
    def window(self) -> tuple[Link | None, ...]:
        """The page links worth showing: first, last and two either side of this one;
        None marks a gap. Listing every page would make long lists quadratic in size."""
        near = range(max(1, self.number - 2), min(self.total, self.number + 2) + 1)
        shown: list[Link | None] = []
        previous = 0
        for number in sorted({1, self.total, *near}):
            if number > previous + 1:
                shown.append(None)
            shown.append(self.link(number))
            previous = number
        return tuple(shown)


@pickled_by_fields()
@dataclass(frozen=True, slots=True)
class Page:
    """One output file: where it goes, which template draws it and the data it shows.

    ``data`` holds only frozen values (stories, entries, links), so a page can be sent to
    a worker process and rendered there with the same result. Entries are values of it or
    items of tuples of entries, never deeper (a patched site swaps them there).
    """

    url: str
    """Site path, e.g. ``/tags/cafe/`` (the base path is added when rendering)."""
    output: str
    """File path relative to the output directory, e.g. ``tags/cafe/index.html``."""
    template: str
    title: str
    description: str
    data: Mapping[str, Any] = field(default_factory=dict, hash=False)
    sources: tuple[str, ...] = ()
    """What produced the page (story files, term names), named when two pages collide."""
    in_sitemap: bool = True
    canonical: str = ""
    """The URL search engines should index instead (a copy's earliest version); '' = ``url``."""


@dataclass(frozen=True, slots=True)
class Site:
    """Everything a build publishes, decided before anything is rendered."""

    entries: tuple[Entry, ...]
    """Published stories, newest first; undated ones last."""
    taxonomies: Mapping[str, tuple[Term, ...]]
    """Terms of each taxonomy, A–Z."""
    archive: tuple[ArchiveNode, ...]
    """Years, newest first, each with its months and days."""
    pages: tuple[Page, ...]
    files: tuple[tuple[str, bytes], ...]
    """Fixed small files (``.nojekyll``, ``CNAME``): output path and bytes."""
    updated: Moment | None
    """The one build timestamp (``SOURCE_DATE_EPOCH``, else the newest story date)."""
    diagnostics: tuple[Diagnostic, ...]
    nav: tuple[Link, ...]
    """Main navigation: home, each non-empty taxonomy, the archive."""
    duplicates: similarity.DuplicateIndex = similarity.DuplicateIndex()
    """Groups of stories that are one wire copy, earliest version first."""
    config: SiteConfig = SiteConfig()
    """The settings the site was assembled with."""
    stories: tuple[Story, ...] = ()
    """The stories it was assembled from, in the order given, drafts and refused copies too."""
    build_time: dt.datetime | None = None
    """The build time it was given (without one, ``updated`` is the newest story date)."""
    patching: Patching | None = field(default=None, compare=False, repr=False)
    """What patching this site needs to know of it: made by its first patch
    (:func:`_by_difference`) and handed on by the next, brought up to date."""


@dataclass(frozen=True, slots=True)
class Patching:
    """What :func:`_by_difference` knows of a site, kept so the next patch need not find it
    again (each is a pass over every story or page)."""

    pages_showing: Mapping[str, tuple[int, ...]]
    """Where each story's entry is shown: positions in ``pages`` by story id (a patched
    site shows the same stories on the same pages)."""
    entry_at: Mapping[str, int]
    """Each entry's position in ``entries``, by its story's id."""
    exact_keys: Counter[str]
    """How many published stories have each exact-copy key (:func:`_exact_keys`)."""
    copies: similarity.CopyIndex
    """The sketches of ``stories``, in their order (None for drafts)."""


def shown_path(story: Story, config: SiteConfig) -> str:
    """The story's file as diagnostics name it: relative to the project root, like
    ingest's (``content/world/001.txt``), without the ``#N`` of a multi-record file."""
    return f"{config.content_dir.rstrip('/')}/{story.path.split('#')[0]}"


T = TypeVar("T")
Memo = Callable[[bytes, Callable[[], T]], T]
"""``memo(key, compute)``: ``compute()``, or its earlier result under the digest ``key``."""


def _compute(_key: bytes, compute: Callable[[], T]) -> T:
    return compute()


Spawn = Callable[[Callable[[], T]], Callable[[], T]]
"""``spawn(compute)``: start ``compute()`` (elsewhere, while the caller goes on) and return a
function that waits for its result."""


def at_once(compute: Callable[[], T]) -> Callable[[], T]:
    """The :data:`Spawn` that computes right away, here."""
    result = compute()
    return lambda: result


@memo(maxsize=1 << 16)
def term_key(name: str) -> str:
    """The identity of a term name: case and Unicode normalisation do not count.

    Remembered: an archive names the same few thousand terms hundreds of thousands of times.
    """
    return unicodedata.normalize("NFKC", " ".join(name.split())).casefold()


def assemble(stories: Iterable[Story], config: SiteConfig,
             build_time: dt.datetime | None = None,
             sketches: Mapping[str, similarity.TextSketch] | None = None,
             memo: Memo | None = None, previous: Site | None = None,
             mapper: similarity.Mapper = map, spawn: Spawn = at_once) -> Site:
    """Turn the stories into the site: order, terms, archive, pages and diagnostics.

    ``build_time`` comes from ``SOURCE_DATE_EPOCH`` when the caller has it; without it
    the newest story date stands in, so nothing depends on the clock. ``sketches`` (by
    story id) are text sketches made while reading; missing ones are made here. ``memo``
    may return an earlier result of the costliest step, related coverage, whose inputs
    are unchanged (the build cache's :meth:`~builder.cache.Cache.remembered`); when it must be
    computed, ``mapper`` may spread it over processes (:func:`similarity.related_stories`),
    and ``spawn`` may find the wire copies in another process while this one groups the
    terms and makes the URLs.

    ``previous``, the site an earlier call returned in this process, lends its terms, entries,
    archive nodes and pages wherever the new ones are the same values (:func:`same`), and a story page
    whose entry and neighbours are the very objects it showed before is not made again. The
    result is equal either way, but unchanged pages are then the very objects the previous
    build fingerprinted, which a long-lived process (the preview server) need not
    fingerprint again. A site assembled with other settings lends nothing. When the stories
    differ from ``previous``'s only by a few edited in their text alone, the site is patched
    instead of assembled again (:func:`_by_difference`), with the same result.
    """
    stories = tuple(stories)
    if previous is not None and previous.config != config:
        previous = None
    if previous is not None:
        patched = _by_difference(previous, stories, build_time, sketches or {}, config)
        if patched is not None:
            return patched
    published, diagnostics = _drop_exact_copies([s for s in stories if not s.draft], config,
                                                sketches or {})
    published, clashes = _drop_reused_ids(published, config)
    diagnostics.extend(clashes)
    newest_first = sorted(published, key=lambda s: s.sort_key, reverse=True)
    finding_duplicates = spawn(lambda: similarity.find_duplicates(
        newest_first, config.duplicate_threshold, sketches=sketches))
    # Undated stories sort as '' and so land last in newest-first order.
    taxonomies, term_diagnostics = _taxonomies(newest_first, config)
    diagnostics.extend(term_diagnostics)
    if previous is not None:
        taxonomies = {kind: _reused_all(terms, previous.taxonomies.get(kind, ()),
                                        lambda term: term.slug)
                      for kind, terms in taxonomies.items()}
    lookup = {kind: {key: term.link for term in terms for key in _keys_of(term)}
              for kind, terms in taxonomies.items()}
    url_of, url_diagnostics = _story_urls(newest_first, config)
    diagnostics.extend(url_diagnostics)
    duplicates = finding_duplicates()
    related = (memo or _compute)(
        similarity.related_inputs(newest_first, duplicates, k=config.related_count),
        lambda: dict(similarity.related_stories(newest_first, duplicates,
                                                k=config.related_count, mapper=mapper)))
    entries = _entries(newest_first, url_of, lookup, duplicates, related,
                       previous.entries if previous else ())
    listed = _once_per_copy(entries)
    archive = _archive(listed, config, previous.archive if previous else ())
    updated = build_time or _newest_moment(newest_first)
    pages = _pages(entries, listed, taxonomies, archive, config, updated,
                   previous.pages if previous else ())
    files = [(".nojekyll", b"")]
    if config.cname:
        files.append(("CNAME", config.cname.encode("ascii") + b"\n"))
    nav = (Link("Home", "/"),
           *(Link(TAXONOMY_LABELS[kind], urls.term_path(kind)) for kind, terms in taxonomies.items()
             if terms),
           *((Link("Archive", urls.archive_path()),) if archive else ()),
           *((Link("Search", "/search/"),) if config.search else ()))
    return Site(entries=entries, taxonomies=taxonomies, archive=archive, pages=pages,
                files=tuple(files), updated=updated,
                diagnostics=tuple(sorted(diagnostics, key=by_place)),
                nav=nav, duplicates=duplicates, config=config, stories=stories,
                build_time=build_time)


def find_collisions(pages: Sequence[Page], other_files: Mapping[str, str]
                    ) -> tuple[Diagnostic, ...]:
    """Every output path claimed twice, or unsafe, as an error naming all its sources.

    ``other_files`` maps output paths of non-page files (static assets, ``.nojekyll``) to
    what provides them. Run before anything is written (Zola's ``find_path_collisions``).
    """
    outputs = set(map(operator.attrgetter("output"), pages))
    if len(outputs) == len(pages) and outputs.isdisjoint(other_files):
        return ()  # the usual case, told at C speed; naming the sources costs ten times more
    claims: dict[str, list[str]] = defaultdict(list)
    for page in pages:
        claims[page.output].append(", ".join(page.sources) or page.url)
    for path, source in other_files.items():
        claims[path].append(source)
    found = []
    for path, sources in sorted(claims.items()):
        if len(sources) > 1:
            found.append(Diagnostic(
                path=sorted(sources)[0], line=None,
                message=f"{len(sources)} sources would write the same file {path}: "
                        + "; ".join(sorted(sources)),
                hint="give the stories different slugs (front matter 'slug:') or rename "
                     "the clashing file"))
    return tuple(found)


# -- reuse -------------------------------------------------------------------------------

def same(a: object, b: object) -> bool:
    """True when ``a`` and ``b`` are certainly shown alike: one object, or values of the same
    types, equal all the way down. Strict where ``==`` is loose: ``1`` and ``True`` differ,
    and so do one instant written in two time zones. A story is the same only as itself:
    a long-lived process gets one object per unchanged file from its parse cache."""
    if a is b:
        return True
    kind = type(a)
    if kind is not type(b) or kind is Story:
        return False
    if kind is str or kind is int or kind is bool:
        return a == b  # type: ignore[no-any-return]
    if kind is tuple or kind is list:
        return len(a) == len(b) and _all_same(a, b)  # type: ignore[arg-type]
    if kind is dict:
        return (list(a) == list(b)  # type: ignore[call-overload]
                and _all_same(tuple(a.values()), tuple(b.values())))  # type: ignore[attr-defined]
    fields_of = _FIELDS.get(kind)
    if fields_of is not None:
        return _all_same(fields_of(a), fields_of(b))
    if kind is dt.date or kind is dt.datetime:
        return a == b and repr(a) == repr(b)  # repr names the zone
    return False  # anything else counts only as itself


def _all_same(a: Sequence[object], b: Sequence[object]) -> bool:
    """Items pairwise :func:`same`, for sequences of one length. Mostly the very same
    objects: that is checked first in one pass at C speed."""
    return all(map(operator.is_, a, b)) or all(map(same, a, b))


_FIELDS: dict[type, Callable[[object], tuple[object, ...]]] = {
    kind: operator.attrgetter(*(f.name for f in fields(kind)))  # type: ignore[misc]
    for kind in (Link, Entry, ArchiveNode, Pagination, Term, Page)}
"""The records :func:`same` compares field by field (every field, even one ``==`` skips),
with a getter of their fields."""

def _reused(value: T, before: T | None) -> T:
    """``before`` when it is the same as ``value`` (then it replaces it), else ``value``."""
    return before if before is not None and same(value, before) else value


def _reused_all(values: Sequence[T], previous: Sequence[T],
                key: Callable[[T], Hashable]) -> tuple[T, ...]:
    """``values``, each replaced by the one of ``previous`` with its key where that is the
    same."""
    before = {key(value): value for value in previous}
    return tuple(_reused(value, before.get(key(value))) for value in values)


# -- assembly by difference ---------------------------------------------------------------

PATCHED_AT_MOST = 16
"""Edited stories up to which :func:`_by_difference` patches a site: each costs a pass over
every story's sketch, to rule out that it became a copy of another."""


def _placement(story: Story) -> tuple[object, ...]:
    """Everything of a story that assembly decides by, but its text: its id and file, what
    its URL is made of, its dates, headline and terms. The rest (body, summary, byline,
    footer, credits) only its own entry shows."""
    return (story.id, story.path, story.draft, story.title, story.slug, story.date,
            story.updated, story.topic, story.tags, story.source, story.publisher)


def _by_difference(previous: Site, stories: tuple[Story, ...], build_time: dt.datetime | None,
                   sketches: Mapping[str, similarity.TextSketch], config: SiteConfig
                   ) -> Site | None:
    """The site of ``stories``, made from ``previous`` (a site assembled with the same
    settings), when they are ``previous.stories`` with at most ``PATCHED_AT_MOST`` stories
    edited in their text alone (:func:`_placement` the same), none of which was or becomes
    an exact or near copy of another story. Every decision of a whole assembly then comes out
    as before (order, URLs, terms, archive, wire-copy groups, related coverage: each reads
    only placements and copy groups), so the edited stories just take their old versions'
    places in the entries and pages that showed them. None when a whole assembly is
    needed."""
    if len(stories) != len(previous.stories) or not same(build_time, previous.build_time):
        return None
    at = list(compress(range(len(stories)), map(operator.is_not, previous.stories, stories)))
    if not at:
        return previous
    if len(at) > PATCHED_AT_MOST:
        return None
    known = previous.patching or _patching(previous, sketches, set(at))
    if known is None:
        return None
    edited = {position: (previous.stories[position], stories[position]) for position in at}
    entries = list(previous.entries)
    swapped = {}
    for old, new in edited.values():
        place = known.entry_at.get(old.id)
        if place is None or entries[place].story is not old \
                or not same(_placement(old), _placement(new)):
            return None
        swapped[id(entries[place])] = entries[place] = replace(entries[place], story=new)
    patching = _still_alone(edited, sketches, known, previous.duplicates,
                            config.duplicate_threshold)
    if patching is None:
        return None
    pages = list(previous.pages)
    for position in {position for old, _ in edited.values()
                     for position in known.pages_showing.get(old.id, ())}:
        pages[position] = _patched_page(pages[position], swapped, config)
    return replace(previous, entries=tuple(entries), pages=tuple(pages), stories=stories,
                   patching=patching)


def ready_to_patch(site: Site, sketches: Mapping[str, similarity.TextSketch]) -> Site:
    """``site`` knowing what patching it needs (:class:`Patching`; ``sketches``: its
    stories', by id), so a patch made from it in another process skips finding that (a pass
    over every page). The site unchanged when it knows already, or cannot be patched."""
    if site.patching is not None:
        return site
    patching = _patching(site, sketches, ())
    return site if patching is None else replace(site, patching=patching)


def _patching(site: Site, sketches: Mapping[str, similarity.TextSketch],
              edited: Collection[int]) -> Patching | None:
    """What patching ``site`` needs to know of it. ``sketches`` are those of its stories but
    at the positions ``edited`` since (whose sketches are not known: they are left out of
    the index, and their exact keys are taken from their text). None when a published story
    has no sketch (then whether an edit makes it a copy cannot be told)."""
    sketched = [None if story.draft or position in edited else sketches.get(story.id)
                for position, story in enumerate(site.stories)]
    if any(sketch is None and not story.draft and position not in edited
           for position, (story, sketch) in enumerate(zip(site.stories, sketched))):
        return None
    showing: dict[str, list[int]] = defaultdict(list)
    for position, page in enumerate(site.pages):
        for story_id in {entry.story.id for entry in _entries_shown(page)}:
            showing[story_id].append(position)
    return Patching(
        pages_showing={story_id: tuple(positions) for story_id, positions in showing.items()},
        entry_at={entry.story.id: position for position, entry in enumerate(site.entries)},
        exact_keys=Counter(chain.from_iterable(
            _exact_keys(story, sketch) for story, sketch in zip(site.stories, sketched)
            if not story.draft)),
        copies=similarity.CopyIndex.of(sketched))


def _still_alone(edited: Mapping[int, tuple[Story, Story]],
                 sketches: Mapping[str, similarity.TextSketch], known: Patching,
                 duplicates: similarity.DuplicateIndex, threshold: float) -> Patching | None:
    """``known`` with the ``edited`` stories (by position: old and new version) in, if each
    was, and stays, no exact copy (:func:`_drop_exact_copies`) and no near copy
    (:func:`similarity.find_duplicates`) of another published story; else None."""
    if any(duplicates.group_of(old.id) for old, _ in edited.values()):
        return None
    held = known.exact_keys.copy()
    replaced: dict[int, similarity.TextSketch | None] = {}
    for position, (old, new) in edited.items():  # entries all: none is a draft
        replaced[position] = sketch = sketches.get(new.id)
        if sketch is None:
            return None
        held.subtract(_exact_keys(old, known.copies.sketches[position]))
        held.update(_exact_keys(new, sketch))
    for position, (old, new) in edited.items():
        keys = _exact_keys(new, replaced[position])
        if any(held[key] > 1 for key in keys) or any(
                held[key] > (key in keys)
                for key in _exact_keys(old, known.copies.sketches[position])):
            return None
    copies = known.copies.replaced(replaced)
    if any(copies.has_copy(position, threshold) for position in replaced):
        return None
    return replace(known, exact_keys=held, copies=copies)


def _swapped(values: tuple[T, ...], swapped: Mapping[int, T]) -> tuple[T, ...]:
    return tuple(swapped.get(id(value), value) for value in values)


def _entries_shown(page: Page) -> Iterator[Entry]:
    """The entries ``page`` shows: values of its data, or items of tuples of entries there
    (they are nowhere else; a sitemap's or a terms page's thousands of items are none)."""
    for value in page.data.values():
        if type(value) is Entry:
            yield value
        elif type(value) is tuple and value and type(value[0]) is Entry:
            yield from value


def _patched_page(page: Page, swapped: Mapping[int, Entry], config: SiteConfig) -> Page:
    """``page`` showing the swapped entries instead of the ones it showed."""
    data = {key: swapped.get(id(value), value) if type(value) is not tuple
            else _swapped(value, swapped) for key, value in page.data.items()}
    if page.template == "story.html":  # its description is made of its story's text
        return _story_page(data["entry"], page.output, data["older"], data["newer"],
                           data["more"], config)
    return replace(page, data=data)


# -- exact copies ------------------------------------------------------------------------

def _drop_exact_copies(stories: list[Story], config: SiteConfig,
                       sketches: Mapping[str, similarity.TextSketch]
                       ) -> tuple[list[Story], list[Diagnostic]]:
    """Publish each exact copy once: the earliest (then lowest id) of a group survives.

    Two stories are exact copies when their source bytes hash alike or their bodies are
    equal after collapsing whitespace; near-copies are the duplicate detector's business.
    """
    kept: dict[str, Story] = {}
    published: list[Story] = []
    diagnostics: list[Diagnostic] = []
    for story in sorted(stories, key=lambda s: s.sort_key):
        keys = _exact_keys(story, sketches.get(story.id))
        original = next((kept[k] for k in keys if k in kept), None)
        if original is not None:
            diagnostics.append(Diagnostic(
                path=shown_path(story, config), line=None, severity="warning",
                message=f"{story.path} is an exact copy of {original.path}; "
                        f"published once, as {original.path}",
                hint="delete one of the two files, or change one if they are different stories"))
            continue
        for key in keys:
            kept[key] = story
        published.append(story)
    return published, diagnostics


def _exact_keys(story: Story, sketch: similarity.TextSketch | None) -> tuple[str, ...]:
    """Where exact copies of ``story`` meet: the hash of its source bytes and the digest of its
    whitespace-collapsed body (``sketch.exact``, made here without a sketch), when it has them."""
    digest = sketch.exact if sketch else similarity.exact_digest(story.body)
    return ((f"hash:{story.content_hash}",) if story.content_hash else ()) + (
        (f"body:{digest}",) if digest else ())


def _drop_reused_ids(stories: list[Story], config: SiteConfig
                     ) -> tuple[list[Story], list[Diagnostic]]:
    """Two different stories with one id (the same ``NNN_<hash>`` name in two folders)
    cannot both be linked to by id: the later path is refused, naming both files."""
    first: dict[str, Story] = {}
    kept: list[Story] = []
    diagnostics: list[Diagnostic] = []
    for story in sorted(stories, key=lambda s: s.path):
        if story.id in first:
            diagnostics.append(Diagnostic(
                path=shown_path(story, config), line=None,
                message=f"story id '{story.id}' is already used by "
                        f"{shown_path(first[story.id], config)}; this story is not published",
                hint="rename one of the files, or give one an 'id:' in its front matter"))
            continue
        first[story.id] = story
        kept.append(story)
    return kept, diagnostics


# -- wire copies ---------------------------------------------------------------------------

def _once_per_copy(entries: Sequence[Entry]) -> tuple[Entry, ...]:
    """A newest-first list shows each wire copy once: its earliest version when that is in
    the list, else the first version listed; the others are reached from the entry's
    "also reported by" links."""
    listed = {e.url for e in entries}
    shown: list[Entry] = []
    groups_shown: set[str] = set()
    for entry in entries:
        if entry.original is not None and entry.original.url in listed:
            continue
        group = entry.original.url if entry.original else entry.url
        if group not in groups_shown:
            groups_shown.add(group)
            shown.append(entry)
    return tuple(shown)


# -- taxonomies --------------------------------------------------------------------------

def _names(story: Story, kind: str) -> tuple[str, ...]:
    if kind == "topics":
        return (story.topic,)
    if kind == "tags":
        return story.tags
    value = story.source if kind == "sources" else story.publisher
    return (value,) if value else ()


def _keys_of(term: Term) -> set[str]:
    return {term_key(spelling) for spelling in term.spellings}


def _taxonomies(stories: Sequence[Story], config: SiteConfig
                ) -> tuple[dict[str, tuple[Term, ...]], list[Diagnostic]]:
    taxonomies: dict[str, tuple[Term, ...]] = {}
    diagnostics: list[Diagnostic] = []
    for kind in urls.TAXONOMIES:
        members: dict[str, list[Story]] = defaultdict(list)
        spellings: dict[str, Counter[str]] = defaultdict(Counter)
        for story in stories:
            seen: set[str] = set()
            for name in _names(story, kind):
                key = term_key(name)
                if not key or key in seen:
                    continue
                seen.add(key)
                members[key].append(story)
                spellings[key][" ".join(name.split())] += 1
        terms: list[Term] = []
        used_slugs: dict[str, str] = {}
        for key in sorted(members):
            name = min(spellings[key], key=lambda s: (-spellings[key][s], s))
            slug = urls.slugify(name)
            if slug in used_slugs:
                clash = used_slugs[slug]
                slug = urls.told_apart(slug, key)
                diagnostics.append(Diagnostic(
                    path=shown_path(members[key][0], config), line=None, severity="warning",
                    message=f"{TERM_LABELS[kind].lower()} '{name}' has the same URL name as "
                            f"'{clash}'; its page is /{kind}/{slug}/",
                    hint="rename one, or add an alias in gazette.toml to merge them"))
            used_slugs[slug] = name
            terms.append(Term(kind=kind, name=name, slug=slug,
                              story_ids=tuple(story.id for story in members[key]),
                              spellings=tuple(sorted(spellings[key]))))
        taxonomies[kind] = tuple(sorted(terms, key=lambda t: (term_key(t.name), t.slug)))
    return taxonomies, diagnostics


def _story_urls(newest_first: Sequence[Story], config: SiteConfig
                ) -> tuple[dict[str, str], list[Diagnostic]]:
    """Each story's site path, by id. Two stories whose slugs would give one URL (two
    reports headlined alike on one day) both keep a page: the earlier (then the lower id)
    keeps the URL, the later gets a short hash of its id added to its slug, and a warning
    names both files. So a newer report never moves an older one's page (only a story
    dated before it can). A collision a slug cannot settle (a permalink without
    ``{slug}``) is left for :func:`find_collisions` to refuse."""
    url_of: dict[str, str] = {}
    owner: dict[str, Story] = {}
    diagnostics: list[Diagnostic] = []
    for story in reversed(newest_first):  # oldest first
        url = urls.story_path(story, config)
        first = owner.get(url)
        if first is not None:
            moved = urls.story_path(story, config, apart=True)
            if moved != url and moved not in owner:
                diagnostics.append(Diagnostic(
                    path=shown_path(story, config), line=None, severity="warning",
                    message=f"{story.path} would have the URL {url} of "
                            f"{shown_path(first, config)}; it is published at {moved}",
                    hint="give one of the two a 'slug:' in its front matter to choose its URL"))
                url = moved
        owner.setdefault(url, story)
        url_of[story.id] = url
    return url_of, diagnostics


def _entries(stories: Sequence[Story], url_of: Mapping[str, str],
             lookup: Mapping[str, Mapping[str, Link]], duplicates: similarity.DuplicateIndex,
             related: Mapping[str, tuple[str, ...]], previous: Sequence[Entry]
             ) -> tuple[Entry, ...]:
    """Each story with the URLs it links to: its terms, the other versions of its wire copy
    and its related stories; the entry of ``previous`` (a build's with the same settings)
    wherever it is the same."""
    before = {entry.story.id: entry for entry in previous}
    by_id = {story.id: story for story in stories}

    def link(kind: str, name: str | None) -> Link | None:
        return lookup[kind].get(term_key(name)) if name else None

    def reported_by(story_id: str) -> Link:
        story = by_id[story_id]
        return Link(story.publisher or story.source or story.title, url_of[story_id])

    headline_links: dict[str, Link] = {}  # one a story, however many lists link it

    def headline_link(story_id: str) -> Link:
        found = headline_links.get(story_id)
        if found is None:
            found = headline_links[story_id] = Link(by_id[story_id].title, url_of[story_id])
        return found

    def entry(story: Story) -> Entry:
        tags: list[Link] = []
        for name in story.tags:
            tag = link("tags", name)
            if tag and tag not in tags:
                tags.append(tag)
        original = duplicates.canonical_of(story.id)
        return Entry(
            story=story, url=url_of[story.id],
            topic=link("topics", story.topic) or Link(story.topic, urls.term_path("topics")),
            tags=tuple(tags), source=link("sources", story.source),
            publisher=link("publishers", story.publisher),
            original=reported_by(original) if original else None,
            copies=tuple(reported_by(other) for other in duplicates.copies_of(story.id)),
            related=tuple(map(headline_link, related.get(story.id, ()))))
    return tuple(_reused(entry(story), before.get(story.id)) for story in stories)


# -- date archive ------------------------------------------------------------------------

def _archive(entries: Sequence[Entry], config: SiteConfig,
             previous: Sequence[ArchiveNode]) -> tuple[ArchiveNode, ...]:
    """Years, months and days with their counts; each node of ``previous`` (a build's with
    the same settings) that is the same replaces the new one."""
    before = {node.url: node for year in previous for month in year.children
              for node in (year, month, *month.children)}

    def node(label: str, url: str, count: int,
             children: tuple[ArchiveNode, ...] = ()) -> ArchiveNode:
        return _reused(ArchiveNode(label, url, count, children), before.get(url))

    days: Counter[dt.date] = Counter(urls.local_day(e.story.date, config)
                                     for e in entries if e.story.date is not None)
    by_month: dict[tuple[int, int], list[dt.date]] = defaultdict(list)
    for day in sorted(days, reverse=True):
        by_month[(day.year, day.month)].append(day)
    years = []
    for year in sorted({d.year for d in days}, reverse=True):
        months = []
        for month in sorted({m for y, m in by_month if y == year}, reverse=True):
            in_month = by_month[(year, month)]
            day_nodes = tuple(node(f"{d.day} {MONTHS[d.month - 1]} {d.year}",
                                   urls.archive_path(year, month, d.day), days[d])
                              for d in in_month)
            months.append(node(f"{MONTHS[month - 1]} {year}", urls.archive_path(year, month),
                               sum(n.count for n in day_nodes),
                               day_nodes if config.archive_days else ()))
        years.append(node(str(year), urls.archive_path(year), sum(m.count for m in months),
                          tuple(months)))
    return tuple(years)


def _newest_moment(stories: Sequence[Story]) -> Moment | None:
    moments = [m for s in stories for m in (s.date, s.updated) if m is not None]
    return max(moments, key=chronological) if moments else None


# -- pages -------------------------------------------------------------------------------

def _pages(entries: tuple[Entry, ...], listed: tuple[Entry, ...],
           taxonomies: Mapping[str, tuple[Term, ...]], archive: tuple[ArchiveNode, ...],
           config: SiteConfig, updated: Moment | None, previous: Sequence[Page]
           ) -> tuple[Page, ...]:
    """Every page; ``listed`` is ``entries`` with each wire copy once (:func:`_once_per_copy`).
    A page of ``previous`` (a build's with the same settings) replaces an equal new one."""
    by_id = {e.story.id: e for e in entries}
    pages: list[Page] = []
    pages += _list_pages("/", listed, config, template="list.html", title=config.title,
                         description=config.description, heading="Latest stories",
                         feed=urls.feed_path("/"))
    before = {page.output: page for page in previous}
    pages += _story_pages(entries, taxonomies, config, before)
    for kind, terms in taxonomies.items():
        if not terms:
            continue
        label = TAXONOMY_LABELS[kind]
        pages.append(Page(
            url=urls.term_path(kind), output=urls.output_path(urls.term_path(kind)),
            template="terms.html", title=f"{label} — {config.title}",
            description=f"All {label.lower()} of {config.title} with their number of stories.",
            data={"kind": kind, "heading": label, "terms": terms,
                  "by_count": tuple(sorted(terms, key=lambda t: (-t.count, term_key(t.name))))}))
        for term in terms:
            term_entries = _once_per_copy(tuple(map(by_id.__getitem__, term.story_ids)))
            sources = (f"{TERM_LABELS[kind].lower()} '{term.name}'",)
            feed = urls.feed_path(term.url) if kind in FEED_TAXONOMIES else None
            pages += _list_pages(term.url, term_entries, config, template="term.html",
                                 title=f"{TERM_LABELS[kind]}: {term.name} — {config.title}",
                                 description=f"Stories of {config.title} filed under "
                                             f"{TERM_LABELS[kind].lower()} {term.name}.",
                                 heading=term.name, feed=feed, sources=sources,
                                 extra={"kind": kind, "term_label": TERM_LABELS[kind]})
            if feed:
                pages.append(_feed_page(feed, term_entries, config, updated,
                                        title=f"{term.name} — {config.title}",
                                        alternate=term.url))
    pages += _archive_pages(listed, archive, config)
    undated = tuple(e for e in listed if e.story.date is None)
    if undated:
        pages += _list_pages("/undated/", undated, config, template="list.html",
                             title=f"Undated stories — {config.title}",
                             description="Stories of the archive whose date is not known.",
                             heading="Undated stories")
    pages.append(_feed_page(urls.feed_path("/"), listed, config, updated,
                            title=config.title, alternate="/"))
    if config.search:
        pages.append(Page(url="/search/", output="search/index.html", template="search.html",
                          title=f"Search — {config.title}",
                          description=f"Search the stories of {config.title}.",
                          in_sitemap=False))
    pages.append(Page(url="/404.html", output="404.html", template="404.html",
                      title=f"Page not found — {config.title}",
                      description="This page does not exist.", in_sitemap=False))
    pages += _sitemaps(pages, listed, config, updated)
    pages.append(Page(url="/robots.txt", output="robots.txt", template="robots.txt",
                      title="robots.txt", description="", in_sitemap=False))
    return tuple(_reused(page, before.get(page.output)) for page in pages)


SITEMAP_LIMIT = 50_000
"""URLs one sitemap file may hold (sitemaps.org); past it, sitemap.xml becomes an index."""
NEWS_SITEMAP_LIMIT = 1_000
"""Stories a news sitemap may hold (Google News)."""


def _sitemaps(pages: Sequence[Page], listed: Sequence[Entry], config: SiteConfig,
              updated: Moment | None) -> list[Page]:
    """``sitemap.xml`` (an index of numbered sitemaps past ``SITEMAP_LIMIT`` URLs) and
    ``news-sitemap.xml``: the stories of the last ``news_sitemap_days`` before the build."""
    locations = tuple((p.url, _lastmod(p)) for p in pages
                      if p.in_sitemap and p.output.endswith(".html"))
    parts = [locations[i: i + SITEMAP_LIMIT] for i in range(0, len(locations), SITEMAP_LIMIT)]
    made: list[Page] = []
    if len(parts) <= 1:
        made.append(Page(url="/sitemap.xml", output="sitemap.xml", template="sitemap.xml",
                         title="Sitemap", description="", data={"locations": locations},
                         in_sitemap=False))
    else:
        numbered = [f"/sitemaps/sitemap-{n}.xml" for n in range(1, len(parts) + 1)]
        made.append(Page(url="/sitemap.xml", output="sitemap.xml",
                         template="sitemap_index.xml", title="Sitemap index", description="",
                         data={"sitemaps": tuple(numbered)}, in_sitemap=False))
        made += [Page(url=url, output=urls.output_path(url), template="sitemap.xml",
                      title="Sitemap", description="", data={"locations": part},
                      in_sitemap=False) for url, part in zip(numbered, parts)]
    made.append(Page(url="/news-sitemap.xml", output="news-sitemap.xml",
                     template="news_sitemap.xml", title="News sitemap", description="",
                     data={"entries": _recent(listed, config, updated)}, in_sitemap=False))
    return made


def _recent(entries: Sequence[Entry], config: SiteConfig, updated: Moment | None
            ) -> tuple[Entry, ...]:
    """Dated entries published within ``news_sitemap_days`` before ``updated`` (the build
    time: never the clock), newest first."""
    if updated is None:
        return ()
    newest_day = urls.local_day(updated, config)
    oldest_day = newest_day - dt.timedelta(days=config.news_sitemap_days)
    recent = [e for e in entries if e.story.date is not None
              and oldest_day <= urls.local_day(e.story.date, config) <= newest_day]
    return tuple(recent[:NEWS_SITEMAP_LIMIT])


def _lastmod(page: Page) -> str:
    entry = page.data.get("entry")
    if entry is None or entry.story.date is None:
        return ""
    moment = entry.story.updated or entry.story.date
    return moment.isoformat()


def _story_pages(entries: tuple[Entry, ...], taxonomies: Mapping[str, tuple[Term, ...]],
                 config: SiteConfig, before: Mapping[str, Page]) -> list[Page]:
    """Each entry's page; the page in ``before`` (by output file) when it shows the very
    same entry and neighbours: a story page is made of those and the settings alone."""
    dated = sorted((e for e in entries if e.story.date is not None), key=lambda e: e.story.sort_key)
    older = {e.story.id: dated[i - 1] if i else None for i, e in enumerate(dated)}
    newer = {e.story.id: dated[i + 1] if i + 1 < len(dated) else None for i, e in enumerate(dated)}
    by_id = {e.story.id: e for e in entries}
    topic_of = {term.url: term for term in taxonomies["topics"]}
    position = {story_id: index for term in taxonomies["topics"]
                for index, story_id in enumerate(term.story_ids)}
    pages = []
    for entry in entries:
        story = entry.story
        topic = topic_of.get(entry.topic.url)
        more = (_nearest_in_topic(entry, position, topic, by_id, config.related_count)
                if topic else ())
        try:
            output = urls.output_path(entry.url)
        except urls.UnsafePath as exc:  # only a strange permalink pattern can cause this
            raise BuildError(f"{shown_path(story, config)}: permalink {config.permalink!r} "
                             f"makes an unusable URL for this story: {exc}") from None
        shown = before.get(output)
        if shown is not None and shown.template == "story.html" and _shows(
                shown, entry, older.get(story.id), newer.get(story.id), more):
            pages.append(shown)
        else:
            pages.append(_story_page(entry, output, older.get(story.id), newer.get(story.id),
                                     more, config))
    return pages


_HOME = Link("Home", "/")
_TOPICS = Link("Topics", urls.term_path("topics"))
"""The first two crumbs of every story's page: one object each, not one a page."""


def _story_page(entry: Entry, output: str, older: Entry | None, newer: Entry | None,
                more: tuple[Entry, ...], config: SiteConfig) -> Page:
    story = entry.story
    crumbs = (_HOME, _TOPICS, entry.topic, Link(story.title, entry.url))
    return Page(
        url=entry.url, output=output, template="story.html",
        title=f"{story.title} — {config.title}",
        description=_description(story, config),
        data={"entry": entry, "older": older, "newer": newer, "more": more,
              "breadcrumbs": crumbs},
        sources=(shown_path(story, config),),
        # A later wire copy points search engines at the earliest version.
        canonical=entry.original.url if entry.original else "",
        in_sitemap=entry.original is None)


def _shows(page: Page, entry: Entry, older: Entry | None, newer: Entry | None,
           more: tuple[Entry, ...]) -> bool:
    data = page.data
    return (data["entry"] is entry and data["older"] is older and data["newer"] is newer
            and len(data["more"]) == len(more) and all(map(operator.is_, data["more"], more)))


def _nearest_in_topic(entry: Entry, position: Mapping[str, int], topic: Term,
                      by_id: Mapping[str, Entry], count: int) -> tuple[Entry, ...]:
    """The ``count`` stories of the same topic closest in time, the newer first on ties.

    Walks outwards from the story's place in the topic's newest-first list, so the cost
    is ``count`` steps, not a sort of the whole topic.
    """
    here = position[entry.story.id]
    nearest: list[Entry] = []
    distance = 1
    while len(nearest) < count and (here - distance >= 0 or here + distance < topic.count):
        for index in (here - distance, here + distance):
            if 0 <= index < topic.count and len(nearest) < count:
                nearest.append(by_id[topic.story_ids[index]])
        distance += 1
    return tuple(nearest)


def _description(story: Story, config: SiteConfig) -> str:
    text = story.summary or " ".join(story.body.split())[: config.summary_length]
    return text or story.title


def _list_pages(path: str, entries: tuple[Entry, ...], config: SiteConfig, *, template: str,
                title: str, description: str, heading: str, feed: str | None = None,
                sources: tuple[str, ...] = (), extra: Mapping[str, Any] | None = None
                ) -> list[Page]:
    """A list split into pages of ``config.per_page``: ``path``, ``path/page/2/``…"""
    size = config.per_page
    total = max(1, -(-len(entries) // size))
    pages = []
    for number in range(1, total + 1):
        url = urls.paginated(path, number)
        suffix = f" (page {number} of {total})" if number > 1 else ""
        pages.append(Page(
            url=url, output=urls.output_path(url), template=template,
            title=title + suffix,
            description=description,
            data={"heading": heading, "entries": entries[(number - 1) * size: number * size],
                  "pagination": Pagination(number, total, path), "feed": feed,
                  "count": len(entries), **(extra or {})},
            sources=sources))
    return pages


def _feed_page(path: str, entries: Sequence[Entry], config: SiteConfig, updated: Moment | None,
               *, title: str, alternate: str) -> Page:
    dated = tuple(e for e in entries if e.story.date is not None)[: config.feed_size]
    return Page(url=path, output=urls.output_path(path), template="atom.xml", title=title,
                description=config.description,
                data={"entries": dated, "updated": updated, "alternate": alternate},
                in_sitemap=False)


def _archive_pages(entries: tuple[Entry, ...], archive: tuple[ArchiveNode, ...],
                   config: SiteConfig) -> list[Page]:
    if not archive:
        return []
    pages = [Page(url=urls.archive_path(), output=urls.output_path(urls.archive_path()),
                  template="archive.html", title=f"Archive — {config.title}",
                  description=f"Every year of {config.title} with its number of stories.",
                  data={"heading": "Archive", "years": archive})]
    by_day: dict[dt.date, list[Entry]] = defaultdict(list)
    for entry in entries:
        if entry.story.date is not None:
            by_day[urls.local_day(entry.story.date, config)].append(entry)
    days_of: dict[str, list[dt.date]] = defaultdict(list)  # by the month's URL, newest first
    for day in sorted(by_day, reverse=True):
        days_of[urls.archive_path(day.year, day.month)].append(day)
    for year in archive:
        pages.append(Page(url=year.url, output=urls.output_path(year.url),
                          template="archive_year.html", title=f"{year.label} — {config.title}",
                          description=f"Stories of {config.title} from {year.label}, by month.",
                          data={"heading": year.label, "year": year,
                                "breadcrumbs": (Link("Archive", urls.archive_path()),)}))
        for month in year.children:
            month_entries = tuple(e for day in days_of[month.url] for e in by_day[day])
            pages += _list_pages(month.url, month_entries, config, template="archive_list.html",
                                 title=f"{month.label} — {config.title}",
                                 description=f"Stories of {config.title} from {month.label}.",
                                 heading=month.label,
                                 extra={"days": month.children, "breadcrumbs": (
                                     Link("Archive", urls.archive_path()),
                                     Link(year.label, year.url))})
            for day, date in zip(month.children, days_of[month.url]):
                pages += _list_pages(day.url, tuple(by_day[date]), config,
                                     template="archive_list.html",
                                     title=f"{day.label} — {config.title}",
                                     description=f"Stories of {config.title} from {day.label}.",
                                     heading=day.label,
                                     extra={"days": (), "breadcrumbs": (
                                         Link("Archive", urls.archive_path()),
                                         Link(year.label, year.url),
                                         Link(month.label, month.url))})
    return pages

