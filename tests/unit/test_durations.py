"""Table tests of duration parsing and formatting (gitbeat.durations)."""

from __future__ import annotations

from datetime import date

import pytest

from gitbeat.durations import format_duration, parse_duration

HINT = "a duration is a number of seconds or a string such as 30s, 5m, 1h30m, 2d"
TINY = "a duration is 0 or at least 1 microsecond (0.000001s)"
ORDER = "units in duration {!r} must go from largest to smallest, each once"

PARSE = [
    # numbers are seconds
    (0, 0.0),
    (30, 30.0),
    (1.5, 1.5),
    (0.001, 0.001),
    (86400, 86400.0),
    (10**9, 1e9),
    (0.000001, 0.000001),  # one microsecond: the smallest a timedelta holds
    # numeric strings are seconds too
    ("0", 0.0),
    ("30", 30.0),
    ("1.5", 1.5),
    ("0.000001", 0.000001),
    (" 90 ", 90.0),
    # one unit
    ("30s", 30.0),
    ("0s", 0.0),
    ("90s", 90.0),
    ("5m", 300.0),
    ("1h", 3600.0),
    ("2d", 172800.0),
    ("1w", 604800.0),
    ("500ms", 0.5),
    ("1ms", 0.001),
    ("1.5h", 5400.0),
    ("0.5s", 0.5),
    ("2.5m", 150.0),
    # several units, largest first
    ("1h30m", 5400.0),
    ("1m30s", 90.0),
    ("2h5s", 7205.0),
    ("1d2h3m4s", 93784.0),
    ("1w1d", 691200.0),
    ("1m500ms", 60.5),
    ("1w2d3h4m5s6ms", 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5 + 0.006),
    # case and surrounding whitespace
    ("5M", 300.0),
    ("1H30M", 5400.0),
    ("  10s\n", 10.0),
]


@pytest.mark.parametrize("value, seconds", PARSE, ids=[repr(row[0]) for row in PARSE])
def test_parse_duration(value, seconds):
    assert parse_duration(value) == pytest.approx(seconds, rel=1e-12, abs=1e-12)
    assert isinstance(parse_duration(value), float)


REJECT = [
    # negative numbers
    (-1, "a duration cannot be negative; got -1"),
    (-0.5, "a duration cannot be negative; got -0.5"),
    # not numbers at all
    # shown as YAML spells them
    (True, f"{HINT}; got true"),
    (False, f"{HINT}; got false"),
    (None, f"{HINT}; got null"),
    (date(2026, 12, 31), f"{HINT}; got 2026-12-31"),
    ([1], f"{HINT}; got [1]"),
    ({"s": 1}, f"{HINT}; got {{'s': 1}}"),
    (b"5s", f"{HINT}; got b'5s'"),
    (float("nan"), f"{HINT}; got nan"),
    (float("inf"), f"{HINT}; got inf"),
    (float("-inf"), f"{HINT}; got -inf"),
    # bad strings
    ("-5s", f"{HINT}; got '-5s'"),
    ("-1", f"{HINT}; got '-1'"),
    ("5x", f"{HINT}; got '5x'"),
    ("m5", f"{HINT}; got 'm5'"),
    ("", f"{HINT}; got ''"),
    ("   ", f"{HINT}; got '   '"),
    ("s", f"{HINT}; got 's'"),
    ("5ss", f"{HINT}; got '5ss'"),
    ("1h 30m", f"{HINT}; got '1h 30m'"),
    ("1h30", f"{HINT}; got '1h30'"),
    (".5s", f"{HINT}; got '.5s'"),
    ("5.s", f"{HINT}; got '5.s'"),
    ("1e3", f"{HINT}; got '1e3'"),
    ("1e3s", f"{HINT}; got '1e3s'"),
    ("nan", f"{HINT}; got 'nan'"),
    ("inf", f"{HINT}; got 'inf'"),
    ("5 minutes", f"{HINT}; got '5 minutes'"),
    ("1y", f"{HINT}; got '1y'"),
    ("PT5M", f"{HINT}; got 'PT5M'"),
    # below timedelta's microsecond: would be a zero period (every_next divided by zero)
    (1e-7, f"{TINY}; got 1e-07"),
    (0.0000005, f"{TINY}; got 5e-07"),
    ("0.0000001", f"{TINY}; got '0.0000001'"),
    ("0.0001ms", f"{TINY}; got '0.0001ms'"),
    # units out of order or repeated
    ("1m1h", ORDER.format("1m1h")),
    ("1h1h", ORDER.format("1h1h")),
    ("30s1m", ORDER.format("30s1m")),
    ("500ms1s", ORDER.format("500ms1s")),
    ("1d1w", ORDER.format("1d1w")),
    ("1h30m30m", ORDER.format("1h30m30m")),
]


@pytest.mark.parametrize("value, message", REJECT, ids=[repr(row[0]) for row in REJECT])
def test_parse_duration_rejects(value, message):
    with pytest.raises(ValueError) as caught:
        parse_duration(value)
    assert str(caught.value) == message


FORMAT = [
    (0, "0s"),
    (0.0, "0s"),
    (1, "1s"),
    (59, "59s"),
    (60, "1m"),
    (61, "1m1s"),
    (90, "1m30s"),
    (300, "5m"),
    (300.0, "5m"),
    (3600, "1h"),
    (3601, "1h1s"),
    (3661, "1h1m1s"),
    (5400, "1h30m"),
    (86399, "23h59m59s"),
    (86400, "1d"),
    (90000, "1d1h"),
    (93784, "1d2h3m4s"),
    (172800, "2d"),
    (604800, "7d"),
    (0.5, "0.5s"),
    (0.001, "0.001s"),
    (1.25, "1.25s"),
    (90.5, "90.5s"),
    (0.00001, "0.00001s"),  # not "1e-05s", which does not parse back
    (100000.5, "100000.5s"),  # not "100000s": six significant digits lost the half
    (1234567.5, "1234567.5s"),  # not "1.23457e+06s"
]


@pytest.mark.parametrize("seconds, text", FORMAT, ids=[repr(row[0]) for row in FORMAT])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    "seconds",
    [0, 1, 59, 60, 90, 3599, 3600, 5400, 86400, 93784, 604800, 10**7, 0.5, 0.001, 0.1, 0.00001, 2.75, 100000.5,
     1234567.5, 86400.25],
)
def test_format_then_parse_round_trips(seconds):
    assert parse_duration(format_duration(seconds)) == seconds
