"""A deterministic corpus of news stories for benchmarks: one seed fixes every byte.

Stories come in the seed shape (``/work/shared/seeds/000_a203978440becfc5.txt``)::

     date 2021-01-14 By Trend
    <blank line>
    lead paragraph, ", Trend reports." attribution tail
    <blank line>
    paragraphs …
    ---
    <blank line>
    Follow us on Twitter @AzerNewsAz          (no trailing newline)

spread over topic folders (``content/<topic>/NNNNN_<16 hex>.txt``), with 2–6 KB bodies,
Zipf-distributed named entities (people, places, organisations: the story's tags), ~30
sources and dates over 15 years. The same stories can be written as Pelican Markdown and
as Hugo Markdown with front matter (same titles, dates, tags, topics as categories,
sources as a taxonomy) so the three generators build equivalent page sets.

    python -m benchmarks.generate --count 1000 --seed 1 --format raw OUT_DIR
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import random
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

BODY_MIN_BYTES = 2048
BODY_MAX_BYTES = 6144
FIRST_DAY = dt.date(2011, 1, 1)
SPAN_DAYS = (dt.date(2026, 1, 1) - FIRST_DAY).days  # 15 years
ZIPF_EXPONENT = 1.07
"""Close to what word and name frequencies in news text follow: a few names in every
other story, a long tail of names seen once."""

FORMATS = ("raw", "pelican", "hugo")

# -- vocabulary (fixed; the seed only decides how it is drawn) ------------------------------

_FIRST_NAMES = """Ilham Vladimir Recep Emmanuel Olaf Joe Xi Narendra Shinzo Angela Boris Jacinda
Justin Mevlut Sergey Josep Ursula Charles Kassym-Jomart Shavkat Nikol Irakli Maia Volodymyr
Alexander Mirziyoyev Hassan Ebrahim Mohammed Tamim Abdel Ali Fatima Leyla Mehriban Elena
Maria Anna Sofia Ahmed Omar Rashid Yusuf Hakan Ayse Murat Kemal Dmitry Tatiana Olga Pierre
Jean Luis Carlos Ana Hiroshi Yuki Min-jun Ji-woo Raj Priya Amina Kwame""".split()
_SURNAMES = """Aliyev Putin Erdogan Macron Scholz Biden Jinping Modi Abe Merkel Johnson Ardern
Trudeau Cavusoglu Lavrov Borrell Leyen Michel Tokayev Mirziyoyev Pashinyan Garibashvili
Zurabishvili Zelensky Lukashenko Rouhani Raisi Salman Thani Sisi Bayramov Mammadov Huseynov
Guliyev Hasanov Ismayilov Karimov Nazarbayev Petrov Ivanov Smirnov Kuznetsov Popov Sokolov
Yilmaz Kaya Demir Sahin Celik Dupont Martin Bernard Garcia Rodriguez Lopez Tanaka Suzuki
Kim Park Lee Sharma Patel Okafor Mensah Novak Horvat Kowalski Nowak Schmidt Weber""".split()
_PLACES = """Azerbaijan Russia Turkey Armenia Georgia Iran Kazakhstan Uzbekistan Turkmenistan
Kyrgyzstan Tajikistan Ukraine Belarus Moldova Romania Bulgaria Greece Cyprus Israel Egypt
Jordan Lebanon Syria Iraq Qatar Kuwait Oman Bahrain Pakistan India China Japan Mongolia
Germany France Italy Spain Portugal Poland Hungary Austria Switzerland Belgium Netherlands
Sweden Norway Finland Denmark Estonia Latvia Lithuania Serbia Croatia Slovenia Albania
Brazil Argentina Chile Mexico Canada Nigeria Ghana Kenya Ethiopia Morocco Algeria Tunisia
Baku Moscow Ankara Istanbul Yerevan Tbilisi Tehran Astana Almaty Tashkent Ashgabat Bishkek
Dushanbe Kyiv Minsk Bucharest Sofia Athens Brussels Berlin Paris Rome Madrid Lisbon Warsaw
Vienna Geneva London Washington Beijing Tokyo Delhi Dubai Doha Riyadh Cairo Ganja Sumgait
Shusha Lankaran Nakhchivan Nagorno-Karabakh Aktau Batumi Poti Novorossiysk Ceyhan Trabzon
Izmir Antalya Kazan Sochi Samarkand Bukhara Turkmenbashi""".split()
_PLACES += ["Saudi Arabia", "United States", "United Kingdom", "South Korea", "New York",
            "Sao Paulo", "Buenos Aires", "Cape Town", "Kuala Lumpur", "Abu Dhabi",
            "Caspian Sea", "Black Sea", "Central Asia", "South Caucasus", "Middle East"]
_ORG_PREFIXES = """Caspian Silk-Road Eurasian National Northern Southern Eastern Western Atlantic
Global United Continental Pacific Anatolian Baltic Trans-Caspian Black-Sea Central Asian
Alpine Nordic Levant Danube Volga Aral Araz Kura Absheron Karabakh Shirvan""".split()
_ORG_KINDS = ["Energy Company", "Shipping Group", "Development Bank", "Railways", "Telecom",
              "Investment Fund", "Institute", "Airlines", "Steel Works", "Insurance",
              "Petroleum", "Mining Corporation", "Chamber of Commerce", "Football Club",
              "University", "Gas Transport", "Pipeline Consortium", "Port Authority",
              "Health Agency", "Space Agency"]
_SOURCES = ["Trend", "Reuters", "AFP", "AP", "Interfax", "TASS", "Anadolu", "Xinhua", "APA",
            "Report", "IRNA", "ANSA", "EFE", "DPA", "Kyodo", "Yonhap", "PTI", "Bernama",
            "Antara", "KUNA", "WAM", "SPA", "QNA", "MENA", "Ukrinform", "BelTA", "Kazinform",
            "UzA", "Armenpress", "Sputnik"]
_PUBLISHER_HANDLES = ["AzerNewsAz", "CaspianPostNews", "EurasiaWire", "SilkRoadHerald",
                      "BlackSeaTimes", "BakuObserver"]
_TOPICS = ["politics", "economy", "energy", "business", "world", "region", "society",
           "sports", "culture", "science", "technology", "health"]
_TOPIC_SUBJECTS = {
    "politics": ["election reform", "peace talks", "border agreement", "coalition deal",
                 "sanctions package", "constitutional amendment"],
    "economy": ["budget plan", "inflation outlook", "trade agreement", "currency reserves",
                "tax reform", "export strategy"],
    "energy": ["gas supply deal", "pipeline expansion", "oil output quota", "solar park",
               "wind farm project", "refinery upgrade"],
    "business": ["merger plan", "share offering", "factory investment", "logistics hub",
                 "supply contract", "quarterly results"],
    "world": ["summit agenda", "humanitarian aid", "ceasefire proposal", "climate pledge",
              "refugee programme", "security pact"],
    "region": ["transport corridor", "water sharing accord", "railway link",
               "reconstruction programme", "customs union", "ferry service"],
    "society": ["pension reform", "school programme", "housing scheme", "public transport plan",
                "census results", "youth initiative"],
    "sports": ["championship final", "stadium project", "transfer deal", "Olympic bid",
               "training camp", "league reform"],
    "culture": ["film festival", "museum exhibition", "heritage restoration", "book fair",
                "music festival", "theatre season"],
    "science": ["research grant", "satellite launch", "genome study", "climate survey",
                "archaeological find", "fusion experiment"],
    "technology": ["broadband rollout", "data centre", "chip plant", "cyber security law",
                   "mobile payment system", "e-government portal"],
    "health": ["vaccination campaign", "hospital network", "drug approval", "health insurance",
               "pandemic response", "clinic upgrade"],
}
_ADJECTIVES = """new joint regional bilateral ambitious long-term strategic landmark modest
preliminary revised comprehensive cautious broad urgent gradual major limited national
cross-border multi-year flagship pilot sweeping""".split()
_NOUNS = """investment cooperation growth output capacity funding demand supply reform
infrastructure security trade tourism transit dialogue partnership exports imports revenue
employment connectivity stability recovery modernisation diversification""".split()
_VERBS = ["boost", "expand", "secure", "review", "accelerate", "support", "strengthen",
          "finance", "simplify", "protect", "deliver", "restore", "double", "open"]
_TIMES = ["on Monday", "on Tuesday", "on Wednesday", "on Thursday", "on Friday",
          "on Saturday", "last week", "earlier this month", "this year", "next month",
          "by the end of the year", "within two years", "in the coming months"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_REFERENCES = ["the Kremlin's website", "the ministry's press service", "local media",
               "a government statement", "the company's press release", "official sources"]

_PERSON, _PLACE, _ORG = "person", "place", "org"

_HEADLINES = (
    ((_PERSON, _ORG, _PLACE), "{0} meets {1} delegation in {2}"),
    ((_PERSON, _PERSON), "{0} and {1} discuss {s}"),
    ((_ORG, _PLACE), "{0} announces {s} in {1}"),
    ((_PLACE, _PLACE), "{0} and {1} sign {s}"),
    ((_PERSON, _PLACE), "{0} visits {1} to discuss {s}"),
    ((_ORG,), "{0} reports progress on {s}"),
    ((_PLACE,), "{0} hosts talks on {s}"),
    ((_PERSON, _ORG), "{0} backs {1} plan for {s}"),
)


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Named entities in rank order (rank 1 most frequent) with Zipf cumulative weights."""

    people: tuple[str, ...]
    places: tuple[str, ...]
    orgs: tuple[str, ...]

    @classmethod
    def standard(cls) -> Vocabulary:
        # A fixed shuffle, so that rank order is part of the vocabulary, not of the seed.
        order = random.Random(0)
        people = [f"{first} {last}" for first in _FIRST_NAMES for last in _SURNAMES
                  if first != last]
        orgs = [f"{prefix.replace('-', ' ')} {kind}" for prefix in _ORG_PREFIXES
                for kind in _ORG_KINDS]
        places = list(_PLACES)
        for names in (people, places, orgs):
            order.shuffle(names)
        return cls(tuple(people), tuple(places), tuple(orgs))


@dataclass(frozen=True, slots=True)
class GeneratedStory:
    """One story of the corpus, with the values every output format needs."""

    index: int
    id: str
    """16 hex digits, as in the seed's file name."""
    topic: str
    date: dt.date
    source: str
    handle: str
    """Publisher's Twitter handle in the footer (without ``@``)."""
    title: str
    slug: str
    """Unique across the corpus; given explicitly to Pelican and Hugo."""
    tags: tuple[str, ...]
    """The named entities the story mentions, in order of first mention."""
    paragraphs: tuple[str, ...]

    @property
    def stem(self) -> str:
        return f"{self.index:05d}_{self.id}"

    @property
    def raw_path(self) -> str:
        """Path of the seed-shape file under ``content/``."""
        return f"{self.topic}/{self.stem}.txt"

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def footer(self) -> str:
        return f"Follow us on Twitter @{self.handle}"

    def raw_bytes(self) -> bytes:
        """The story in the seed shape: dateline header, body, ``---``, footer, no final newline."""
        text = f" date {self.date.isoformat()} By {self.source}\n\n{self.body}\n\n---\n\n{self.footer}"
        return text.encode("utf-8")

    def pelican_bytes(self) -> bytes:
        """Pelican Markdown: a ``Key: value`` metadata block; the source is the author."""
        head = (f"Title: {self.title}\nDate: {self.date.isoformat()}\nCategory: {self.topic}\n"
                f"Tags: {', '.join(self.tags)}\nAuthor: {self.source}\nSlug: {self.slug}\n")
        return f"{head}\n{self.body}\n\n{self.footer}\n".encode("utf-8")

    def hugo_bytes(self) -> bytes:
        """Hugo Markdown with YAML front matter; topic, source, publisher (the footer's
        handle) and month are taxonomies."""
        def quoted(values: Sequence[str]) -> str:
            return "[" + ", ".join(json.dumps(v) for v in values) + "]"

        head = (f"---\ntitle: {json.dumps(self.title)}\ndate: {self.date.isoformat()}\n"
                f"slug: {self.slug}\ntopics: {quoted([self.topic])}\ntags: {quoted(self.tags)}\n"
                f"sources: {quoted([self.source])}\npublishers: {quoted([self.handle])}\n"
                f"months: [\"{self.date:%Y-%m}\"]\n---\n")
        return f"{head}\n{self.body}\n\n{self.footer}\n".encode("utf-8")


def generate(count: int, seed: int = 2021, vocabulary: Vocabulary | None = None
             ) -> Iterator[GeneratedStory]:
    """Yield ``count`` stories; the same ``count`` and ``seed`` always give the same stories.

    A prefix is stable: the first 1,000 stories of a 10,000-story corpus are the 1,000-story
    corpus (each story draws from its own generator seeded by ``seed`` and its index), so
    sizes can be compared.
    """
    vocab = vocabulary or Vocabulary.standard()
    weights = {kind: _zipf_cumulative(len(names)) for kind, names in
               ((_PERSON, vocab.people), (_PLACE, vocab.places), (_ORG, vocab.orgs))}
    pools = {_PERSON: vocab.people, _PLACE: vocab.places, _ORG: vocab.orgs}
    topic_weights = _zipf_cumulative(len(_TOPICS), exponent=0.6)
    source_weights = _zipf_cumulative(len(_SOURCES), exponent=0.8)
    slugs_seen: set[str] = set()
    for index in range(count):
        rng = random.Random(f"{seed}:{index}")
        entities = {
            kind: _distinct(rng, pools[kind], weights[kind], rng.randint(low, high))
            for kind, low, high in ((_PERSON, 1, 3), (_PLACE, 1, 3), (_ORG, 1, 2))
        }
        topic = rng.choices(_TOPICS, cum_weights=topic_weights)[0]
        source = rng.choices(_SOURCES, cum_weights=source_weights)[0]
        title, used = _headline(rng, entities, topic)
        paragraphs = _paragraphs(rng, title, source, entities, used, topic)
        tags = _first_mentions(paragraphs, [name for names in entities.values() for name in names])
        slug = _unique(slugify(title), slugs_seen)
        yield GeneratedStory(
            index=index,
            id=f"{rng.getrandbits(64):016x}",
            topic=topic,
            date=FIRST_DAY + dt.timedelta(days=rng.randrange(SPAN_DAYS)),
            source=source,
            handle=rng.choice(_PUBLISHER_HANDLES),
            title=title,
            slug=slug,
            tags=tags,
            paragraphs=paragraphs,
        )


def write_corpus(root: Path, count: int, seed: int = 2021,
                 formats: Sequence[str] = ("raw",),
                 tags: Callable[[GeneratedStory], tuple[str, ...]] | None = None) -> list[Path]:
    """Write the corpus under ``root`` in each of ``formats``; return the written files.

    ``raw`` goes to ``root/content/<topic>/``; ``pelican`` to ``root/pelican/content/<topic>/``;
    ``hugo`` to ``root/hugo/content/stories/<topic>/`` (one Hugo section, so that topics are a
    taxonomy like Gazette's and Pelican's, not Hugo sections). ``tags``: the tags the Pelican
    and Hugo files carry, from the story (by default the names it mentions; a raw file
    carries none: Gazette finds its own).
    """
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown format(s) {', '.join(sorted(unknown))}; use {', '.join(FORMATS)}")
    written: list[Path] = []
    made_dirs: set[Path] = set()
    for story in generate(count, seed):
        tagged = replace(story, tags=tags(story)) if tags and set(formats) - {"raw"} else story
        for fmt in formats:
            if fmt == "raw":
                path, data = root / "content" / story.raw_path, story.raw_bytes()
            elif fmt == "pelican":
                path = root / "pelican" / "content" / story.topic / f"{story.stem}.md"
                data = tagged.pelican_bytes()
            else:
                path = root / "hugo" / "content" / "stories" / story.topic / f"{story.stem}.md"
                data = tagged.hugo_bytes()
            if path.parent not in made_dirs:
                path.parent.mkdir(parents=True, exist_ok=True)
                made_dirs.add(path.parent)
            path.write_bytes(data)
            written.append(path)
    return written


def slugify(text: str) -> str:
    """ASCII, lower-case, hyphen-separated: ``^[a-z0-9]+(-[a-z0-9]+)*$``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "story"


# -- drawing ---------------------------------------------------------------------------------

def _zipf_cumulative(size: int, exponent: float = ZIPF_EXPONENT) -> list[float]:
    return list(itertools.accumulate(1.0 / rank ** exponent for rank in range(1, size + 1)))


def _distinct(rng: random.Random, names: Sequence[str], cum_weights: list[float],
              count: int) -> list[str]:
    chosen: list[str] = []
    while len(chosen) < count:
        name = rng.choices(names, cum_weights=cum_weights)[0]
        if name not in chosen:
            chosen.append(name)
    return chosen


def _unique(slug: str, seen: set[str]) -> str:
    candidate, n = slug, 1
    while candidate in seen:
        n += 1
        candidate = f"{slug}-{n}"
    seen.add(candidate)
    return candidate


def _headline(rng: random.Random, entities: dict[str, list[str]], topic: str
              ) -> tuple[str, list[str]]:
    """A short headline that names some of the story's entities (which it returns)."""
    fitting = [(kinds, pattern) for kinds, pattern in _HEADLINES
               if all(kinds.count(k) <= len(entities[k]) for k in set(kinds))]
    kinds, pattern = rng.choice(fitting)
    taken = {kind: iter(entities[kind]) for kind in entities}
    names = [next(taken[kind]) for kind in kinds]
    return pattern.format(*names, s=rng.choice(_TOPIC_SUBJECTS[topic])), names


def _paragraphs(rng: random.Random, title: str, source: str, entities: dict[str, list[str]],
                headline_names: list[str], topic: str) -> tuple[str, ...]:
    """A lead with an attribution tail, then paragraphs of 2–4 sentences that mention every
    entity at least once, until the body is 2–6 KB."""
    tail = rng.choice([f", {source} reports.",
                       f", {source} reports referring to {rng.choice(_REFERENCES)}."])
    paragraphs = [title + tail]
    size = len(paragraphs[0].encode("utf-8"))
    target = rng.randint(BODY_MIN_BYTES + 200, BODY_MAX_BYTES - 400)
    # Entities not in the headline come first so each is mentioned in the opening paragraphs.
    rest = [n for names in entities.values() for n in names if n not in headline_names]
    order = rest + headline_names
    people = itertools.cycle(entities[_PERSON])
    places = itertools.cycle(entities[_PLACE])
    orgs = itertools.cycle(entities[_ORG])
    mentions = itertools.cycle(order)
    while size < target:
        sentences = []
        for _ in range(rng.randint(2, 4)):
            sentence = _sentence(rng, next(mentions), people, places, orgs, topic)
            sentence = sentence[0].upper() + sentence[1:]
            length = len(sentence.encode("utf-8")) + 1  # with the space or newline before it
            if size + length + 1 > BODY_MAX_BYTES:
                break
            sentences.append(sentence)
            size += length
        if not sentences:
            break
        paragraphs.append(" ".join(sentences))
        size += 1  # the blank line between paragraphs
    return tuple(paragraphs)


def _sentence(rng: random.Random, subject: str, people: Iterator[str], places: Iterator[str],
              orgs: Iterator[str], topic: str) -> str:
    subjects = _TOPIC_SUBJECTS[topic]
    pick = rng.choice
    pct = f"{rng.randint(1, 40)}.{rng.randint(0, 9)}"
    amount = f"${rng.randint(2, 950)} million"
    template = rng.randrange(9)
    if template == 0:
        return (f"{subject} said the {pick(_ADJECTIVES)} {pick(subjects)} would {pick(_VERBS)} "
                f"{pick(_NOUNS)} {pick(_TIMES)}.")
    if template == 1:
        return (f"According to {_other(orgs, subject)}, {pick(_NOUNS)} rose by {pct} percent in "
                f"{pick(_MONTHS)}, reaching {amount}, a figure mentioned by {subject}.")
    if template == 2:
        return (f"\u201cWe intend to {pick(_VERBS)} {pick(_NOUNS)} and {pick(_VERBS)} the "
                f"{pick(_ADJECTIVES)} {pick(subjects)},\u201d {_other(people, subject)} said, "
                f"referring to {subject}.")
    if template == 3:
        return (f"Talks between {subject} and {_other(places, subject)} focused on {pick(subjects)}, "
                f"{pick(_ADJECTIVES)} {pick(_NOUNS)} and {pick(_NOUNS)}.")
    if template == 4:
        return (f"The {pick(_ADJECTIVES)} {pick(subjects)} involving {subject} is expected to "
                f"{pick(_VERBS)} {amount} of {pick(_NOUNS)} by {rng.randint(2012, 2035)}.")
    if template == 5:
        return (f"{_other(people, subject)} noted that {subject} remains committed to {pick(_NOUNS)} and "
                f"{pick(_ADJECTIVES)} {pick(_NOUNS)}.")
    if template == 6:
        return (f"Officials in {_other(places, subject)} said {rng.randint(3, 480)} projects linked to "
                f"{subject} had been approved {pick(_TIMES)}.")
    if template == 7:
        return (f"{_other(orgs, subject)} did not comment on the role of {subject} in the "
                f"{pick(subjects)}, which analysts put at {amount}.")
    return (f"Observers expect {subject} to {pick(_VERBS)} {pick(_ADJECTIVES)} "
            f"{pick(_NOUNS)} after a {pct} percent change in {pick(_NOUNS)} {pick(_TIMES)}.")


def _other(names: Iterator[str], subject: str) -> str:
    """The next name from a cycle that is not the sentence's subject (a cycle of one name
    gives a generic phrase instead, so no one is quoted referring to themselves)."""
    for _ in range(2):
        name = next(names)
        if name != subject:
            return name
    return "the government"


def _first_mentions(paragraphs: Sequence[str], names: list[str]) -> tuple[str, ...]:
    text = "\n".join(paragraphs)
    mentioned = [(text.find(name), name) for name in names if name in text]
    return tuple(name for _, name in sorted(mentioned))


# -- command line ----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generate",
                                     description="Write a deterministic benchmark corpus.")
    parser.add_argument("out", type=Path, help="directory to write into")
    parser.add_argument("--count", type=int, default=1000, help="stories (default: 1000)")
    parser.add_argument("--seed", type=int, default=2021, help="seed (default: 2021)")
    parser.add_argument("--format", action="append", choices=FORMATS, dest="formats",
                        help="raw, pelican or hugo; repeatable (default: raw)")
    args = parser.parse_args(argv)
    written = write_corpus(args.out, args.count, args.seed, args.formats or ["raw"])
    print(f"wrote {len(written)} files under {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
