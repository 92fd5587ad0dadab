"""Near-duplicate wire copies and related coverage (builder.similarity)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import html
import math
import os
import random
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder.model import Story, chronological
from builder.similarity import (
    MIN_SIZE_RATIO,
    NEAREST_PER_TAG,
    RECENCY_HALF_LIFE_DAYS,
    SAME_TOPIC_FACTOR,
    DuplicateIndex,
    Sketcher,
    TextSketch,
    _words,
    find_duplicates,
    related_inputs,
    related_stories,
)

FIXTURES = Path(__file__).parent / "fixtures" / "dups"
DAY = dt.date(2021, 1, 14)

# A vocabulary big enough that independently drawn texts share almost no five-word runs.
_VOCABULARY = sorted({word for word in re.findall(r"[a-z]+", """
    minister said talks would continue next week after officials from both countries met in
    the capital to discuss energy transit pipeline gas exports railway corridor investment
    fund bank loan credit agreement signed company shares rose fell percent quarter profit
    revenue growth inflation budget deficit parliament vote election commission court ruling
    appeal police arrested suspects protest crowd square president visit delegation summit
    border ceasefire troops withdrawal humanitarian aid convoy reached villages flood damage
    harvest wheat cotton prices market traders port cargo ships tanker oil field drilling
    offshore platform contract tender construction bridge highway airport terminal passengers
    flights airline tourism hotels season festival museum exhibition artists theatre premiere
    football club coach match league title season transfer players injury hospital doctors
    vaccine campaign schools teachers students university research grant satellite launch
    ministry statement spokesman confirmed denied reports earlier tuesday wednesday friday
    morning evening weekend local regional national foreign global central northern southern
    """)})


def words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(_VOCABULARY) for _ in range(count))


def article(seed: int, paragraphs: int = 5, words_each: int = 40) -> str:
    """A made-up story body: ``paragraphs`` paragraphs of ``words_each`` words."""
    rng = random.Random(seed)
    return "\n\n".join(words(rng, words_each).capitalize() + "." for _ in range(paragraphs))


def story(story_id: str, body: str = "", *, date: dt.date | dt.datetime | None = DAY,
          topic: str = "world", tags: tuple[str, ...] = (), title: str = "") -> Story:
    return Story(id=story_id, path=f"{topic}/{story_id}.txt", title=title or f"Story {story_id}",
                 date=date, topic=topic, slug=f"story-{story_id}", body=body, tags=tags)


# -- sketches ------------------------------------------------------------------------------

def test_sketch_ignores_case_punctuation_and_line_wrapping():
    text = "The ministry said on Monday that talks would continue, officials reported."
    rewrapped = "the Ministry said\non MONDAY that talks -- would\n\ncontinue officials reported"
    sketcher = Sketcher()
    assert sketcher.sketch(text) == sketcher.sketch(rewrapped)
    assert sketcher.sketch(text).similarity(sketcher.sketch(rewrapped)) == 1.0
    # The exact-copy digest is stricter: whitespace only.
    assert sketcher.sketch(text).exact != sketcher.sketch(rewrapped).exact
    assert sketcher.sketch(text).exact == sketcher.sketch(" " + text.replace(" ", "\n  ")).exact
    assert sketcher.sketch("").exact == "" and sketcher.sketch("Too short.").exact != ""


def test_sketch_does_not_depend_on_what_was_sketched_before():
    remembered = Sketcher()
    for seed in range(20):
        remembered.sketch(article(seed))
    assert remembered.sketch(article(99)) == Sketcher().sketch(article(99))


def test_texts_shorter_than_a_shingle_have_an_empty_sketch():
    sketch = Sketcher().sketch("Blah blah blah.")
    assert sketch == TextSketch(shingles=0)
    assert sketch.similarity(sketch) == 0.0
    assert Sketcher().sketch("") == TextSketch(shingles=0)


def test_similarity_estimate_is_close_to_the_true_jaccard():
    rng = random.Random(5)
    base = [f"w{n}" for n in range(600)]
    for keep in (0.3, 0.6, 0.9):
        changed = [word if rng.random() < keep else f"x{n}" for n, word in enumerate(base)]
        shingles = [{tuple(text[i:i + 5]) for i in range(len(text) - 4)}
                    for text in (base, changed)]
        exact = len(shingles[0] & shingles[1]) / len(shingles[0] | shingles[1])
        sketcher = Sketcher()
        estimate = sketcher.sketch(" ".join(base)).similarity(sketcher.sketch(" ".join(changed)))
        assert abs(estimate - exact) < 0.1, (keep, exact, estimate)


@pytest.mark.parametrize(("text", "shingles", "digest"), [
    ("Gas exports via the Southern Gas Corridor rose by 12 percent in the first quarter, "
     "the ministry said on Monday. " * 3, 20, "260f3744b8a73001f6becc77d86dd3b1"),
    (" ".join(f"word{n % 97} w{n}" for n in range(700)), 1396,
     "eee0f8c1b39bbf7eff5c10381f50a581"),
    ("Баку, 14 января. Café ﬁnance straße: Azərbaycan və Türkiyə qaz sazişi imzalayıb, "
     "nazirlik bildirib.", 10, "de402a91d05dc727317cfaca25e0883b"),
    ("“We intend to double trade,” Josep Sokolov said — referring to the Kremlin’s "
     "website… the ‘landmark’ deal\u00a0of 2021 – signed. " * 3, 20,
     "10c0c7751247799a707e5377bfc7b4d6"),
])
def test_sketches_are_the_ones_stored_in_caches(text, shingles, digest):
    """Caches keep sketches under ``SKETCH_VERSION``: how a sketch is computed may change,
    its values may not (these were made by the first, pure-Python sketcher): every bin
    filled, bins borrowed by densification, and text NFKC-normalised."""
    sketch = Sketcher().sketch(text)
    assert sketch.shingles == shingles
    assert hashlib.sha256(sketch.values).hexdigest()[:32] == digest


@given(st.text(alphabet=st.sampled_from(
    "Ab z09_ .,;'\"-\n\t’“”‘—–\u00a0…éÉßİﬁ²\u0301Жж"), max_size=80))
def test_words_are_the_word_runs_of_the_casefolded_nfkc_text(text):
    """Wire copy's punctuation outside ASCII is split away before the fast ASCII path;
    whatever the text, the words are those of the definition (sketch values depend on it)."""
    expected = [word.encode() for word in
                re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold())]
    assert _words(text) == expected


def test_sketches_are_the_same_in_every_process():
    """Hashes are keyed by constants, never by Python's per-process string hash."""
    program = ("from builder.similarity import Sketcher; "
               "print(Sketcher().sketch('Gas exports via the corridor rose by 12 percent "
               "in March, the ministry said').values.hex())")
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed,
               "PYTHONPATH": str(Path(__file__).parent.parent)}
        result = subprocess.run([sys.executable, "-c", program], env=env, check=True,
                                capture_output=True, text=True)
        outputs.add(result.stdout)
    assert len(outputs) == 1


# -- duplicate groups --------------------------------------------------------------------------

def test_exact_copy_under_another_header_is_a_duplicate():
    original = story("a1", article(1), title="Gas deal signed", date=DAY)
    copy = story("b2", article(1), title="AzerNews: Baku and Ankara sign gas deal",
                 date=DAY + dt.timedelta(days=1))
    index = find_duplicates([copy, original], 0.8)
    assert index.groups == (("a1", "b2"),)
    assert index.canonical_of("b2") == "a1"
    assert index.canonical_of("a1") is None
    assert index.copies_of("a1") == ("b2",)
    assert index.copies_of("b2") == ("a1",)
    assert index.group_of("b2") == ("a1", "b2")


def test_a_duplicate_index_found_in_a_worker_comes_back_whole():
    import pickle

    index = DuplicateIndex(groups=(("a1", "b2", "c3"), ("d4", "e5")))
    back = pickle.loads(pickle.dumps(index))
    assert back == index
    assert [back.canonical_of(i) for i in ("a1", "b2", "e5", "zz")] == [None, "a1", "d4", None]
    assert back.copies_of("b2") == ("a1", "c3") and back.group_of("zz") == ()


def test_copy_with_last_paragraph_dropped_is_a_duplicate():
    full = article(2, paragraphs=5)
    shortened = "\n\n".join(full.split("\n\n")[:-1])
    index = find_duplicates([story("full", full), story("short", shortened)], 0.8)
    assert index.groups == (("full", "short"),)  # the fuller text is canonical on a tie


def test_reuters_wire_story_and_its_shortened_repost_are_one_group():
    """Corpus files 017 (Reuters SGML) and 076 (AzerNews-style repost of it, last paragraph
    dropped, bare date): the timed wire original is canonical on their shared day."""
    sgml = (FIXTURES / "017_d76f2784919b2804.txt").read_text(encoding="utf-8")
    wire_body = html.unescape(re.search(r"<BODY>(.*?)</BODY>", sgml, re.S).group(1))
    repost = (FIXTURES / "076_7cfd49cbf20327e1.txt").read_text(encoding="utf-8")
    repost_body = repost.split("\n", 1)[1].split("\n---", 1)[0].strip()
    wire = story("d76f2784919b2804", wire_body, date=dt.datetime(1987, 6, 15, 9, 16, 2),
                 title="W GERMAN SHIP HIT DURING WARSAW PACT WAR GAMES")
    reposted = story("7cfd49cbf20327e1", repost_body, date=dt.date(1987, 6, 15),
                     title="West German navy ship hit during Warsaw Pact exercises")
    sketcher = Sketcher()
    wire_sketch, repost_sketch = sketcher.sketch(wire_body), sketcher.sketch(repost_body)
    assert wire_sketch.similarity(repost_sketch) < 0.8  # not found on Jaccard alone ...
    assert repost_sketch.shingles >= MIN_SIZE_RATIO * wire_sketch.shingles  # ... but contained
    for order in ([wire, reposted], [reposted, wire]):
        index = find_duplicates(order, 0.8)
        assert index.groups == (("d76f2784919b2804", "7cfd49cbf20327e1"),)
        assert index.canonical_of("7cfd49cbf20327e1") == "d76f2784919b2804"


def test_different_stories_are_not_duplicates():
    stories = [story(f"s{n}", article(n)) for n in range(30)]
    assert find_duplicates(stories, 0.8).groups == ()


def test_short_stories_sharing_boilerplate_do_not_collapse_together():
    boilerplate = "Follow us on Twitter @AzerNewsAz for more news"
    rng = random.Random(3)
    stories = [story(f"s{n}", f"{words(rng, 3 + n % 6).capitalize()}. {boilerplate}")
               for n in range(40)]
    stories += [story("blah1", "Blah blah blah."), story("blah2", "Blah blah blah.")]
    assert find_duplicates(stories, 0.8).groups == ()


def test_threshold_decides_between_similar_and_same():
    rng = random.Random(8)
    base = words(rng, 400).split()
    # Replacing every 12th word keeps about 60% of the shingles (Jaccard ~0.45) at equal length.
    edited = [word if n % 12 else "changed" for n, word in enumerate(base)]
    pair = [story("a", " ".join(base)), story("b", " ".join(edited))]
    assert find_duplicates(pair, 0.8).groups == ()
    assert find_duplicates(pair, 0.3).groups == (("a", "b"),)
    # Two edits in 400 words: Jaccard ~0.95.
    lightly = list(base)
    lightly[100], lightly[300] = "changed", "edited"
    assert find_duplicates([pair[0], story("c", " ".join(lightly))], 0.8).groups == (("a", "c"),)


def test_a_brief_quoted_in_a_long_story_is_not_its_duplicate():
    long_body = article(4, paragraphs=8)
    brief = long_body.split("\n\n")[2]  # one paragraph of eight: contained, but far shorter
    assert find_duplicates([story("long", long_body), story("brief", brief)], 0.8).groups == ()


def test_copies_chain_into_one_group_canonical_first():
    body = article(6, paragraphs=6)
    paragraphs = body.split("\n\n")
    stories = [
        story("z-third", "\n\n".join(paragraphs[:-2]), date=DAY + dt.timedelta(days=2)),
        story("y-first", body, date=DAY),
        story("x-second", "\n\n".join(paragraphs[:-1]), date=DAY + dt.timedelta(days=1)),
        story("other", article(7), date=DAY),
    ]
    index = find_duplicates(stories, 0.8)
    assert index.groups == (("y-first", "x-second", "z-third"),)
    assert index.copies_of("x-second") == ("y-first", "z-third")
    assert index.group_of("other") == () and index.copies_of("other") == ()
    assert index.canonical_of("other") is None and index.canonical_of("unknown") is None


@pytest.mark.parametrize("dates, canonical", [
    ((DAY, DAY - dt.timedelta(days=1)), "b"),  # earlier day
    ((dt.datetime(2021, 1, 14, 15, 0), dt.datetime(2021, 1, 14, 9, 30)), "b"),  # earlier time
    ((DAY, dt.datetime(2021, 1, 14, 23, 0)), "b"),  # a time beats a bare date on its day
    ((None, DAY), "b"),  # undated last
    ((dt.datetime(2021, 1, 14, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=4))),
      dt.datetime(2021, 1, 14, 6, 0, tzinfo=dt.timezone.utc)), "a"),  # compared in UTC
    ((DAY, DAY), "a"),  # all else equal: smaller id
])
def test_canonical_is_the_earliest(dates, canonical):
    body = article(9)
    stories = [story("a", body, date=dates[0]), story("b", body, date=dates[1])]
    index = find_duplicates(stories, 0.8)
    assert index.groups[0][0] == canonical


def test_groups_are_in_chronological_order_of_their_canonical_versions():
    stories = []
    for n, day in enumerate((5, 1, 3)):
        date = DAY + dt.timedelta(days=day)
        stories += [story(f"g{n}a", article(20 + n), date=date),
                    story(f"g{n}b", article(20 + n), date=date + dt.timedelta(days=1))]
    assert find_duplicates(stories, 0.8).groups == (("g1a", "g1b"), ("g2a", "g2b"),
                                                    ("g0a", "g0b"))


def test_precomputed_sketches_give_the_same_groups():
    stories = [story(f"s{n}", article(n % 4 + 40)) for n in range(8)]
    sketcher = Sketcher()
    sketches = {s.id: sketcher.sketch(s.body) for s in stories[:5]}  # some given, some not
    assert (find_duplicates(stories, 0.8, sketches)
            == find_duplicates(stories, 0.8)
            == DuplicateIndex(groups=(("s0", "s4"), ("s1", "s5"), ("s2", "s6"), ("s3", "s7"))))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unique"):
        find_duplicates([story("a", "x"), story("a", "y")])
    with pytest.raises(ValueError, match="threshold"):
        find_duplicates([], 0.0)
    with pytest.raises(ValueError, match="unique"):
        related_stories([story("a"), story("a")])
    with pytest.raises(ValueError, match="negative"):
        related_stories([], k=-1)


# -- related coverage --------------------------------------------------------------------------

def test_rarer_shared_tags_weigh_more():
    filler = [story(f"f{n}", tags=("Azerbaijan",)) for n in range(20)]
    me = story("me", tags=("Azerbaijan", "Shusha"))
    rare = story("rare", tags=("Shusha",))
    common = story("common", tags=("Azerbaijan",))
    related = related_stories([me, rare, common, *filler], k=3)
    assert related["me"][0] == "rare"


def test_same_topic_and_closeness_in_time_raise_the_score():
    me = story("me", topic="energy", tags=("Pipeline",), date=DAY)
    same_topic = story("same-topic", topic="energy", tags=("Pipeline",), date=DAY)
    other_topic = story("other-topic", topic="sports", tags=("Pipeline",), date=DAY)
    later = story("later", topic="energy", tags=("pipeline",), date=DAY + dt.timedelta(days=300))
    related = related_stories([later, other_topic, me, same_topic])
    assert related["me"] == ("same-topic", "other-topic", "later")


def test_the_closer_in_time_comes_first_whether_before_or_after():
    me = story("me", tags=("Pipeline",), date=DAY)
    day_before = story("day-before", tags=("Pipeline",), date=DAY - dt.timedelta(days=1))
    two_days_after = story("two-days-after", tags=("Pipeline",), date=DAY + dt.timedelta(days=2))
    undated = story("undated", tags=("Pipeline",), date=None)
    related = related_stories([two_days_after, undated, me, day_before])
    assert related["me"] == ("day-before", "two-days-after", "undated")
    assert related["undated"] == ("two-days-after", "me", "day-before")  # 0.5 each: newest first


def test_stories_without_shared_tags_are_not_related():
    related = related_stories([story("a", tags=("Baku",)), story("b", tags=("Ankara",)),
                               story("c")])
    assert related == {"a": (), "b": (), "c": ()}


def test_ties_go_to_the_newer_story_then_the_smaller_id():
    me = story("me", tags=("Trade",), date=DAY)
    before = story("before", tags=("Trade",), date=DAY - dt.timedelta(days=2))
    after_b = story("after-b", tags=("Trade",), date=DAY + dt.timedelta(days=2))
    after_a = story("after-a", tags=("Trade",), date=DAY + dt.timedelta(days=2))
    assert related_stories([before, after_b, me, after_a])["me"] == ("after-a", "after-b",
                                                                     "before")


def test_a_duplicate_group_appears_once_as_its_canonical_version():
    body = article(30)
    original = story("orig", body, tags=("Gas",), date=DAY)
    copy = story("copy", body, tags=("Gas",), date=DAY + dt.timedelta(days=1))
    reader = story("reader", article(31), tags=("Gas",), date=DAY)
    stories = [copy, reader, original]
    duplicates = find_duplicates(stories, 0.8)
    related = related_stories(stories, duplicates)
    assert related["reader"] == ("orig",)
    assert related["orig"] == ("reader",) and related["copy"] == ("reader",)


def test_a_common_tag_links_only_stories_near_in_time_within_it():
    span = 2 * NEAREST_PER_TAG + 5
    stories = [story(f"s{n:03d}", tags=("Azerbaijan",), date=DAY + dt.timedelta(days=n))
               for n in range(span)]
    related = related_stories(stories, k=span)
    assert len(related["s000"]) == NEAREST_PER_TAG
    assert "s001" in related["s000"] and f"s{span - 1:03d}" not in related["s000"]


def test_k_limits_the_list():
    stories = [story(f"s{n}", tags=("Baku",)) for n in range(10)]
    assert {len(ids) for ids in related_stories(stories, k=3).values()} == {3}
    assert set(related_stories(stories, k=0).values()) == {()}


# -- properties ----------------------------------------------------------------------------------

_TAGS = ("Baku", "Ankara", "Gas", "Trade", "Shusha", "Caspian")


@st.composite
def archives(draw: st.DrawFn) -> list[Story]:
    """Small archives where some stories are copies (whole or shortened) of earlier ones."""
    count = draw(st.integers(1, 10))
    ids = draw(st.lists(st.text("0123456789abcdef", min_size=4, max_size=4),
                        min_size=count, max_size=count, unique=True))
    bodies: list[str] = []
    stories = []
    for story_id in ids:
        if bodies and draw(st.booleans()):
            paragraphs = draw(st.sampled_from(bodies)).split("\n\n")
            body = "\n\n".join(paragraphs[:len(paragraphs) - draw(st.integers(0, 1))])
        else:
            body = article(draw(st.integers(0, 10_000)), paragraphs=draw(st.integers(1, 4)),
                           words_each=draw(st.integers(2, 30)))
        bodies.append(body)
        date = draw(st.one_of(st.none(), st.dates(dt.date(2020, 1, 1), dt.date(2020, 3, 1)),
                              st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2020, 3, 1))))
        stories.append(story(story_id, body, date=date, topic=draw(st.sampled_from(["a", "b"])),
                             tags=tuple(draw(st.sets(st.sampled_from(_TAGS), max_size=3)))))
    return stories


@settings(max_examples=60, deadline=None)
@given(archives(), st.randoms(use_true_random=False))
def test_results_do_not_depend_on_input_order(stories, rng):
    shuffled = list(stories)
    rng.shuffle(shuffled)
    duplicates = find_duplicates(stories, 0.8)
    assert find_duplicates(shuffled, 0.8) == duplicates
    related = related_stories(stories, duplicates, k=3)
    again = related_stories(shuffled, find_duplicates(shuffled, 0.8), k=3)
    assert list(again.items()) == list(related.items())


def test_related_coverage_spread_over_worker_processes_is_the_same():
    """The pipeline hands related_stories a mapper over forked workers (a build's --jobs)."""
    from builder import pipeline

    rng = random.Random(5)
    names = [f"Name {n}" for n in range(40)]
    stories = [Story(id=f"s{n:04d}", path=f"t/{n}.txt", title=f"Story {n}", topic=f"t{n % 3}",
                     date=dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(400)),
                     slug=f"story-{n}", body=f"Body {n}.",
                     tags=tuple(rng.sample(names, rng.randrange(1, 6))))
               for n in range(1200)]
    duplicates = find_duplicates(stories, 0.8)
    alone = related_stories(stories, duplicates, k=5)
    spread = related_stories(stories, duplicates, k=5,
                             mapper=pipeline._mapper(pipeline._Workers(2, 1)))
    assert list(spread.items()) == list(alone.items())
    assert sum(map(len, alone.values())) > 1000  # most stories have related coverage


@settings(max_examples=60, deadline=None)
@given(archives())
def test_no_story_is_its_own_duplicate_or_related(stories):
    duplicates = find_duplicates(stories, 0.8)
    members = [story_id for group in duplicates.groups for story_id in group]
    assert len(members) == len(set(members))  # groups are disjoint
    for group in duplicates.groups:
        assert len(group) >= 2
        for story_id in group:
            assert story_id not in duplicates.copies_of(story_id)
            assert duplicates.canonical_of(story_id) != story_id
    related = related_stories(stories, duplicates, k=3)
    assert set(related) == {s.id for s in stories}
    for story_id, ids in related.items():
        assert len(ids) <= 3 and len(set(ids)) == len(ids)
        assert story_id not in ids
        assert not set(ids) & set(duplicates.group_of(story_id))
        assert all(duplicates.canonical_of(other) is None for other in ids)


@settings(max_examples=60, deadline=None)
@given(archives())
def test_related_matches_the_definition_computed_pair_by_pair(stories):
    """With few stories per tag the inverted index must give exactly the all-pairs result."""
    duplicates = find_duplicates(stories, 0.8)
    assert related_stories(stories, duplicates, k=4) == _related_by_definition(stories,
                                                                               duplicates, 4)


def _related_by_definition(stories: list[Story], duplicates: DuplicateIndex,
                           k: int) -> dict[str, tuple[str, ...]]:
    ids = {s.id for s in stories}
    tags = {s.id: {t.casefold() for t in s.tags} for s in stories}
    frequency: dict[str, int] = {}
    for story_tags in tags.values():
        for tag in story_tags:
            frequency[tag] = frequency.get(tag, 0) + 1
    weight = {tag: math.log(1.0 + len(stories) / n) for tag, n in frequency.items()}

    def standing_for(s: Story) -> str:
        return next((m for m in duplicates.group_of(s.id) if m in ids), s.id)

    def newest_first(story_id: str) -> tuple[int, str]:
        newest = sorted(sorted(ids), key=lambda i: chronological(by_id[i].date), reverse=True)
        return newest.index(story_id), story_id

    by_id = {s.id: s for s in stories}
    result = {}
    for me in sorted(stories, key=lambda s: s.sort_key):
        best: dict[str, float] = {}
        for other in stories:
            shared = sorted(tags[me.id] & tags[other.id])
            if other.id == me.id or not shared or standing_for(other) == standing_for(me):
                continue
            base = sum(weight[tag] for tag in shared)
            if me.date is None or other.date is None:
                recency = 0.5
            else:
                gap = abs(_utc_day(me.date) - _utc_day(other.date))
                recency = 0.5 + 0.5 * 2.0 ** (-gap / RECENCY_HALF_LIFE_DAYS)
            score = base * recency
            if me.topic == other.topic:
                score *= SAME_TOPIC_FACTOR
            target = standing_for(other)
            best[target] = max(best.get(target, 0.0), score)
        result[me.id] = tuple(sorted(best, key=lambda i: (-best[i], newest_first(i)))[:k])
    return result


def _utc_day(moment: dt.date | dt.datetime) -> int:
    if isinstance(moment, dt.datetime) and moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
    return moment.toordinal()


def test_a_story_copied_a_thousand_times_is_one_group():
    sketch = Sketcher().sketch(article(50))
    copies = [story(f"c{n:04d}", date=DAY + dt.timedelta(days=n % 7)) for n in range(1000)]
    index = find_duplicates(copies, 0.8, {s.id: sketch for s in copies})
    assert len(index.groups) == 1 and len(index.groups[0]) == 1000
    assert index.groups[0][0] == "c0000"


def test_a_sketch_that_cannot_have_been_made_here_is_refused():
    with pytest.raises(ValueError, match="sketch"):
        TextSketch(shingles=3, values=b"\0" * 12)
    with pytest.raises(ValueError, match="sketch"):
        TextSketch(shingles=0, values=b"\0" * 1024)


# -- the digest of related coverage's inputs ---------------------------------------------------

_TAG_POOL = ["Baku", "Ankara", "Moscow", "OPEC", "Vladimir Putin", "baku", "Gas", "Rail"]


@st.composite
def small_archives(draw):
    count = draw(st.integers(min_value=1, max_value=8))
    return [story(f"s{n}", body=draw(st.sampled_from(["", "One text.", "Another text."])),
                  date=DAY + dt.timedelta(days=draw(st.integers(0, 90))),
                  topic=draw(st.sampled_from(["world", "business"])),
                  tags=tuple(draw(st.lists(st.sampled_from(_TAG_POOL), max_size=4))))
            for n in range(count)]


@settings(max_examples=150, deadline=None)
@given(small_archives(), st.data())
def test_related_inputs_cover_what_related_stories_reads(archive, data):
    """Equal digests give equal related lists (so a cached result may be reused); a change
    to what related coverage reads changes the digest, one to anything else does not."""
    index = data.draw(st.integers(0, len(archive) - 1))
    field, value = data.draw(st.sampled_from([
        ("body", "A corrected text."), ("title", "A new headline"),
        ("tags", ("Rail", "Gas")), ("topic", "sport"),
        ("date", dt.date(2020, 1, 1)), ("tags", ())]))
    changed = list(archive)
    changed[index] = dataclasses.replace(archive[index], **{field: value})
    groups = DuplicateIndex(((archive[0].id, archive[-1].id),)) if len(archive) > 1 else None
    before, after = related_inputs(archive, groups, 3), related_inputs(changed, groups, 3)
    reads_it = field in ("tags", "topic", "date") and getattr(archive[index], field) != value \
        and not (field == "tags" and {t.casefold() for t in archive[index].tags}
                 == {t.casefold() for t in value})
    assert (before != after) == reads_it
    if before == after:
        assert related_stories(archive, groups, 3) == related_stories(changed, groups, 3)
    assert related_inputs(archive, groups, 2) != before
    assert related_inputs(list(reversed(archive)), groups, 3) == before
