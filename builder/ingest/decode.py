"""Bytes → text: encodings, byte-order marks, line endings, binary files named ``.txt``.

The cheap checks run first (magic numbers, BOM, strict UTF-8): almost every story is
UTF-8. Windows-1252 (the legacy encoding of most old clippings) is accepted with a
warning; anything else is refused with a hint naming a guessed encoding.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from builder.ingest.problems import Problem, Unreadable

# Magic numbers of binary formats that end up in news folders under a .txt name.
_MAGIC = (
    (b"\x1f\x8b", "a gzip archive"),
    (b"PK\x03\x04", "a zip archive"),
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-zip archive"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
)
# UTF-32 before UTF-16: the UTF-32-LE mark begins with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_LINE_BREAK = re.compile(r"\r\n?")


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    """The text with ``\\n`` line endings and no BOM."""
    encoding: str
    problems: tuple[Problem, ...] = ()


def decode(data: bytes) -> Decoded:
    """Decode a story file; raises :class:`Unreadable` for empty, binary or undecodable files."""
    if not data:
        raise Unreadable(None, "the file is empty", "delete it, or put a story in it")
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            raise Unreadable(None, f"this is {kind}, not a text story",
                             "extract or convert it, or move it out of content/")
    problems: list[Problem] = []
    text, encoding = _decode_text(data, problems)
    if "\r" in text:
        text = _LINE_BREAK.sub("\n", text)
    if not text.strip():
        raise Unreadable(None, "the file holds only whitespace", "delete it, or put a story in it")
    return Decoded(text, encoding, tuple(problems))


def _decode_text(data: bytes, problems: list[Problem]) -> tuple[str, str]:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(encoding), encoding
            except UnicodeDecodeError as exc:
                raise Unreadable(_line_of(data, exc.start),
                                 f"the file starts with a {encoding} byte-order mark but is not "
                                 f"valid {encoding}", "re-save it as UTF-8") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    if b"\x00" in data:
        raise Unreadable(None, "the file holds NUL bytes: it is binary, or UTF-16 without a "
                               "byte-order mark", "re-save it as UTF-8, or move it out of content/")
    line = _line_of(data, first_bad)
    try:
        text, encoding = data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        text, encoding = _detected(data, line)
    problems.append(Problem(line, f"not UTF-8; read as {encoding}",
                            "re-save the file as UTF-8 (gazette normalize --write does it)"))
    return text, encoding


def _detected(data: bytes, line: int) -> tuple[str, str]:
    """Bytes that are neither UTF-8 nor Windows-1252 are refused, not guessed at.

    Detection on a few kilobytes of news text is too often wrong to publish from (a
    KOI8-R story can come out as Shift-JIS); the guess only goes into the hint.
    """
    from charset_normalizer import from_bytes  # slow import, needed only here

    best = from_bytes(data).best()
    guess = f" (it may be {best.encoding})" if best is not None else ""
    raise Unreadable(line, "the bytes are not UTF-8 or Windows-1252 text",
                     f"re-save the file as UTF-8{guess}")


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1
