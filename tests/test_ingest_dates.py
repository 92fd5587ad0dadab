"""Every date form of the issue, day-first vs month-first, and impossible dates."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from builder.ingest.dates import DateError, ParsedDate, parse_date

UTC = dt.timezone.utc
BAKU = ZoneInfo("Asia/Baku")


@pytest.mark.parametrize("text, expected", [
    ("2021-01-14", dt.date(2021, 1, 14)),
    ("2021/01/14 10:31", dt.datetime(2021, 1, 14, 10, 31, tzinfo=BAKU)),
    ("14.01.2021", dt.date(2021, 1, 14)),
    ("14 January 2021", dt.date(2021, 1, 14)),
    ("Jan. 13, 2021", dt.date(2021, 1, 13)),
    ("Sept. 7, 2016", dt.date(2016, 9, 7)),
    ("June 15, 1987", dt.date(1987, 6, 15)),
    ("Friday, January 3, 2014", dt.date(2014, 1, 3)),
    ("Wednesday, January 13, 2021 4:05 PM", dt.datetime(2021, 1, 13, 16, 5, tzinfo=BAKU)),
    ("Wednesday, January 13, 2021 12:05 a.m.", dt.datetime(2021, 1, 13, 0, 5, tzinfo=BAKU)),
    ("Wed, 13 Jan 2021 16:05:00 +0300",
     dt.datetime(2021, 1, 13, 16, 5, tzinfo=dt.timezone(dt.timedelta(hours=3)))),
    ("Wed, 13 Jan 2021 16:05:00 GMT", dt.datetime(2021, 1, 13, 16, 5, tzinfo=UTC)),
    ("Wed, 13 Jan 2021 16:05:00 EST",
     dt.datetime(2021, 1, 13, 16, 5, tzinfo=dt.timezone(dt.timedelta(hours=-5)))),
    ("2021-01-14T10:31:00+03:00",
     dt.datetime(2021, 1, 14, 10, 31, tzinfo=dt.timezone(dt.timedelta(hours=3)))),
    ("2021-01-14T10:31:00Z", dt.datetime(2021, 1, 14, 10, 31, tzinfo=UTC)),
    ("2021-01-14 10:31:05.25-0530",
     dt.datetime(2021, 1, 14, 10, 31, 5, 250000, tzinfo=dt.timezone(-dt.timedelta(hours=5,
                                                                                     minutes=30)))),
    ("20210114T103100+0300",
     dt.datetime(2021, 1, 14, 10, 31, tzinfo=dt.timezone(dt.timedelta(hours=3)))),
    ("19-OCT-1987 22:10:48.07", dt.datetime(1987, 10, 19, 22, 10, 48, 70000, tzinfo=BAKU)),
    ("1st March 2020", dt.date(2020, 3, 1)),
])
def test_date_forms(text, expected):
    parsed = parse_date(text, day_first=True, tz=BAKU)
    assert parsed == ParsedDate(expected, ambiguous=False)
    assert type(parsed.value) is type(expected)


def test_iso_wins_over_month_first():
    assert parse_date("2021-05-06", day_first=False).value == dt.date(2021, 5, 6)
    assert parse_date("2021/05/06", day_first=False).value == dt.date(2021, 5, 6)


@pytest.mark.parametrize("text, day_first, expected, ambiguous", [
    ("05.06.1987", True, dt.date(1987, 6, 5), True),
    ("05.06.1987", False, dt.date(1987, 5, 6), True),
    ("15.06.1987", True, dt.date(1987, 6, 15), False),
    ("06/15/1987", False, dt.date(1987, 6, 15), False),
    ("06.06.1987", True, dt.date(1987, 6, 6), False),  # both readings are the same day
])
def test_numeric_dates_follow_date_order(text, day_first, expected, ambiguous):
    assert parse_date(text, day_first=day_first) == ParsedDate(expected, ambiguous)


@pytest.mark.parametrize("text, reason", [
    ("2021-02-30", "February 2021 has no day 30"),
    ("2021-13-01", "there is no month 13"),
    ("29.02.2021", "February 2021 has no day 29"),
    ("June 31, 1987", "June 1987 has no day 31"),
    ("2021-01-14 25:00", "impossible time"),
    ("2021-01-14 13:00 PM", "hour 13 with PM"),
    ("2021-01-14T10:00+25:00", "impossible UTC offset"),
])
def test_impossible_dates_raise(text, reason):
    with pytest.raises(DateError) as caught:
        parse_date(text)
    assert reason in str(caught.value) and caught.value.hint


def test_leap_day_is_fine():
    assert parse_date("29.02.2020").value == dt.date(2020, 2, 29)


@pytest.mark.parametrize("text", ["", "hello", "2021", "Jan 2021", "13/2021", "x" * 500,
                                  "2021-01-14 and more"])
def test_non_dates_are_none(text):
    assert parse_date(text) is None


def test_time_without_offset_is_read_in_the_given_zone_and_aware():
    value = parse_date("2021-01-14 10:31", tz=BAKU).value
    assert value.tzinfo is BAKU and value.utcoffset() == dt.timedelta(hours=4)
