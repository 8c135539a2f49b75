"""Solar fire times against an independent ephemeris (PyEphem), at places where events fall near 00:00 UTC.

A UTC date can hold no sunrise or two of them when sunrise falls near 00:00 UTC; gitbeat once walked UTC
dates asking each for one event, so it fired such an event twice or skipped it. Here every event PyEphem
finds in a run of days must be matched by exactly one of gitbeat's fire times within TOLERANCE, and no
fire time may be left over.

PyEphem's conventions, as almanacs define the events: pressure 0 (no refraction model of its own) and
the upper limb at -0:34 for sunrise and sunset (the standard 34' of refraction); the centre at -6, -12
and -18 degrees for the twilights; the transit for solar noon.

Grazing: within GRAZING of the sun's transit or antitransit, its altitude is within about a tenth of a
degree of its highest or lowest. An event there only just happens (the last astronomical dusk before the
white nights at 60 degrees north), and a hundredth of a degree between two models of the sun moves it by
minutes or decides whether it happens at all; such an event need not be matched, but is never repeated.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice, pairwise, takewhile

import ephem
import pytest

from gitbeat.spec import ScheduleSpec
from gitbeat.timing import fire_times, solar_next

TOLERANCE = timedelta(minutes=4)
GRAZING = timedelta(minutes=20)
RUN = timedelta(days=60)
# (horizon, use_center, which crossing): PyEphem's terms for each event.
EPHEM = {
    "dawn_astronomical": ("-18", True, "rising"),
    "dawn_nautical": ("-12", True, "rising"),
    "dawn_civil": ("-6", True, "rising"),
    "sunrise": ("-0:34", False, "rising"),
    "solar_noon": ("0", True, "transit"),
    "sunset": ("-0:34", False, "setting"),
    "dusk_civil": ("-6", True, "setting"),
    "dusk_nautical": ("-12", True, "setting"),
    "dusk_astronomical": ("-18", True, "setting"),
}
# name: (latitude, longitude, first days of three runs). Each place has some event near 00:00 UTC;
# the runs, in different years and seasons, cover every year from 2026 to 2034 between them, and at
# high latitudes the weeks when twilights vanish into the white nights and come back.
PLACES = {
    "equator, noon at 00:00 UTC": (0.0, 179.5, [date(2026, 1, 20), date(2030, 5, 1), date(2034, 9, 15)]),
    "Dhaka, sunrise at 00:00 UTC": (23.8, 90.4, [date(2027, 3, 1), date(2031, 6, 10), date(2032, 9, 25)]),
    "Tropic of Capricorn, sunset at 00:00 UTC": (-23.4, -88.0, [date(2028, 2, 1), date(2029, 7, 1), date(2033, 11, 1)]),
    "Chicago, sunset at 00:00 UTC": (41.9, -87.6, [date(2026, 6, 1), date(2028, 8, 20), date(2034, 12, 1)]),
    "Gisborne, noon at 00:00 UTC": (-38.66, 178.02, [date(2027, 10, 1), date(2030, 12, 10), date(2033, 4, 1)]),
    "Lerwick, dusk at 00:00 UTC": (60.15, -1.15, [date(2026, 4, 1), date(2029, 7, 25), date(2032, 5, 1)]),
    "Reykjavik": (64.15, -21.94, [date(2027, 4, 20), date(2031, 7, 10), date(2034, 3, 10)]),
    "Palmer Station, Antarctica": (-64.77, -64.05, [date(2028, 10, 1), date(2031, 1, 15), date(2033, 8, 1)]),
}


def U(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def solar(event: str, latitude: float, longitude: float) -> ScheduleSpec:
    return ScheduleSpec.model_validate(
        {"task": "t", "solar": {"event": event, "latitude": latitude, "longitude": longitude}}
    )


def observer(event: str, latitude: float, longitude: float) -> ephem.Observer:
    place = ephem.Observer()
    place.lat, place.lon = str(latitude), str(longitude)
    place.pressure, place.elevation = 0, 0
    place.horizon = EPHEM[event][0]
    return place


def as_ephem(moment: datetime) -> ephem.Date:
    return ephem.Date(moment.astimezone(UTC).replace(tzinfo=None))


def ephemeris(event: str, latitude: float, longitude: float, begin: datetime, end: datetime) -> list[datetime]:
    """PyEphem's times of `event` in [begin, end)."""
    place, sun = observer(event, latitude, longitude), ephem.Sun()
    _, use_center, crossing = EPHEM[event]
    moment, last, found = as_ephem(begin), as_ephem(end), []
    while moment < last:
        place.date = moment
        try:
            if crossing == "transit":
                following = place.next_transit(sun)
            else:
                search = place.next_rising if crossing == "rising" else place.next_setting
                following = search(sun, use_center=use_center)
        except ephem.CircumpolarError:
            # It searches to the next transit or antitransit and raises where the event is missing
            # there: the solar day has none, so a quarter of a day later cannot skip one.
            moment = ephem.Date(moment + 0.25)
            continue
        if following >= last:
            break
        found.append(ephem.Date(following).datetime().replace(tzinfo=UTC))
        moment = ephem.Date(following + ephem.minute)
    return found


def grazing(event: str, latitude: float, longitude: float, moment: datetime) -> bool:
    place, sun = observer(event, latitude, longitude), ephem.Sun()
    place.date = as_ephem(moment - GRAZING)
    nearest = min(place.next_transit(sun), place.next_antitransit(sun))
    return nearest <= as_ephem(moment + GRAZING)


def near(moment: datetime, moments: list[datetime]) -> list[datetime]:
    """The `moments` (sorted) within TOLERANCE of `moment`."""
    start = bisect_left(moments, moment - TOLERANCE)
    return list(takewhile(lambda other: other <= moment + TOLERANCE, moments[start:]))


@pytest.mark.parametrize("event", list(EPHEM))
@pytest.mark.parametrize("place", list(PLACES))
def test_solar_fire_times_match_the_ephemeris(place: str, event: str) -> None:
    latitude, longitude, starts = PLACES[place]
    spec = solar(event, latitude, longitude)
    matched = 0
    for start in starts:
        begin = datetime.combine(start, time(), UTC)
        end = begin + RUN
        ours = list(takewhile(end.__gt__, fire_times(spec, "UTC", begin)))
        # A day more each side: an event just outside the run still matches one of ours just inside.
        theirs = ephemeris(event, latitude, longitude, begin - timedelta(days=1), end + timedelta(days=1))
        # Two of the same event are half a day apart at least: noon is between them.
        for earlier, later in pairwise(ours):
            assert later - earlier > timedelta(hours=11), f"{event} at {place}: {earlier} then {later}"
        for expected in theirs:
            if begin + TOLERANCE < expected < end - TOLERANCE:
                found = near(expected, ours)
                if not (len(found) == 1 or (not found and grazing(event, latitude, longitude, expected))):
                    pytest.fail(f"{event} at {place}: PyEphem has {expected:%Y-%m-%d %H:%M:%S}, gitbeat {found}")
                matched += len(found)
        for moment in ours:
            if not near(moment, theirs) and not grazing(event, latitude, longitude, moment):
                pytest.fail(f"{event} at {place}: gitbeat fires at {moment}, an event PyEphem does not have")
    # Places and seasons where the event never happens would pass vacuously; none here is one.
    assert matched > 0


# Events near 00:00 UTC: the UTC date 2032-10-23 has no sunrise in Dhaka (it was fired twice, once as
# the next day's); 2028-09-15 has two sunsets in Chicago (the first was skipped). Times from PyEphem.
NEAR_MIDNIGHT = [
    pytest.param(
        "sunrise", 23.8, 90.4, U(2032, 10, 22, 12), [U(2032, 10, 22, 23, 59, 35), U(2032, 10, 24, 0, 0, 5)],
        id="Dhaka sunrise after 2032-10-22 12:00",
    ),
    pytest.param(
        "sunset", 41.9, -87.6, U(2028, 9, 14, 12), [U(2028, 9, 15, 0, 0, 29), U(2028, 9, 15, 23, 58, 44)],
        id="Chicago sunset after 2028-09-14 12:00",
    ),
]


@pytest.mark.parametrize("event, latitude, longitude, after, expected", NEAR_MIDNIGHT)
def test_solar_events_near_midnight_utc_neither_repeat_nor_skip(
    event: str, latitude: float, longitude: float, after: datetime, expected: list[datetime]
) -> None:
    times = list(islice(fire_times(solar(event, latitude, longitude), "UTC", after), len(expected)))
    assert len(times) == len(expected)
    for moment, published in zip(times, expected, strict=True):
        assert abs(moment - published) <= TOLERANCE, (moment, published)
        assert moment.microsecond == 0
    assert solar_next(event, latitude, longitude, after) == times[0]
    assert solar_next(event, latitude, longitude, times[0]) == times[1]
