"""Benchmark: gitbeat's beat Scheduler, beside sqlalchemy-celery-beat (scb) and RedBeat measured in the same run.

The rows of SPEC §7 about beat, gitbeat first, then the anchors on the same machine:

1. start-up with 10,000 and with 100,000 schedules (--startup-sizes): constructing the
   Scheduler (not lazy) and its first tick, until its heap is ready, in a process that does
   only that; its peak RSS (VmHWM). The generated trees hold a task per 10 schedules in a file
   per 100 (100,000: 10,000 tasks in 1,000 files). gitbeat on PostgreSQL and, in the same run,
   on MariaDB (the other rows: PostgreSQL). Anchor at 10,000: scb's DatabaseScheduler on its
   own PostgreSQL database holding the same schedules; none at 100,000 (SPEC §7 records none).
2. tick with nothing due, with 10, 1,000 and 10,000 schedules (flat in N): a tight loop of
   `tick()` (housekeeping falls in as it does, every 0.2 s), and a paced loop that sleeps
   what tick returns, as beat does. Ticks that sent something are left out and counted.
   gitbeat leads (the advisory lock) throughout. Anchors: scb and RedBeat (its lock held).
3. an applied change -> used by a running beat: a real `gitbeat beat` process (PostgreSQL,
   RabbitMQ) with 10,001 schedules; one schedule's args changed 20 times by a store apply
   (in this process, timed to its commit); measured from outside, on the beat's log line
   "revision N: 1 schedule(s) changed" as this process reads it, and on the first message in
   RabbitMQ carrying the new args (that one also waits for the schedule's next due, every 1s).
   Anchor: a real `celery beat` with scb, its PeriodicTask edited through its ORM.
4. due time -> task published, with 1,000 other schedules: 20 `every: 1s` schedules (their
   phases 50 ms apart) among 1,000 generated ones, the real tick loop for 20 s, the publish
   timed in the process (gitbeat: when its batch's AMQP transaction commits; the anchors: when
   send returns after RabbitMQ confirms); checked against the messages
   drained from RabbitMQ afterwards. The same run counts each 1 s schedule's fires with a
   due time within its 20 s (gitbeat: due times on the anchor grid; the anchors count from
   their fire time, so they drift).
5. 1,000 schedules due at the same instant -> the last one published (`every: 1h` with one
   `start_at`: a batch of `at` one-offs fails its claim on PostgreSQL, see the note in burst()).

Targets (SPEC §7): start-up <= 0.4 s and <= 60 MB at 10,000, <= 2 s and <= 150 MB at
100,000; tick <= 0.2 ms, flat in N; change p95 <= 0.5 s; due -> published p50 <= 2 ms,
p99 <= 10 ms; 20 fires in 20 s; burst <= 0.3 s. On MariaDB: start-up <= 0.5 s at 10,000
(its peak RSS printed), <= 2 s and <= 150 MB at 100,000.

Needs PostgreSQL (trust auth), MariaDB or MySQL (--skip-mariadb to leave it out),
RabbitMQ and Redis (defaults below) and the bench extra (`pip install -e '.[bench]'`:
sqlalchemy-celery-beat, celery-redbeat). Every database (on either server), RabbitMQ
queue and exchange, Redis key and process the run creates is removed at the end, also
on failure. About 4 minutes with the anchors; --skip-anchors for about 1.5; the 100,000
start-up adds about a minute (generating, applying and starting it on each database):
--startup-sizes 10000 leaves it out.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

SCHEDULES = 10_000
# The generated trees keep the realistic config's proportions (SPEC §7: 1,000 tasks for 10,000 schedules)
# at every size, so the 100,000 start-up reads ten times the tasks too, not 100 schedules per task.
SCHEDULES_PER_TASK = 10
SCHEDULES_PER_FILE = 100
STARTUP_LARGE = 100_000
TICK_SIZES = (10, 1_000, 10_000)
STARTUP_RUNS = 3
TICK_SECONDS = 2.0  # tight loop, per size
PACED_SECONDS = 5.0  # sleeping what tick returns, per size: 25 ticks, 5 leader checks, a heartbeat
ANCHOR_TICK_SECONDS = 2.5
ANCHOR_MIN_TICKS = 25
CHANGES = 20
SCB_CHANGES = 4
OTHERS = 1_000
MEASURED = 20
PHASE = 0.05  # seconds between the measured schedules' due times
WINDOW = 20  # seconds of the every-1s count
BURST = 1_000
SCB_BURST_SECONDS = 6.0  # scb sends one a tick: stop after this and extrapolate
LEAD = 5.0  # seconds from spawning a beat child to the first due time it is measured on

TARGET_STARTUP_S = 0.4  # 10,000 schedules, PostgreSQL (issue #15)
TARGET_STARTUP_MB = 60.0
TARGET_STARTUP_MARIADB_S = 0.5  # 10,000 schedules, MariaDB: the target it was given when it joined the bench
TARGET_STARTUP_LARGE_S = 2.0  # 100,000 schedules, either database
TARGET_STARTUP_LARGE_MB = 150.0
TARGET_TICK_MS = 0.2
TARGET_CHANGE_P95_S = 0.5
TARGET_DUE_P50_MS = 2.0
TARGET_DUE_P99_MS = 10.0
TARGET_FIRES = WINDOW
TARGET_BURST_S = 0.3


class StartupTarget(NamedTuple):
    """Row 1's target at one size on one database; no peak RSS target where none was set (it is printed)."""

    seconds: float
    mb: float | None


STARTUP_TARGETS: dict[int, dict[str, StartupTarget]] = {
    SCHEDULES: {"PostgreSQL": StartupTarget(TARGET_STARTUP_S, TARGET_STARTUP_MB),
                "MariaDB": StartupTarget(TARGET_STARTUP_MARIADB_S, None)},
    STARTUP_LARGE: {"PostgreSQL": StartupTarget(TARGET_STARTUP_LARGE_S, TARGET_STARTUP_LARGE_MB),
                    "MariaDB": StartupTarget(TARGET_STARTUP_LARGE_S, TARGET_STARTUP_LARGE_MB)},
}

# SPEC §7's anchor figures, printed where this run does not measure one.
RECORDED = {
    "startup": "scb 1.27 s / 125 MB, dcb 0.96 s / 87 MB",
    "tick": "scb 20 ms, dcb 9.9 ms, RedBeat 0.53 ms",
    "change": "scb 3.4-4.4 s, dcb 3.6-4.4 s, RedBeat up to 300 s",
    "due": "RedBeat 2.0 / 4.1 ms, dcb 4.0 / 10.7 ms, scb 5.3 / 16.3 ms",
    "every": "all four anchors: 19",
    "burst": "scb 24 ms and dcb 11 ms per dispatch, one per tick; RedBeat 0.5 ms",
}

SCB_SCHEDULER = "sqlalchemy_celery_beat.schedulers:DatabaseScheduler"


# --- small helpers ---------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))]


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def ms(seconds: float) -> str:
    if seconds != seconds:  # nan
        return "n/a"
    value = seconds * 1000
    if value < 0.1:
        return f"{value * 1000:.1f} µs"
    return f"{value:.3f} ms" if value < 1 else f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.3f} s"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def iso(moment: float) -> str:
    """A UTC instant as the naive wall time a schedule in UTC reads."""
    return datetime.fromtimestamp(moment, UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def scb_uri(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg2://", 1)


# --- children: each measurement in a process of its own ---------------------------------


def _vm() -> dict[str, float]:
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                values[key] = int(value.split()[0]) / 1024
    return values


def _maxrss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _gitbeat_app(p: dict[str, Any]) -> Any:
    """The Celery app as `gitbeat beat` builds it: settings, then the latest revision's config."""
    from gitbeat.app import create_app
    from gitbeat.settings import Settings, normalise_database_url
    from gitbeat.store import Store
    from gitbeat.store.beat import BeatStore

    root = Path(p["root"])
    settings = Settings(_env_file=None, database_url=p["url"], broker_url_override=p["broker"])  # type: ignore[call-arg]
    store = Store(normalise_database_url(p["url"], root))
    _, config = BeatStore(store).revision_config()
    store.engine.dispose()
    return create_app(root, settings, config)


def _anchor_app(p: dict[str, Any]) -> Any:
    """A plain Celery app for scb or RedBeat, publishing the way gitbeat's does."""
    from celery import Celery

    app = Celery("bench-anchor", set_as_current=True)
    app.conf.update(
        broker_url=p["broker"],
        timezone="UTC",
        enable_utc=True,
        task_default_queue=p["default_queue"],
        task_default_exchange=p["default_queue"],
        task_default_routing_key=p["default_queue"],
        task_create_missing_queues=True,
        broker_connection_retry_on_startup=True,
    )
    if p["broker"].startswith("amqp"):
        app.conf.broker_transport_options = {"confirm_publish": True}  # as gitbeat's app
    if "dburi" in p:
        app.conf.beat_dburi = scb_uri(p["dburi"])
    if "redis" in p:
        app.conf.redbeat_redis_url = p["redis"]
        app.conf.redbeat_key_prefix = p["prefix"]
    return app


def _anchor_scheduler(p: dict[str, Any], app: Any) -> Any:
    if p["kind"] == "scb":
        from sqlalchemy_celery_beat.schedulers import DatabaseScheduler

        return DatabaseScheduler(app=app)
    from types import SimpleNamespace

    from redbeat.schedulers import RedBeatScheduler, acquire_distributed_beat_lock

    scheduler = RedBeatScheduler(app=app)
    acquire_distributed_beat_lock(sender=SimpleNamespace(scheduler=scheduler))  # what beat_init does
    return scheduler


def _wrap(obj: Any, name: str, flags: dict[str, bool], times: dict[str, list[float]], key: str) -> None:
    """Replace obj.name by a wrapper that flags the call and times it."""
    original = getattr(obj, name)
    times.setdefault(key, [])

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        flags[key] = True
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            times[key].append(time.perf_counter() - start)

    setattr(obj, name, wrapper)


def child_startup(p: dict[str, Any]) -> dict[str, Any]:
    """Construct the Scheduler (not lazy) and tick once; nothing else in this process."""
    if p["kind"] == "gitbeat":
        app = _gitbeat_app(p)
        from gitbeat.scheduler import Scheduler

        before = _vm()
        start = time.perf_counter()
        scheduler = Scheduler(app=app)
        built = time.perf_counter()
        scheduler.tick()
        ticked = time.perf_counter()
        extra = {"leader": scheduler.state.leader, "entries": len(scheduler.entries), "heap": len(scheduler.heap)}
    else:
        app = _anchor_app(p)
        import sqlalchemy_celery_beat.schedulers  # noqa: F401 - imported before the clock starts, as gitbeat's

        before = _vm()
        start = time.perf_counter()
        scheduler = _anchor_scheduler(p, app)
        built = time.perf_counter()
        scheduler.tick()  # populates the heap
        ticked = time.perf_counter()
        extra = {"entries": len(scheduler._schedule or {}), "heap": len(scheduler._heap or [])}
    after = _vm()
    return {
        "construct": built - start,
        "first_tick": ticked - built,
        "total": ticked - start,
        "rss_before": before["VmRSS"],
        "hwm": after["VmHWM"],
        # ru_maxrss is not used: on Linux it keeps the high-water mark of the image forked from the
        # bench (before exec), so it shows the parent's size; VmHWM is this program's own peak.
        "maxrss": _maxrss_mb(),
        **extra,
    }


def child_tick(p: dict[str, Any]) -> dict[str, Any]:
    """tick() in a tight loop, then paced as beat runs it; ticks that sent something are set apart."""
    flags: dict[str, bool] = {}
    times: dict[str, list[float]] = {}
    if p["kind"] == "gitbeat":
        app = _gitbeat_app(p)
        from gitbeat.scheduler import Scheduler

        scheduler = Scheduler(app=app)
        if not scheduler.state.leader:
            raise RuntimeError("the gitbeat scheduler does not lead")
        _wrap(scheduler, "_fire", flags, times, "fire")
        _wrap(scheduler, "_housekeeping", flags, times, "housekeeping")
        _wrap(scheduler, "_check_leadership", flags, times, "leader_check")
        _wrap(scheduler, "_reload_changed", flags, times, "rescan")
        _wrap(scheduler.beatstore, "heartbeat", flags, times, "heartbeat")
    else:
        app = _anchor_app(p)
        scheduler = _anchor_scheduler(p, app)
        _wrap(scheduler, "apply_entry" if p["kind"] == "scb" else "apply_async", flags, times, "fire")
        flags.setdefault("housekeeping", False)
    tick = scheduler.tick
    clock = time.perf_counter
    start = clock()
    tick()
    first_tick = clock() - start
    first_parts = {key: sum(values) for key, values in times.items() if values}
    for values in times.values():
        values.clear()

    def loop(seconds: float, paced: bool) -> dict[str, Any]:
        quiet: list[float] = []
        housekeeping: list[float] = []
        fired: list[float] = []
        begin = clock()
        end = begin + seconds
        while True:
            flags["fire"] = flags["housekeeping"] = False
            a = clock()
            interval = tick()
            b = clock()
            (fired if flags["fire"] else housekeeping if flags["housekeeping"] else quiet).append(b - a)
            if len(quiet) + len(housekeeping) + len(fired) >= p.get("min_ticks", 0) and b >= end:
                break
            if paced and interval and interval > 0:
                time.sleep(min(interval, max(end - clock(), 0.0)))
        elapsed = clock() - begin
        idle = quiet + housekeeping
        return {
            "ticks": len(idle) + len(fired),
            "quiet_n": len(quiet),
            "quiet_mean": mean(quiet),
            "quiet_median": statistics.median(quiet) if quiet else float("nan"),
            "quiet_p99": pct(quiet, 99) if quiet else float("nan"),
            "hk_n": len(housekeeping),
            "hk_mean": mean(housekeeping),
            "hk_max": max(housekeeping, default=float("nan")),
            "natural_mean": mean(idle),
            "natural_median": statistics.median(idle) if idle else float("nan"),
            "fired_n": len(fired),
            "busy_per_s": sum(idle) / elapsed,  # ticks that sent nothing
            "elapsed": elapsed,
        }

    def parts() -> dict[str, tuple[int, float, float]]:
        found = {key: (len(values), mean(values), max(values, default=0.0)) for key, values in times.items()}
        for values in times.values():
            values.clear()
        return found

    tight = loop(p["seconds"], paced=False)
    tight_parts = parts()
    paced = loop(p["paced_seconds"], paced=True) if p.get("paced_seconds") else None
    result: dict[str, Any] = {"first_tick": first_tick, "first_parts": first_parts, "tight": tight,
                              "parts": tight_parts, "paced": paced, "paced_parts": parts()}
    if p["kind"] == "gitbeat":
        result["leader"] = scheduler.state.leader
        result["entries"] = len(scheduler.entries)
    else:
        result["entries"] = len(scheduler._schedule or {}) if p["kind"] == "scb" else None
    scheduler.close()
    return result


def child_run(p: dict[str, Any]) -> dict[str, Any]:
    """The real tick loop (as celery.beat.Service runs it) until `until`, every publish timed."""
    records: list[tuple[str, float | None, float, float]] = []  # (name, due, sent, send began)
    watched = {"n": 0}
    prefix, wanted = p.get("stop_prefix"), p.get("stop_count")
    fires: list[tuple[float, float, int, int]] = []
    if p["kind"] == "gitbeat":
        app = _gitbeat_app(p)
        from gitbeat.scheduler import Scheduler

        scheduler = Scheduler(app=app)
        leader = scheduler.state.leader
        publish = scheduler.sender.publish

        def timed_publish(prepared: list[Any]) -> Any:
            # A batch is published when Sender.publish returns: on RabbitMQ that is its AMQP tx.commit,
            # so every message of the batch counts as published then. Its messages were built before
            # (after the claim, ahead of the due time); the run ledger's writes are in the fire.
            began = time.time()
            result = publish(prepared)
            done = time.time()
            for item in prepared:
                headers = item.options.get("headers") or {}
                name, due = headers.get("gitbeat_schedule"), headers.get("gitbeat_due")
                records.append((name, datetime.fromisoformat(due).timestamp() if due else None, done, began))
                if prefix and name and name.startswith(prefix):
                    watched["n"] += 1
            return result

        scheduler.sender.publish = timed_publish
        fire = scheduler._fire

        def timed_fire(wall: float) -> None:
            begin, before = time.time(), len(records)
            fire(wall)
            fires.append((begin, time.time(), before, len(records)))

        scheduler._fire = timed_fire
    else:
        from celery.schedules import crontab, schedule

        app = _anchor_app(p)
        scheduler = _anchor_scheduler(p, app)
        leader = True
        apply_async = scheduler.apply_async

        def timed_apply_async(entry: Any, producer: Any = None, advance: bool = True, **kwargs: Any) -> Any:
            due = None
            timing = entry.schedule
            if isinstance(timing, schedule) and not isinstance(timing, crontab) and entry.last_run_at is not None:
                due = (entry.last_run_at + timing.run_every).timestamp()  # they count from the last fire
            began = time.time()
            result = apply_async(entry, producer, advance, **kwargs)
            records.append((entry.name, due, time.time(), began))
            if prefix and entry.name.startswith(prefix):
                watched["n"] += 1
            return result

        scheduler.apply_async = timed_apply_async
    ready = time.time()
    until = p["until"]
    while True:
        if time.time() >= until or (wanted and watched["n"] >= wanted):
            break
        interval = scheduler.tick()
        if interval and interval > 0:
            time.sleep(min(interval, max(until - time.time(), 0.0)))
            if scheduler.should_sync():
                scheduler._do_sync()
    ended = time.time()
    scheduler.close()
    return {"ready": ready, "ended": ended, "leader": leader, "records": records, "fires": fires}


def child_profile(p: dict[str, Any]) -> dict[str, Any]:
    """Where gitbeat's start-up time and memory go: RSS after each import, cProfile and tracemalloc of the build."""
    import cProfile
    import io
    import pstats
    import tracemalloc

    steps = []
    for module in ("kombu", "celery", "celery.beat", "sqlalchemy", "psycopg2", "pydantic", "gitbeat.spec",
                   "gitbeat.store", "gitbeat.app", "gitbeat.scheduler"):
        __import__(module)
        steps.append((module, _vm()["VmRSS"]))
    app = _gitbeat_app(p)
    steps.append(("app + revision config", _vm()["VmRSS"]))
    from gitbeat.scheduler import Scheduler

    profiler = cProfile.Profile()
    profiler.enable()
    scheduler = Scheduler(app=app)
    scheduler.tick()
    profiler.disable()
    steps.append(("Scheduler built, first tick", _vm()["VmRSS"]))
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("cumulative").print_stats(28)
    calls = text.getvalue()
    scheduler.close()
    del scheduler
    import gc

    gc.collect()
    tracemalloc.start(1)
    scheduler = Scheduler(app=app)
    scheduler.tick()
    snapshot = tracemalloc.take_snapshot()
    current, peak = tracemalloc.get_traced_memory()
    top = [f"{stat.size / 1e6:7.2f} MB {stat.count:8d} blocks  {stat.traceback[0]}"
           for stat in snapshot.statistics("lineno")[:14]]
    held = sum(stat.size for stat in snapshot.statistics("filename")) / 1e6
    tracemalloc.stop()
    gc.collect()
    began = time.perf_counter()
    gc.collect()
    sizes = {
        "entries": len(scheduler.entries),
        "gc_full_ms": (time.perf_counter() - began) * 1000,
        "gc_objects": len(gc.get_objects()),
    }
    scheduler.close()
    return {"steps": steps, "calls": calls, "top": top, "traced_current": current / 1e6, "traced_peak": peak / 1e6,
            "held": held, "hwm": _vm()["VmHWM"], **sizes}


CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "startup": child_startup,
    "tick": child_tick,
    "run": child_run,
    "profile": child_profile,
}


def run_child(mode: str, params: dict[str, Any], timeout: float = 180.0) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", mode, json.dumps(params)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITBEAT_", "CELERY_"))}
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if result.returncode != 0 or not result.stdout.strip():
        raise RuntimeError(f"child {mode} ({params.get('kind')}) exited {result.returncode}:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- config trees ----------------------------------------------------------------------


class Names:
    """Fresh names for this run: RabbitMQ queues (and their exchanges), Redis key prefixes."""

    ROLES = ("default", "reports", "reports.dlq", "probe", "due", "burst", "probe-scb", "due-scb", "due-redbeat",
             "burst-scb", "burst-redbeat", "celery")

    def __init__(self) -> None:
        self.token = secrets.token_hex(4)
        self.queue_prefix = f"bench_{self.token}_"
        self.redis_prefix = f"gitbeat-bench-{self.token}"

    def queue(self, role: str) -> str:
        return f"{self.queue_prefix}{role}"

    def all_queues(self) -> list[str]:
        return [self.queue(role) for role in self.ROLES]


def make_tree(root: Path, names: Names, schedules: int, tasks: int, files: int) -> Path:
    """A generated config (bench/generate.py) whose queues carry this run's fresh names."""
    from generate import generate

    generate(root, schedules, tasks, files, handlers=True)
    default, reports = names.queue("default"), names.queue("reports")
    (root / "gitbeat.yaml").write_text(f"timezone: UTC\ndefault_queue: {default}\n")
    rename = {"default": default, "reports": reports}
    for path in (root / "tasks").rglob("*.yaml"):
        text = path.read_text()
        text = text.replace("\n  default: {}\n", f"\n  {default}: {{}}\n").replace("\n  reports:\n", f"\n  {reports}:\n")
        text = re.sub(r"^    queue: (default|reports)$", lambda m: f"    queue: {rename[m.group(1)]}", text, flags=re.M)
        path.write_text(text)
    extra = "".join(f"  {names.queue(role)}: {{}}\n" for role in ("probe", "due", "burst"))
    (root / "tasks" / "bench.yaml").write_text("queues:\n" + extra)
    return root


def write_schedules(root: Path, filename: str, schedules: dict[str, dict[str, Any]]) -> None:
    path = root / "schedules" / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"schedules": schedules}, indent=1) + "\n")  # JSON is YAML


def load_desired(root: Path) -> Any:
    from gitbeat.loader import load_config
    from gitbeat.planner import desired_state

    config, diagnostics = load_config(root)
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        raise RuntimeError(f"the bench config under {root} has {len(errors)} errors, e.g. {errors[0]}")
    return desired_state(config)


def apply_desired(url: str, desired: Any) -> tuple[float, float, int | None]:
    """A store apply in this process: (started, committed, revision), as epoch seconds."""
    from gitbeat.settings import normalise_database_url
    from gitbeat.store import RevisionMeta, Store

    store = Store(normalise_database_url(url, Path(".")))
    try:
        started = time.time()
        _, revision = store.apply(desired, RevisionMeta(author="bench/beat.py"), datetime.now(UTC))
        committed = time.time()
    finally:
        store.engine.dispose()
    return started, committed, revision


# --- the anchors' stores -----------------------------------------------------------------


def scb_rows(root: Path) -> list[dict[str, Any]]:
    """The generated schedules as scb fields (cron and every), as bench/store.py maps them."""
    from store import anchor_rows

    return anchor_rows(root)


def scb_fill(url: str, rows: list[dict[str, Any]]) -> None:
    """scb's tables with these rows, inserted in bulk (one at a time takes a minute: bench/store.py)."""
    import sqlalchemy as sa
    from sqlalchemy_celery_beat.models import (
        CrontabSchedule,
        IntervalSchedule,
        Period,
        PeriodicTask,
        PeriodicTaskChanged,
    )
    from sqlalchemy_celery_beat.session import ModelBase

    engine = sa.create_engine(scb_uri(url)).execution_options(schema_translate_map={"celery_schema": None})
    try:
        ModelBase.metadata.create_all(engine)
        now = datetime.now(UTC)
        intervals_t, crontabs_t = IntervalSchedule.__table__, CrontabSchedule.__table__
        with engine.begin() as connection:
            everies = sorted({row["interval"] for row in rows if "interval" in row})
            ids = connection.execute(
                sa.insert(intervals_t).returning(intervals_t.c.id, sort_by_parameter_order=True),
                [{"every": every, "period": Period.SECONDS} for every in everies],
            ).scalars().all() if everies else []
            interval_id = dict(zip(everies, ids))
            crons = sorted({tuple(sorted(row["crontab"].items())) for row in rows if "crontab" in row})
            ids = connection.execute(
                sa.insert(crontabs_t).returning(crontabs_t.c.id, sort_by_parameter_order=True),
                [dict(cron) for cron in crons],
            ).scalars().all() if crons else []
            cron_id = dict(zip(crons, ids))
            tasks = []
            for row in rows:
                if "interval" in row:
                    kind, schedule_id = "intervalschedule", interval_id[row["interval"]]
                else:
                    kind, schedule_id = "crontabschedule", cron_id[tuple(sorted(row["crontab"].items()))]
                tasks.append({
                    "name": row["name"], "task": row["task"], "args": row["args"], "kwargs": row["kwargs"],
                    "queue": row["queue"], "priority": row["priority"], "expire_seconds": row["expire_seconds"],
                    "enabled": row["enabled"], "last_run_at": row.get("last_run_at"), "total_run_count": 0,
                    "one_off": False, "headers": "{}", "description": "", "date_changed": now,
                    "discriminator": kind, "schedule_id": schedule_id,
                })
            connection.execute(sa.insert(PeriodicTask.__table__), tasks)
            connection.execute(sa.insert(PeriodicTaskChanged.__table__).values(id=1, last_update=now))
    finally:
        engine.dispose()


def redbeat_fill(redis_url: str, prefix: str, broker: str, rows: list[dict[str, Any]]) -> None:
    """RedBeat's keys for these rows in one pipeline, as RedBeatSchedulerEntry.save() writes each."""
    from celery.schedules import crontab, schedule
    from redbeat.decoder import RedBeatJSONEncoder
    from redbeat.schedulers import RedBeatSchedulerEntry, get_redis

    app = _anchor_app({"broker": broker, "default_queue": "unused", "redis": redis_url, "prefix": prefix})
    from redbeat.schedulers import ensure_conf

    ensure_conf(app)
    client = get_redis(app)
    now = datetime.now(UTC)
    with client.pipeline(transaction=False) as pipe:
        for row in rows:
            if "interval" in row:
                timing = schedule(timedelta(seconds=row["interval"]))
            else:
                cron = row["crontab"]  # RedBeat keeps no timezone per crontab: the app's (UTC)
                timing = crontab(minute=cron["minute"], hour=cron["hour"], day_of_week=cron["day_of_week"],
                                 day_of_month=cron["day_of_month"], month_of_year=cron["month_of_year"])
            options = {"queue": row["queue"]}
            if row.get("priority") is not None:
                options["priority"] = row["priority"]
            if row.get("expire_seconds"):
                options["expires"] = row["expire_seconds"]
            entry = RedBeatSchedulerEntry(row["name"], row["task"], timing, json.loads(row["args"]),
                                          json.loads(row["kwargs"]), options=options, app=app)
            entry.last_run_at = row.get("last_run_at") or now
            # RedBeat's own score is last_run_at + (time left from now): right only when last_run_at is
            # now, as when it saves after a fire; these may lie ahead (or an hour back): the due time itself.
            if isinstance(timing, schedule) and not isinstance(timing, crontab):
                score = (entry.last_run_at + timing.run_every).timestamp()
            else:
                score = entry.score
            definition = {"name": entry.name, "task": entry.task, "args": entry.args, "kwargs": entry.kwargs,
                          "options": entry.options, "schedule": entry.schedule, "enabled": True}
            pipe.hset(entry.key, "definition", json.dumps(definition, cls=RedBeatJSONEncoder))
            pipe.hset(entry.key, "meta", json.dumps({"last_run_at": entry.last_run_at}, cls=RedBeatJSONEncoder))
            pipe.zadd(app.redbeat_conf.schedule_key, {entry.key: score})
        pipe.execute()


# --- cleanup -----------------------------------------------------------------------------


class Processes:
    """Long-running children (beats): terminated by their pid at the end, also on failure."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen[str]] = []

    def start(self, command: list[str], **kwargs: Any) -> subprocess.Popen[str]:
        process = subprocess.Popen(command, **kwargs)
        self.running.append(process)
        return process

    def stop(self, process: subprocess.Popen[str]) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if process in self.running:
            self.running.remove(process)

    def stop_all(self) -> None:
        for process in list(self.running):
            self.stop(process)


def cleanup_rabbitmq(url: str, names: Names) -> int:
    """Delete this run's queues and exchanges (the known names, and any rabbitmqctl lists with the prefix)."""
    from kombu import Connection

    queues = set(names.all_queues())
    try:
        listed = subprocess.run(["rabbitmqctl", "-q", "list_queues", "name"], capture_output=True, text=True,
                                timeout=30)
        queues |= {line.strip() for line in listed.stdout.splitlines() if line.strip().startswith(names.queue_prefix)}
    except (OSError, subprocess.TimeoutExpired):
        pass
    deleted = 0
    with Connection(url, connect_timeout=5) as connection:
        channel = connection.channel()
        for name in sorted(queues):
            for delete in ("queue_delete", "exchange_delete"):
                try:
                    getattr(channel, delete)(name)
                    deleted += delete == "queue_delete"
                except Exception:
                    channel = connection.channel()
    return deleted


def cleanup_redis(url: str, names: Names) -> int:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{names.redis_prefix}*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])
    client.close()
    return len(keys)


# --- watching a running beat from outside ---------------------------------------------------


class LogWatch(threading.Thread):
    """Reads a process's output, each line stamped with the time this process read it."""

    def __init__(self, stream: Any) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.lines: list[tuple[float, str]] = []
        self.changed = threading.Condition()

    def run(self) -> None:
        for raw in self.stream:
            stamp = time.time()
            with self.changed:
                self.lines.append((stamp, raw.rstrip("\n")))
                self.changed.notify_all()

    def wait_for(self, pattern: str, start: int, timeout: float) -> tuple[float, str, re.Match[str], int] | None:
        """The first line from index `start` on that matches: (time read, line, match, index after it)."""
        regex = re.compile(pattern)
        deadline = time.time() + timeout
        index = start
        with self.changed:
            while True:
                while index < len(self.lines):
                    stamp, line = self.lines[index]
                    index += 1
                    match = regex.search(line)
                    if match:
                        return stamp, line, match, index
                remaining = deadline - time.time()
                if remaining <= 0:
                    return None
                self.changed.wait(remaining)

    def tail(self, n: int = 30) -> str:
        return "\n".join(line for _, line in self.lines[-n:])


class QueueWatch(threading.Thread):
    """Consumes one RabbitMQ queue, each message stamped with the time it arrived here."""

    def __init__(self, url: str, queue: str) -> None:
        super().__init__(daemon=True)
        self.url, self.queue = url, queue
        self.messages: list[tuple[float, Any, dict[str, Any]]] = []
        self.changed = threading.Condition()
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        from kombu import Connection, Exchange, Queue

        try:
            with Connection(self.url, connect_timeout=5) as connection:
                queue = Queue(self.queue, Exchange(self.queue, "direct"), routing_key=self.queue)
                with connection.Consumer(queue, callbacks=[self.on_message], accept=["json"]):
                    self.ready.set()
                    while not self.stopping.is_set():
                        try:
                            connection.drain_events(timeout=0.1)
                        except TimeoutError:
                            pass
        except BaseException as error:
            self.error = error
            self.ready.set()

    def on_message(self, body: Any, message: Any) -> None:
        stamp = time.time()
        args = body[0] if isinstance(body, (list, tuple)) and body else None
        with self.changed:
            self.messages.append((stamp, args, dict(message.headers or {})))
            self.changed.notify_all()
        message.ack()

    def wait_for(self, test: Callable[[Any, dict[str, Any]], bool], start: int, timeout: float
                 ) -> tuple[int, float, Any, dict[str, Any]] | None:
        deadline = time.time() + timeout
        index = start
        with self.changed:
            while True:
                while index < len(self.messages):
                    stamp, args, headers = self.messages[index]
                    index += 1
                    if test(args, headers):
                        return index, stamp, args, headers
                remaining = deadline - time.time()
                if remaining <= 0:
                    return None
                self.changed.wait(remaining)

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)


def drain(url: str, queue: str) -> list[tuple[Any, dict[str, Any]]]:
    """Every message waiting in a queue: (args, headers)."""
    from kombu import Connection, Exchange, Queue

    got: list[tuple[Any, dict[str, Any]]] = []

    def on_message(body: Any, message: Any) -> None:
        got.append((body[0] if isinstance(body, (list, tuple)) and body else None, dict(message.headers or {})))
        message.ack()

    with Connection(url, connect_timeout=5) as connection:
        queue_ = Queue(queue, Exchange(queue, "direct"), routing_key=queue)
        with connection.Consumer(queue_, callbacks=[on_message], accept=["json"], prefetch_count=500):
            while True:
                try:
                    connection.drain_events(timeout=0.5)
                except TimeoutError:
                    break
    return got


def asctime(line: str) -> float | None:
    """The time in a Celery log line, "[2026-11-25 09:16:03,123: INFO/MainProcess] ..."."""
    match = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})", line)
    if not match:
        return None
    return time.mktime(time.strptime(match.group(1), "%Y-%m-%d %H:%M:%S")) + int(match.group(2)) / 1000


# --- the rows -----------------------------------------------------------------------------


class Bench:
    def __init__(self, options: argparse.Namespace, directory: Path, dbs: Any, mariadb: Any, names: Names,
                 processes: Processes) -> None:
        self.o = options
        self.dir = directory
        self.dbs = dbs
        self.mariadb = mariadb  # the MariaDB server's databases, None with --skip-mariadb
        self.names = names
        self.processes = processes
        self.scb = not (options.skip_anchors or options.skip_scb)
        self.redbeat = not (options.skip_anchors or options.skip_redbeat)
        self.trees: dict[int, Path] = {}
        self.rows_cache: dict[int, list[dict[str, Any]]] = {}
        self.targets: list[str] = []

    @staticmethod
    def tree_shape(size: int) -> tuple[int, int]:
        """(tasks, files) of the generated tree with `size` schedules; the small sizes keep a few of each."""
        return max(10, size // SCHEDULES_PER_TASK), max(5, size // SCHEDULES_PER_FILE)

    def tree(self, size: int) -> Path:
        if size not in self.trees:
            self.trees[size] = make_tree(self.dir / f"tree{size}", self.names, size, *self.tree_shape(size))
        return self.trees[size]

    def rows(self, size: int) -> list[dict[str, Any]]:
        if size not in self.rows_cache:
            # the generated schedules only (not the bench's own probes), queues already this run's names
            self.rows_cache[size] = [row for row in scb_rows(self.tree(size)) if not row["name"].startswith("bench-")]
        return self.rows_cache[size]

    def gitbeat_db(self, label: str, root: Path, dbs: Any = None) -> str:
        url = (dbs or self.dbs).create(label)
        apply_desired(url, load_desired(root))
        return url

    def scb_db(self, label: str, rows: list[dict[str, Any]]) -> str:
        url = self.dbs.create(label)
        scb_fill(url, rows)
        return url

    def out(self, line: str = "") -> None:
        print(line, flush=True)

    # 1. start-up ---------------------------------------------------------------------------

    def startup(self) -> None:
        for size in self.o.startup_sizes:
            self.startup_at(size)

    def startup_runs(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """--runs start-up children, each also timed whole from here (spawn, imports, exit)."""
        results = []
        for _ in range(self.o.runs):
            began = time.perf_counter()
            result = run_child("startup", {"broker": "memory://", "default_queue": self.names.queue("default"),
                                           **params})
            result["process"] = time.perf_counter() - began
            results.append(result)
        return results

    def startup_line(self, label: str, results: list[dict[str, Any]]) -> tuple[float, float]:
        """Print one scheduler's start-up; return its median time and peak RSS."""
        total = statistics.median(r["total"] for r in results)
        hwm = statistics.median(r["hwm"] for r in results)
        self.out(f"   {label:18} {secs(total)} (construct {secs(statistics.median(r['construct'] for r in results))}"
                 f" + first tick {secs(statistics.median(r['first_tick'] for r in results))}; "
                 f"best {secs(min(r['total'] for r in results))}); peak RSS {hwm:.0f} MB (VmHWM; "
                 f"{statistics.median(r['rss_before'] for r in results):.0f} MB already after the imports); {results[0]['entries']:,} entries, heap {results[0]['heap']:,}; "
                 f"whole process {secs(statistics.median(r['process'] for r in results))}")
        return total, hwm

    def startup_at(self, size: int) -> None:
        log(f"1. start-up, {size:,} schedules")
        root = self.tree(size)
        servers = {"PostgreSQL": self.dbs, **({"MariaDB": self.mariadb} if self.mariadb else {})}
        gitbeat = {database: self.startup_runs({"kind": "gitbeat", "root": str(root),
                                                "url": self.gitbeat_db(f"startup_{size}", root, dbs)})
                   for database, dbs in servers.items()}
        # scb is SPEC §7's anchor at 10,000 only: it records none at 100,000, so none is measured there
        anchored = size == SCHEDULES
        scb = (self.startup_runs({"kind": "scb", "dburi": self.scb_db(f"startup_{size}_scb", self.rows(size))})
               if self.scb and anchored else [])
        tasks, files = self.tree_shape(size)
        self.out(f"1. beat start-up with {size:,} schedules ({tasks:,} tasks in {files:,} files): constructing the "
                 f"Scheduler (not lazy) and its first tick, heap ready; a process that does only that "
                 f"(n={self.o.runs}, median)")
        measured: dict[str, tuple[float, float]] = {}
        for database, results in gitbeat.items():
            measured[database] = self.startup_line(f"gitbeat {database}" if self.mariadb else "gitbeat", results)
            if not all(r.get("leader") for r in results):
                self.out(f"   WARNING: the gitbeat scheduler did not lead on {database}")
        if scb:
            scb_total, scb_hwm = self.startup_line("scb", scb)
            total, hwm = measured["PostgreSQL"]
            self.out(f"   ratio scb / gitbeat (both PostgreSQL): {scb_total / total:.1f}x the time, "
                     f"{scb_hwm / hwm:.1f}x the memory  (recorded in SPEC §7: {RECORDED['startup']})")
        elif anchored:
            self.out(f"   anchors recorded, not measured: {RECORDED['startup']}")
        else:
            self.out(f"   anchors: not measured at {size:,} (SPEC §7 records none)")
        self.out()
        for database, (total, hwm) in measured.items():
            target = STARTUP_TARGETS[size][database]
            where = f"start-up, {size:,} schedules, {database}"
            # without a memory target of its own, the peak RSS still stands beside the time
            rss = f"; peak RSS {hwm:.0f} MB" if target.mb is None else ""
            self.targets.append(f"{where} <= {target.seconds} s: {verdict(total <= target.seconds)} ({secs(total)}{rss})")
            if target.mb is not None:
                self.targets.append(f"{where}, peak RSS <= {target.mb:.0f} MB: {verdict(hwm <= target.mb)} "
                                    f"({hwm:.0f} MB)")

    # 2. tick -------------------------------------------------------------------------------

    def tick(self) -> None:
        log("2. tick")
        base = {"broker": "memory://", "default_queue": self.names.queue("default")}
        results: dict[str, dict[int, dict[str, Any]]] = {"gitbeat": {}, "scb": {}, "redbeat": {}}
        for size in TICK_SIZES:
            root = self.tree(size)
            url = self.gitbeat_db(f"tick{size}", root)
            results["gitbeat"][size] = run_child("tick", {
                **base, "kind": "gitbeat", "root": str(root), "url": url,
                "seconds": self.o.tick_seconds, "paced_seconds": PACED_SECONDS,
            })
            if self.scb:
                scb_url = self.scb_db(f"tick{size}_scb", self.rows(size))
                results["scb"][size] = run_child("tick", {
                    **base, "kind": "scb", "dburi": scb_url, "seconds": ANCHOR_TICK_SECONDS,
                    "min_ticks": ANCHOR_MIN_TICKS,
                })
            if self.redbeat:
                prefix = f"{self.names.redis_prefix}-tick{size}:"
                redbeat_fill(self.o.redis, prefix, "memory://", self.rows(size))
                results["redbeat"][size] = run_child("tick", {
                    **base, "kind": "redbeat", "redis": self.o.redis, "prefix": prefix,
                    "seconds": ANCHOR_TICK_SECONDS, "min_ticks": ANCHOR_MIN_TICKS,
                })
        self.out("2. beat tick with nothing due: mean (median) per tick; ticks that sent something are left out "
                 "(counted below)")
        self.out("   " + f"{'schedules':<44}" + "".join(f"{size:>24,}" for size in TICK_SIZES))

        def row(label: str, cell: Callable[[dict[str, Any]], str], kind: str = "gitbeat") -> None:
            cells = [cell(results[kind][size]) if size in results[kind] else "-" for size in TICK_SIZES]
            self.out("   " + f"{label:<44}" + "".join(f"{c:>24}" for c in cells))

        row("gitbeat, tight loop, housekeeping as it falls",
            lambda r: f"{ms(r['tight']['natural_mean'])} ({ms(r['tight']['natural_median'])})")
        row("  of which ticks without housekeeping",
            lambda r: f"{ms(r['tight']['quiet_mean'])} ({ms(r['tight']['quiet_median'])})")
        row("  ticks with housekeeping (every 0.2 s)",
            lambda r: f"{ms(r['tight']['hk_mean'])}, 1 in {r['tight']['ticks'] // max(r['tight']['hk_n'], 1):,}")
        row("gitbeat, paced as beat runs it",
            lambda r: f"{ms(r['paced']['natural_mean'])} ({ms(r['paced']['natural_median'])})")
        row("  its time in tick() per second (sending nothing)",
            lambda r: f"{r['paced']['busy_per_s'] * 1000:.2f} ms/s")
        row("scb, tight loop", lambda r: f"{ms(r['tight']['natural_mean'])} ({ms(r['tight']['natural_median'])})", "scb")
        row("RedBeat, tight loop (its lock extended)",
            lambda r: f"{ms(r['tight']['natural_mean'])} ({ms(r['tight']['natural_median'])})", "redbeat")
        g10k = results["gitbeat"][SCHEDULES]
        t, paced = g10k["tight"], g10k["paced"]
        self.out(f"   gitbeat at {SCHEDULES:,}: {t['ticks']:,} ticks in {t['elapsed']:.1f} s tight ({t['fired_n']} sent "
                 f"something), p99 without housekeeping {ms(t['quiet_p99'])}; paced: {paced['ticks']} ticks in "
                 f"{paced['elapsed']:.1f} s, {paced['hk_n']} of them with housekeeping, {paced['fired_n']} sent something; "
                 f"leader throughout: {'yes' if g10k['leader'] else 'NO'}")
        def described(parts: dict[str, list[float]]) -> str:
            found = []
            for key, label in (("housekeeping", "all housekeeping"), ("leader_check", "of which leader check (every 1 s)"),
                               ("heartbeat", "heartbeat (every 5 s)"), ("rescan", "revision reload/rescan")):
                count, average, _ = parts.get(key, (0, 0.0, 0.0))
                if count:
                    found.append(f"{label} {ms(average)} x{count}")
            return "; ".join(found) or "none"

        first = g10k["first_parts"]
        self.out(f"   housekeeping at {SCHEDULES:,}, tight loop: {described(g10k['parts'])}")
        self.out(f"   housekeeping at {SCHEDULES:,}, paced: {described(g10k['paced_parts'])}; the first tick "
                 f"{ms(g10k['first_tick'])} (a rescan of all rows, {ms(first.get('rescan', 0.0))}, then every 30 s)")
        small = results["gitbeat"][TICK_SIZES[0]]
        # medians: on a shared machine a mean moves with whoever else runs
        flat = t["natural_median"] / small["tight"]["natural_median"]
        flat_paced = paced["natural_median"] / small["paced"]["natural_median"]
        self.out(f"   flat in N: gitbeat {SCHEDULES:,} / {TICK_SIZES[0]} schedules, medians: {flat:.2f}x tight, "
                 f"{flat_paced:.2f}x paced (means: {t['natural_mean'] / small['tight']['natural_mean']:.2f}x, "
                 f"{paced['natural_mean'] / small['paced']['natural_mean']:.2f}x)")
        anchors = []
        for kind, label in (("scb", "scb"), ("redbeat", "RedBeat")):
            r = results[kind].get(SCHEDULES)
            if r:
                anchors.append(f"{label} {ms(r['tight']['natural_mean'])} = {r['tight']['natural_mean'] / t['natural_mean']:,.0f}x "
                               f"gitbeat's tight, {r['tight']['natural_mean'] / paced['natural_mean']:,.1f}x its paced "
                               f"({r['tight']['ticks']} ticks, {r['tight']['fired_n']} sent something)")
        if anchors:
            self.out(f"   anchors at {SCHEDULES:,}: {'; '.join(anchors)}  (recorded in SPEC §7: {RECORDED['tick']})")
        else:
            self.out(f"   anchors recorded, not measured: {RECORDED['tick']}")
        self.out()
        self.targets.append(f"tick <= {TARGET_TICK_MS} ms at {SCHEDULES:,}, tight loop, housekeeping as it falls: "
                            f"{verdict(t['natural_mean'] * 1000 <= TARGET_TICK_MS)} ({ms(t['natural_mean'])})")
        self.targets.append(f"tick <= {TARGET_TICK_MS} ms at {SCHEDULES:,}, paced as beat runs it (each tick housekeeps): "
                            f"{verdict(paced['natural_mean'] * 1000 <= TARGET_TICK_MS)} ({ms(paced['natural_mean'])})")
        self.targets.append(f"tick flat in N (<= 2x from {TICK_SIZES[0]} to {SCHEDULES:,}): "
                            f"{verdict(max(flat, flat_paced) <= 2.0)} (medians {flat:.2f}x tight, {flat_paced:.2f}x paced)")

    # 3. applied change -> running beat -------------------------------------------------------

    def beat_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITBEAT_", "CELERY_"))}
        env["CELERY_BROKER_URL"] = self.o.amqp
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def change(self) -> None:
        log("3. applied change -> running beat")
        from gitbeat.planner import DesiredSchedule, digest

        root = self.tree(SCHEDULES)
        probe_queue = self.names.queue("probe")
        write_schedules(root, "bench-probe.yaml", {
            "bench-probe": {"task": "area0.job0", "every": "1s", "args": [0], "queue": probe_queue}})
        desired = load_desired(root)
        count = len(desired.schedules)
        url = self.dbs.create("change")
        apply_desired(url, desired)
        watch = QueueWatch(self.o.amqp, probe_queue)
        watch.start()
        watch.ready.wait(10)
        if watch.error:
            raise RuntimeError(f"cannot consume from RabbitMQ: {watch.error}")
        spawned = time.time()
        beat = self.processes.start(
            [sys.executable, "-m", "gitbeat", "beat", "--config", str(root), "--database", url, "--loglevel", "INFO"],
            cwd=root, env=self.beat_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        )
        lines = LogWatch(beat.stdout)
        lines.start()
        try:
            loaded = lines.wait_for(r"beat: loaded (\d+) schedules", 0, 60)
            leads = lines.wait_for(r"leads; reloading", 0, 60)
            reloaded = lines.wait_for(r"beat: loaded (\d+) schedules", leads[3] if leads else 0, 60)
            if loaded is None or leads is None or reloaded is None:
                raise RuntimeError(f"gitbeat beat did not start:\n{lines.tail()}")
            first = watch.wait_for(lambda args, headers: True, 0, 15)
            if first is None:
                raise RuntimeError(f"gitbeat beat sent nothing to {probe_queue}:\n{lines.tail()}")
            samples = []
            probe = desired.schedules["bench-probe"]
            for k in range(1, self.o.changes + 1):
                time.sleep(random.uniform(0.05, 0.95))  # a random phase against the probe's 1 s
                spec = probe.spec.model_copy(update={"args": [k]})
                desired.schedules["bench-probe"] = DesiredSchedule("bench-probe", spec, digest(spec.model_dump_json()),
                                                                   probe.origin)
                mark, message_mark = len(lines.lines), len(watch.messages)
                started, committed, revision = apply_desired(url, desired)
                seen = lines.wait_for(rf"beat: revision {revision}: (\d+) schedule\(s\) changed", mark, 10)
                used = watch.wait_for(lambda args, headers, k=k: args == [k], message_mark, 5)
                if seen is None or used is None:
                    raise RuntimeError(f"change {k} (revision {revision}) was not picked up:\n{lines.tail()}")
                samples.append({
                    "apply": committed - started,
                    "log": seen[0] - committed,
                    "log_asctime": (asctime(seen[1]) or seen[0]) - committed,
                    "message": used[1] - committed,
                    "due_after_commit": float(datetime.fromisoformat(used[3]["gitbeat_due"]).timestamp()) - committed,
                    "changed": int(seen[2].group(1)),
                })
        finally:
            self.processes.stop(beat)
            watch.stop()
        scb_samples: list[dict[str, float]] = []
        scb_start = None
        if self.scb and self.o.scb_changes:
            scb_start, scb_samples = self.change_scb(count)
        self.out(f"3. applied change -> used by a running beat: a real `gitbeat beat` (PostgreSQL, RabbitMQ) with "
                 f"{count:,} schedules, one schedule's args changed {len(samples)} times by a store apply; from its commit")
        self.out(f"   `gitbeat beat` start-up, whole command: {loaded[0] - spawned:.2f} s to \"loaded {loaded[2].group(1)} "
                 f"schedules\", {reloaded[0] - spawned:.2f} s to leading with them loaded again (it reloads on taking "
                 f"the lead)")
        logs = [s["log"] for s in samples]
        stamps = [s["log_asctime"] for s in samples]
        messages = [s["message"] for s in samples]
        self.out(f"   gitbeat: beat logs \"revision N: 1 schedule(s) changed\" (read here): p50 {secs(pct(logs, 50))}, "
                 f"p95 {secs(pct(logs, 95))}, max {secs(max(logs))}; by the log line's own time: p50 "
                 f"{secs(pct(stamps, 50))}, p95 {secs(pct(stamps, 95))}")
        self.out(f"            first message with the new args in RabbitMQ: p50 {secs(pct(messages, 50))}, p95 "
                 f"{secs(pct(messages, 95))} (it also waits for the schedule's next due: every 1s); "
                 f"the apply itself (10,000 rows read and diffed, one updated) p50 {secs(pct([s['apply'] for s in samples], 50))}")
        if any(s["changed"] != 1 for s in samples):
            self.out(f"   WARNING: schedules changed per revision: {sorted({s['changed'] for s in samples})}")
        if scb_samples:
            s_logs = [s["log"] for s in scb_samples]
            s_messages = [s["message"] for s in scb_samples]
            self.out(f"   scb:     a real `celery beat -S {SCB_SCHEDULER}`, {count:,} schedules, started in "
                     f"{scb_start:.1f} s; the PeriodicTask edited through its ORM (n={len(scb_samples)}): logs "
                     f"\"Schedule changed.\" p50 {secs(pct(s_logs, 50))}, max {secs(max(s_logs))}; first message with "
                     f"the new args p50 {secs(pct(s_messages, 50))}, max {secs(max(s_messages))}")
            self.out(f"   ratio scb / gitbeat, first message with the new args, p50: "
                     f"{pct(s_messages, 50) / pct(messages, 50):.1f}x  (recorded in SPEC §7: {RECORDED['change']})")
        else:
            self.out(f"   anchors recorded, not measured: {RECORDED['change']}")
        self.out()
        p95 = pct(logs, 95)
        self.targets.append(f"applied change -> beat p95 <= {TARGET_CHANGE_P95_S} s: "
                            f"{verdict(p95 <= TARGET_CHANGE_P95_S)} ({secs(p95)}, on the beat's log line)")

    def change_scb(self, count: int) -> tuple[float, list[dict[str, float]]]:
        import sqlalchemy as sa
        from sqlalchemy.orm import sessionmaker
        from sqlalchemy_celery_beat.models import PeriodicTask

        probe_queue = self.names.queue("probe-scb")
        rows = [*self.rows(SCHEDULES), {
            "name": "bench-probe", "task": "area0.job0", "args": "[0]", "kwargs": "{}", "queue": probe_queue,
            "priority": None, "expire_seconds": None, "enabled": True, "interval": 1}]
        url = self.scb_db("change_scb", rows)
        module = self.dir / "scb_beat_app.py"
        module.write_text(
            "import os\nfrom celery import Celery\napp = Celery('scb-bench')\napp.conf.update(\n"
            "    broker_url=os.environ['BENCH_BROKER'], beat_dburi=os.environ['BENCH_DBURI'], timezone='UTC',\n"
            "    enable_utc=True, broker_transport_options={'confirm_publish': True}, task_create_missing_queues=True,\n"
            "    task_default_queue=os.environ['BENCH_QUEUE'], task_default_exchange=os.environ['BENCH_QUEUE'],\n"
            "    task_default_routing_key=os.environ['BENCH_QUEUE'])\n"
        )
        env = {**self.beat_env(), "PYTHONPATH": str(self.dir), "BENCH_BROKER": self.o.amqp, "BENCH_DBURI": scb_uri(url),
               "BENCH_QUEUE": self.names.queue("default")}
        watch = QueueWatch(self.o.amqp, probe_queue)
        watch.start()
        watch.ready.wait(10)
        spawned = time.time()
        beat = self.processes.start(
            [sys.executable, "-m", "celery", "-A", "scb_beat_app", "beat", "-S", SCB_SCHEDULER, "-l", "INFO",
             "--schedule", str(self.dir / "scb-beat-schedule")],
            cwd=self.dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
        )
        lines = LogWatch(beat.stdout)
        lines.start()
        engine = sa.create_engine(scb_uri(url)).execution_options(schema_translate_map={"celery_schema": None})
        samples = []
        try:
            first = watch.wait_for(lambda args, headers: True, 0, 60)
            if first is None:
                raise RuntimeError(f"scb's beat sent nothing:\n{lines.tail()}")
            started = first[1] - spawned
            session_factory = sessionmaker(bind=engine, expire_on_commit=False)
            for k in range(1, self.o.scb_changes + 1):
                time.sleep(random.uniform(0.05, 0.95))
                mark, message_mark = len(lines.lines), len(watch.messages)
                with session_factory() as session:
                    task = session.query(PeriodicTask).filter_by(name="bench-probe").one()
                    task.args = json.dumps([k])
                    session.commit()
                    committed = time.time()
                seen = lines.wait_for(r"DatabaseScheduler: Schedule changed", mark, 30)
                used = watch.wait_for(lambda args, headers, k=k: args == [k], message_mark, 30)
                if seen is None or used is None:
                    raise RuntimeError(f"scb did not pick change {k} up:\n{lines.tail()}")
                samples.append({"log": seen[0] - committed, "message": used[1] - committed})
        finally:
            engine.dispose()
            self.processes.stop(beat)
            watch.stop()
        return started, samples

    # 4. due -> published, and every 1s over 20 s -------------------------------------------------

    def due(self) -> None:
        log("4. due -> published, with 1,000 other schedules")
        root = self.tree(OTHERS)
        due_queue = self.names.queue("due")
        runs: dict[str, dict[str, Any]] = {}
        # gitbeat: start_at puts the measured schedules' due times PHASE apart, each on its own 1 s grid.
        start = math.ceil(time.time() + LEAD)
        starts = {f"due-{i:02}": start + i * PHASE for i in range(MEASURED)}
        write_schedules(root, "bench-due.yaml", {
            name: {"task": "area0.job0", "every": "1s", "start_at": iso(s + 1), "queue": due_queue}
            for name, s in starts.items()})
        url = self.dbs.create("due")
        apply_desired(url, load_desired(root))
        (root / "schedules" / "bench-due.yaml").unlink()
        until = start + WINDOW + MEASURED * PHASE + 0.6
        result = run_child("run", {"kind": "gitbeat", "root": str(root), "url": url, "broker": self.o.amqp,
                                   "until": until}, timeout=WINDOW + 60)
        result["starts"] = starts
        result["queue"] = due_queue
        runs["gitbeat"] = result
        rows = self.rows(OTHERS)
        for kind, label in (("scb", "scb"), ("redbeat", "RedBeat")):
            if not getattr(self, kind):
                continue
            queue = self.names.queue(f"due-{kind}")
            start = math.ceil(time.time() + LEAD)
            starts = {f"due-{i:02}": start + i * PHASE for i in range(MEASURED)}
            measured = [{"name": name, "task": "area0.job0", "args": "[]", "kwargs": "{}", "queue": queue,
                         "priority": None, "expire_seconds": None, "enabled": True, "interval": 1,
                         "last_run_at": datetime.fromtimestamp(s, UTC)} for name, s in starts.items()]
            params: dict[str, Any] = {"kind": kind, "broker": self.o.amqp, "default_queue": self.names.queue("default"),
                                      "until": start + WINDOW + MEASURED * PHASE + 0.6}
            if kind == "scb":
                params["dburi"] = self.scb_db("due_scb", [*rows, *measured])
            else:
                prefix = f"{self.names.redis_prefix}-due:"
                redbeat_fill(self.o.redis, prefix, self.o.amqp, [*rows, *measured])
                params.update(redis=self.o.redis, prefix=prefix)
            result = run_child("run", params, timeout=WINDOW + 60)
            result["starts"] = starts
            result["queue"] = queue
            runs[label] = result
        self.out(f"4. due time -> task published, {MEASURED} `every: 1s` schedules (due times {PHASE * 1000:.0f} ms apart) "
                 f"among {OTHERS:,} other schedules, the real tick loop for {WINDOW} s, RabbitMQ with publisher confirms")
        figures: dict[str, tuple[float, float]] = {}
        counts: dict[str, list[int]] = {}
        for label, result in runs.items():
            measured_records = [r for r in result["records"] if r[0] in result["starts"]]
            latencies = [r[2] - r[1] for r in measured_records if r[1] is not None]
            to_send = [r[3] - r[1] for r in measured_records if r[1] is not None]
            others = len(result["records"]) - len(measured_records)
            if not latencies:
                self.out(f"   {label}: nothing measured")
                continue
            p50, p99 = pct(latencies, 50), pct(latencies, 99)
            figures[label] = (p50, p99)
            late = [r for r in measured_records if r[1] is not None and r[1] < result["ready"]]
            # every 1s over 20 s: fires whose due time is within (start, start + 20 s]
            per: list[int] = []
            drifts: list[float] = []
            for name, s in result["starts"].items():
                dues = sorted(r[1] for r in measured_records if r[0] == name and r[1] is not None)
                within = [due for due in dues if s < due <= s + WINDOW + 1e-6]
                per.append(len(within))
                if len(dues) >= WINDOW:
                    drifts.append(dues[WINDOW - 1] - (s + WINDOW))
            counts[label] = per
            in_queue = drain(self.o.amqp, result["queue"])
            check = f"{len(in_queue)} messages drained from RabbitMQ for {len(measured_records)} publishes"
            if label == "gitbeat":
                published = {(r[0], round(r[1], 6)) for r in measured_records}
                consumed = {(h.get("gitbeat_schedule"), round(datetime.fromisoformat(h["gitbeat_due"]).timestamp(), 6))
                            for _, h in in_queue if h.get("gitbeat_due")}
                check += ", the same (schedule, due) pairs" if published == consumed else ", pairs DIFFER"
            first_sent = min(measured_records, key=lambda r: r[2])
            self.out(f"   {label:8} p50 {ms(p50)}, p99 {ms(p99)}, max {ms(max(latencies))} over {len(latencies)} "
                     f"publishes (confirmed by RabbitMQ); {check}"
                     + (f"; WARNING: {len(late)} due before the scheduler was ready" if late else ""))
            self.out(f"            due -> publishing began (gitbeat: the batch, its messages built; anchors: the send call): p50 {ms(pct(to_send, 50))}, p99 {ms(pct(to_send, 99))}; "
                     f"the run's first publish (it connects to RabbitMQ) "
                     f"{ms(first_sent[2] - first_sent[1]) if first_sent[1] else 'n/a'}; {others} sends of the other "
                     f"schedules in the window")
            drift = (f"the {WINDOW}th due time is {ms(statistics.mean(drifts))} past start + {WINDOW} s (mean)"
                     if len(drifts) == len(per) else f"{len(per) - len(drifts)} schedule(s) never reached a {WINDOW}th fire")
            self.out(f"            every 1s over {WINDOW} s: fires with a due time within the {WINDOW} s: "
                     f"{min(per)}..{max(per)} per schedule ({statistics.mean(per):.2f} mean over {len(per)}); {drift}")
        for label in ("scb", "RedBeat"):
            if label in figures and "gitbeat" in figures:
                p50, p99 = figures[label]
                self.out(f"   ratio {label} / gitbeat: p50 {p50 / figures['gitbeat'][0]:.1f}x, "
                         f"p99 {p99 / figures['gitbeat'][1]:.1f}x")
        self.out(f"   (recorded in SPEC §7: {RECORDED['due']}; every 1s: {RECORDED['every']})")
        self.out()
        if "gitbeat" in figures:
            p50, p99 = figures["gitbeat"]
            self.targets.append(f"due -> published p50 <= {TARGET_DUE_P50_MS:g} ms: "
                                f"{verdict(p50 * 1000 <= TARGET_DUE_P50_MS)} ({ms(p50)})")
            self.targets.append(f"due -> published p99 <= {TARGET_DUE_P99_MS:g} ms: "
                                f"{verdict(p99 * 1000 <= TARGET_DUE_P99_MS)} ({ms(p99)})")
            per = counts["gitbeat"]
            self.targets.append(f"every 1s over {WINDOW} s = {TARGET_FIRES} fires: "
                                f"{verdict(min(per) == max(per) == TARGET_FIRES)} ({min(per)}..{max(per)} over "
                                f"{len(per)} schedules)")

    # 5. 1,000 due at the same instant ----------------------------------------------------------------

    def burst(self) -> None:
        log("5. 1,000 schedules due at the same instant")
        root = make_tree(self.dir / "burst", self.names, 0, 10, 5)
        queue = self.names.queue("burst")
        instant = math.ceil(time.time() + LEAD)
        # `every: 1h` from one start_at, not `at:`: a claim batch whose next due times are all None
        # (one-offs) sends a VALUES column of NULLs, which PostgreSQL types as text, and the claim fails
        # ("column next_due_at is of type timestamp with time zone but expression is of type text").
        write_schedules(root, "bench-burst.yaml", {
            f"burst-{i:04}": {"task": f"area{i % 10}.job{i % 10}", "every": "1h", "start_at": iso(instant),
                              "queue": queue}
            for i in range(BURST)})
        url = self.dbs.create("burst")
        apply_desired(url, load_desired(root))
        runs = {"gitbeat": run_child("run", {
            "kind": "gitbeat", "root": str(root), "url": url, "broker": self.o.amqp, "until": instant + 20,
            "stop_prefix": "burst-", "stop_count": BURST}, timeout=90)}
        for kind, label in (("redbeat", "RedBeat"), ("scb", "scb")):
            if not getattr(self, kind):
                continue
            instant_a = math.ceil(time.time() + LEAD)
            rows = [{"name": f"burst-{i:04}", "task": f"area{i % 10}.job{i % 10}", "args": "[]", "kwargs": "{}",
                     "queue": self.names.queue(f"burst-{kind}"), "priority": None, "expire_seconds": None,
                     "enabled": True, "interval": 3600,
                     "last_run_at": datetime.fromtimestamp(instant_a - 3600, UTC)} for i in range(BURST)]
            limit = SCB_BURST_SECONDS if kind == "scb" else 20
            params: dict[str, Any] = {"kind": kind, "broker": self.o.amqp, "default_queue": self.names.queue("default"),
                                      "until": instant_a + limit, "stop_prefix": "burst-", "stop_count": BURST}
            if kind == "scb":
                params["dburi"] = self.scb_db("burst_scb", rows)
            else:
                prefix = f"{self.names.redis_prefix}-burst:"
                redbeat_fill(self.o.redis, prefix, self.o.amqp, rows)
                params.update(redis=self.o.redis, prefix=prefix)
            result = run_child("run", params, timeout=90)
            result["instant"] = instant_a
            runs[label] = result
        runs["gitbeat"]["instant"] = instant
        self.out(f"5. {BURST:,} schedules due at the same instant -> all published (RabbitMQ, publisher confirms)")
        last_gitbeat = None
        for label, result in runs.items():
            pubs = sorted(r[2] for r in result["records"] if r[0] and r[0].startswith("burst-"))
            if not pubs:
                self.out(f"   {label}: nothing sent")
                continue
            at = result["instant"]
            line = (f"   {label:8} {len(pubs):,} sent; first {ms(pubs[0] - at)}, last {ms(pubs[-1] - at)} after the "
                    f"due instant")
            if label == "gitbeat":
                last_gitbeat = pubs[-1] - at
                batches = [f for f in result["fires"] if f[3] > f[2]]
                commit = max(f[1] for f in batches) - at
                line += (f"; {len(batches)} claimed batch(es), the claim committed {ms(commit)} after it "
                         f"({(pubs[-1] - pubs[0]) / max(len(pubs) - 1, 1) * 1000:.3f} ms a publish)")
                if result["ready"] > at:
                    line += "; WARNING: the scheduler was ready only after the due instant"
            elif len(pubs) < BURST:
                span = pubs[-1] - at
                line += (f" (stopped after {SCB_BURST_SECONDS:g} s, one sent a tick: {span / len(pubs) * 1000:.1f} ms "
                         f"each; all {BURST:,} EXTRAPOLATED: {span * BURST / len(pubs):.1f} s)")
            else:
                line += f" ({(pubs[-1] - pubs[0]) / max(len(pubs) - 1, 1) * 1000:.3f} ms a publish)"
            self.out(line)
        if not self.scb:
            self.out("   scb not measured")
        self.out(f"   (recorded in SPEC §7: {RECORDED['burst']})")
        self.out()
        if last_gitbeat is not None:
            self.targets.append(f"{BURST:,} due at once -> all published <= {TARGET_BURST_S} s: "
                                f"{verdict(last_gitbeat <= TARGET_BURST_S)} ({secs(last_gitbeat)})")

    # profiling -----------------------------------------------------------------------------------

    def profile(self) -> None:
        log("profile: gitbeat start-up")
        root = self.tree(SCHEDULES)
        url = self.gitbeat_db("profile", root)
        result = run_child("profile", {"kind": "gitbeat", "root": str(root), "url": url, "broker": "memory://"})
        self.out(f"profile: gitbeat start-up with {SCHEDULES:,} schedules")
        previous = None
        for step, rss in result["steps"]:
            grown = f" (+{rss - previous:.1f})" if previous is not None else ""
            self.out(f"   RSS after {step:<28} {rss:6.1f} MB{grown}")
            previous = rss
        self.out(f"   tracemalloc while building it: {result['held']:.1f} MB held after, peak {result['traced_peak']:.1f} MB; "
                 f"top lines:")
        for line in result["top"]:
            self.out(f"     {line}")
        self.out(f"   a full (generation 2) garbage collection with the {result['entries']:,} entries loaded: "
                 f"{result['gc_full_ms']:.1f} ms over {result['gc_objects']:,} tracked objects (it pauses the tick loop)")
        self.out("   cProfile of Scheduler(app) + first tick, by cumulative time:")
        for line in result["calls"].splitlines():
            if line.strip():
                self.out(f"     {line}")
        self.out()


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(CHILDREN[sys.argv[2]](json.loads(sys.argv[3]))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="postgresql://root@127.0.0.1:5432", help="PostgreSQL server URL, no database")
    parser.add_argument("--mariadb", default="mysql://root@127.0.0.1:3306",
                        help="MariaDB (or MySQL) server URL, no database: gitbeat's start-up is measured there too")
    parser.add_argument("--skip-mariadb", action="store_true", help="PostgreSQL only")
    parser.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672//", help="RabbitMQ URL")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15", help="Redis URL for RedBeat (a random key prefix)")
    parser.add_argument("--rows", default="1,2,3,4,5", help="which rows to run, e.g. 1,2")
    parser.add_argument("--runs", type=int, default=STARTUP_RUNS, help="start-up runs each")
    parser.add_argument("--startup-sizes", default=",".join(str(size) for size in STARTUP_TARGETS),
                        help=f"row 1's schedule counts, of {', '.join(str(size) for size in STARTUP_TARGETS)} "
                             f"(only {SCHEDULES} for a quicker run)")
    parser.add_argument("--tick-seconds", type=float, default=TICK_SECONDS, help="gitbeat's tight tick loop, per size")
    parser.add_argument("--changes", type=int, default=CHANGES, help="changes applied to the running gitbeat beat")
    parser.add_argument("--scb-changes", type=int, default=SCB_CHANGES, help="changes made under scb's beat (0: skip)")
    parser.add_argument("--skip-anchors", action="store_true", help="gitbeat figures only (recorded anchors printed)")
    parser.add_argument("--skip-scb", action="store_true")
    parser.add_argument("--skip-redbeat", action="store_true")
    parser.add_argument("--profile", action="store_true", help="also profile gitbeat's start-up (time and memory)")
    options = parser.parse_args()
    rows = {int(r) for r in options.rows.split(",") if r.strip()}
    options.startup_sizes = [int(size) for size in options.startup_sizes.split(",") if size.strip()]
    if unknown := [size for size in options.startup_sizes if size not in STARTUP_TARGETS]:
        parser.error(f"--startup-sizes: no start-up target at {unknown}; SPEC §7 sets them at "
                     f"{', '.join(str(size) for size in STARTUP_TARGETS)}")

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    from store import databases

    names = Names()
    processes = Processes()
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gitbeat-bench-beat-")))
        dbs = stack.enter_context(databases(options.server))
        mariadb = None if options.skip_mariadb else stack.enter_context(databases(options.mariadb, dbs.prefix))
        stack.callback(lambda: log(f"removed {cleanup_rabbitmq(options.amqp, names)} RabbitMQ queues"))
        if not (options.skip_anchors or options.skip_redbeat):
            stack.callback(lambda: log(f"removed {cleanup_redis(options.redis, names)} Redis keys"))
        stack.callback(processes.stop_all)
        bench = Bench(options, directory, dbs, mariadb, names, processes)
        print(f"gitbeat beat benchmark: generated configs (bench/generate.py), fresh databases {dbs.prefix}_* on "
              f"{dbs.server}{'' if mariadb is None else f' and {mariadb.server}'}, "
              f"RabbitMQ queues {names.queue_prefix}*, Redis keys {names.redis_prefix}* on {options.redis}")
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the "
              f"start (this machine is shared: figures move with it); anchors: "
              f"{'none (--skip-anchors)' if options.skip_anchors else ', '.join(a for a, on in (('scb', bench.scb), ('RedBeat', bench.redbeat)) if on)}")
        print(flush=True)
        began = time.perf_counter()
        for number, row in ((1, bench.startup), (2, bench.tick), (3, bench.change), (4, bench.due), (5, bench.burst)):
            if number in rows:
                row()
        if options.profile:
            bench.profile()
        print("targets (SPEC §7):")
        for line in bench.targets:
            print(f"   {line}")
        print(f"\n(bench ran {time.perf_counter() - began:.0f} s; load average {os.getloadavg()[0]:.2f} at the end)",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
