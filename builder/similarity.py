"""Near-duplicate wire copies and related coverage: pure functions over stories, no I/O.

**Duplicates.** The same wire story arrives from several outlets, re-titled, re-flowed, with
the last paragraph dropped. Each body becomes a set of five-word shingles (casefolded ``\\w+``
tokens), summarised in a fixed-size :class:`TextSketch` by one-permutation MinHash (one 64-bit
hash per shingle, the smallest per bin). Locality-sensitive hashing over bands of the sketch
proposes candidate pairs, so no two stories are compared unless they probably match; each
candidate is then verified on its estimated Jaccard similarity, or, for a shortened re-post, on
how much of the shorter text the longer one contains. Verified pairs join into groups
(connected components); each group's canonical version is the earliest.

**Related coverage.** Stories that share tags, weighted by how rare the tag is, more so in the
same topic and close in time; computed through an inverted index tag → stories in which a
common tag only links stories near each other in time, so the work grows linearly.

Every hash is keyed by a constant (never Python's per-process ``hash()`` of text), and
stories are put in one canonical order first, so results are the same in every process,
run and input order.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import re
import unicodedata
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import eq, getitem, ne
from types import MappingProxyType

import numpy

from builder.model import Moment, Story, chronological, pickled_by_fields

__all__ = [
    "SKETCH_VERSION",
    "CopyIndex",
    "DuplicateIndex",
    "Sketcher",
    "TextSketch",
    "exact_digest",
    "find_duplicates",
    "related_inputs",
    "related_stories",
]

# -- shingles and sketches ---------------------------------------------------------------------

SHINGLE_WORDS = 5
"""Words per shingle: long enough that stock phrases (``the ministry said on Monday``) seldom
make different stories look alike, short enough that one edited word changes only five."""

SKETCH_BINS = 256
"""Minima kept per text. The similarity estimate's standard error is about
``sqrt(J(1-J)/256)``: 0.025 at Jaccard 0.8."""

BAND_ROWS = 4
"""Bins per LSH band (64 bands). Two texts become candidates with probability
``1-(1-J**4)**64``: 0.98 at Jaccard 0.5, 0.9998 at 0.6, 0.006 at 0.1."""

MIN_SIZE_RATIO = 0.5
"""A shorter text counts as a shortened copy of a longer one only when it has at least this
share of the longer one's shingles: a re-post that drops a paragraph, not a brief that is
quoted in a long feature."""

SKETCH_VERSION = f"minhash-oph-{SHINGLE_WORDS}w-{SKETCH_BINS}x32-v2"
"""Names how sketches are made: part of any cache key for stored sketches."""

_BIN_BITS = 8  # log2(SKETCH_BINS)
_BANDS = SKETCH_BINS // BAND_ROWS
_BAND_BYTES = BAND_ROWS * 4
_LOW32_MASK = numpy.uint64(0xFFFFFFFF)
_ONE = numpy.uint64(1)
_ALL_BINS = numpy.arange(SKETCH_BINS)
_DENSIFY_STEP = numpy.uint64(0x9E3779B1)  # odd: marks how far an empty bin borrowed its value
_HASH_KEY = b"gazette-shingles"  # fixed key: the same hashes in every process and every run
_WORD = re.compile(r"\w+")
_MAX_REMEMBERED_WORDS = 500_000  # bounds a Sketcher's memory on huge archives


@pickled_by_fields()
@dataclass(frozen=True, slots=True)
class TextSketch:
    """A fixed-size summary of a text's shingle set, enough to estimate its similarity to
    another text's. Pure data: it can be cached by the story's content hash."""

    shingles: int
    """Distinct shingles in the text; 0 when it has fewer than ``SHINGLE_WORDS`` words, and
    such a text is never anyone's duplicate."""
    values: bytes = b""
    """``SKETCH_BINS`` unsigned 32-bit little-endian minima (empty when ``shingles`` is 0)."""
    exact: str = field(default="", compare=False)
    """:func:`exact_digest` of the text: equal for exact copies ('' for an empty text). Not
    part of the similarity summary, so not compared."""

    def __post_init__(self) -> None:
        # Sketches come back from caches: refuse one that cannot have been made here.
        if self.shingles < 0 or len(self.values) != (SKETCH_BINS * 4 if self.shingles else 0):
            raise ValueError(f"not a {SKETCH_VERSION} sketch: {self.shingles} shingles, "
                             f"{len(self.values)} bytes of values")

    def similarity(self, other: TextSketch) -> float:
        """Estimated Jaccard similarity of the two shingle sets (0.0 when either is empty)."""
        if not self.values or not other.values:
            return 0.0
        mine, theirs = memoryview(self.values).cast("I"), memoryview(other.values).cast("I")
        return sum(map(eq, mine, theirs)) / SKETCH_BINS

    def containment(self, other: TextSketch, jaccard: float) -> float:
        """Estimated share of the smaller set that the other set contains, from ``jaccard``.

        ``|A ∩ B| = J (|A| + |B|) / (1 + J)``, divided by ``min(|A|, |B|)``, at most 1.
        """
        smaller = min(self.shingles, other.shingles)
        if smaller == 0:
            return 0.0
        common = jaccard * (self.shingles + other.shingles) / (1.0 + jaccard)
        return min(1.0, common / smaller)


def exact_digest(text: str) -> str:
    """Digest of a text with its whitespace collapsed: two exact copies of a story whose
    files differ only in headers or line wrapping have the same ('' for an empty text)."""
    collapsed = " ".join(text.split())
    if not collapsed:
        return ""
    return hashlib.blake2b(collapsed.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class Sketcher:
    """Turns text into :class:`TextSketch` values.

    It remembers the hashes of words it has seen, which only saves time: a sketch never
    depends on what was sketched before, so one Sketcher per worker process is fine.
    """

    def __init__(self) -> None:
        # A shingle's hash is the XOR of its words' positional hashes (tabulation hashing
        # over words): one row of the table per word, one column per position in a shingle.
        self._rows: dict[bytes, int] = {}
        self._table = numpy.zeros((1024, SHINGLE_WORDS), dtype=numpy.uint64)

    def sketch(self, text: str) -> TextSketch:
        exact = exact_digest(text)
        words = _words(text)
        count = len(words) - SHINGLE_WORDS + 1
        if count <= 0:
            return TextSketch(shingles=0, exact=exact)
        self._learn(words)
        rows = numpy.fromiter(map(self._rows.__getitem__, words), dtype=numpy.intp,
                              count=len(words))
        hashes = self._table[rows[:count], 0]
        for position in range(1, SHINGLE_WORDS):
            hashes ^= self._table[rows[position:position + count], position]
        hashes.sort()
        distinct = hashes[numpy.diff(hashes, prepend=hashes[0] ^ _ONE) != 0]
        return TextSketch(shingles=len(distinct), values=_one_permutation_minima(distinct),
                          exact=exact)

    def _learn(self, words: list[bytes]) -> None:
        rows = self._rows
        unseen = list(set(words).difference(rows))
        if not unseen:
            return
        if len(rows) + len(unseen) > _MAX_REMEMBERED_WORDS:
            rows.clear()
            unseen = list(set(words))
        start, end = len(rows), len(rows) + len(unseen)
        if end > len(self._table):
            grown = numpy.zeros((max(end, 2 * len(self._table)), SHINGLE_WORDS),
                                dtype=numpy.uint64)
            grown[:start] = self._table[:start]
            self._table = grown
        digests = b"".join(hashlib.blake2b(word, digest_size=8 * SHINGLE_WORDS,
                                           key=_HASH_KEY).digest() for word in unseen)
        self._table[start:end] = numpy.frombuffer(digests, dtype="<u8").reshape(-1, SHINGLE_WORDS)
        rows.update(zip(unseen, range(start, end)))


def _words(text: str) -> list[bytes]:
    """The words of ``text`` as shingles are made of, in UTF-8: the runs of word characters
    (``\\w``) of its NFKC normal form, casefolded.

    Wire copy is ASCII but for a few marks of punctuation (curly quotes, dashes, no-break
    spaces): with those turned into spaces (each is no word character, nor is what NFKC
    makes of it, so the words stay the same) the rest is split at C speed, in under a third
    of the time the regular expression takes over the whole text."""
    plain = text
    for mark in _PUNCTUATION_OUTSIDE_ASCII:
        if mark in plain:
            plain = plain.replace(mark, " ")
    if plain.isascii():
        return plain.encode("ascii").lower().translate(_ASCII_NON_WORD_TO_SPACE).split()
    return [word.encode("utf-8", "surrogatepass")
            for word in _WORD.findall(unicodedata.normalize("NFKC", text).casefold())]


_PUNCTUATION_OUTSIDE_ASCII = "\u2019\u201c\u201d\u2018\u2014\u2013\u00a0\u2026"
"""’ “ ” ‘ — – (no-break space) …: what keeps most wire copy from being ASCII."""
_ASCII_NON_WORD_TO_SPACE = bytes(
    byte if byte < 128 and (chr(byte).isalnum() or byte == ord("_")) else ord(" ")
    for byte in range(256))
"""A byte table: ASCII word characters (``\\w``) kept, every other byte a space."""


def _one_permutation_minima(hashes: numpy.ndarray) -> bytes:
    """One-permutation MinHash of distinct ``hashes`` (ascending): the top bits of a hash
    pick its bin, each bin keeps its smallest hash (low 32 bits). An empty bin borrows the
    value of the next filled bin, offset by the distance ("rotation densification",
    Shrivastava & Li, ICML 2014), so two equal sets always get equal sketches and the bins
    stay comparable one by one."""
    bins = (hashes >> numpy.uint64(64 - _BIN_BITS)).astype(numpy.intp)
    first = numpy.flatnonzero(numpy.diff(bins, prepend=-1))  # each bin's smallest hash
    filled = bins[first]
    values = numpy.zeros(SKETCH_BINS, dtype=numpy.uint64)
    values[filled] = hashes[first] & _LOW32_MASK
    if len(filled) < SKETCH_BINS:
        empty = numpy.ones(SKETCH_BINS, dtype=bool)
        empty[filled] = False
        above = numpy.full(SKETCH_BINS, SKETCH_BINS + filled[0])  # wraps past the last bin
        above[filled] = filled
        above = numpy.minimum.accumulate(above[::-1])[::-1][empty]  # next filled bin
        distance = (above - _ALL_BINS[empty]).astype(numpy.uint64)
        values[empty] = (values[above % SKETCH_BINS] + distance * _DENSIFY_STEP) & _LOW32_MASK
    return values.astype("<u4").tobytes()


# -- duplicate groups --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DuplicateIndex:
    """Groups of stories that are one wire copy, and who stands for each group."""

    groups: tuple[tuple[str, ...], ...] = ()
    """Story ids per group, canonical (earliest) version first, then the copies in the same
    order; groups in chronological order of their canonical versions."""
    _group_of: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        membership = {story_id: group for group in self.groups for story_id in group}
        object.__setattr__(self, "_group_of", MappingProxyType(membership))

    def __reduce__(self) -> tuple[type[DuplicateIndex], tuple[tuple[tuple[str, ...], ...]]]:
        return DuplicateIndex, (self.groups,)  # the groups say it all (found in a worker)

    def group_of(self, story_id: str) -> tuple[str, ...]:
        """The whole group ``story_id`` belongs to, canonical first; () when it has no copies."""
        return self._group_of.get(story_id, ())

    def canonical_of(self, story_id: str) -> str | None:
        """The earliest version when ``story_id`` is a later copy of it, else None (a canonical
        story, or one without copies)."""
        group = self._group_of.get(story_id)
        return group[0] if group and group[0] != story_id else None

    def copies_of(self, story_id: str) -> tuple[str, ...]:
        """The other stories of ``story_id``'s group, canonical first; () when there are none."""
        return tuple(other for other in self._group_of.get(story_id, ()) if other != story_id)


def find_duplicates(stories: Sequence[Story], threshold: float = 0.8,
                    sketches: Mapping[str, TextSketch] | None = None) -> DuplicateIndex:
    """Group the stories whose bodies are one wire copy.

    Two stories are copies when the estimated Jaccard similarity of their shingle sets is at
    least ``threshold``, or when the shorter has at least ``MIN_SIZE_RATIO`` of the longer's
    shingles and the longer contains at least ``2t / (1 + t)`` of it (the containment that
    equals Jaccard ``t`` for texts of equal length), so a re-post that drops its last
    paragraph is found without loosening the threshold for equal-length texts.

    The canonical version is the earliest: by day (undated last); on the same day a story
    with a time of day before one with only a date (a bare date cannot be shown to be
    earlier, and wire originals carry times where re-posts often do not), then the earlier
    time, then the fuller text, then the id. ``sketches`` (by story id) may bring sketches
    computed earlier, e.g. in worker processes or from a cache; missing ones are computed.

    Story ids must be unique (``ValueError`` otherwise).
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"duplicate threshold must be in (0, 1], not {threshold}")
    _check_unique_ids(stories)
    given = sketches or {}
    sketcher = Sketcher()
    by_id = {story.id: given.get(story.id) or sketcher.sketch(story.body) for story in stories}
    ordered = sorted(stories, key=lambda story: _canonical_key(story, by_id[story.id].shingles))
    sketch_list = [by_id[story.id] for story in ordered]
    same_copy = functools.partial(_same_copy, threshold=threshold)
    forest = _Forest(len(ordered))
    # Identical sketches are copies outright; banding one of each keeps a story copied a
    # thousand times from filling every bucket with a thousand members.
    first_with: dict[bytes, int] = {}
    for index, sketch in enumerate(sketch_list):
        if sketch.values:
            forest.join(first_with.setdefault(sketch.values, index), index)
    rejected: set[tuple[int, int]] = set()
    for first, second in _candidate_pairs(sketch_list, sorted(first_with.values())):
        if (first, second) in rejected or forest.root(first) == forest.root(second):
            continue  # already decided; a pair inside one group adds nothing to it
        if same_copy(sketch_list[first], sketch_list[second]):
            forest.join(first, second)
        else:
            rejected.add((first, second))
    return DuplicateIndex(groups=tuple(
        tuple(ordered[index].id for index in members) for members in forest.groups()
    ))


@dataclass(frozen=True, slots=True)
class CopyIndex:
    """The sketches of a list of stories (None for one left out, a draft), searchable at C
    speed for the stories :func:`find_duplicates` could group with one of them: every
    sketch's first bin of each band, in one column per band (4 bytes a story, zeros where
    there is no sketch). Two sketches agreeing on a band agree on its first bin."""

    sketches: tuple[TextSketch | None, ...]
    columns: tuple[bytes, ...]

    @classmethod
    def of(cls, sketches: Sequence[TextSketch | None]) -> CopyIndex:
        table = array("I")
        table.frombytes(b"".join(sketch.values if sketch and sketch.values else _NO_VALUES
                                 for sketch in sketches))
        return cls(tuple(sketches), tuple(table[band * BAND_ROWS::SKETCH_BINS].tobytes()
                                          for band in range(_BANDS)))

    def replaced(self, sketches: Mapping[int, TextSketch | None]) -> CopyIndex:
        """This index with the sketch at each position of ``sketches`` replaced."""
        kept = list(self.sketches)
        columns = [bytearray(column) for column in self.columns]
        for position, sketch in sketches.items():
            kept[position] = sketch
            values = sketch.values if sketch and sketch.values else _NO_VALUES
            for band, column in enumerate(columns):
                column[4 * position:4 * position + 4] = values[_BAND_BYTES * band:
                                                                _BAND_BYTES * band + 4]
        return CopyIndex(tuple(kept), tuple(map(bytes, columns)))

    def has_copy(self, position: int, threshold: float) -> bool:
        """False when :func:`find_duplicates` puts the story at ``position`` in no group
        with any other story of the index: it groups only stories whose sketches agree on a
        whole band and are copies, as checked here against every one. (A story with an
        empty text is never grouped.)"""
        sketch = self.sketches[position]
        if sketch is None or not sketch.values:
            return False
        candidates: set[int] = set()
        for band, column in enumerate(self.columns):
            part = slice(band * _BAND_BYTES, (band + 1) * _BAND_BYTES)
            key = sketch.values[part][:4]
            at = column.find(key)
            while at != -1:
                other = self.sketches[at // 4] if at % 4 == 0 and at // 4 != position else None
                if other is not None and other.values and other.values[part] == sketch.values[part]:
                    candidates.add(at // 4)
                at = column.find(key, at + 1)
        return any(_same_copy(sketch, self.sketches[index], threshold)  # type: ignore[arg-type]
                   for index in sorted(candidates))


_NO_VALUES = bytes(SKETCH_BINS * 4)
"""A :class:`CopyIndex`'s row where there is no sketch."""


def _same_copy(a: TextSketch, b: TextSketch, threshold: float) -> bool:
    """Whether two sketched texts are one wire copy (see :func:`find_duplicates`)."""
    jaccard = a.similarity(b)
    if jaccard >= threshold:
        return True
    ratio = min(a.shingles, b.shingles) / max(a.shingles, b.shingles)
    containment_needed = 2.0 * threshold / (1.0 + threshold)
    return ratio >= MIN_SIZE_RATIO and a.containment(b, jaccard) >= containment_needed


def _candidate_pairs(sketches: Sequence[TextSketch],
                     indices: Sequence[int]) -> Iterable[tuple[int, int]]:
    """Pairs ``(i, j)`` of ascending ``indices``, ``i < j``, whose sketches agree on a whole
    band.

    Bands are bucketed one at a time, so only one band's keys are in memory, and with
    C-level passes: a key's last index comes from a dict, and only the indices that are not
    the last of their key (the few colliding ones) are visited in Python.
    """
    values = [sketches[index].values for index in indices]
    for band in range(_BANDS):
        keys = list(map(getitem, values, repeat(slice(band * _BAND_BYTES,
                                                      (band + 1) * _BAND_BYTES))))
        last = dict(zip(keys, indices))
        if len(last) == len(keys):
            continue  # no two sketches agree on this band
        buckets: dict[bytes, list[int]] = {}
        not_last = map(ne, map(last.__getitem__, keys), indices)
        for key, index in compress(zip(keys, indices), not_last):
            buckets.setdefault(key, []).append(index)
        for key, members in buckets.items():
            members.append(last[key])
            for position, first in enumerate(members):
                for second in members[position + 1:]:
                    yield first, second


def _canonical_key(story: Story, shingles: int) -> tuple[bool, str, bool, str, int, str]:
    moment = chronological(story.date)
    day, time_of_day = moment[:10], moment[11:]
    return (story.date is None, day, not time_of_day, time_of_day, -shingles, story.id)


class _Forest:
    """Union-find over indices; the smallest index of a group is its root, so a group's root
    is its canonical story when indices follow canonical order."""

    def __init__(self, size: int) -> None:
        self._parent = list(range(size))

    def root(self, index: int) -> int:
        parent = self._parent
        while parent[index] != index:
            parent[index] = parent[parent[index]]  # path halving
            index = parent[index]
        return index

    def join(self, first: int, second: int) -> None:
        a, b = self.root(first), self.root(second)
        if a != b:
            self._parent[max(a, b)] = min(a, b)

    def groups(self) -> list[list[int]]:
        """Groups of two or more, each in index order, ordered by their root."""
        members: dict[int, list[int]] = {}
        for index in range(len(self._parent)):
            members.setdefault(self.root(index), []).append(index)
        return [group for root, group in sorted(members.items()) if len(group) > 1]


# -- related coverage --------------------------------------------------------------------------

NEAREST_PER_TAG = 30
"""A tag links a story to at most this many stories on either side of it in that tag's
chronological list. Rare tags (at most ``2 * NEAREST_PER_TAG + 1`` stories) link all their
stories; a common tag (``Azerbaijan`` on half the archive) says little and would make the work
quadratic, so it only links stories that are near in time within it."""

SAME_TOPIC_FACTOR = 1.25
"""Score multiplier for two stories in the same topic."""

RECENCY_HALF_LIFE_DAYS = 30.0
"""Time closeness: a pair's score is multiplied by ``0.5 + 0.5 * 2 ** (-days / half-life)``
(whole days apart), from 1.0 on the same day down to 0.5 years apart or when either is
undated, so closeness orders comparable candidates without hiding a strongly related story
from another year."""

_RECENCY_DAYS = 3650
# Factor by signed gap in days (gap + _RECENCY_DAYS); beyond ten years it is 0.5 to fifteen
# digits.
_RECENCY = numpy.array([0.5 + 0.5 * 2.0 ** (-abs(gap) / RECENCY_HALF_LIFE_DAYS)
                        for gap in range(-_RECENCY_DAYS, _RECENCY_DAYS + 1)])


Mapper = Callable[[Callable[[int], object], Sequence[int]], Iterable[object]]
"""``mapper(function, items)``: ``map(function, items)``, perhaps over several processes (each
inheriting ``function`` by fork, never pickling it); results in the order of ``items``."""


def related_stories(stories: Sequence[Story], duplicates: DuplicateIndex | None = None,
                    k: int = 5, mapper: Mapper = map) -> Mapping[str, tuple[str, ...]]:
    """Up to ``k`` related story ids for every story, best first.

    A pair's score is the sum over the tags they share (compared casefolded) of
    ``ln(1 + N / stories with the tag)``, counting a common tag only when the two are near
    in it (see ``NEAREST_PER_TAG``), times ``SAME_TOPIC_FACTOR`` when the topic is the same,
    times the recency factor. Stories that share no counted tag are never related. A
    duplicate group appears at most once, as its canonical version, and never in the list of
    one of its own members. Ties go to the newer story, then the smaller id.

    Every story id is a key, in chronological order; story ids must be unique. Each story's
    list is a pure function of the index built first: ``mapper`` may spread them over
    processes (the pipeline's workers), with the same result.
    """
    if k < 0:
        raise ValueError(f"related story count must not be negative, not {k}")
    _check_unique_ids(stories)
    ordered = sorted(stories, key=lambda story: story.sort_key)
    if k == 0:
        return MappingProxyType(dict.fromkeys((story.id for story in ordered), ()))
    related_of = _RelatedIndex(ordered, duplicates or DuplicateIndex(), k).related_of
    return MappingProxyType(dict(zip((story.id for story in ordered),
                                     mapper(related_of, range(len(ordered))))))


class _RelatedIndex:
    """Everything :func:`related_stories` scores pairs with, as arrays by chronological
    index: each tag's postings and weight, each story's day, topic, duplicate group and rank
    newest first. A story's candidates are scored together in numpy (a Python loop over
    them took 180 µs a story), by the same floating-point operations in the same order."""

    def __init__(self, ordered: Sequence[Story], duplicates: DuplicateIndex, k: int) -> None:
        index_of = {story.id: index for index, story in enumerate(ordered)}
        count = len(ordered)
        self.ids = [story.id for story in ordered]
        self.k = k
        self.tags = [sorted({tag.casefold() for tag in story.tags}) for story in ordered]
        postings: dict[str, list[int]] = {}
        self.position_in: list[dict[str, int]] = []
        for index, story_tags in enumerate(self.tags):  # ascending: lists are chronological
            positions = {}
            for tag in story_tags:
                posted = postings.setdefault(tag, [])
                positions[tag] = len(posted)
                posted.append(index)
            self.position_in.append(positions)
        self.weight = {tag: math.log(1.0 + count / len(posted))
                       for tag, posted in postings.items()}
        self.postings = {tag: numpy.array(posted, dtype=numpy.intp)
                         for tag, posted in postings.items()}
        self.representative = numpy.array(_representatives(ordered, index_of, duplicates),
                                          dtype=numpy.intp)
        days = [_day_number(story.date) for story in ordered]
        self.dated = numpy.array([day is not None for day in days], dtype=bool)
        self.days = numpy.array([day or 0 for day in days], dtype=numpy.int64)
        topic_number: dict[str, int] = {}
        self.topics = numpy.array([topic_number.setdefault(story.topic, len(topic_number))
                                   for story in ordered], dtype=numpy.intp)
        self.newest_first = numpy.array(_newest_first_ranks(ordered), dtype=numpy.intp)

    def related_of(self, index: int) -> tuple[str, ...]:
        """The related story ids of the story at ``index`` (chronological order)."""
        windows = []
        for tag in self.tags[index]:
            posted = self.postings[tag]
            if len(posted) > 2 * NEAREST_PER_TAG + 1:
                position = self.position_in[index][tag]
                posted = posted[max(0, position - NEAREST_PER_TAG):position + NEAREST_PER_TAG + 1]
            windows.append(posted)
        if not windows:
            return ()
        weights = numpy.repeat([self.weight[tag] for tag in self.tags[index]],
                               [len(window) for window in windows])
        # Each candidate's shared-tag score, summed tag after tag as a loop would (bincount
        # adds in the order given; numpy.unique costs twice this).
        candidates = numpy.concatenate(windows)
        order = candidates.argsort(kind="stable")
        ranked = candidates[order]
        first = numpy.empty(len(ranked), dtype=bool)
        first[0] = True
        numpy.not_equal(ranked[1:], ranked[:-1], out=first[1:])
        others = ranked[first]
        which = numpy.empty(len(ranked), dtype=numpy.intp)
        which[order] = first.cumsum() - 1
        tag_scores = numpy.bincount(which, weights=weights)
        targets = self.representative[others]
        outside = targets != self.representative[index]  # not itself, nor a copy of itself
        others, tag_scores, targets = others[outside], tag_scores[outside], targets[outside]
        recency = numpy.full(len(others), 0.5)
        if self.dated[index]:
            gaps = self.days[index] - self.days[others]
            near = self.dated[others] & (numpy.abs(gaps) <= _RECENCY_DAYS)
            recency[near] = _RECENCY[gaps[near] + _RECENCY_DAYS]
        scores = tag_scores * recency
        same_topic = self.topics[others] == self.topics[index]
        scores[same_topic] *= SAME_TOPIC_FACTOR
        groups, best = others, scores
        if (targets != others).any():  # a duplicate group scores as its best member
            groups, member_of = numpy.unique(targets, return_inverse=True)
            best = numpy.zeros(len(groups))
            numpy.maximum.at(best, member_of, scores)
        top = numpy.lexsort((self.newest_first[groups], -best))[:self.k]
        return tuple(self.ids[group] for group in groups[top].tolist())


def related_inputs(stories: Sequence[Story], duplicates: DuplicateIndex | None = None,
                   k: int = 5) -> bytes:
    """Digest of everything :func:`related_stories` reads from its arguments: each story's
    id, date, topic and casefolded tags, the duplicate groups and ``k``. Equal digests give
    equal results (for the same code), so a caller may keep the result under it."""
    digest = hashlib.blake2b(f"related k={k}\n".encode(), digest_size=16)
    for story in sorted(stories, key=lambda story: story.sort_key):
        tags = tuple(sorted({tag.casefold() for tag in story.tags}))
        # repr quotes and escapes every string: no two different inputs read the same.
        digest.update(repr((story.id, chronological(story.date), story.topic, tags))
                      .encode("utf-8", "surrogatepass") + b"\n")
    digest.update(repr((duplicates or DuplicateIndex()).groups).encode("utf-8", "surrogatepass"))
    return digest.digest()


def _representatives(ordered: Sequence[Story], index_of: Mapping[str, int],
                     duplicates: DuplicateIndex) -> list[int]:
    """For each index, the index standing for its duplicate group: the group's first member
    among ``ordered`` (its canonical version unless that one was left out), else itself."""
    standing = []
    for index, story in enumerate(ordered):
        present = [index_of[member] for member in duplicates.group_of(story.id)
                   if member in index_of]
        standing.append(present[0] if present else index)
    return standing


def _day_number(moment: Moment | None) -> int | None:
    """The day as a proleptic Gregorian ordinal (the UTC day for aware datetimes)."""
    if moment is None:
        return None
    if isinstance(moment, dt.datetime) and moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return moment.toordinal()


def _newest_first_ranks(ordered: Sequence[Story]) -> list[int]:
    """Rank of each index when sorted newest first, ties by smaller id."""
    by_id = sorted(range(len(ordered)), key=lambda index: ordered[index].id)
    newest = sorted(by_id, key=lambda index: chronological(ordered[index].date), reverse=True)
    ranks = [0] * len(ordered)
    for rank, index in enumerate(newest):
        ranks[index] = rank
    return ranks


def _check_unique_ids(stories: Sequence[Story]) -> None:
    seen: set[str] = set()
    for story in stories:
        if story.id in seen:
            raise ValueError(f"story id {story.id!r} is used by more than one story "
                             f"(e.g. {story.path}); ids must be unique")
        seen.add(story.id)
