"""The data types' own promises: a story's body is held packed and reads back exactly."""

from __future__ import annotations

import dataclasses
import pickle
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from builder.config import SiteConfig
from builder.ingest import parse_bytes
from builder.model import Story

CORPUS = Path(__file__).parent / "fixtures" / "corpus"


def story_with(body: str) -> Story:
    return Story(id="a1", path="world/a1.txt", title="T", date=None, topic="world", slug="t",
                 body=body)


@given(st.text(), st.text())
def test_a_body_reads_back_exactly_and_decides_equality(body, other):
    story = story_with(body)
    assert story.body == body
    assert story.markup == ("<" in body)
    assert (story == story_with(other)) == (body == other)
    assert pickle.loads(pickle.dumps(story)).body == body
    assert dataclasses.replace(story, title="U").body == body


def test_a_story_holds_its_body_in_a_fraction_of_its_text():
    """The build holds every story at once; as text the bodies were most of it."""
    found = [story for path in sorted(CORPUS.rglob("*.txt"))[:40]
             for story in parse_bytes(path.read_bytes(), path.name, SiteConfig(root=CORPUS)).stories]
    text = sum(sys.getsizeof(story.body) for story in found)
    packed = sum(sys.getsizeof(story.packed_body) for story in found)
    assert found and packed < text / 2.5
    assert not any(getattr(story, each.name) == story.body for story in found if story.body
                   for each in dataclasses.fields(story))  # nor kept as text besides


def test_stories_read_back_share_the_texts_many_repeat():
    """A build holds every story: each unpickled (from the cache, from a worker) shares one
    copy of its topic, source and tags with the others, not a copy of its own."""
    def fresh(text: str) -> str:  # an equal text that is another object
        return "".join(list(text))

    first, second = (pickle.loads(pickle.dumps(dataclasses.replace(
        story_with(f"Text {n}"), id=f"a{n}", topic=fresh("world"), source=fresh("Trend"),
        tags=(fresh("Baku"), fresh("OPEC"))))) for n in range(2))
    assert first.topic is second.topic and first.source is second.source
    assert first.tags == ("Baku", "OPEC") and first.tags[0] is second.tags[0]
