"""Time duplicate detection and related stories, and score the duplicates found.

Stories come from :mod:`benchmarks.generate` (the same deterministic corpus the build
benchmarks use); a share of them are then replaced by planted copies of others, made the
way wire copies reach an archive: re-titled and re-sourced verbatim, with the last paragraph
dropped, with the attribution and a few words edited and the paragraphs re-flowed, or both.
Recall and precision are over pairs of stories: a pair is a true duplicate when both are the
same original or copies of it.

    python -m benchmarks.bench_similarity [--n 100000] [--jobs 2] [--planted 0.05]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import multiprocessing
import os
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from benchmarks.generate import GeneratedStory, generate
from builder.model import Story
from builder.similarity import Sketcher, TextSketch, find_duplicates, related_stories

T = TypeVar("T")

COPY_KINDS = ("verbatim", "last_paragraph_dropped", "edited_reflowed", "dropped_and_edited")
_OUTLETS = ("AzerNews", "Caspian Post", "Eurasia Wire", "Silk Road Herald")


@dataclass(frozen=True, slots=True)
class PlantedCorpus:
    stories: tuple[Story, ...]
    original_of: dict[str, str]
    """Story id → id of the original it was copied from (originals map to themselves)."""


@dataclass(frozen=True, slots=True)
class Score:
    true_pairs: int
    found_pairs: int
    correct_pairs: int

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.found_pairs if self.found_pairs else 1.0


def planted_corpus(count: int, planted_share: float, seed: int) -> PlantedCorpus:
    """``count`` stories of which ``planted_share`` are copies of the others."""
    copies = round(count * planted_share)
    originals = [_story(generated) for generated in generate(count - copies, seed)]
    rng = random.Random(f"planted:{seed}")
    stories = list(originals)
    original_of = {story.id: story.id for story in originals}
    for number in range(copies):
        source = rng.choice(originals)
        kind = COPY_KINDS[number % len(COPY_KINDS)]
        copy = _copy(source, kind, rng, f"{rng.getrandbits(64):016x}")
        stories.append(copy)
        original_of[copy.id] = source.id
    return PlantedCorpus(stories=tuple(stories), original_of=original_of)


def _story(generated: GeneratedStory) -> Story:
    return Story(id=generated.id, path=generated.raw_path, title=generated.title,
                 date=generated.date, topic=generated.topic, slug=generated.slug,
                 body=generated.body, source=generated.source, tags=generated.tags)


def _copy(story: Story, kind: str, rng: random.Random, new_id: str) -> Story:
    paragraphs = story.body.split("\n\n")
    if kind in ("last_paragraph_dropped", "dropped_and_edited") and len(paragraphs) > 2:
        paragraphs = paragraphs[:-1]
    if kind in ("edited_reflowed", "dropped_and_edited"):
        credit = f", {rng.choice(_OUTLETS)} reports citing {story.source}"
        paragraphs[0] = paragraphs[0].replace(f", {story.source} reports", credit)
        words = " ".join(paragraphs).split(" ")
        for _ in range(max(1, len(words) // 150)):  # a few local edits: wording, figures
            words[rng.randrange(len(words))] = rng.choice(["also", "reportedly", "nearly", "2.5"])
        half = len(words) // 2
        paragraphs = [" ".join(words[:half]), " ".join(words[half:])]  # re-flowed
    date = story.date + dt.timedelta(days=rng.choice((0, 0, 1, 2)))
    return replace(story, id=new_id, path=f"copies/{new_id}.txt", date=date,
                   title=f"{rng.choice(_OUTLETS)}: {story.title}", slug=f"copy-{new_id}",
                   source=rng.choice(_OUTLETS), body="\n\n".join(paragraphs))


def score(groups: Iterable[Sequence[str]], original_of: dict[str, str]) -> Score:
    members: dict[str, list[str]] = {}
    for story_id, original in original_of.items():
        members.setdefault(original, []).append(story_id)
    true_pairs = sum(len(group) * (len(group) - 1) // 2 for group in members.values())
    found = correct = 0
    for group in groups:
        for first, second in itertools.combinations(group, 2):
            found += 1
            correct += original_of[first] == original_of[second]
    return Score(true_pairs=true_pairs, found_pairs=found, correct_pairs=correct)


def _sketch_bodies(bodies: list[str]) -> list[TextSketch]:
    sketcher = Sketcher()
    return [sketcher.sketch(body) for body in bodies]


def _sketch_in_processes(stories: Sequence[Story], processes: int) -> list[TextSketch]:
    """Sketches computed as the build would: in worker processes over shards."""
    bodies = [story.body for story in stories]
    size = -(-len(bodies) // (processes * 4))
    shards = [bodies[start:start + size] for start in range(0, len(bodies), size)]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        return [sketch for shard in pool.map(_sketch_bodies, shards) for sketch in shard]


def timed(action: Callable[[], T]) -> tuple[T, float, float]:
    """Result, wall seconds and CPU seconds of ``action()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_similarity",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="stories (default: 10000)")
    parser.add_argument("--planted", type=float, default=0.05,
                        help="share of the stories that are planted copies (default: 0.05)")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--related", type=int, default=5, help="related stories per story")
    parser.add_argument("--jobs", type=int, default=1,
                        help="processes that sketch the bodies, as the build's workers would "
                             "(default: 1)")
    args = parser.parse_args(argv)

    corpus, wall, _ = timed(lambda: planted_corpus(args.n, args.planted, args.seed))
    print(f"corpus: {len(corpus.stories):,} stories, "
          f"{len(corpus.stories) - len(set(corpus.original_of.values())):,} planted copies "
          f"(generated in {wall:.1f} s); load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    if args.jobs > 1:
        sketch_list, sketch_wall, sketch_cpu = timed(
            lambda: _sketch_in_processes(corpus.stories, args.jobs))
        sketch_cpu = float("nan")  # spent in the workers
    else:
        sketch_list, sketch_wall, sketch_cpu = timed(
            lambda: _sketch_bodies([story.body for story in corpus.stories]))
    sketches = {story.id: sketch for story, sketch in zip(corpus.stories, sketch_list)}
    duplicates, find_wall, find_cpu = timed(
        lambda: find_duplicates(corpus.stories, args.threshold, sketches))
    related, related_wall, related_cpu = timed(
        lambda: related_stories(corpus.stories, duplicates, args.related))
    result = score(duplicates.groups, corpus.original_of)
    with_related = sum(1 for ids in related.values() if ids)

    rows = [
        (f"sketch every body ({args.jobs} process{'es' if args.jobs > 1 else ''})",
         sketch_wall, sketch_cpu),
        ("find_duplicates from the sketches (LSH + verify)", find_wall, find_cpu),
        ("find_duplicates in all", sketch_wall + find_wall, sketch_cpu + find_cpu),
        (f"related_stories (k={args.related})", related_wall, related_cpu),
    ]
    print(f"{'step':50} {'wall s':>8} {'cpu s':>8}")
    for name, wall, cpu in rows:
        print(f"{name:50} {wall:8.2f} {cpu:8.2f}")
    print(f"duplicate groups: {len(duplicates.groups):,}; pairs: true {result.true_pairs:,}, "
          f"found {result.found_pairs:,}, correct {result.correct_pairs:,}")
    print(f"recall {result.recall:.4f}  precision {result.precision:.4f}")
    print(f"stories with related coverage: {with_related:,} of {len(related):,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
