"""Markdown with YAML front matter: already normalized, so validate and pass through.

The YAML block is split off here (so errors carry the file's own line numbers) and parsed
with PyYAML's safe loader, the same loader python-frontmatter uses.
"""

from __future__ import annotations

import datetime as dt

import yaml

from builder.ingest.problems import Problem, Unreadable
from builder.ingest.record import Draft, Field
from builder.model import SCHEMA_KEYS



class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader, except that timestamps stay text.

    Dates then go through :func:`builder.ingest.dates.parse_date` like every other date,
    so ``2021-00-14`` is an impossible-date error on its line, not a crash inside PyYAML.
    """


_Loader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)
ALIASES = {"author": "byline", "category": "topic", "keywords": "tags", "url": "source_url",
           "headline": "title", "description": "summary", "agency": "source",
           "language": "lang", "licence": "license", "updated_at": "updated"}


def starts_front_matter(text: str) -> bool:
    return text.startswith("---\n") and "\n---" in text[3:]


def parse_front_matter(text: str) -> Draft:
    lines = text.split("\n")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "..."))
    except StopIteration:
        raise Unreadable(1, "front matter opened with '---' is never closed",
                         "end the YAML block with a line '---'") from None
    block = "\n".join(lines[1:end])
    try:
        data = yaml.load(block, Loader=_Loader) if block.strip() else {}
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        # Besides YAMLError, PyYAML's constructors can raise plain errors (e.g. !!binary).
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else None  # +1 for '---', +1 for 1-based
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        raise Unreadable(line, f"broken YAML front matter: {problem}",
                         "check quoting and indentation; quote values that contain ': '"
                         ) from None
    if not isinstance(data, dict):
        raise Unreadable(2, "front matter is not a list of 'key: value' lines",
                         "write one 'key: value' per line between the '---' lines")
    key_lines = _key_lines(lines[1:end])
    problems: list[Problem] = []
    fields: dict[str, Field] = {}
    for raw_key, value in data.items():
        key = ALIASES.get(str(raw_key).lower(), str(raw_key).lower())
        line = key_lines.get(str(raw_key))
        if key not in SCHEMA_KEYS:
            problems.append(Problem(line, f"unknown front-matter key '{raw_key}' ignored",
                                    f"the schema keys are: {', '.join(SCHEMA_KEYS)}"))
            continue
        checked = _checked(key, value, line)
        if checked is not None:
            fields[key] = Field(checked, line)
    body_line = end + 2
    return Draft(shape="front_matter", body="\n".join(lines[end + 1:]), body_line=body_line,
                 problems=tuple(problems), **fields)


def _checked(key: str, value: object, line: int | None) -> object:
    """The value if it has the key's type; raises :class:`Unreadable` otherwise."""
    if value is None:
        return None
    if key in ("date", "updated"):
        if isinstance(value, dt.date | str):
            return value
        raise Unreadable(line, f"'{key}' must be a date like 2021-01-14, not {value!r}",
                         "write it as YYYY-MM-DD")
    if key in ("title_inferred", "draft"):
        if isinstance(value, bool):
            return value
        raise Unreadable(line, f"'{key}' must be true or false, not {value!r}",
                         f"write '{key}: true' or '{key}: false'")
    if key == "tags":
        if isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
            return [str(v) for v in value]
        raise Unreadable(line, "'tags' must be a list of names",
                         'write tags: ["Russia", "Turkey"]')
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)  # YAML reads `title: 1987` as a number; the author meant text
    raise Unreadable(line, f"'{key}' must be text, not {type(value).__name__} {value!r}",
                     "quote the value")


def _key_lines(lines: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, line in enumerate(lines):
        if line and line[0] not in " \t#-" and ":" in line:
            found.setdefault(line.split(":", 1)[0].strip().strip("\"'"), index + 2)
    return found
