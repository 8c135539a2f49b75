"""Read RedBeat's entries from Redis, decoded by RedBeat's own JSON decoder.

Every entry RedBeat schedules is a key of its `<prefix>:schedule` sorted set, a hash with the
entry's `definition` and its `meta` (last run, run count). Crontabs read wall times in the
Celery app's timezone, which Redis does not hold: `--timezone` says it (default UTC, Celery's).
RedBeat runs an entry that never ran as soon as its beat starts.
"""

from __future__ import annotations

from typing import Any, cast

from ..errors import GitbeatError
from ..settings import safe_url
from .entry import Source, SourceEntry

DEFAULT_PREFIX = "redbeat:"  # RedBeat's redbeat_key_prefix


def read(url: str, prefix: str, timezone: str) -> Source:
    """Every entry scheduled under `prefix` in the Redis at `url`."""
    from importlib.metadata import version

    import redis
    from celery import Celery
    from celery import __version__ as celery_version
    from redbeat.schedulers import RedBeatSchedulerEntry

    # RedBeat's decoder builds crontabs on the current app: it carries the timezone they are read in.
    Celery("gitbeat-import", set_as_current=True, timezone=timezone)
    try:
        client = redis.Redis.from_url(url)
    except ValueError as error:
        raise GitbeatError(f"--from-redis: {safe_url(url)!r} is not a Redis URL ({error})") from None
    try:
        keys = cast(list[bytes], client.zrange(prefix + ":schedule", 0, -1))
        rows = [(key.decode(), client.hget(key, "definition"), client.hget(key, "meta")) for key in keys]
    except redis.RedisError as error:
        raise GitbeatError(f"cannot read RedBeat's entries at {safe_url(url)}: {error}") from None
    finally:
        client.close()
    entries = []
    for key, definition, meta in rows:
        if not definition:
            continue  # a key left in the set without its hash: RedBeat drops it too
        try:
            fields = RedBeatSchedulerEntry.decode_definition(definition)
            state = RedBeatSchedulerEntry.decode_meta(meta)
        except (ValueError, TypeError, KeyError) as error:
            raise GitbeatError(f"RedBeat entry {key!r} cannot be decoded: {error}") from None
        entries.append(_entry(key, fields, state, timezone))
    library = f"celery-redbeat {version('celery-redbeat')}, Celery {celery_version}"
    return Source("redbeat", f"{safe_url(url)} ({prefix}*)", library, entries)


def _entry(key: str, fields: dict[str, Any], state: dict[str, Any], timezone: str) -> SourceEntry:
    schedule = fields["schedule"]
    return SourceEntry(
        name=str(fields.get("name") or key), origin=f"RedBeat entry {key!r} ({schedule!r})", task=fields["task"],
        schedule=schedule, timezone=timezone, args=fields.get("args") or [], kwargs=fields.get("kwargs") or {},
        options=dict(fields.get("options") or {}), enabled=bool(fields.get("enabled", True)),
        last_run_at=state.get("last_run_at"), run_count=int(state.get("total_run_count") or 0),
        never_run_from=None, never_run_note="RedBeat runs an entry that never ran as soon as its beat starts",
    )
