"""The YAML format as Pydantic models (SPEC §2): every field, extra keys forbidden, no I/O."""

from __future__ import annotations

import difflib
import random
import re
import zoneinfo
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from .cron import parse_cron
from .durations import parse_duration
from .yamlsource import excerpt, shorten


class LocatedValueError(ValueError):
    """Raised by a model check that belongs to one key of the mapping being checked."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


def _duration(value: object) -> float:
    """parse_duration, its message quoting the input in excerpts only (it quotes the value whole)."""
    try:
        return _duration_text(value) if type(value) is str else parse_duration(value)
    except ValueError as error:
        raise ValueError(shorten(str(error))) from None


@lru_cache(maxsize=4096)
def _duration_text(text: str) -> float:
    """parse_duration of a string: a config writes the same few ("30s", "5m") thousands of times."""
    return parse_duration(text)


def _seconds_out(value: float) -> int | float:
    return int(value) if value == int(value) else value


Duration = Annotated[
    float,
    BeforeValidator(_duration),
    PlainSerializer(_seconds_out),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?|(\d+(\.\d+)?(ms|w|d|h|m|s))+)\s*$"},
            ],
            "description": "seconds, or a string such as 30s, 5m, 1h30m, 2d",
        }
    ),
]


def _check_positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be longer than 0s")
    return value


PositiveDuration = Annotated[Duration, AfterValidator(_check_positive)]

YEARS = (1900, 9998)  # with any UTC offset, still inside what datetime can hold


def _check_year(moment: datetime) -> datetime:
    if not YEARS[0] <= moment.year <= YEARS[1]:
        raise ValueError(f"year {moment.year} is out of range: use a year from {YEARS[0]} to {YEARS[1]}")
    return moment


Moment = Annotated[datetime, AfterValidator(_check_year)]


@lru_cache(maxsize=1)
def _all_timezones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


@lru_cache(maxsize=1024)
def _check_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        close = difflib.get_close_matches(name, _all_timezones(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown timezone {excerpt(name)}{hint}") from None
    return name


TimeZoneName = Annotated[
    str,
    AfterValidator(_check_timezone),
    WithJsonSchema({"type": "string", "description": "an IANA timezone, e.g. Europe/Berlin"}),
]


def _check_cron(text: str) -> str:
    """parse_cron, its message quoting the input in excerpts only (it quotes fields whole)."""
    try:
        return parse_cron(text).text
    except ValueError as error:
        raise ValueError(shorten(str(error))) from None


CronText = Annotated[
    str,
    AfterValidator(_check_cron),
    WithJsonSchema(
        {
            "type": "string",
            "description": "five fields (minute hour day-of-month month day-of-week) or "
            "@hourly, @daily, @weekly, @monthly, @yearly",
        }
    ),
]

_RATE = re.compile(r"\d+(\.\d+)?(/[smh])?")


def _check_rate(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"a rate limit is a number per second or N/s, N/m, N/h; got {excerpt(value)}")
    text = str(value).strip()
    if not _RATE.fullmatch(text):
        raise ValueError(f"a rate limit is a number per second or N/s, N/m, N/h, e.g. 100/m; got {excerpt(value)}")
    return text


RateLimit = Annotated[
    str,
    BeforeValidator(_check_rate),
    WithJsonSchema(
        {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": r"^\d+(\.\d+)?(/[smh])?$"}]}
    ),
]

NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.:\-]*$"
NAME_MAX = 200
_NAME = re.compile(NAME_PATTERN)
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=NAME_MAX)]


def is_name(text: str) -> bool:
    """True when `text` is a valid name of a queue, task or schedule (the rule `Name` states)."""
    return len(text) <= NAME_MAX and _NAME.fullmatch(text) is not None


# AMQP 0-9-1 sends queue and exchange names and routing keys as "short strings": at most
# 255 bytes. A longer one passes Celery's checks and fails in the worker, so it fails here.
AMQP_SHORT_STRING = 255


def _check_short_string(text: str) -> str:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > AMQP_SHORT_STRING:
        raise ValueError(
            f"{size} bytes long (UTF-8); AMQP limits queue names, exchange names and routing keys "
            f"to {AMQP_SHORT_STRING} bytes"
        )
    return text


AmqpName = Annotated[str, AfterValidator(_check_short_string)]

MODULE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
ModuleName = Annotated[str, StringConstraints(pattern=MODULE_PATTERN)]
Handler = Annotated[
    str,
    StringConstraints(pattern=MODULE_PATTERN[:-1] + r":[A-Za-z_][A-Za-z0-9_]*$"),
    Field(description="module:function, e.g. tasks.notifications:send"),
]
Priority = Annotated[int, Field(ge=0, le=255)]


class Model(BaseModel):
    # NaN and infinity pass range checks (`latitude: .nan` is neither above 90 nor below -90) and JSON has
    # neither (args: [.nan] was stored as null): every float, in JSON data too, must be finite.
    model_config = ConfigDict(extra="forbid", strict=False, validate_default=False, allow_inf_nan=False)


class QueueSpec(Model):
    """A queue, its exchange and its RabbitMQ arguments."""

    routing_key: AmqpName | None = Field(None, description="default: the queue's name")
    exchange: AmqpName | None = Field(None, description="default: the queue's name, type direct")
    max_priority: Annotated[int, Field(ge=1, le=255)] | None = None
    message_ttl: PositiveDuration | None = None
    max_length: Annotated[int, Field(ge=1)] | None = None
    dead_letter: bool | str = Field(False, description='true -> "<name>.dlq", or a queue name')
    description: str | None = None

    def dead_letter_queue(self, name: str) -> str | None:
        if self.dead_letter is True:
            return f"{name}.dlq"
        return self.dead_letter or None

    @field_validator("dead_letter", mode="before")
    @classmethod
    def _dead_letter_type(cls, value: object) -> object:
        if not isinstance(value, (bool, str)) or (isinstance(value, str) and not is_name(value)):
            raise ValueError(f"dead_letter is true, false or a queue name; got {excerpt(value)}")
        return value


class RetrySpec(Model):
    """When and how a failed task is retried (Celery's autoretry_for and friends)."""

    on: list[ModuleName] = Field(default_factory=list, description="exception classes (autoretry_for)")
    max_retries: Annotated[int, Field(ge=0, le=10_000)] = 3
    delay: Duration = Field(180, description="the first delay (default_retry_delay)")
    backoff: Literal["fixed", "exponential"] = "fixed"
    backoff_max: Duration = 600
    jitter: bool = True

    def countdown(self, retries: int, rng: random.Random | None = None) -> float:
        """The delay before the retry that follows `retries` earlier ones.

        Exponential backoff doubles from `delay` up to `backoff_max`; with `jitter`
        it is drawn from [0, that] ("full jitter", as Celery's retry_jitter).
        """
        if self.backoff == "fixed":
            return self.delay
        ceiling = min(self.backoff_max, self.delay * 2.0 ** min(retries, 1023))
        return (rng or random).uniform(0, ceiling) if self.jitter else ceiling

    def budget(self) -> float:
        """The longest total of the delays between retries: what a failing run may take."""
        if self.backoff == "fixed":
            return self.delay * self.max_retries
        total, step = 0.0, float(self.delay)
        for attempt in range(min(self.max_retries, 1100)):
            if step >= self.backoff_max:
                return total + self.backoff_max * (self.max_retries - attempt)
            total, step = total + step, step * 2
        return total


class TaskSpec(Model):
    """A task: its handler and every Celery option gitbeat applies to it."""

    handler: Handler | None = None
    queue: Name | None = None
    retry: RetrySpec | None = None
    time_limit: PositiveDuration | None = None
    soft_time_limit: PositiveDuration | None = None
    rate_limit: RateLimit | None = None
    acks_late: bool | None = None
    priority: Priority | None = None
    expires: PositiveDuration | None = None
    ignore_result: bool | None = None
    description: str | None = None


SolarEvent = Literal[
    "dawn_astronomical",
    "dawn_nautical",
    "dawn_civil",
    "sunrise",
    "solar_noon",
    "sunset",
    "dusk_civil",
    "dusk_nautical",
    "dusk_astronomical",
]


class SolarSpec(Model):
    """A solar event at a place, as Celery's `solar` schedule."""

    event: SolarEvent
    latitude: Annotated[float, Field(ge=-90, le=90)]
    longitude: Annotated[float, Field(ge=-180, le=180)]


TIMINGS = ("cron", "every", "at", "solar")


class ScheduleSpec(Model):
    """A schedule: when to send which task, with which arguments and options."""

    task: Name
    cron: CronText | None = None
    every: PositiveDuration | None = None
    at: Moment | None = None
    solar: SolarSpec | None = None
    timezone: TimeZoneName | None = Field(None, description="default: gitbeat.yaml's timezone, else UTC")
    args: list[JsonValue] = Field(default_factory=list)
    kwargs: dict[str, JsonValue] = Field(default_factory=dict)
    enabled: bool = True
    note: str | None = Field(None, description="why the schedule is paused")
    alert_after: PositiveDuration | None = Field(
        None, description="no successful run for this long: the schedule is stale (a dead man's switch)"
    )
    description: str | None = None
    start_at: Moment | None = None
    end_at: Moment | None = None
    queue: Name | None = None
    routing_key: AmqpName | None = None
    priority: Priority | None = None
    expires: PositiveDuration | None = None
    jitter: PositiveDuration | None = Field(None, description="random delay in [0, jitter)")
    overlap: Literal["allow", "skip"] = "allow"
    catchup: Literal["latest", "skip", "all"] = "latest"
    catchup_window: PositiveDuration | None = None

    @property
    def timing(self) -> str:
        return next(kind for kind in TIMINGS if getattr(self, kind) is not None)

    @model_validator(mode="after")
    def _one_timing(self) -> ScheduleSpec:
        given = [kind for kind in TIMINGS if getattr(self, kind) is not None]
        if not given:
            raise ValueError("a schedule needs one of cron, every, at, solar")
        if len(given) > 1:
            raise LocatedValueError(
                f"a schedule has exactly one of cron, every, at, solar; found {' and '.join(given)}", given[1]
            )
        if self.start_at and self.end_at and _naive(self.end_at) <= _naive(self.start_at):
            raise LocatedValueError("end_at must be after start_at", "end_at")
        return self


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


def _none_is_empty(value: Any) -> Any:
    return {} if value is None else value


class ConfigFile(Model):
    """One YAML file under tasks/ or schedules/."""

    queues: Annotated[dict[Name, QueueSpec], BeforeValidator(_none_is_empty)] = Field(default_factory=dict)
    tasks: Annotated[dict[Name, TaskSpec], BeforeValidator(_none_is_empty)] = Field(default_factory=dict)
    schedules: Annotated[dict[Name, ScheduleSpec], BeforeValidator(_none_is_empty)] = Field(default_factory=dict)


class ProjectSpec(Model):
    """gitbeat.yaml: the project's defaults."""

    timezone: TimeZoneName = "UTC"
    default_queue: Name = Field(default="celery", description="the queue of a task that names none (Celery's default)")
    imports: list[ModuleName] = Field(default_factory=list, description="modules that register tasks")
    history_limit: Annotated[int, Field(ge=1, le=100_000)] = Field(
        default=100, description="runs kept per schedule in the ledger: this many succeeded and as many others"
    )


SECTIONS: dict[str, type[Model]] = {"queues": QueueSpec, "tasks": TaskSpec, "schedules": ScheduleSpec}
