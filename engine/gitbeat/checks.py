"""Whole-config checks after loading: cross-references and the warnings of SPEC §3."""

from __future__ import annotations

import difflib
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from .cron import parse_cron
from .durations import format_duration
from .errors import Diagnostic
from .loader import Config
from .timing import as_local, dst_transitions, next_wall, period_seconds, zone
from .yamlsource import cut, excerpt


def check_config(config: Config, registered: set[str] | None, now: datetime) -> list[Diagnostic]:
    """Cross-reference and sanity checks; `registered` is None when imports were not checked."""
    found: list[Diagnostic] = []
    queues = known_queues(config)
    for name, queue in config.queues.items():
        target = queue.dead_letter
        if isinstance(target, str) and not config.declared("queues", target):
            found.append(
                config.diagnostic("error", "queues", name, "dead_letter", message=_unknown("queue", target, queues))
            )
        elif isinstance(target, str) and target == name:
            found.append(
                config.diagnostic(
                    "error", "queues", name, "dead_letter", message="a queue cannot be its own dead-letter queue"
                )
            )
        if target is not False and not any(
            task.acks_late and (task.queue or config.project.default_queue) == name for task in config.tasks.values()
        ):
            found.append(
                config.diagnostic(
                    "warning",
                    "queues",
                    name,
                    "dead_letter",
                    message="no task on this queue sets acks_late: true, so its messages are acknowledged "
                    "before they run and RabbitMQ can never dead-letter them",
                )
            )
    for name, task in config.tasks.items():
        if task.queue is not None and task.queue not in queues:
            found.append(
                config.diagnostic("error", "tasks", name, "queue", message=_unknown("queue", task.queue, queues))
            )
        if task.time_limit is not None and task.soft_time_limit is not None and task.soft_time_limit >= task.time_limit:
            found.append(
                config.diagnostic(
                    "warning",
                    "tasks",
                    name,
                    "soft_time_limit",
                    message=f"soft_time_limit {format_duration(task.soft_time_limit)} is not below time_limit "
                    f"{format_duration(task.time_limit)}: the task is killed before its soft limit can fire",
                )
            )
    hour = now.replace(minute=0, second=0, microsecond=0)  # what the cached period and DST checks start from
    for name in config.schedules:
        found.extend(_check_schedule(config, name, registered, queues, now, hour))
    return found


def known_queues(config: Config) -> set[str]:
    """Declared queues, the default queue and the implicit '<name>.dlq' dead-letter queues."""
    names = {name for section, name in config.origins if section == "queues"}
    names.add(config.project.default_queue)
    names.update(f"{name}.dlq" for name, queue in config.queues.items() if queue.dead_letter is True)
    return names


def _unknown(kind: str, name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    if close:
        return f"unknown {kind} {excerpt(name)} (did you mean {excerpt(close[0])}?)"
    listed = sorted(known)
    if not listed:
        return f"unknown {kind} {excerpt(name)}: none is declared"
    # Up to 8 names, fewer when they are long: a name may have 200 characters, the line stays short.
    shown = [cut(n) for n in listed[:8]]
    while len(shown) > 1 and len(", ".join(shown)) > 80:
        shown.pop()
    more = f" and {len(listed) - len(shown)} more" if len(listed) > len(shown) else ""
    return f"unknown {kind} {excerpt(name)}; declared: {', '.join(shown)}{more}"


def _check_schedule(
    config: Config, name: str, registered: set[str] | None, queues: set[str], now: datetime, hour: datetime
) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    schedule = config.schedules[name]
    tz_name = config.timezone_of(schedule)
    declared = config.declared("tasks", schedule.task)
    if (
        not declared
        and not (registered is None and config.project.imports)
        and schedule.task not in (registered or set())
    ):
        tasks = {n for s, n in config.origins if s == "tasks"} | (registered or set())
        found.append(
            config.diagnostic("error", "schedules", name, "task", message=_unknown("task", schedule.task, tasks))
        )
    if schedule.queue is not None and schedule.queue not in queues:
        found.append(
            config.diagnostic("error", "schedules", name, "queue", message=_unknown("queue", schedule.queue, queues))
        )
    if schedule.at is not None and as_local(schedule.at, zone(tz_name)) <= now:
        found.append(
            config.diagnostic(
                "warning", "schedules", name, "at", message="this time has passed: the schedule will never fire"
            )
        )
    task = config.tasks.get(schedule.task)
    retry = task.retry if task is not None else None
    budget = retry.budget() if retry is not None and retry.on else 0.0
    # A cron fires at most once a minute: shorter budgets need no period at all.
    needs_period = budget > 60 or schedule.jitter or schedule.alert_after
    period = _period(schedule.cron, schedule.every, tz_name, hour) if needs_period else None
    # budget > 0 only when the task has a retry.
    if period is not None and retry is not None and budget > 0 and budget > period:
        found.append(
            config.diagnostic(
                "warning",
                "schedules",
                name,
                "task",
                message=f"task {excerpt(schedule.task)} may retry for {format_duration(budget)} "
                f"({retry.max_retries} retries), longer than this schedule's period of "
                f"{format_duration(period)}: a failing run is still retrying when the next one starts",
            )
        )
    if period is not None and schedule.jitter is not None and schedule.jitter >= period:
        found.append(
            config.diagnostic(
                "warning",
                "schedules",
                name,
                "jitter",
                message=f"jitter {format_duration(schedule.jitter)} is not below the period of "
                f"{format_duration(period)}; the delay is cut short so that no run passes the next",
            )
        )
    if period is not None and schedule.alert_after is not None and schedule.alert_after < period:
        found.append(
            config.diagnostic(
                "warning",
                "schedules",
                name,
                "alert_after",
                message=f"alert_after {format_duration(schedule.alert_after)} is shorter than the period of "
                f"{format_duration(period)}: the schedule turns stale between any two runs",
            )
        )
    if schedule.cron is not None:
        cron = parse_cron(schedule.cron)
        if cron.day_restricted and cron.weekday_restricted:
            found.append(
                config.diagnostic(
                    "warning",
                    "schedules",
                    name,
                    "cron",
                    message="day-of-month and day-of-week are both set: as in standard cron, "
                    "it fires on days that match either",
                )
            )
        for message in dst_warnings(schedule.cron, tz_name, hour):
            found.append(config.diagnostic("warning", "schedules", name, "cron", message=message))
    return found


def _period(cron: str | None, every: float | None, tz_name: str, hour: datetime) -> float | None:
    if every is not None:
        return every
    if cron is not None:
        return _cron_period(cron, tz_name, hour)
    return None


@lru_cache(maxsize=4096)
def _cron_period(cron: str, tz_name: str, hour: datetime) -> float:
    return period_seconds(parse_cron(cron), zone(tz_name), hour)


@lru_cache(maxsize=4096)
def dst_warnings(cron_text: str, tz_name: str, start: datetime) -> tuple[str, ...]:
    """One message for the first skipped and the first repeated fire time in the next 400 days."""
    cron = parse_cron(cron_text)
    messages: dict[str, str] = {}
    for instant, before, after in _transitions(tz_name, start):
        kind = "skip" if after > before else "repeat"
        if kind in messages:
            continue
        first_wall = (instant + min(before, after)).replace(tzinfo=None)
        last_wall = (instant + max(before, after)).replace(tzinfo=None)
        wall = next_wall(cron, first_wall)
        if wall is not None and wall < last_wall:
            if kind == "skip":
                end = (instant + after).replace(tzinfo=None)
                messages[kind] = (
                    f"{wall:%H:%M} does not exist on {wall:%Y-%m-%d} in {tz_name} (clocks jump from "
                    f"{first_wall:%H:%M} to {end:%H:%M}); that run fires once, at {end:%H:%M}"
                )
            else:
                messages[kind] = (
                    f"{wall:%H:%M} happens twice on {wall:%Y-%m-%d} in {tz_name} (clocks go back from "
                    f"{last_wall:%H:%M} to {first_wall:%H:%M}); it fires once, at the first"
                )
        if len(messages) == 2:
            break
    return tuple(messages[k] for k in ("skip", "repeat") if k in messages)


@lru_cache(maxsize=512)
def _transitions(tz_name: str, start: datetime) -> tuple[tuple[datetime, timedelta, timedelta], ...]:
    return tuple(dst_transitions(zone(tz_name), start.astimezone(UTC)))
