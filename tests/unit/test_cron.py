"""Table tests of cron parsing and day matching (gitbeat.cron); every expected value is worked out by hand."""

from __future__ import annotations

from datetime import datetime

import pytest

from gitbeat.cron import CronError, parse_cron


def r(low: int, high: int, step: int = 1) -> tuple[int, ...]:
    return tuple(range(low, high + 1, step))


MINUTES, HOURS, DAYS, MONTHS, WEEKDAYS = r(0, 59), r(0, 23), r(1, 31), r(1, 12), r(0, 6)

# (expression, minutes, hours, days, months, weekdays, day_restricted, weekday_restricted)
VALID = [
    ("* * * * *", MINUTES, HOURS, DAYS, MONTHS, WEEKDAYS, False, False),
    ("0 0 * * *", (0,), (0,), DAYS, MONTHS, WEEKDAYS, False, False),
    ("59 23 31 12 6", (59,), (23,), (31,), (12,), (6,), True, True),
    ("5,10,15 * * * *", (5, 10, 15), HOURS, DAYS, MONTHS, WEEKDAYS, False, False),
    ("15,5,10,5 * * * *", (5, 10, 15), HOURS, DAYS, MONTHS, WEEKDAYS, False, False),
    ("0-4 * * * *", (0, 1, 2, 3, 4), HOURS, DAYS, MONTHS, WEEKDAYS, False, False),
    ("*/15 * * * *", (0, 15, 30, 45), HOURS, DAYS, MONTHS, WEEKDAYS, False, False),
    ("*/7 * * * *", (0, 7, 14, 21, 28, 35, 42, 49, 56), HOURS, DAYS, MONTHS, WEEKDAYS, False, False),
    ("*/60 * * * *", (0,), HOURS, DAYS, MONTHS, WEEKDAYS, False, False),
    ("10-30/10 * * * *", (10, 20, 30), HOURS, DAYS, MONTHS, WEEKDAYS, False, False),
    ("5/20 * * * *", (5, 25, 45), HOURS, DAYS, MONTHS, WEEKDAYS, False, False),
    ("0,30-32,58-59 * * * *", (0, 30, 31, 32, 58, 59), HOURS, DAYS, MONTHS, WEEKDAYS, False, False),
    ("0 */6 * * *", (0,), (0, 6, 12, 18), DAYS, MONTHS, WEEKDAYS, False, False),
    ("0 9-17/4 * * *", (0,), (9, 13, 17), DAYS, MONTHS, WEEKDAYS, False, False),
    ("0 0 1,15 * *", (0,), (0,), (1, 15), MONTHS, WEEKDAYS, True, False),
    ("0 0 1-31 * *", (0,), (0,), DAYS, MONTHS, WEEKDAYS, True, False),
    ("0 0 */2 * *", (0,), (0,), r(1, 31, 2), MONTHS, WEEKDAYS, False, False),
    ("0 0 */10,5 * *", (0,), (0,), (1, 5, 11, 21, 31), MONTHS, WEEKDAYS, False, False),
    ("0 0 29 2 *", (0,), (0,), (29,), (2,), WEEKDAYS, True, False),
    ("0 0 31 1-12 *", (0,), (0,), (31,), MONTHS, WEEKDAYS, True, False),
    ("0 0 30 2 1", (0,), (0,), (30,), (2,), (1,), True, True),  # OR rule: every Monday in February
    ("0 0 * jan *", (0,), (0,), DAYS, (1,), WEEKDAYS, False, False),
    ("0 0 * JAN-mar *", (0,), (0,), DAYS, (1, 2, 3), WEEKDAYS, False, False),
    ("0 0 * jan,jul,Dec *", (0,), (0,), DAYS, (1, 7, 12), WEEKDAYS, False, False),
    ("0 0 * */3 *", (0,), (0,), DAYS, (1, 4, 7, 10), WEEKDAYS, False, False),
    ("0 0 * feb-nov/3 *", (0,), (0,), DAYS, (2, 5, 8, 11), WEEKDAYS, False, False),
    ("0 0 * * mon-fri", (0,), (0,), DAYS, MONTHS, (1, 2, 3, 4, 5), False, True),
    ("0 0 * * MON-Fri", (0,), (0,), DAYS, MONTHS, (1, 2, 3, 4, 5), False, True),
    ("0 0 * * 1-5", (0,), (0,), DAYS, MONTHS, (1, 2, 3, 4, 5), False, True),
    ("0 0 * * sun", (0,), (0,), DAYS, MONTHS, (0,), False, True),
    ("0 0 * * 0", (0,), (0,), DAYS, MONTHS, (0,), False, True),
    ("0 0 * * 7", (0,), (0,), DAYS, MONTHS, (0,), False, True),
    ("0 0 * * 0,7", (0,), (0,), DAYS, MONTHS, (0,), False, True),
    ("0 0 * * 5-7", (0,), (0,), DAYS, MONTHS, (0, 5, 6), False, True),
    ("0 0 * * 1-7/2", (0,), (0,), DAYS, MONTHS, (0, 1, 3, 5), False, True),
    ("0 0 * * sat,SUN", (0,), (0,), DAYS, MONTHS, (0, 6), False, True),
    ("0 0 * * */2", (0,), (0,), DAYS, MONTHS, (0, 2, 4, 6), False, False),
    ("0 0 * * 0-7", (0,), (0,), DAYS, MONTHS, WEEKDAYS, False, True),
    ("0 0 13 * fri", (0,), (0,), (13,), MONTHS, (5,), True, True),
    # aliases
    ("@hourly", (0,), HOURS, DAYS, MONTHS, WEEKDAYS, False, False),
    ("@daily", (0,), (0,), DAYS, MONTHS, WEEKDAYS, False, False),
    ("@midnight", (0,), (0,), DAYS, MONTHS, WEEKDAYS, False, False),
    ("@weekly", (0,), (0,), DAYS, MONTHS, (0,), False, True),
    ("@monthly", (0,), (0,), (1,), MONTHS, WEEKDAYS, True, False),
    ("@yearly", (0,), (0,), (1,), (1,), WEEKDAYS, True, False),
    ("@annually", (0,), (0,), (1,), (1,), WEEKDAYS, True, False),
    ("@DAILY", (0,), (0,), DAYS, MONTHS, WEEKDAYS, False, False),
    ("  @hourly\n", (0,), HOURS, DAYS, MONTHS, WEEKDAYS, False, False),
    # whitespace
    ("  0   0\t*  *\n* ", (0,), (0,), DAYS, MONTHS, WEEKDAYS, False, False),
    ("30\t2 * * *", (30,), (2,), DAYS, MONTHS, WEEKDAYS, False, False),
]


@pytest.mark.parametrize(
    "text, minutes, hours, days, months, weekdays, day_restricted, weekday_restricted",
    VALID,
    ids=[row[0] for row in VALID],
)
def test_parse_cron_fields(text, minutes, hours, days, months, weekdays, day_restricted, weekday_restricted):
    cron = parse_cron(text)
    assert cron.minutes == minutes
    assert cron.hours == hours
    assert cron.days == days
    assert cron.months == months
    assert cron.weekdays == weekdays
    assert cron.day_restricted is day_restricted
    assert cron.weekday_restricted is weekday_restricted


@pytest.mark.parametrize(
    "text, normalised",
    [
        ("0 0 * * *", "0 0 * * *"),
        ("  0   0\t*  *\n* ", "0 0 * * *"),
        ("0 0 * JAN MON", "0 0 * jan mon"),
        ("@hourly", "0 * * * *"),
        ("@Weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
    ],
)
def test_parse_cron_text_is_normalised(text, normalised):
    assert parse_cron(text).text == normalised


ALIAS_LIST = "@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly"
FIELD_COUNT = "expected 5 fields (minute hour day-of-month month day-of-week), got {}"

INVALID = [
    # out of range, each field, both ends
    ("60 * * * *", "minute 60 is out of range 0-59"),
    ("0-60 * * * *", "minute 60 is out of range 0-59"),
    ("* 24 * * *", "hour 24 is out of range 0-23"),
    ("0 0,24 * * *", "hour 24 is out of range 0-23"),
    ("* * 0 * *", "day-of-month 0 is out of range 1-31"),
    ("* * 32 * *", "day-of-month 32 is out of range 1-31"),
    ("* * 0-5 * *", "day-of-month 0 is out of range 1-31"),
    ("* * * 0 *", "month 0 is out of range 1-12"),
    ("* * * 13 *", "month 13 is out of range 1-12"),
    ("* * * * 8", "day-of-week 8 is out of range 0-7"),
    ("* * * * 1-8", "day-of-week 8 is out of range 0-7"),
    ("99/5 * * * *", "minute 99 is out of range 0-59"),
    # not numbers, unknown names, names in the wrong field
    ("a * * * *", "minute value 'a' is not a number"),
    ("1.5 * * * *", "minute value '1.5' is not a number"),
    ("\u00b2 * * * *", "minute value '\u00b2' is not a number"),
    ("0 jan * * *", "hour value 'jan' is not a number"),
    ("0 0 mon * *", "day-of-month value 'mon' is not a number"),
    ("0 0 * foo *", "month value 'foo' is not a number"),
    ("0 0 * january *", "month value 'january' is not a number"),
    ("0 0 * * monday", "day-of-week value 'monday' is not a number"),
    ("0 0 * * jan", "day-of-week value 'jan' is not a number"),
    ("0 0 * sun *", "month value 'sun' is not a number"),
    ("? * * * *", "minute value '?' is not a number"),
    ("0 0 L * *", "day-of-month value 'l' is not a number"),
    # bad steps
    ("*/0 * * * *", "minute step '0' in '*/0' must be a whole number of at least 1"),
    ("*/x * * * *", "minute step 'x' in '*/x' must be a whole number of at least 1"),
    ("*/ * * * *", "minute step '' in '*/' must be a whole number of at least 1"),
    ("*/-1 * * * *", "minute step '-1' in '*/-1' must be a whole number of at least 1"),
    ("*/1.5 * * * *", "minute step '1.5' in '*/1.5' must be a whole number of at least 1"),
    ("1-5/2/3 * * * *", "minute step '2/3' in '1-5/2/3' must be a whole number of at least 1"),
    ("0 */0 * * *", "hour step '0' in '*/0' must be a whole number of at least 1"),
    ("0 0 * * */0", "day-of-week step '0' in '*/0' must be a whole number of at least 1"),
    # backwards ranges
    ("30-10 * * * *", "minute range '30-10' runs backwards"),
    ("0 23-1 * * *", "hour range '23-1' runs backwards"),
    ("0 0 31-1 * *", "day-of-month range '31-1' runs backwards"),
    ("0 0 * dec-jan *", "month range 'dec-jan' runs backwards"),
    ("0 0 * * fri-mon", "day-of-week range 'fri-mon' runs backwards"),
    ("0 0 * * 7-1", "day-of-week range '7-1' runs backwards"),
    # list items
    ("1,,2 * * * *", "minute field '1,,2' has an empty list item"),
    ("1, * * * *", "minute field '1,' has an empty list item"),
    ("0 ,1 * * *", "hour field ',1' has an empty list item"),
    # field count
    ("", FIELD_COUNT.format(0)),
    ("   ", FIELD_COUNT.format(0)),
    ("*", FIELD_COUNT.format(1)),
    ("0 0 * *", FIELD_COUNT.format(4)),
    ("0 0 * * * *", FIELD_COUNT.format(6)),
    ("0 0 0 * * * 2027", FIELD_COUNT.format(7)),
    # aliases
    ("@reboot", f"unknown cron alias '@reboot'; use one of {ALIAS_LIST}"),
    ("@every 5m", f"unknown cron alias '@every 5m'; use one of {ALIAS_LIST}"),
    ("@", f"unknown cron alias '@'; use one of {ALIAS_LIST}"),
    ("@Minutely", f"unknown cron alias '@minutely'; use one of {ALIAS_LIST}"),
    # never fires
    ("0 0 30 2 *", "never fires: day-of-month 30 does not occur in February"),
    ("0 0 31 feb *", "never fires: day-of-month 31 does not occur in February"),
    ("0 0 30,31 2 *", "never fires: day-of-month 30,31 does not occur in February"),
    ("0 0 31 4 *", "never fires: day-of-month 31 does not occur in April"),
    (
        "0 0 31 2,4,6,9,11 *",
        "never fires: day-of-month 31 does not occur in February, April, June, September, November",
    ),
    # a day-of-week starting with "*" does not rescue it: both day fields must match then
    ("0 0 31 4 */2", "never fires: day-of-month 31 does not occur in April"),
]


@pytest.mark.parametrize("text, message", INVALID, ids=[repr(row[0]) for row in INVALID])
def test_parse_cron_rejects(text, message):
    with pytest.raises(CronError) as caught:
        parse_cron(text)
    assert str(caught.value) == message


@pytest.mark.parametrize("value", [None, 5, 0.5, b"0 0 * * *", ["0", "0", "*", "*", "*"], {"cron": "x"}])
def test_parse_cron_rejects_non_strings(value):
    with pytest.raises(CronError) as caught:
        parse_cron(value)
    assert str(caught.value) == 'a cron expression is a string, e.g. "0 0 * * *"'


def test_cron_error_is_a_value_error():
    assert issubclass(CronError, ValueError)


# (expression, naive wall time, matches?) — weekdays of 2027 worked out from 2027-01-01 being a Friday:
# March 1 is a Monday, April 1 a Thursday, August 13 and September 10 Fridays, September 13 a Monday.
MATCHES = [
    ("30 2 * * *", datetime(2027, 3, 28, 2, 30), True),  # a naive wall time; DST is timing's business
    ("30 2 * * *", datetime(2027, 3, 28, 2, 31), False),
    ("30 2 * * *", datetime(2027, 3, 28, 3, 30), False),
    ("0 12 * jan,jul *", datetime(2027, 7, 4, 12, 0), True),
    ("0 12 * jan,jul *", datetime(2027, 6, 4, 12, 0), False),
    ("0 12 * jan,jul *", datetime(2027, 7, 4, 12, 1), False),
    ("*/15 9-17 * * *", datetime(2027, 5, 5, 17, 45), True),
    ("*/15 9-17 * * *", datetime(2027, 5, 5, 18, 0), False),
    ("*/15 9-17 * * *", datetime(2027, 5, 5, 9, 10), False),
    # only day-of-month restricted
    ("0 0 1,15 * *", datetime(2027, 3, 15), True),
    ("0 0 1,15 * *", datetime(2027, 3, 8), False),
    ("0 0 29 2 *", datetime(2028, 2, 29), True),
    # only day-of-week restricted
    ("0 0 * * mon-fri", datetime(2027, 3, 5), True),  # Friday
    ("0 0 * * mon-fri", datetime(2027, 3, 6), False),  # Saturday
    ("0 0 * * 7", datetime(2027, 3, 7), True),  # Sunday
    ("0 0 * * 0", datetime(2027, 3, 7), True),
    ("0 0 * * 7", datetime(2027, 3, 8), False),
    # both restricted: standard cron ORs them (either may match)
    ("0 0 1,15 * 1", datetime(2027, 3, 1), True),  # the 1st, a Monday
    ("0 0 1,15 * 1", datetime(2027, 3, 8), True),  # a Monday
    ("0 0 1,15 * 1", datetime(2027, 4, 1), True),  # the 1st, a Thursday
    ("0 0 1,15 * 1", datetime(2027, 4, 2), False),  # neither
    ("0 0 13 * fri", datetime(2027, 8, 13), True),  # Friday the 13th
    ("0 0 13 * fri", datetime(2027, 9, 10), True),  # a Friday
    ("0 0 13 * fri", datetime(2027, 9, 13), True),  # the 13th, a Monday
    ("0 0 13 * fri", datetime(2027, 9, 14), False),
    ("0 0 1-31 * 1", datetime(2027, 3, 2), True),  # "1-31" is restricted: OR, so every day
    ("0 0 1,15 jan 1", datetime(2027, 3, 8), False),  # the month still has to match
    # a field starting with "*" does not count as restricted: no OR, both fields must match (Vixie)
    ("0 0 */2 * *", datetime(2027, 3, 3), True),
    ("0 0 */2 * *", datetime(2027, 3, 2), False),
    ("0 0 */2 * *", datetime(2027, 3, 31), True),
    ("0 0 */2 * *", datetime(2027, 4, 30), False),
    ("0 0 * * */2", datetime(2027, 3, 2), True),  # Tuesday
    ("0 0 * * */2", datetime(2027, 3, 1), False),  # Monday
    ("0 0 * * */2", datetime(2027, 3, 7), True),  # Sunday
    ("0 0 */2 * 1", datetime(2027, 3, 1), True),  # odd day and a Monday
    ("0 0 */2 * 1", datetime(2027, 3, 8), False),  # a Monday, even day: no OR
    ("0 0 */2 * 1", datetime(2027, 3, 3), False),  # odd day, a Wednesday: no OR
    ("0 0 */2 * 1", datetime(2027, 3, 15), True),
    ("0 0 */1 * 1", datetime(2027, 3, 2), False),  # "*/1" is every day, but not a restriction: Mondays only
    ("0 0 */1 * 1", datetime(2027, 3, 8), True),
    ("0 0 * * 1", datetime(2027, 3, 2), False),
    ("0 0 1 * */2", datetime(2027, 3, 1), False),  # the 1st, but a Monday
    ("0 0 1 * */2", datetime(2027, 5, 1), True),  # the 1st and a Saturday (April 1 Thursday + 30 days)
]


@pytest.mark.parametrize("text, wall, expected", MATCHES, ids=[f"{row[0]} {row[1]:%Y-%m-%d %H:%M}" for row in MATCHES])
def test_matches(text, wall, expected):
    assert parse_cron(text).matches(wall) is expected


@pytest.mark.parametrize(
    "text, year, month, day, expected",
    [
        ("0 0 * * *", 2027, 2, 28, True),
        ("0 0 13 * 5", 2027, 8, 13, True),
        ("0 0 13 * 5", 2027, 8, 12, False),  # a Thursday
        ("0 0 13 * 5", 2027, 8, 6, True),  # a Friday
        ("0 0 */2 * 5", 2027, 8, 6, False),  # a Friday on an even day: AND
        ("0 0 */2 * 5", 2027, 8, 13, True),
        ("0 0 * * 6,0", 2028, 1, 1, True),  # 2028 starts on a Saturday
        ("0 0 * * 6,0", 2028, 1, 3, False),
        ("0 0 29 2 *", 2028, 2, 29, True),
        ("0 0 29 2 1", 2027, 2, 1, True),  # OR: a Monday in February
    ],
)
def test_day_matches(text, year, month, day, expected):
    assert parse_cron(text).day_matches(year, month, day) is expected
