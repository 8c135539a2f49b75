"""One source entry as gitbeat schedules: the timing, the options, and every change said in words.

A translation keeps the fire instants (the proof checks them) and says what it adapts: an
interval Celery counts from the last run becomes an anchored `every`; a one-off becomes `at`;
options gitbeat has no place for are named. What cannot fire on the same instants is refused
with the reason; what has nothing left to fire is skipped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..durations import format_duration
from ..spec import NAME_MAX, ScheduleSpec, is_name
from ..timing import next_fire
from .cronmap import CronFields, NotExpressible, to_cron
from .entry import SourceEntry
from .sourcetimes import SourceError, source_times

SOLAR_TOLERANCE = 60.0  # seconds: two models of the sun (PyEphem's, the NOAA series') agree to seconds
# Celery's own entry for expiring results: gitbeat's beat adds it itself where the result backend needs it.
BACKEND_CLEANUP = "celery.backend_cleanup"
CARRIED_OPTIONS = ("queue", "routing_key", "priority", "expires", "exchange", "headers")
RELATIVE_CRONS = {60.0: "* * * * *", 3600.0: "0 * * * *", 86400.0: "0 0 * * *"}


class Refused(Exception):
    """Raised when an entry cannot be imported so that it fires on the same instants; the message says why."""


class Skipped(Exception):
    """Raised when an entry has nothing left to fire (it expired, or a one-off already ran)."""


@dataclass
class Candidate:
    """An entry translated: its gitbeat schedules (YAML-ready data), the notes of what changed, the proof's terms."""

    entry: SourceEntry
    name: str
    specs: dict[str, dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    queue: tuple[str, dict[str, Any]] | None = None  # a queue to declare for it
    origin: datetime = field(default_factory=lambda: datetime.now(UTC))  # the run the proof counts from
    period: float | None = None  # an `every`'s period: its later proof windows start on its anchor's lattice
    anchor: datetime | None = None  # where that lattice starts, when not at the origin (its start_at)
    tolerance: float = 0.0


@dataclass
class Context:
    """What the translation needs from the command and the existing config."""

    now: datetime
    with_run_state: bool
    taken: set[str]  # schedule names already used: in the config, or by an earlier entry of this import
    known_queues: set[str]


def schedule_name(name: str, taken: set[str]) -> tuple[str, str | None]:
    """A valid, unused gitbeat name for `name`, and a note when it had to change."""
    cleaned = re.sub(r"[^A-Za-z0-9_.:\-]+", "-", name.strip()).strip("-") or "schedule"
    if not re.match(r"[A-Za-z0-9_]", cleaned):
        cleaned = "_" + cleaned
    cleaned = cleaned[: NAME_MAX - 4]
    candidate, number = cleaned, 2
    while candidate in taken:
        candidate, number = f"{cleaned}-{number}", number + 1
    if candidate == name:
        return candidate, None
    why = "is not a valid gitbeat name" if cleaned != name else "is already taken"
    return candidate, f"renamed from {name!r}, which {why}"


def translate(entry: SourceEntry, context: Context) -> Candidate:
    """The candidate for `entry`; raises Refused or Skipped with the reason."""
    if entry.task == BACKEND_CLEANUP:
        raise Skipped("Celery's result cleanup: gitbeat's beat runs it itself where the result backend needs it")
    if not is_name(entry.task):
        raise Refused(f"task name {entry.task!r} is not a valid gitbeat name")
    carried = context.with_run_state and entry.last_run_at is not None
    origin = entry.last_run_at.astimezone(UTC) if carried and entry.last_run_at else context.now
    name, renamed = schedule_name(entry.name, context.taken)
    candidate = Candidate(entry, name, {}, origin=origin)
    if renamed:
        candidate.notes.append(renamed)
    data: dict[str, Any] = {"task": entry.task}
    data.update(_timing(entry, candidate, context, carried))
    if not carried and not entry.rules.one_off:
        _never_ran(entry, candidate)
    _window(entry, candidate, data)
    data.update(_arguments(entry))
    data.update(_options(entry, candidate, context))
    if not entry.enabled:
        data["enabled"] = False
        data["note"] = f"disabled in {entry.origin.split(' ')[0]} when imported"
    if entry.description:
        data["description"] = entry.description
    candidate.specs[name] = data
    _companion(entry, candidate, data, context)
    return candidate


def _timing(entry: SourceEntry, candidate: Candidate, context: Context, carried: bool) -> dict[str, Any]:
    from celery.schedules import crontab, schedule, solar

    sched, rules = entry.schedule, entry.rules
    if rules.one_off or type(sched).__name__ == "clocked":
        return _one_off(entry, candidate)
    if isinstance(sched, crontab):
        try:
            return {"cron": to_cron(CronFields.of(sched)), "timezone": entry.timezone}
        except NotExpressible as error:
            raise Refused(str(error)) from None
    if isinstance(sched, schedule):
        seconds = sched.run_every.total_seconds()
        if sched.relative:
            if seconds not in RELATIVE_CRONS:
                raise Refused(f"relative=True rounds each run of every {format_duration(seconds)} to the clock; "
                              "only every minute, hour or day has a gitbeat equivalent")
            candidate.notes.append(f"relative every {format_duration(seconds)} fires on the clock: "
                                   f"cron {RELATIVE_CRONS[seconds]!r}")
            return {"cron": RELATIVE_CRONS[seconds], "timezone": entry.timezone}
        if seconds <= 0:
            raise Refused(f"an interval of {seconds:g}s never waits")
        candidate.period = seconds
        anchor = (f"the last run, {_show(candidate.origin, 'UTC')} (carried by --with-run-state)" if carried
                  else "the first apply (--with-run-state anchors it at the last run instead)")
        candidate.notes.append(f"every {format_duration(seconds)}: Celery counts each interval from the last run, "
                               f"so a late run delays every later one; gitbeat counts from an anchor: {anchor}")
        return {"every": format_duration(seconds)}
    if isinstance(sched, solar):
        candidate.tolerance = SOLAR_TOLERANCE
        return {"solar": {"event": sched.event, "latitude": float(sched.lat), "longitude": float(sched.lon)}}
    if type(sched).__name__ == "rrule":
        return _rrule(sched, candidate)
    raise Refused(f"{type(sched).__name__} schedules have no gitbeat equivalent")


def _never_ran(entry: SourceEntry, candidate: Candidate) -> None:
    """Say what the old beat would have done at once that gitbeat will not: run an overdue entry on starting."""
    if entry.last_run_at is None and entry.never_run_from is None and entry.never_run_note:
        candidate.notes.append(f"never ran: {entry.never_run_note}; gitbeat waits for its first fire time")
        return
    last = entry.last_run_at or entry.never_run_from
    if last is None or not entry.enabled:
        return
    try:
        due = source_times(entry.schedule, entry.rules, last, 1)
    except SourceError:
        return  # the proof reports it
    if due and due[0] <= candidate.origin:
        candidate.notes.append(f"due since {_show(due[0], entry.timezone)}: the old beat would run it once when it "
                               "starts again; gitbeat counts from the import (--with-run-state carries the last run, "
                               "and apply then fires it once, as catchup: latest)")


def _one_off(entry: SourceEntry, candidate: Candidate) -> dict[str, Any]:
    """A one-off (django-celery-beat's one_off or clocked): once, at the source's next fire time, as `at`."""
    if entry.run_count > 0 or (not entry.enabled and entry.last_run_at is not None):
        ran = f" on {_show(entry.last_run_at, entry.timezone)}" if entry.last_run_at else ""
        raise Skipped(f"a one-off that already ran{ran}: nothing is left to fire")
    if type(entry.schedule).__name__ == "clocked":
        moment = entry.schedule.clocked_time.astimezone(UTC)
        if moment <= candidate.origin:
            candidate.notes.append(f"its time, {_show(moment, entry.timezone)}, has passed without a run: the old "
                                   "beat would run it at once, gitbeat never will (`gitbeat trigger` runs it now)")
    else:
        try:
            found = source_times(entry.schedule, entry.rules, candidate.origin, 1)
        except SourceError as error:
            raise Refused(f"the source cannot compute its fire time ({error})") from None
        if not found:
            raise Skipped("a one-off whose schedule never fires again")
        moment = found[0]
        candidate.notes.append(f"one-off: fires once, at {_show(moment, entry.timezone)} (its next fire time as of "
                               "this import), as `at`")
    return {"at": _iso(moment, entry.timezone)}


def _rrule(sched: Any, candidate: Candidate) -> dict[str, Any]:
    """RedBeat's rrule: a plain frequency from dtstart is an anchored `every`; by-rules have no equivalent."""
    from dateutil import rrule as rr

    units = {rr.SECONDLY: 1, rr.MINUTELY: 60, rr.HOURLY: 3600, rr.DAILY: 86400, rr.WEEKLY: 604800}
    by = [k for k in ("bysetpos", "bymonth", "bymonthday", "byyearday", "byeaster", "byweekno", "byweekday",
                      "byhour", "byminute", "bysecond") if getattr(sched, k, None) not in (None, (), [])]
    if sched.freq not in units or by or sched.count:
        raise Refused("an rrule with calendar rules (by…, count, monthly or yearly) has no gitbeat equivalent")
    seconds = float(units[sched.freq] * sched.interval)
    candidate.period = seconds
    data: dict[str, Any] = {"every": format_duration(seconds), "start_at": sched.dtstart.isoformat()}
    candidate.anchor = sched.dtstart.astimezone(UTC)
    if sched.until:
        data["end_at"] = sched.until.isoformat()
    # RedBeat's rrule counts in a fixed UTC offset (it stores dtstart's offset), as `every` counts elapsed time.
    candidate.notes.append(f"rrule every {format_duration(seconds)} from dtstart: `every` anchored at start_at")
    return data


def _window(entry: SourceEntry, candidate: Candidate, data: dict[str, Any]) -> None:
    """start_time and expires: start_at and end_at, where they still matter."""
    start, stop = entry.rules.start_time, entry.rules.stop_at
    if stop is not None and stop <= candidate.origin and "at" not in data:
        raise Skipped(f"expired on {_show(stop, entry.timezone)}: it never fires again")
    if start is not None and start > candidate.origin and "at" not in data:
        data["start_at"] = _iso(start, entry.timezone)
        candidate.anchor = start.astimezone(UTC)
    if stop is not None and "at" not in data:
        # The source fires nothing at `expires` itself (now >= expires), gitbeat fires up to end_at included.
        end = stop - timedelta(microseconds=1) if _fires_at(data, entry, stop) else stop
        data["end_at"] = _iso(end, entry.timezone)


def _fires_at(data: dict[str, Any], entry: SourceEntry, moment: datetime) -> bool:
    spec = ScheduleSpec.model_validate({**data, "timezone": data.get("timezone", entry.timezone)})
    return next_fire(spec, entry.timezone, moment - timedelta(microseconds=1), moment) == moment


def _arguments(entry: SourceEntry) -> dict[str, Any]:
    try:
        args, kwargs = json.loads(json.dumps(list(entry.args or []))), json.loads(json.dumps(dict(entry.kwargs or {})))
    except (TypeError, ValueError) as error:
        raise Refused(f"its arguments are not JSON data ({error})") from None
    return {**({"args": args} if args else {}), **({"kwargs": kwargs} if kwargs else {})}


def _options(entry: SourceEntry, candidate: Candidate, context: Context) -> dict[str, Any]:
    options, data = entry.options, {}
    queue, exchange, routing_key = options.get("queue"), options.get("exchange"), options.get("routing_key")
    if queue:
        data["queue"] = queue
        if queue not in context.known_queues:
            declared: dict[str, Any] = {}
            if exchange:
                declared["exchange"] = exchange
            candidate.queue = (queue, declared)
        elif exchange:
            candidate.notes.append(f"exchange {exchange!r}: gitbeat sends to the exchange queue {queue!r} declares")
    elif exchange:
        candidate.notes.append(f"exchange {exchange!r} is not carried: gitbeat sends to a queue's exchange; declare "
                               f"a queue with `exchange: {exchange}` and set the schedule's `queue`")
    if routing_key:
        data["routing_key"] = routing_key
    if options.get("priority") is not None:
        data["priority"] = int(options["priority"])
    expires = options.get("expires")
    if isinstance(expires, (int, float)) and not isinstance(expires, bool) and expires > 0:
        data["expires"] = format_duration(float(expires))
    elif isinstance(expires, datetime) and entry.rules.stop_at is None:
        candidate.notes.append(f"messages expiring at {_show(expires, entry.timezone)} (a fixed time): gitbeat's "
                               "`expires` is a duration, so none is set")
    headers = {k: v for k, v in (options.get("headers") or {}).items() if k != "periodic_task_name"}
    if headers:
        candidate.notes.append(f"headers {sorted(headers)} are not sent: gitbeat sets no per-schedule headers")
    others = sorted(k for k in options if k not in CARRIED_OPTIONS and k != "periodic_task_name")
    if others:
        candidate.notes.append(f"options {others} are not carried: gitbeat has no per-schedule place for them "
                               "(time limits and retries belong to the task)")
    return data


def _companion(entry: SourceEntry, candidate: Candidate, data: dict[str, Any], context: Context) -> None:
    """A start_time the source fires at although its schedule does not: one more one-off at it."""
    start = entry.rules.start_time
    if start is None or "start_at" not in data or candidate.period is not None:
        return
    spec = ScheduleSpec.model_validate({**data, "timezone": data.get("timezone", entry.timezone)})
    first = next_fire(spec, entry.timezone, candidate.origin, candidate.origin)
    try:
        source_first = source_times(entry.schedule, entry.rules, candidate.origin, 1)
    except SourceError:
        return  # the proof reports it
    if source_first and source_first[0] == start.astimezone(UTC) and first != source_first[0]:
        extra, _ = schedule_name(f"{candidate.name}.start", context.taken | set(candidate.specs))
        candidate.specs[extra] = {key: value for key, value in data.items()
                                  if key not in ("cron", "solar", "timezone", "start_at", "end_at")}
        candidate.specs[extra]["at"] = data["start_at"]
        candidate.notes.append(f"the source also fires once at its start_time, {_show(start, entry.timezone)}, "
                               f"which is no fire time of its schedule: one-off {extra!r} does that")


def _iso(moment: datetime, zone_name: str) -> str:
    from ..timing import zone

    return moment.astimezone(zone(zone_name)).isoformat()


def _show(moment: datetime | None, zone_name: str) -> str:
    if moment is None:
        return "never"
    from ..timing import zone

    local = moment.astimezone(zone(zone_name))
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"
