"""Each accepted input shape, read into a Story (the corpus test covers real files)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from builder.config import SiteConfig
from builder.ingest import FileResult, parse_bytes, read_file

FIXTURES = Path(__file__).parent / "fixtures"
SEED = FIXTURES / "seed" / "000_a203978440becfc5.txt"
CONFIG = SiteConfig()


def parse(text: str | bytes, relpath: str = "world/story.txt",
          config: SiteConfig = CONFIG) -> FileResult:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return parse_bytes(data, relpath, config)


def only_story(result: FileResult):
    assert result.ok, result.diagnostics
    (story,) = result.stories
    return story


# -- the seed ------------------------------------------------------------------------------

def test_seed_is_read_completely():
    story = only_story(parse_bytes(SEED.read_bytes(), "000_a203978440becfc5.txt", CONFIG))
    assert story.shape == "seed"
    assert story.id == "a203978440becfc5"
    assert story.date == dt.date(2021, 1, 14)
    assert story.source == "Trend"
    assert story.publisher == "AzerNewsAz"  # the handle without '@' when no alias maps it
    assert story.footer == "Follow us on Twitter @AzerNewsAz"
    assert story.title == ("Phone conversation between Vladimir Putin and Recep Tayyip "
                           "Erdogan took place on Jan. 13")
    assert story.title_inferred
    assert story.topic == "general"
    assert story.slug == ("phone-conversation-between-vladimir-putin-and-recep-tayyip-"
                          "erdogan-took-place")
    assert story.body.startswith("A phone conversation between Russian President")
    assert story.body.endswith("The leaders also agreed to maintain a regular dialogue at "
                               "various levels.")
    assert "---" not in story.body and "Follow us" not in story.body
    assert story.summary.startswith("A phone conversation") and len(story.summary) <= 300
    assert "\n" not in story.summary
    assert story.content_hash == "585b83f72df472f30eb9bfdb51e6497deb0f17c1cc28b68f2f34c76f13d97147"
    assert story.warnings == ()


def test_seed_publisher_and_source_follow_config_aliases():
    config = SiteConfig(publisher_aliases={"AzerNews": ("@AzerNewsAz", "azernews.az")},
                        source_aliases={"Trend News Agency": ("Trend", "trend.az")})
    story = only_story(parse_bytes(SEED.read_bytes(), "000_a203978440becfc5.txt", config))
    assert story.publisher == "AzerNews"
    assert story.source == "Trend News Agency"


def test_seed_shape_variants():
    text = "date 14 January 2021 By Trend News Agency\r\n\r\nBONN, June 15 - Text here.\r\n"
    story = only_story(parse(text))
    assert story.date == dt.date(2021, 1, 14) and story.source == "Trend News Agency"
    assert story.dateline == "BONN" and story.body == "BONN, June 15 - Text here."
    assert story.topic == "world"  # the first folder under content/


def test_seed_separator_without_footer():
    story = only_story(parse(" date 2021-01-14 By Trend\n\nOne paragraph.\n\n---\n"))
    assert story.body == "One paragraph." and story.footer == "" and story.publisher is None


def test_header_only_story_is_a_flash_with_a_warning():
    result = parse(" date 2021-01-14 By Trend")
    story = only_story(result)
    assert story.body == "" and story.title == "Untitled"
    assert {w.message for w in story.warnings} == {
        "the story has a header but no body", "no headline and no text to infer one from"}


# -- Key: value headers and e-mail ---------------------------------------------------------

def test_header_block():
    text = ("Headline: Harbour reopens\nDATE: 2021/01/14 10:31\nAgency: trend.az\n"
            "Author: Leyla Aliyeva\nDateline: BAKU\nCategory: economy\n"
            "Keywords: Baku; shipping\nUpdated: 2021-01-15T08:00:00+04:00\n\n"
            "The port reopened.\n\nFerries resume.")
    config = SiteConfig(timezone="Asia/Baku", source_aliases={"Trend": ("trend.az",)})
    story = only_story(parse(text, config=config))
    assert story.shape == "headers"
    assert story.title == "Harbour reopens" and not story.title_inferred
    assert story.date == dt.datetime(2021, 1, 14, 10, 31, tzinfo=config.tzinfo)
    assert story.updated.utcoffset() == dt.timedelta(hours=4)
    assert story.source == "Trend" and story.byline == "Leyla Aliyeva"
    assert story.dateline == "BAKU" and story.topic == "economy"
    assert story.tags == ("Baku", "shipping")
    assert story.body == "The port reopened.\n\nFerries resume."


def test_email_headers_of_forwarded_wire_copy():
    text = ("From: Wire Desk <desk@example.org>\nTo: archive@example.org\n"
            "Subject: Fwd: RE: Harbour reopens\nDate: Thu, 14 Jan 2021 10:31:00 +0300\n"
            "Message-ID: <abc@example.org>\nX-Mailer: Mutt\nContent-Type: text/plain;\n"
            " charset=utf-8\n\nBAKU, Jan 14 (Trend) - The port reopened.")
    story = only_story(parse(text))
    assert story.title == "Harbour reopens" and story.byline == "Wire Desk"
    assert story.date == dt.datetime(2021, 1, 14, 7, 31, tzinfo=dt.timezone.utc)
    assert story.source == "Trend" and story.dateline == "BAKU"  # agency from the dateline
    assert story.warnings == ()


def test_header_block_reports_unknown_and_repeated_keys():
    text = "Title: A\nDate: 2021-01-14\nMood: sunny\nTitle: B\n\nBody."
    story = only_story(parse(text))
    assert story.title == "A"
    assert [(w.line, w.message) for w in story.warnings] == [
        (3, "unknown header 'Mood' ignored"), (4, "header 'Title' repeats line 1; the first "
                                                  "one is used")]


# -- plain ---------------------------------------------------------------------------------

def test_plain_headline_and_date_line():
    text = "Harbour reopens after storm\n\nFriday, January 3, 2014\n\nThe port reopened."
    story = only_story(parse(text))
    assert story.shape == "plain" and story.title == "Harbour reopens after storm"
    assert story.date == dt.date(2014, 1, 3) and story.source is None
    assert story.body == "The port reopened."


def test_plain_headline_directly_followed_by_date():
    story = only_story(parse("Harbour reopens\nJan. 13, 2021\n\nText."))
    assert story.title == "Harbour reopens" and story.date == dt.date(2021, 1, 13)


def test_plain_date_line_without_headline_infers_title():
    story = only_story(parse("Friday, January 3, 2014\n\nThe port of Baku reopened on "
                             "Thursday, the port authority said. More follows."))
    assert story.title == "Port of Baku reopened on Thursday" and story.title_inferred


# -- front matter --------------------------------------------------------------------------

def test_front_matter_passes_markdown_through_and_fills_gaps():
    text = ('---\ntitle: "Harbour *reopens*"\ndate: 2021-01-14 10:31:00\nsource: trend.az\n'
            'tags: [Baku, shipping]\n---\n\n# Heading\n\nThe **port** <b>reopened</b>.\n')
    config = SiteConfig(source_aliases={"Trend": ("trend.az",)}, timezone="Europe/Berlin")
    story = only_story(parse(text, "economy/x.md", config))
    assert story.shape == "front_matter" and story.title == "Harbour *reopens*"
    assert story.date == dt.datetime(2021, 1, 14, 10, 31, tzinfo=config.tzinfo)
    assert story.source == "Trend" and story.tags == ("Baku", "shipping")
    assert story.body == "# Heading\n\nThe **port** <b>reopened</b>."  # unchanged
    assert story.summary == "The port reopened."
    assert story.topic == "economy" and story.slug == "harbour-reopens"


def test_front_matter_unknown_key_and_bad_slug_warn():
    text = "---\ntitle: T\ndate: 2021-01-14\nmood: sunny\nslug: Not A Slug\n---\nBody."
    story = only_story(parse(text))
    assert story.slug == "t"
    assert [w.line for w in story.warnings] == [4, 5]


def test_front_matter_quoted_date_and_numeric_title():
    story = only_story(parse('---\ntitle: 1984\ndate: "14.01.2021"\n---\nBody.'))
    assert story.title == "1984" and story.date == dt.date(2021, 1, 14)


# -- wire records --------------------------------------------------------------------------

def _corpus(prefix: str) -> bytes:
    return next((FIXTURES / "corpus" / "raw").glob(prefix + "_*.txt")).read_bytes()


def test_reuters_file_with_several_records():
    data = _corpus("096") + b"\n" + _corpus("005")  # DOCTYPE line, then two records
    result = parse_bytes(data, "wire/reut2-018.sgm", CONFIG)
    assert result.ok
    first, second = result.stories
    assert first.path == "wire/reut2-018.sgm#1" and second.path == "wire/reut2-018.sgm#2"
    assert first.id.endswith("-1") and second.id.endswith("-2") and first.id[:-2] == second.id[:-2]
    assert first.topic == "wire" and second.topic == "grain"  # TOPICS beats the folder
    assert second.tags == ("grain", "rice", "wheat", "sorghum")
    assert first.title == "INDIAN DEVELOPMENT BANK TO RAISE 10 BILLION YEN"
    assert first.body.startswith("BOMBAY, June 18 - The state-owned Industrial Development")
    assert "&lt;Morgan Guaranty Ltd, Hong Kong>" in first.body
    assert not first.body.rstrip().endswith("Reuter") and "\x03" not in first.body
    assert first.date == dt.datetime(1987, 6, 18, 5, 31, 32, 380000, tzinfo=dt.timezone.utc)
    assert first.content_hash != second.content_hash


def test_reuters_record_error_is_located_in_the_file():
    bad = _corpus("005").replace(b"9-APR-1987", b"31-APR-1987")
    data = _corpus("096") + bad
    result = parse_bytes(data, "wire/x.sgm", CONFIG)
    (error,) = [d for d in result.diagnostics if d.is_error]
    assert error.line == data[:data.index(b"31-APR")].count(b"\n") + 1 and "April 1987 has no day 31" in error.message
    assert len(result.stories) == 1 and not result.ok


def test_nitf_file_with_two_documents():
    path = FIXTURES / "ingest" / "two_stories.nitf.xml"
    result = parse_bytes(path.read_bytes(), "economy/two_stories.nitf.xml", CONFIG)
    assert result.ok, result.diagnostics
    first, second = result.stories
    assert first.shape == "nitf" and first.title == "Baku harbour reopens after three-day storm"
    assert first.date == dt.datetime(2021, 1, 14, 10, 31,
                                     tzinfo=dt.timezone(dt.timedelta(hours=3)))
    assert first.byline == "Leyla Aliyeva" and first.source == "Trend"
    assert first.dateline == "BAKU" and first.tags == ("Baku", "shipping")
    assert first.body.endswith("Friday & cargo ships queue at the outer harbour &lt;PORT>.")
    assert second.title == "Ferries resume" and second.date == dt.date(2021, 1, 15)
    assert second.source is None and second.path.endswith("#2")


def test_broken_nitf_names_the_line():
    result = parse("<nitf>\n<head>\n<title>x &nbsp; y</title></head></nitf>")
    (error,) = result.diagnostics
    assert error.line == 3 and "broken NITF XML" in error.message and "&#160;" in error.hint


# -- encodings and line endings ------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-32"])
def test_byte_order_marks(encoding):
    story = only_story(parse(" date 2021-01-14 By Trend\r\n\r\nCafé über naïve.".encode(encoding)))
    assert story.body == "Café über naïve." and story.warnings == ()


def test_old_mac_line_endings():
    story = only_story(parse(b"Title: T\rDate: 2021-01-14\r\rBody one.\r\rBody two."))
    assert story.body == "Body one.\n\nBody two."


def test_cp1252_is_decoded_with_a_warning_on_the_first_bad_line():
    story = only_story(parse(" date 2021-01-14 By Trend\n\nIt\x92s \x93quoted\x94\x85".encode(
        "latin-1")))
    assert story.body == "It’s “quoted”…"
    (warning,) = story.warnings
    assert warning.line == 3 and "cp1252" in warning.message


def test_control_characters_in_a_story_are_removed_with_a_warning():
    story = only_story(parse(" date 2021-01-14 By Trend\n\nThe port\x07 of Baku reopened "
                             "today after the storm.\x1f"))
    assert story.body == "The port of Baku reopened today after the storm."
    (warning,) = story.warnings
    assert warning.line == 3 and warning.message == "removed 2 control characters"


def test_read_file_paths_are_relative_to_root_and_content(tmp_path):
    (tmp_path / "content" / "politics").mkdir(parents=True)
    story_file = tmp_path / "content" / "politics" / "000_a203978440becfc5.txt"
    story_file.write_bytes(SEED.read_bytes())
    result = read_file(story_file, SiteConfig(root=tmp_path))
    assert result.path == "content/politics/000_a203978440becfc5.txt"
    (story,) = result.stories
    assert story.path == "politics/000_a203978440becfc5.txt" and story.topic == "politics"
    assert story.id == "a203978440becfc5"


def test_read_file_of_missing_file_is_a_diagnostic(tmp_path):
    result = read_file(tmp_path / "content" / "gone.txt", SiteConfig(root=tmp_path))
    (error,) = result.diagnostics
    assert error.is_error and "cannot read the file" in error.message


def test_parse_bytes_is_pure():
    data = SEED.read_bytes()
    assert parse_bytes(data, "a/b.txt", CONFIG) == parse_bytes(data, "a/b.txt", CONFIG)


def test_id_without_a_hash_in_the_name_is_stable_and_path_derived():
    one = only_story(parse(" date 2021-01-14\n\nText.", "a/story.txt"))
    two = only_story(parse(" date 2021-01-14\n\nText.", "b/story.txt"))
    assert one.id != two.id and len(one.id) == 16
    assert one.id == only_story(parse(" date 2021-01-14\n\nOther text.", "a/story.txt")).id


def test_forwarded_message_headers_win_over_the_forwarding_mail():
    text = ("From: Night Editor <night@example.org>\nDate: Fri, 15 Jan 2021 08:00:00 +0000\n"
            "Subject: Fwd: Harbour reopens\n\n---------- Forwarded message ---------\n"
            "From: Trend Wire <wire@trend.az>\nDate: Thu, 14 Jan 2021 10:31:00 +0400\n"
            "Subject: Harbour reopens after storm\nTo: night@example.org\n\n"
            "BAKU, Jan 14 - The port reopened after a three-day storm.")
    story = only_story(parse(text))
    assert story.title == "Harbour reopens after storm" and story.byline == "Trend Wire"
    assert story.date == dt.datetime(2021, 1, 14, 10, 31,
                                     tzinfo=dt.timezone(dt.timedelta(hours=4)))
    assert story.body == "BAKU, Jan 14 - The port reopened after a three-day storm."
    assert story.dateline == "BAKU"
