"""Durations as written in the YAML ("30s", "1h30m", 90) to seconds and back."""

from __future__ import annotations

import math
import re
from decimal import Decimal

UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|w|d|h|m|s)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
MAX_SECONDS = 100 * 365 * 86400  # past this, datetime arithmetic overflows
HINT = "a duration is a number of seconds or a string such as 30s, 5m, 1h30m, 2d"


def parse_duration(value: object) -> float:
    """Seconds in `value`; raise ValueError naming the accepted forms."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        # As YAML spells it: true, null, 2026-12-31 (not True, None, datetime.date(2026, 12, 31)).
        if isinstance(value, bool) or value is None:
            shown = "null" if value is None else str(value).lower()
        else:
            shown = value.isoformat() if hasattr(value, "isoformat") else repr(value)
        raise ValueError(f"{HINT}; got {shown}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = value.strip().lower()
        if _NUMBER.fullmatch(text):
            seconds = float(text)
        else:
            seconds = _parse_units(value, text)
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError(f"{HINT}; got {value!r}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative; got {value!r}")
    if seconds > MAX_SECONDS:
        raise ValueError(f"a duration is at most 100 years; got {value!r}")
    if 0 < seconds < 0.000001:
        # timedelta counts whole microseconds: `every: 0.0000001` became a zero period.
        raise ValueError(f"a duration is 0 or at least 1 microsecond (0.000001s); got {value!r}")
    return seconds


def _parse_units(original: str, text: str) -> float:
    position, seconds, previous = 0, 0.0, math.inf
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        size = UNITS[match.group(2)]
        if size >= previous:
            raise ValueError(f"units in duration {original!r} must go from largest to smallest, each once")
        previous = size
        seconds += float(match.group(1)) * size
        position = match.end()
    if position != len(text) or not text:
        raise ValueError(f"{HINT}; got {original!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest YAML spelling of `seconds`: 300 -> '5m', 5400 -> '1h30m'."""
    if seconds == 0:
        return "0s"
    if seconds != int(seconds):
        # Plain decimal, all digits: "{:g}" gave "1e-05s" and "100000s" for 100000.5.
        return f"{Decimal(repr(float(seconds))):f}s"
    rest, parts = int(seconds), []
    for unit in ("d", "h", "m", "s"):
        count, rest = divmod(rest, int(UNITS[unit]))
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
