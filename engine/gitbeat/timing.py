"""Pure fire-time arithmetic: cron, every, at and solar, in a timezone, DST-correct.

Rules (SPEC §6): `every` counts from its anchor and never drifts; cron times are
local wall times; a wall time that a DST change skips fires once, at the end of the
gap; a wall time that it repeats fires once, at its first occurrence.
Every function takes and returns aware datetimes; nothing here reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from math import acos, cos, degrees, radians, sin
from zoneinfo import ZoneInfo

from .cron import Cron, parse_cron
from .spec import ScheduleSpec

MINUTE = timedelta(minutes=1)
# The last instant with a local time in every zone (UTC offsets stay under a day): past it,
# `astimezone` overflows east of UTC.
LAST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)
# "0 0 29 2 *" can wait 8 years across 2100, and "0 0 29 2 */7" (a Feb 29 that is a Sunday:
# both day fields must match) 28 years, or 40 across 2100 (2088 -> 2128).
SEARCH_YEARS = 40


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def next_wall(cron: Cron, start: datetime) -> datetime | None:
    """The first naive wall time >= `start` (whole minutes) that `cron` matches; None when none does
    within SEARCH_YEARS or before the end of 9999."""
    t = start
    limit = start.year + SEARCH_YEARS
    try:
        while t.year <= limit:
            if t.month not in cron.months:
                later = [m for m in cron.months if m > t.month]
                t = datetime(t.year, later[0], 1) if later else datetime(t.year + 1, cron.months[0], 1)
                continue
            if not cron.day_matches(t.year, t.month, t.day):
                t = datetime(t.year, t.month, t.day) + timedelta(days=1)
                continue
            if t.hour not in cron.hours:
                later = [h for h in cron.hours if h > t.hour]
                if later:
                    t = t.replace(hour=later[0], minute=0)
                else:
                    t = datetime(t.year, t.month, t.day) + timedelta(days=1)
                continue
            if t.minute not in cron.minutes:
                later = [m for m in cron.minutes if m > t.minute]
                t = t.replace(minute=later[0]) if later else t.replace(minute=0) + timedelta(hours=1)
                continue
            return t
    except (ValueError, OverflowError):  # a step past 9999-12-31 (year 10000, or a day more)
        return None
    return None


def _gap_end(wall: datetime, tz: tzinfo) -> datetime:
    """The UTC instant a DST gap ends, for a naive `wall` time inside the gap."""
    before = wall.replace(tzinfo=tz, fold=0).utcoffset()
    after = wall.replace(tzinfo=tz, fold=1).utcoffset()
    assert before is not None and after is not None
    # From a moment still in the old offset to one already in the new.
    return _offset_change((wall - after).replace(tzinfo=UTC), (wall - before).replace(tzinfo=UTC), tz)


def _offset_change(low: datetime, high: datetime, tz: tzinfo) -> datetime:
    """The whole second at which `tz`'s offset changes, between `low` (old offset) and `high` (new)."""
    old = low.astimezone(tz).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == old:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


def local_to_utc(wall: datetime, tz: tzinfo) -> datetime:
    """A naive local wall time as a UTC instant: gaps move to their end, repeats take the first."""
    first = wall.replace(tzinfo=tz, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != wall:
        return _gap_end(wall, tz)
    return instant


def in_gap(wall: datetime, tz: tzinfo) -> bool:
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall


def is_repeated(wall: datetime, tz: tzinfo) -> bool:
    return wall.replace(tzinfo=tz, fold=0).utcoffset() != wall.replace(tzinfo=tz, fold=1).utcoffset() and not in_gap(
        wall, tz
    )


def cron_next(cron: Cron | str, tz: tzinfo, after: datetime) -> datetime | None:
    """The first fire time of `cron` in `tz` strictly after `after`, in UTC."""
    if isinstance(cron, str):
        cron = parse_cron(cron)
    try:
        wall = after.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0) + MINUTE
        while True:
            candidate = next_wall(cron, wall)
            if candidate is None:
                return None
            instant = local_to_utc(candidate, tz)
            if instant > after:
                return instant
            wall = candidate + MINUTE
    except OverflowError:  # past 9999-12-31 in `tz`, or its wall time past it in UTC: none is left
        return None


def every_next(anchor: datetime, period: float, after: datetime) -> datetime | None:
    """The first `anchor + k*period` (k >= 0) strictly after `after`: no drift, however late.
    None when it would fall after 9999-12-31."""
    step = timedelta(seconds=period)
    # In UTC: arithmetic on datetimes sharing a ZoneInfo is wall-clock arithmetic, so a
    # Berlin anchor + 1 day was 23 h across the spring change (and `after - anchor` too).
    anchor, after = anchor.astimezone(UTC), after.astimezone(UTC)
    if after < anchor:
        return anchor
    periods = (after - anchor) // step + 1
    try:
        return anchor + periods * step
    except OverflowError:  # beyond what a timedelta or a datetime holds: after 9999-12-31
        return None


# Each event as (side of noon, degrees of the sun's centre below the horizon): -1 before noon, +1
# after, 0 at noon. Sunrise and sunset are the upper limb on the horizon through the standard
# refraction (16' radius + 34'); the twilights are geometric, as almanacs define them.
SOLAR_EVENTS: dict[str, tuple[int, float]] = {
    "dawn_astronomical": (-1, 18.0),
    "dawn_nautical": (-1, 12.0),
    "dawn_civil": (-1, 6.0),
    "sunrise": (-1, 50 / 60),
    "solar_noon": (0, 0.0),
    "sunset": (1, 50 / 60),
    "dusk_civil": (1, 6.0),
    "dusk_nautical": (1, 12.0),
    "dusk_astronomical": (1, 18.0),
}
J2000 = datetime(2000, 1, 1, 12, tzinfo=UTC)
CENTURY = timedelta(days=36525)
SOLAR_SEARCH_DAYS = 370  # polar night or day lasts under a year, even at the pole


def _cos_hour_angle(latitude: float, declination: float, depression: float) -> float:
    """The cosine of the hour angle at which the sun's centre is `depression` below the horizon:
    above 1 the sun stays below that altitude all day, below -1 above it."""
    # At a pole every hour angle has the same altitude and the equation has no answer; as astral,
    # 89.8 degrees keeps the pole's one sunrise a year.
    phi, delta = radians(max(-89.8, min(89.8, latitude))), radians(declination)
    return (sin(radians(-depression)) - sin(phi) * sin(delta)) / (cos(phi) * cos(delta))


def solar_time(event: str, latitude: float, longitude: float, day: date) -> datetime | None:
    """The UTC time, in whole seconds, of `event` on the observer's solar day `day`, or None where the
    sun does not do it that day (polar day or night).

    The solar day is the one whose mean noon is 12:00 - longitude/15 h UTC on `day`: its events lie in
    order within 12 hours of its noon, so day after day they neither repeat nor skip, wherever they
    fall on UTC dates (Dhaka's sunrise, near 00:00 UTC, misses a UTC date in October and falls twice on
    one in March). Raises OverflowError past 9999-12-31.
    """
    # Imported here: only solar schedules need astral, and `validate` and `next` start without it.
    from astral.sun import eq_of_time, sun_declination

    side, depression = SOLAR_EVENTS[event]
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    minutes = 720 - 4 * longitude  # the mean noon: the sun's hour angle moves 4 minutes a degree
    # The sun's declination and the equation of time (astral's NOAA series) at the event move it a
    # little: three rounds settle it to under a second.
    for _ in range(3):
        century = (midnight + timedelta(minutes=minutes) - J2000) / CENTURY
        cosine = _cos_hour_angle(latitude, sun_declination(century), depression)
        # Out of range, the next round looks at noon or midnight, where the sun comes nearest the
        # altitude: its declination there decides a day that only just has the event.
        hour_angle = degrees(acos(max(-1.0, min(1.0, cosine))))
        minutes = 720 - 4 * longitude - eq_of_time(century) + side * 4 * hour_angle
    if side and not -1 <= cosine <= 1:
        return None
    return (midnight + timedelta(minutes=minutes)).replace(microsecond=0)


def solar_next(event: str, latitude: float, longitude: float, after: datetime) -> datetime | None:
    """The first `event` strictly after `after`, in whole seconds; None when none comes within a year
    (polar day or night) or before the end of 9999."""
    # A solar day's events lie between noon UTC the day before its date and noon UTC the day after
    # (give or take the equation of time's 16 minutes): the solar day before `after`'s date is the
    # first that can hold one after it, and later solar days hold later events.
    first = after.astimezone(UTC).date() - timedelta(days=1)
    for offset in range(SOLAR_SEARCH_DAYS):
        try:
            moment = solar_time(event, latitude, longitude, first + timedelta(days=offset))
        except OverflowError:  # past 9999-12-31, the last day a datetime holds
            return None
        # Compared as the whole second returned: an `after` equal to it moves on (fire_times).
        if moment is not None and moment > after:
            return moment
    return None


def as_local(moment: datetime, tz: tzinfo) -> datetime:
    """`moment` in `tz`; a naive `moment` is a wall time there (gaps and repeats as above)."""
    if moment.tzinfo is None:
        return local_to_utc(moment, tz).astimezone(tz)
    return moment.astimezone(tz)


def period_seconds(cron: Cron, tz: tzinfo, start: datetime, samples: int = 48) -> float:
    """The shortest interval between the next `samples` fires: how often a cron runs."""
    shortest = float("inf")
    previous = cron_next(cron, tz, start)
    for _ in range(samples):
        if previous is None:
            break
        following = cron_next(cron, tz, previous)
        if following is None:
            break
        shortest = min(shortest, (following - previous).total_seconds())
        previous = following
    return shortest


def dst_transitions(tz: tzinfo, start: datetime, days: int = 400) -> Iterator[tuple[datetime, timedelta, timedelta]]:
    """(instant, offset before, offset after) of each UTC offset change in the next `days`."""
    step = timedelta(hours=12)
    moment = start.astimezone(UTC)
    # Compared as a difference: `moment + days` can pass 9999-12-31, and a step past LAST overflows.
    end = moment + min(timedelta(days=days), LAST - step - moment)
    if moment >= end:
        return
    offset = moment.astimezone(tz).utcoffset()
    while moment < end:
        following = moment + step
        new_offset = following.astimezone(tz).utcoffset()
        if new_offset != offset:
            assert offset is not None and new_offset is not None
            yield _offset_change(moment, following, tz), offset, new_offset
            offset = new_offset
        moment = following


def next_fire(
    schedule: ScheduleSpec, timezone: str, after: datetime, anchor: datetime | None = None
) -> datetime | None:
    """The schedule's first fire time strictly after `after` (UTC), within start_at/end_at.

    `anchor` is where `every` counts from when the schedule has no start_at (the first
    apply); without either, it counts from `after`.
    """
    solar = schedule.solar
    return _next_fire(
        schedule.cron, schedule.every, schedule.at, (solar.event, solar.latitude, solar.longitude) if solar else None,
        schedule.start_at, schedule.end_at, timezone, after,
        anchor if schedule.every is not None and schedule.start_at is None else None,  # what every_next counts from
    )


# A pure function of its arguments, which are all it reads: schedules that share a timing share
# their fire times (a beat starting with 100,000 schedules in a few dozen timings, 1,000 due at
# once). Bounded: each fire asks with a new `after`.
@lru_cache(maxsize=8192)
def _next_fire(
    cron: str | None, every: float | None, at: datetime | None, solar: tuple[str, float, float] | None,
    start_at: datetime | None, end_at: datetime | None, timezone: str, after: datetime, anchor: datetime | None,
) -> datetime | None:
    tz = zone(timezone)
    start = as_local(start_at, tz).astimezone(UTC) if start_at else None
    if start is not None and after < start:
        after = start - timedelta(microseconds=1)
    moment: datetime | None
    if cron is not None:
        moment = cron_next(cron, tz, after)
    elif every is not None:
        moment = every_next(start or anchor or after, every, after)
    elif at is not None:
        moment = as_local(at, tz).astimezone(UTC)
        moment = moment if moment > after else None
    else:
        assert solar is not None
        moment = solar_next(*solar, after)
    if moment is None or (end_at is not None and moment > as_local(end_at, tz)):
        return None
    try:
        moment.astimezone(tz)
    except OverflowError:  # its local date is past 9999-12-31: it cannot be shown or stored in `tz`
        return None
    return moment


def fire_times(
    schedule: ScheduleSpec, timezone: str, after: datetime, anchor: datetime | None = None
) -> Iterator[datetime]:
    """Every fire time after `after`, in order, until the schedule ends."""
    anchor = anchor or after
    moment = next_fire(schedule, timezone, after, anchor)
    while moment is not None:
        yield moment
        moment = next_fire(schedule, timezone, moment, anchor)


GRACE = timedelta(seconds=1)  # a due time older than this (beyond its jitter) counts as missed
MAX_CATCHUP = 100


def due_times(
    schedule: ScheduleSpec, after: datetime, now: datetime, anchor: datetime | None, limit: int
) -> list[datetime]:
    """The newest `limit` fire times in (after, now], oldest first, without walking years of them."""
    assert schedule.timezone is not None
    anchor = anchor or after  # as fire_times: without an anchor `every` counts from `after`, not from `start`
    if schedule.every is not None:
        # The newest `limit` lie within `limit + 1` periods before the last possible one: `now`, or an
        # end_at already past. Compared as a difference: `last - window` can fall before year 1.
        last = min(now, as_local(schedule.end_at, zone(schedule.timezone))) if schedule.end_at else now
        window = timedelta(seconds=schedule.every * (limit + 1))
        if last - after > window:
            after = last - window
    span = timedelta(minutes=limit + 1)  # a cron fires at most once a minute
    while True:
        start = after if now - after <= span else now - span  # `now - span` can fall before year 1
        found: list[datetime] = []
        moment = next_fire(schedule, schedule.timezone, start, anchor)
        while moment is not None and moment <= now:
            found.append(moment)
            if len(found) > limit:
                del found[0]
            moment = next_fire(schedule, schedule.timezone, moment, anchor)
        if start == after or len(found) >= limit:
            return found
        span *= 4


def to_fire(schedule: ScheduleSpec, after: datetime, now: datetime, anchor: datetime | None) -> list[datetime]:
    """The due times to send now, after `after`, by the schedule's `catchup` and `catchup_window`.

    A due time is on time while `now` is within GRACE of when it was meant to be sent:
    its due time plus its jitter, which never reaches the next due time. On-time due
    times always fire; missed ones fire by mode: `latest` the newest once (unless an
    on-time run stands for them), `skip` none, `all` each (the newest 100), oldest first; `catchup_window` drops missed
    ones older than the window.
    """
    assert schedule.timezone is not None
    jitter = timedelta(seconds=schedule.jitter or 0)
    if schedule.catchup == "all":
        dues = due_times(schedule, after, now, anchor, MAX_CATCHUP)
    else:
        # Only due times in this window can be on time; before it, `latest` needs just the newest.
        start = max(after, now - GRACE - jitter - timedelta(microseconds=1))  # the edge is on time
        dues = due_times(schedule, start, now, anchor, MAX_CATCHUP)
        if start > after and schedule.catchup == "latest":
            dues = due_times(schedule, after, start, anchor, 1) + dues
    if not dues:
        return []
    last = next_fire(schedule, schedule.timezone, now, anchor) if jitter else None
    on_time: list[datetime] = []
    missed: list[datetime] = []
    for due, later in zip(dues, [*dues[1:], last], strict=True):
        slack = min(jitter, later - due) if later is not None else jitter
        (on_time if now - due <= GRACE + slack else missed).append(due)
    if schedule.catchup_window is not None:
        missed = [due for due in missed if now - due <= timedelta(seconds=schedule.catchup_window)]
    if schedule.catchup == "skip" or (schedule.catchup == "latest" and on_time):
        return on_time  # an on-time run stands for the missed ones under `latest`
    if schedule.catchup == "latest":
        return missed[-1:]
    return missed + on_time
