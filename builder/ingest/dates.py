"""Every date form news files carry, read deliberately.

Order of decisions: ISO 8601 (``2021-01-14``, ``2021-01-14T10:31:00+03:00``,
``20210114T103100+0300``) and year-first numbers (``2021/01/14 10:31``) are unambiguous and
always win. Dates with a month name (``14 January 2021``, ``Jan. 13, 2021``,
``Wednesday, January 13, 2021 4:05 PM``, RFC 2822, Reuters ``19-OCT-1987 22:10:48.07``)
are unambiguous too. Only all-numeric day/month dates (``05.06.1987``) depend on
``date_order``; when both numbers could be a month the date is *ambiguous* and the caller
warns. A time without an offset is read in the configured zone; a bare day stays a date.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from builder.model import Moment

MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11,
    "november": 11, "dec": 12, "december": 12,
}
_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY = r"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s+)?"
_TIME = (r"(?:(?:\s*,?\s*(?:at\s+)?|T)(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})"
         r"(?:\.(?P<fraction>\d{1,6}))?)?\s*(?P<ampm>[ap]\.?m\.?)?)?")
_ZONE = r"(?:\s*(?P<zone>Z|UTC|UT|GMT|[ECMP][SD]T|[+-]\d{2}:?\d{2}|[+-]\d{1,2}))?"
_PATTERNS = {
    "iso": re.compile(r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})" + _TIME + _ZONE),
    "iso_basic": re.compile(r"(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})(?:T(?P<hour>\d{2})"
                            r"(?P<minute>\d{2})(?P<second>\d{2})?)?" + _ZONE),
    "year_first": re.compile(r"(?P<year>\d{4})[/.](?P<month>\d{1,2})[/.](?P<day>\d{1,2})"
                             + _TIME + _ZONE),
    "day_month_name": re.compile(_WEEKDAY + r"(?P<day>\d{1,2})(?:st|nd|rd|th)?[\s-]+" + _MONTH
                                 + r"[\s-]+(?P<year>\d{4})" + _TIME + _ZONE),
    "month_name_day": re.compile(_WEEKDAY + _MONTH + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+"
                                 r"(?P<year>\d{4})" + _TIME + _ZONE),
    "numeric": re.compile(r"(?P<first>\d{1,2})(?P<sep>[./-])(?P<second_part>\d{1,2})(?P=sep)"
                          r"(?P<year>\d{4})" + _TIME + _ZONE),
}
_PATTERNS = {name: re.compile(p.pattern, re.IGNORECASE) for name, p in _PATTERNS.items()}
# RFC 822 zone names that e-mailed wire copy still carries.
_NAMED_ZONES = {"Z": 0, "UTC": 0, "UT": 0, "GMT": 0, "EST": -5, "EDT": -4, "CST": -6,
                "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7}


@dataclass(frozen=True, slots=True)
class ParsedDate:
    value: Moment
    ambiguous: bool = False
    """An all-numeric date whose day and month could be swapped (both <= 12, not equal)."""


class DateError(ValueError):
    """The text looks like a date but names no real day or time (``2021-02-30``)."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.hint = hint


def parse_date(text: str, *, day_first: bool = True, tz: dt.tzinfo | None = None
               ) -> ParsedDate | None:
    """The date ``text`` spells out in full, or None when it is not a date at all.

    Raises :class:`DateError` for a well-formed but impossible date or time.
    """
    text = text.strip()
    if not text or len(text) > 80:
        return None
    for name, pattern in _PATTERNS.items():
        match = pattern.fullmatch(text)
        if match:
            return _build(name, match, text, day_first, tz or dt.timezone.utc)
    return None


def _build(name: str, match: re.Match[str], text: str, day_first: bool, tz: dt.tzinfo
           ) -> ParsedDate:
    parts = match.groupdict()
    ambiguous = False
    year = int(parts["year"])
    if name == "numeric":
        first, second = int(parts["first"]), int(parts["second_part"])
        day, month = (first, second) if day_first else (second, first)
        ambiguous = first <= 12 and second <= 12 and first != second
    else:
        month_text = parts["month"]
        month = int(month_text) if month_text.isdigit() else MONTHS[month_text.lower()]
        day = int(parts["day"])
    try:
        day_value = dt.date(year, month, day)
    except ValueError:
        raise DateError(f"impossible date '{text}': {_why_impossible(year, month, day)}",
                        "correct the date; ISO form YYYY-MM-DD is never misread") from None
    if parts.get("hour") is None:
        return ParsedDate(day_value, ambiguous)
    hour, minute = int(parts["hour"]), int(parts["minute"])
    second = int(parts.get("second") or 0)
    micro = int((parts.get("fraction") or "0").ljust(6, "0"))
    ampm = (parts.get("ampm") or "").lower().replace(".", "")
    if ampm:
        if not 1 <= hour <= 12:
            raise DateError(f"impossible time in '{text}': hour {hour} with {ampm.upper()}",
                            "use a 24-hour time or an hour from 1 to 12 with AM/PM")
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    zone = _zone(parts.get("zone"), tz)
    try:
        moment = dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
    except ValueError:
        raise DateError(f"impossible time in '{text}'",
                        "hours run 0-23, minutes and seconds 0-59") from None
    return ParsedDate(moment, ambiguous)


def _zone(name: str | None, default: dt.tzinfo) -> dt.tzinfo:
    if not name:
        return default
    upper = name.upper()
    if upper in _NAMED_ZONES:
        return dt.timezone(dt.timedelta(hours=_NAMED_ZONES[upper]))
    sign = -1 if name[0] == "-" else 1
    digits = name[1:].replace(":", "")
    hours, minutes = (int(digits), 0) if len(digits) <= 2 else (int(digits[:2]), int(digits[2:]))
    if hours > 23 or minutes > 59:
        raise DateError(f"impossible UTC offset '{name}'", "offsets run from -23:59 to +23:59")
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))


def _why_impossible(year: int, month: int, day: int) -> str:
    if not 1 <= month <= 12:
        return f"there is no month {month}"
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        return f"year {year} is out of range"
    return f"{dt.date(2000 if month == 2 else year, month, 1):%B} {year} has no day {day}"

