"""Tags: the people, places and organisations a story is about, found offline.

The extractor is deliberately simple and deterministic:

1. Candidates are runs of capitalised words (``Recep Tayyip Erdogan``, ``Bank of
   England``, ``Nagorno-Karabakh``), with possessives dropped and role titles
   (``President``) split off.
2. A run's first word at the start of a sentence is only kept when it is not a common
   sentence opener (``The``, ``In``, ``However``); month and weekday names never count.
3. A small shipped gazetteer maps country names, demonyms and adjectives to the country
   (``Russian`` → ``Russia``), so "the Turkish president" is a mention of Turkey; a demonym
   opening an organisation's name (``European Central Bank``) counts for both.
4. A surname alone (``Putin``) counts as a mention of the full name seen in the story.
5. Score = mentions + a bonus for appearing in the headline or the first paragraph; names
   of two words or more, and gazetteer places, must appear once, other single words twice,
   and once at least inside a sentence or in the headline: a word capitalised only where it
   opens sentences (``Observers expect…``, ``Talks between…``, ``Analysts said…``) is a
   common word, not a name. Ties break by first appearance, so the result is stable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from builder.memo import memo

_COUNTRIES = """
Afghanistan: Afghan | Albania: Albanian | Algeria: Algerian | Argentina: Argentine,
Argentinian | Armenia: Armenian | Australia: Australian | Austria: Austrian | Azerbaijan:
Azerbaijani, Azeri | Bahrain: Bahraini | Bangladesh: Bangladeshi | Belarus: Belarusian |
Belgium: Belgian | Bolivia: Bolivian | Bosnia | Brazil: Brazilian | Bulgaria: Bulgarian |
Cambodia: Cambodian | Canada: Canadian | Chile: Chilean | China: Chinese | Colombia:
Colombian | Croatia: Croatian | Cuba: Cuban | Cyprus: Cypriot | Czech Republic: Czech |
Denmark: Danish | Ecuador: Ecuadorian | Egypt: Egyptian | Estonia: Estonian | Ethiopia:
Ethiopian | Finland: Finnish | France: French | Georgia: Georgian | Germany: German |
Ghana: Ghanaian | Greece: Greek | Hong Kong | Hungary: Hungarian | Iceland: Icelandic |
India: Indian | Indonesia: Indonesian | Iran: Iranian | Iraq: Iraqi | Ireland: Irish |
Israel: Israeli | Italy: Italian | Japan: Japanese | Jordan: Jordanian | Kazakhstan: Kazakh
| Kenya: Kenyan | Kuwait: Kuwaiti | Kyrgyzstan: Kyrgyz | Latvia: Latvian | Lebanon:
Lebanese | Libya: Libyan | Lithuania: Lithuanian | Luxembourg | Malaysia: Malaysian |
Mexico: Mexican | Moldova: Moldovan | Mongolia: Mongolian | Morocco: Moroccan | Myanmar:
Burmese | Nepal: Nepalese | Netherlands: Dutch | New Zealand | Nigeria: Nigerian | North
Korea: North Korean | Norway: Norwegian | Oman: Omani | Pakistan: Pakistani | Palestine:
Palestinian | Panama: Panamanian | Peru: Peruvian | Philippines: Philippine, Filipino |
Poland: Polish | Portugal: Portuguese | Qatar: Qatari | Romania: Romanian | Russia:
Russian | Saudi Arabia: Saudi | Serbia: Serbian | Singapore: Singaporean | Slovakia:
Slovak | Slovenia: Slovenian | Somalia: Somali | South Africa: South African | South
Korea: South Korean | Spain: Spanish | Sri Lanka: Sri Lankan | Sudan: Sudanese | Sweden:
Swedish | Switzerland: Swiss | Syria: Syrian | Taiwan: Taiwanese | Tajikistan: Tajik |
Thailand: Thai | Tunisia: Tunisian | Turkey: Turkish, Turk | Turkmenistan: Turkmen |
Ukraine: Ukrainian | United Arab Emirates: Emirati, UAE | United Kingdom: British, Britain,
UK | United States: American, U.S., US, USA | Uruguay: Uruguayan | Uzbekistan: Uzbek |
Venezuela: Venezuelan | Vietnam: Vietnamese | Yemen: Yemeni | Zimbabwe: Zimbabwean |
West Germany: W German, West German | East Germany: East German | Soviet Union: Soviet,
USSR | European Union: EU | Europe: European | Africa: African | Asia: Asian |
Middle East | Latin America | Nagorno-Karabakh: Karabakh | Crimea | Kashmir | Gaza |
West Bank | Kurdistan: Kurdish | Chechnya: Chechen | Tibet: Tibetan | Scotland: Scottish
| Wales: Welsh | England: English | Quebec
"""


def _gazetteer(text: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for entry in text.replace("\n", " ").split("|"):
        name, _, others = entry.partition(":")
        name = " ".join(name.split())
        table[name.casefold()] = name
        for other in others.split(","):
            if other.strip():
                table[" ".join(other.split()).casefold()] = name
    return table


PLACES = _gazetteer(_COUNTRIES)
"""Country, region or demonym (casefolded) → the place's tag."""

_OPENERS = frozenset("""
a an the this that these those it its he she they we i you his her their our my your there
here in on at by for from with of to as and but or nor so yet if when while after before
since until during however meanwhile also although though because despite according under
over about between among into through what who whom which where why how all some many most
few several each every no not one two three four five six seven eight nine ten first last
next new mr mrs ms dr sir madam yes thank thanks interview asked do does did is are was were
be been has have had will would can could should may might must let last earlier later today
yesterday tomorrow now then still even only just once again other another such both either
neither following image photo file source sources reuters said says
""".split())
_NEVER = frozenset("""
january february march april may june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday
saturday sunday i mln bln pct dlrs cts inc corp co ltd plc llc reuter reuters
""".split())
_ROLES = frozenset("""
president vice prime minister chancellor king queen prince princess secretary chairman
chairwoman governor senator mayor premier ambassador spokesman spokeswoman ceo general
director minister's foreign defence defense finance deputy chief leader leaders head
professor mr mrs ms dr sir attorney investor analyst official officials commissioner
administrator speaker mp
""".split())
_CHARACTERS_READ = 2000
"""Tags come from the headline and the paragraphs within roughly the first 2,000 characters
(the lead and the paragraphs after it): news is written as an inverted pyramid, so what a
story is about is named early, and the tail of a long report mostly repeats those names
while costing time on every build (on 10,000 generated 2–6 KB stories, one core: 3,000
characters gave a median of 1,601 stories/s, 2,000 gave 1,886/s; with runs remembered
across stories, see :func:`_names_in_run`, 2,253/s)."""
_CONNECTORS = frozenset({"of", "de", "del", "la", "van", "von", "der", "bin", "al"})
_ORGANISATIONS = frozenset("""
bank airlines airways railways union commission community court party company corporation
agency fund group insurance council committee ministry institute university association
federation authority service office parliament assembly league church army navy
""".split())
"""Head nouns of organisations named after a nation or region (``European Central Bank``)."""

_WORD = r"[A-Z\u00C0-\u00DE][\w\u00C0-\u024F.’'-]*"
# No leading \b: it would defeat the regex engine's first-character scan; _candidates checks
# the character before a run instead.
_RUN = re.compile(rf"{_WORD}(?:[ ](?:(?:of|de|del|la|van|von|der|bin|al)[ ])?{_WORD})*")
_SENTENCE_END = frozenset(".!?;:\"“”()")
_FULL_STOPS = frozenset(".!?")
_POSSESSIVE = re.compile(r"(?:'s|’s|'|’)$")
_CONTRACTION = re.compile(r"['’](?:re|ll|ve|m|d|t)$|n['’]t$", re.IGNORECASE)
_ABBREVIATIONS = frozenset("""
inc co corp ltd bros gen sen rep gov lt col sgt capt cmdr adm maj rev prof jr sr st mt ft
ave dept univ no vol ala ariz ark calif colo conn del fla ga ill ind kan kans ky la md mass
mich minn miss mo mont neb nev okla ore pa penn tenn tex va vt wash wis wyo ont que alta
sask nfld cos hon messrs pty ste
""".split())
"""``Fla.``, ``Ore.``, ``Inc.``, ``Gen.``: abbreviations that end a name rather than being one
(casefolded, without their full stop). A word of the same shape closing a sentence
(``Iran.``, ``Kim.``) is a name: a pattern such as "capital and up to three letters" took
those for abbreviations and lost them whenever the next sentence opened with a capital."""


def extract_tags(title: str, paragraphs: list[str], *, limit: int,
                 stoplist: Iterable[str] = (), aliases: Mapping[str, Iterable[str]] = {},
                 exclude: Iterable[str] = ()) -> tuple[str, ...]:
    """At most ``limit`` tags for a story, best first.

    ``aliases`` map a canonical tag to other spellings; ``stoplist`` and ``exclude`` (the
    story's own source and publisher) are never tags.
    """
    if limit <= 0:
        return ()
    canonical = {spelling.casefold(): name for name, spellings in aliases.items()
                 for spelling in (name, *spellings)}
    banned = {s.casefold() for s in (*stoplist, *exclude)}
    # Weight per name as written, in order of first appearance (the final tie-break); a
    # mention in the headline or the first paragraph weighs more.
    written: dict[str, float] = {}
    places: set[str] = set()
    inside: set[str] = set()  # names met inside a sentence at least once
    budget = _CHARACTERS_READ
    for index, text in enumerate([title, *paragraphs]):
        if budget <= 0:
            break
        budget -= len(text)
        weight = 1.5 if index <= 1 else 1.0
        for name, is_place, opens in _candidates(text):
            written[name] = written.get(name, 0.0) + weight
            if is_place:
                places.add(name)
            if not opens or index == 0:  # a headline capitalises names wherever they are
                inside.add(name)
    full_names = _full_names(written)
    scores: dict[str, float] = {}
    for name, weight in written.items():
        tag = canonical.get(name.casefold()) or full_names.get(name, name)
        if tag.casefold() in banned:
            continue
        scores[tag] = scores.get(tag, 0.0) + weight
        if name in places:
            places.add(tag)
        if name in inside:
            inside.add(tag)
    order = {name: position for position, name in enumerate(scores)}
    kept = [name for name, score in scores.items()
            if " " in name or "-" in name or name in places
            or (score >= 2.0 and name in inside)]
    kept.sort(key=lambda name: (-scores[name], order[name]))
    return tuple(kept[:limit])


def _candidates(text: str) -> list[tuple[str, bool, bool]]:
    """(name, is_place, opens_sentence) for every capitalised run in ``text``, in order.

    Only the capitalised runs are visited (a regex finds them); whether a run opens a
    sentence is read from the text before it, and only for the runs where that matters.
    """
    found: list[tuple[str, bool, bool]] = []
    for match in _RUN.finditer(text):
        start = match.start()
        adjacent = text[start - 1] if start else " "
        if adjacent in "'’-<_" or adjacent.isalnum():
            continue  # inside a word (iPhone, o'Neill) or a wire ticker (<AEGN.AS>)
        inside, opening, opening_clause = _names_in_run(match[0])
        if inside is not opening:
            before = text[max(0, start - 4):start].rstrip()[-1:] if adjacent.isspace() else adjacent
            if not before or before in _FULL_STOPS:
                inside = opening
            elif before in _SENTENCE_END:  # after a bracket, quote or colon: openers skipped,
                inside = opening_clause   # but a name there is inside a sentence
        found += inside
    return found


_Marked = tuple[tuple[str, bool, bool], ...]
"""(name, is_place, opens_sentence) of each name a run holds."""


@memo(maxsize=1 << 16)
def _names_in_run(text_of_run: str) -> tuple[_Marked, _Marked, _Marked]:
    """What a run names inside a sentence, what it names when it opens one, and what it
    names after a bracket, quote or colon (openers skipped as at a sentence's start, but
    the run opens no sentence); each name marked with whether it opens a sentence
    (``Western Mining Corporation. Talks`` is one run).

    The same runs recur across an archive (10,000 generated stories hold 481,000 runs but
    only 18,000 distinct ones), so the answer is remembered; the first two answers are the
    same object when the position does not matter, which spares the caller the look back.
    """
    inside: list[tuple[str, bool]] = []
    _decide_run(text_of_run, False, inside)
    opening: list[tuple[str, bool]] = []
    _decide_run(text_of_run, True, opening)
    marked_inside = _sentence_openings(text_of_run, inside, opens=False)
    marked_opening = _sentence_openings(text_of_run, opening, opens=True)
    if marked_opening == marked_inside:
        return marked_inside, marked_inside, marked_inside
    return marked_inside, marked_opening, _sentence_openings(text_of_run, opening, opens=False)


def _sentence_openings(text_of_run: str, names: list[tuple[str, bool]], *, opens: bool
                       ) -> _Marked:
    """``names`` found in a run, each marked with whether it opens a sentence: it starts the
    run and the run opens one (``opens``), or it follows a full stop inside the run that is
    no abbreviation's (``Gov. Newsom`` opens none). A name not written as such in the run
    (``Turkey`` for ``Turkish``) opens none."""
    marked = []
    cursor = 0
    for name, is_place in names:
        at = text_of_run.find(name, cursor)
        while at >= 0 and not _whole_word(text_of_run, at, at + len(name)):
            at = text_of_run.find(name, at + 1)  # not inside a word: Chan in Chancellor
        if at < 0:
            marked.append((name, is_place, False))
            continue
        cursor = at + len(name)
        previous = text_of_run[:at].rstrip().rpartition(" ")[2]
        after_stop = (_full_stop(previous) and "." not in previous[:-1]
                      and not _abbreviation(previous)
                      and previous[:-1].casefold() not in _ROLES)
        marked.append((name, is_place, (opens and at == 0) or after_stop))
    return tuple(marked)


def _full_stop(token: str) -> bool:
    """Whether a token of a run ends a sentence as far as skipping openers goes: a full
    stop after more than a short abbreviation's letters (``Corporation.``, ``U.S.``)."""
    return token.endswith(".") and len(token) > 3


def _abbreviation(token: str) -> bool:
    """Whether a token is a known abbreviation with its full stop (``Fla.``, ``Gov.``)."""
    return token.endswith(".") and token.rstrip(".").casefold() in _ABBREVIATIONS


def _whole_word(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is neither preceded nor followed by part of a word."""
    return (start == 0 or not (text[start - 1].isalnum() or text[start - 1] in "’'-")) \
        and (end == len(text) or not (text[end].isalnum() or text[end] in "’'-"))


def _decide_run(text_of_run: str, sentence_start: bool, found: list[tuple[str, bool]]) -> None:
    """Append what one capitalised run names: people, organisations, places."""
    if text_of_run.isalpha():  # one plain word, the most common run: decide it directly
        folded = text_of_run.casefold()
        if folded in _NEVER or (sentence_start and (folded in _OPENERS
                                                    or folded.endswith("ly"))):
            return
        if folded in PLACES:
            found.append((PLACES[folded], True))
        elif folded not in _ROLES and len(text_of_run) > 1:
            found.append((text_of_run, False))
        return
    run: list[str] = []
    for token in text_of_run.split(" "):
        simple = token.isalpha()  # the common case, without the regexes below
        if simple:
            bare = word = token
        else:
            bare = token if "." in token.rstrip(".") else token.rstrip(".")  # keep U.S.
            word = _POSSESSIVE.sub("", bare)
        folded = word.casefold()
        if token.islower():  # a connector inside the run: Bank of England
            run.append(token)
        elif (word and folded not in _NEVER
              and (simple or not _CONTRACTION.search(word)
                   and not _abbreviation(token))
              and not (not run and sentence_start
                       and (folded in _OPENERS or folded.endswith("ly")))):
            run.append(word)
            if word != bare or (token.endswith(".") and bare == token.rstrip(".")):
                _split_run(run, found)  # a possessive or full stop ends the name
                run = []
        else:
            _split_run(run, found)
            run = []
        sentence_start = _full_stop(token)
    _split_run(run, found)


def _split_run(run: list[str], found: list[tuple[str, bool]]) -> None:
    """Split ``Turkish President Recep Tayyip Erdogan`` into Turkey and the person."""
    while run and run[-1] in _CONNECTORS:
        run.pop()
    if not run:
        return
    if len(run) == 1:  # most runs are one word: skip the general case
        word = run[0]
        place = PLACES.get(word.casefold())
        if place:
            found.append((place, True))
        elif "-" in word and _hyphen_places(word):
            found.extend((part, True) for part in _hyphen_places(word))
        elif word.casefold() not in _ROLES and len(word) > 1:
            found.append((word, False))
        return
    words: list[str] = []
    for position, word in enumerate(run):
        folded = word.casefold()
        if "-" in word:
            parts = _hyphen_places(word)
            if parts:
                found.extend((part, True) for part in parts)
                continue
        if not words and folded in PLACES:
            found.append((PLACES[folded], True))
            if _demonym_naming(run, position):
                words.append(word)  # European Central Bank: Europe, and the bank
            continue
        if folded in _ROLES or (not words and folded in _OPENERS):
            _name(words, found)
            words = []
            continue
        words.append(word)
    _name(words, found)


def _demonym_naming(run: list[str], position: int) -> bool:
    """Whether the demonym at ``position`` begins a name (``European Central Bank``,
    ``Turkish Airlines``) rather than qualifying what follows (``Turkish President …``,
    ``Lebanese Hezbollah``, ``Azerbaijani Economy Minister …``): the run goes on to an
    organisation's head noun (``Bank``, ``Airlines``) with no role or place on the way.
    Neither a place's own name (``Russia Ukraine``) nor an abbreviation (``U.S.``, ``US``)
    begins one."""
    folded = run[position].casefold()
    if position + 1 == len(run) or "." in folded or run[position].isupper() \
            or PLACES[folded].casefold() == folded:
        return False
    rest = [word.casefold() for word in run[position + 1:]]
    return rest[-1] in _ORGANISATIONS and not any(
        word in _ROLES or word in PLACES for word in rest)


def _hyphen_places(word: str) -> list[str]:
    """``Russian-Turkish`` mentions both countries; ``Nagorno-Karabakh`` is one place."""
    if word.casefold() in PLACES:
        return []
    parts = [PLACES.get(part.casefold()) for part in word.split("-")]
    return [part for part in parts if part] if all(parts) else []


def _name(words: list[str], found: list[tuple[str, bool]]) -> None:
    while words and words[-1] in _CONNECTORS:
        words = words[:-1]
    if not words:
        return
    name = " ".join(words)
    place = PLACES.get(name.casefold())
    if place:
        found.append((place, True))
    elif len(name) > 1 and not name.isdigit():
        found.append((name, False))


def _full_names(names: Iterable[str]) -> dict[str, str]:
    """Surname → the longest full name ending in it (``Putin`` → ``Vladimir Putin``)."""
    longest: dict[str, str] = {}
    for name in names:
        if " " in name:
            last = name.rsplit(" ", 1)[1]
            if len(name) > len(longest.get(last, "")):
                longest[last] = name
    return longest
