"""Bad input from the issue: each gets exactly one clear error naming the file, with a hint."""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest

from builder.config import SiteConfig
from builder.ingest import parse_bytes


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("story.txt", " date 2021-01-14 By Trend\n\nText.")
    return buffer.getvalue()


BAD = {
    "empty": (b"", None, "the file is empty"),
    "whitespace only": (b" \n\t\r\n  \n", None, "the file holds only whitespace"),
    "gzip named .txt": (gzip.compress(b" date 2021-01-14 By Trend\n\nText."), None,
                        "this is a gzip archive, not a text story"),
    "zip named .txt": (_zip(), None, "this is a zip archive, not a text story"),
    "control-code junk": (b"\x05\x05\x05F \n\x16\x16\x01f3010\x1freute\n"
                          b"u f BC-MR.-ROOTER-&lt;ROOT.O>-R   06-18 0056\n", 1,
                          "the file holds wire control codes and a routing slug, but no story"),
    "NUL bytes": (b"Title: x\n\x00\x00\xff\xfe\x00", None,
                  "the file holds NUL bytes: it is binary, or UTF-16 without a byte-order mark"),
    "bad UTF-16": (b"\xff\xfe" + b"\x00\xd8" + b"a\x00", 1,
                   "the file starts with a utf-16-le byte-order mark but is not valid utf-16-le"),
    "no date": (b"Harbour reopens\n\nThe port reopened after the storm.", None,
                "no date anywhere in the file"),
    "impossible date": (b"Title: T\nDate: 2021-02-30\n\nBody.", 2,
                        "impossible date '2021-02-30': February 2021 has no day 30"),
    "impossible seed date": (b" date 2021-02-30 By Trend\n\nBody.", 1,
                             "impossible date '2021-02-30': February 2021 has no day 30"),
    "unreadable date": (b"Title: T\nDate: next Tuesday\n\nBody.", 2,
                        "cannot read the date 'next Tuesday'"),
    # PyYAML's C and Python loaders word the problem differently: compare the start only.
    "broken YAML": (b"---\ntitle: T\ndate: 2021-01-14\ntags: [a, b\n---\nBody.", 5,
                    "broken YAML front matter: "),
    "YAML: colon in value": (b"---\ntitle: Breaking: news\ndate: 2021-01-14\n---\nBody.", 2,
                             "broken YAML front matter: mapping values are not allowed"),
    "YAML not a mapping": (b"---\n- a\n- b\n---\nBody.", 2,
                           "front matter is not a list of 'key: value' lines"),
    "YAML wrong type": (b"---\ntitle: T\ndate: 2021-01-14\ndraft: maybe\n---\nBody.", 4,
                        "'draft' must be true or false, not 'maybe'"),
    "unclosed Reuters record": (b"<REUTERS NEWID='1'>\n<DATE>1-JUN-1987</DATE>\n", 1,
                                "a <REUTERS> record is opened but never closed"),
}


@pytest.mark.parametrize("data, line, message", BAD.values(), ids=BAD.keys())
def test_bad_input_gets_one_clear_error(data, line, message):
    result = parse_bytes(data, "politics/bad.txt", SiteConfig())
    assert not result.ok and result.stories == ()
    (error,) = result.diagnostics
    assert error.path == "content/politics/bad.txt"
    assert error.is_error and error.line == line and error.message.startswith(message)
    assert len(error.message) < len(message) + 60
    assert error.hint and str(error).startswith("content/politics/bad.txt")


def test_no_date_hint_names_the_switch():
    (error,) = parse_bytes(b"Headline here\n\nText of it.", "x.txt", SiteConfig()).diagnostics
    assert error.hint == "add a `date:` line or set allow_undated = true"


def test_undecodable_bytes_are_refused_on_their_line():
    # 0x81 and 0x8d are undefined in cp1252, so this is neither UTF-8 nor Windows-1252.
    data = " date 2021-01-14 By Trend\n\nТекст новости о порте.".encode("koi8-r") + b"\x81\x8d"
    (error,) = parse_bytes(data, "x.txt", SiteConfig()).diagnostics
    assert error.is_error and error.line == 3
    assert error.message == "the bytes are not UTF-8 or Windows-1252 text"
    assert error.hint.startswith("re-save the file as UTF-8")


def test_impossible_yaml_timestamp_is_a_date_error_on_its_line():
    data = b'---\ntitle: "T"\ndate: 2021-00-14T09:30:00+04:00\n---\nBody.'
    (error,) = parse_bytes(data, "x.md", SiteConfig()).diagnostics
    assert error.line == 3 and error.message.startswith("impossible date '2021-00-14T09:30")
    assert "there is no month 0" in error.message


def test_yaml_timestamps_are_read_by_gazettes_date_parser():
    import datetime as dt

    data = b"---\ntitle: T\ndate: 2001-12-14 21:59:43.10 -5\nupdated: 2002-01-01\n---\nB."
    story = parse_bytes(data, "x.md", SiteConfig()).stories[0]
    assert story.date == dt.datetime(2001, 12, 14, 21, 59, 43, 100000,
                                     tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert story.updated == dt.date(2002, 1, 1)


def test_bad_binary_tag_in_yaml_is_a_diagnostic():
    data = b"---\ntitle: !!binary '%%%'\ndate: 2021-01-14\n---\nBody."
    (error,) = parse_bytes(data, "x.md", SiteConfig()).diagnostics
    assert error.is_error and error.line == 2 and error.hint
