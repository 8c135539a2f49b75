"""Benchmark: `gitbeat serve` (JSON API, dashboard, /metrics) with 10,000 schedules and 100,000 runs, beside Flower.

Setup, not timed against a target:

- a fresh PostgreSQL database; the generated config (bench/generate.py: 10,000 schedules of
  four kinds, 1,000 tasks, 200 files, with handlers) committed in git and applied with
  `gitbeat apply`; its schedules then dated as applied 30 days ago (created_at, anchor_at),
  so that a month of history lies behind them;
- 100,000 ledger rows (gitbeat_runs), one COPY, as beat and workers write them: each
  schedule's newest due times computed from its own timing (`every` from its anchor, cron
  with gitbeat.timing), as many as fit in the last H hours (H solved so the total comes out
  exact), at least 3 and at most 200 a schedule; task ids as beat derives them; claim, send,
  start and finish times from the due time, its jitter, a queue wait (lognormal, median 8 ms,
  1 % waiting 1-30 s) and a runtime (lognormal, median 0.25 s); outcomes: mostly succeeded,
  2 % failed, some retried, revoked, skipped under `overlap: skip`, catch-up and manual runs;
  2 % of the schedules' newest run failed for good (health `failing`), 1 % sent but never
  started (`late`), 0.25 % paused by an operator; runs not finished by now are `started` or
  `queued`. The schedules' beat columns (last_due_at, last_run_at, run_count) follow the
  ledger, then ANALYZE.

Measured: a real `gitbeat serve` process (uvicorn, a read token in GITBEAT_API_TOKENS, the
local RabbitMQ in a vhost of this run; it sends nothing) is started on a free port and
awaited until it answers with its first overview snapshot (all schedules listed). Then
httpx over loopback, one request at a time on a kept-alive connection, every kind once a
round in a shuffled order, a few rounds of warm-up, then --samples rounds; nearest-rank
p50/p95/p99. A kind whose requests have taken more than --budget seconds stops once it has
20 samples (n is printed). Beside the wall-clock figures, the server's CPU per request
(/proc ticks of its threads but the overview refresh thread, found as the one that works
while the server is idle), which the load of a shared machine does not stretch. The server refreshes its overview every 2 s in a background thread while it
serves, as in production; no beat or worker writes meanwhile, so schedules due during the
run turn `late` (health is counted at the start and the end).

Anchor: Flower (`celery flower --max_tasks=100000`, its unauthenticated API) in the same
RabbitMQ vhost, fed the task events (received, started, succeeded/failed/...) of the
ledger's newest 10,000 runs, its `/api/tasks?limit=100` timed in the same rounds: pages
spread by offset, a text search and a state filter. Not the same data nor the same work:
Flower pages its in-memory tasks, built from events; gitbeat pages a snapshot of 10,000
schedules with health and last run, and reads runs from PostgreSQL. It is the nearest thing
a Celery dashboard's API serves: a page of 100 of 10,000 items. The floor is `/healthz` on
the same server and connection.

Targets (SPEC §7), judged on p95: list page <= 50 ms (plain, text filter and health filter
each), one schedule with its 50 runs <= 50 ms, dashboard page <= 300 ms (the schedules page
and one schedule's page), /metrics <= 300 ms.

Needs PostgreSQL (trust auth), RabbitMQ (rabbitmqctl for the vhost; without it no Flower
anchor) and the project's dependencies (flower, httpx). The database, the vhost, the
processes and the files this run creates are removed at the end, also on failure or
SIGTERM. About 2 minutes with the defaults on a quiet machine (3.5 at a load of 7 on 2 cores).
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

SCHEDULES = 10_000
TASKS = 1_000
FILES = 200
RUNS = 100_000
SAMPLES = 200
BUDGET_S = 15.0  # measured seconds a kind may take before it stops at MIN_SAMPLES or more
MIN_SAMPLES = 20
WARMUP = 5
FLOWER_TASKS = 10_000
HISTORY = timedelta(days=30, minutes=37)  # the schedules are dated as applied this long ago (off the hour)
MIN_RUNS, MAX_RUNS = 3, 200  # a schedule's runs in the ledger
PAGE_RUNS = 50  # the runs one schedule's JSON and page carry
FAILING, LATE, PAUSED = 0.02, 0.01, 0.0025  # shares of the schedules
IDLE_S = 6.0  # seconds of an idle server, to find its overview refresh thread (the one that works)
TEXTS = ("job12", "sched-07", "area3.")  # the list's text filter (?q=): 110, 1,000 and 2,200 schedules
FLOWER_TEXTS = ("job12", "area3.", "worker-2")
WORKERS = 6
ERRORS = (
    ("ConnectionError", "upstream refused the connection"),
    ("TimeoutError", "read timed out after 30 s"),
    ("ValueError", "unexpected payload: missing 'id'"),
)
TARGET_LIST_MS = 50.0
TARGET_ONE_MS = 50.0
TARGET_PAGE_MS = 300.0
TARGET_METRICS_MS = 300.0
RUN_COLUMNS = ("task_id", "schedule", "due_at", "task", "trigger", "revision_id", "state", "claimed_at", "sent_at",
               "started_at", "finished_at", "worker", "attempt", "retries", "runtime", "error_type", "error", "note")


# --- small helpers ---------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))]


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def thread_ticks(pid: int) -> dict[str, int]:
    """CPU ticks (user + system) of each thread of `pid`, from /proc."""
    found: dict[str, int] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended
            continue
        found[tid] = int(fields[11]) + int(fields[12])
    return found


def cpu_ticks(pid: int, apart: str | None = None) -> tuple[int, int]:
    """CPU ticks of `pid`: (its threads but `apart`, the thread `apart`).

    What the server spends on a request, apart from its overview refresh thread, is
    measured even when the shared machine stretches the wall-clock figures.
    """
    ticks = thread_ticks(pid)
    own = ticks.get(apart, 0) if apart else 0
    return sum(ticks.values()) - own, own


def busiest_thread(pid: int, seconds: float) -> tuple[str | None, float]:
    """The thread that works while the server answers nothing (its overview refresh), and its share of a core."""
    before = thread_ticks(pid)
    time.sleep(seconds)
    after = thread_ticks(pid)
    deltas = {tid: after[tid] - before.get(tid, 0) for tid in after}
    tid = max(deltas, key=lambda t: deltas[t], default=None)
    if tid is None or deltas[tid] <= 0:
        return None, 0.0
    return tid, deltas[tid] / CLOCK_TICK / seconds


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


class Processes:
    """The server and Flower: terminated by their pid at the end, also on failure."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, command: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(command, **kwargs)
        self.running.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
        self.running.clear()


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_for(test: Callable[[], bool], timeout: float, what: str, process: subprocess.Popen[bytes],
             logfile: Path) -> float:
    """Seconds until `test()` holds; an error naming `what` (with the process's log) if it dies or times out."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited {process.returncode}:\n{tail(logfile)}")
        try:
            if test():
                return time.perf_counter() - start
        except Exception:  # not up yet
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what}: not ready after {timeout:.0f} s:\n{tail(logfile)}")


# --- the config and the ledger ------------------------------------------------------------


def setup_config(root: Path, url: str, schedules: int, tasks: int) -> tuple[float, float]:
    """Generate the tree, commit it, apply it; (seconds generating, seconds of `gitbeat apply`)."""
    from generate import generate

    start = time.perf_counter()
    generate(root, schedules, tasks, FILES, handlers=True)
    git(root, "init", "-q")
    git(root, "config", "user.name", "gitbeat bench")
    git(root, "config", "user.email", "bench@gitbeat.invalid")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", f"{schedules:,} schedules")
    generated = time.perf_counter() - start
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITBEAT_")}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "gitbeat", "apply", "--config", str(root), "--database", url],
                            cwd=root, capture_output=True, text=True, env=env)
    applied = time.perf_counter() - start
    if result.returncode != 0 or "Applied revision 1" not in result.stdout:
        raise RuntimeError(f"`gitbeat apply` exited {result.returncode}:\n{result.stderr[-3000:]}{result.stdout[-1000:]}")
    return generated, applied


def fit_counts(periods: list[float], total: int) -> tuple[list[int], float]:
    """Runs per schedule: as many as fit in the last H seconds, clamped, H solved so they sum to `total`."""
    low = min(MIN_RUNS, total // len(periods))
    if total > MAX_RUNS * len(periods):
        raise RuntimeError(f"--runs {total:,}: at most {MAX_RUNS} runs a schedule, {MAX_RUNS * len(periods):,} in all")

    def counts(horizon: float) -> list[int]:
        return [min(MAX_RUNS, max(low, round(horizon / period))) for period in periods]

    lo, hi = 0.0, max(periods) * MAX_RUNS * 2
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sum(counts(mid)) < total else (lo, mid)
    found = counts(hi)
    excess = sum(found) - total
    for index in sorted(range(len(found)), key=lambda i: -found[i]):  # the largest give one each
        if excess <= 0:
            break
        if found[index] > low:
            found[index] -= 1
            excess -= 1
    return found, hi


def schedule_dues(spec: Any, anchor: datetime, applied_at: datetime, now: datetime, count: int) -> list[datetime]:
    """The schedule's newest `count` due times up to now, oldest first."""
    from gitbeat.timing import due_times

    if spec.every is not None and spec.start_at is None and spec.end_at is None:  # arithmetic, as every_next counts
        last = math.floor((now - anchor).total_seconds() / spec.every)
        return [anchor + timedelta(seconds=spec.every * n) for n in range(max(0, last - count + 1), last + 1)]
    return due_times(spec, applied_at, now, anchor, count)


@dataclass
class RunMaker:
    """One schedule's runs as beat (claim, send) and its workers (start, finish) would have written them."""

    rng: random.Random
    now: datetime
    revision: int
    states: Counter[str] = field(default_factory=Counter)

    def runs(self, name: str, spec: Any, dues: list[datetime], count: int, period: float,
             fate: str) -> list[tuple[Any, ...]]:
        """The newest `count` runs of `dues` that beat has claimed by now (a due time inside its jitter is not yet)."""
        from gitbeat.sending import task_id

        jitters = [self.rng.uniform(0, spec.jitter) if spec.jitter else 0.0 for _ in dues]
        claimed = [(due, jitter) for due, jitter in zip(dues, jitters)
                   if due + timedelta(seconds=jitter + 0.004) <= self.now][-count:]
        rows = []
        for index, (due, jitter) in enumerate(claimed):
            newest = index == len(claimed) - 1
            rows.append(self.run(name, spec, due, jitter, task_id(name, due), period, newest, fate))
        return rows

    def run(self, name: str, spec: Any, due: datetime, jitter: float, run_id: str, period: float, newest: bool,
            fate: str) -> tuple[Any, ...]:
        rng = self.rng
        trigger, note = "scheduled", None
        if spec.catchup == "all" and not newest and rng.random() < 0.05:
            trigger = "catchup"
        elif not newest and rng.random() < 0.003:
            trigger, note, run_id = "manual", "run now, from the dashboard", str(uuid.uuid4())
            due = due + timedelta(seconds=rng.uniform(1, max(2.0, period / 2)))
        # catch-up: claimed when beat came back, later, but before now
        late_claim = rng.uniform(0, min(3600.0, (self.now - due).total_seconds() / 2)) if trigger == "catchup" else 0.0
        claimed = due + timedelta(seconds=jitter + late_claim + rng.uniform(0.001, 0.004))
        if spec.overlap == "skip" and not newest and rng.random() < 0.03:
            return self.row(run_id, name, due, spec.task, trigger, "skipped", claimed, None, None, None, None, 0, None,
                            None, "the previous run had not finished (overlap: skip)")
        sent = claimed + timedelta(seconds=rng.uniform(0.002, 0.012))
        wait = rng.uniform(1, 30) if rng.random() < 0.01 else rng.lognormvariate(math.log(0.008), 0.9)
        worker = f"celery@worker-{rng.randint(1, WORKERS)}"
        draw = rng.random()
        state, retries = "succeeded", 0
        error: tuple[str, str] | None = None
        if newest and fate == "late":  # sent, never started: no worker consumes its queue
            return self.row(run_id, name, due, spec.task, trigger, "queued", claimed, sent, None, None, None, 0, None,
                            None, note)
        if newest and fate == "failing":
            state, retries, error = ("dead-lettered" if rng.random() < 1 / 3 else "failed"), 3, rng.choice(ERRORS)
        elif draw < 0.02:
            state, retries, error = "failed", rng.choice((0, 3)), rng.choice(ERRORS)
        elif draw < 0.021:
            state = "revoked"
        elif draw < 0.05:
            retries, error = rng.randint(1, 2), rng.choice(ERRORS)  # succeeded after retries: the last failure stays
        backoff = sum(10 * 2**attempt for attempt in range(retries))
        start = sent + timedelta(seconds=wait + backoff)
        took = min(240.0, rng.lognormvariate(math.log(0.25), 1.3))
        if state != "succeeded":
            took = min(took, rng.uniform(0.01, 2.0))
        started: datetime | None = start
        finished: datetime | None = start + timedelta(seconds=took)
        runtime: float | None = took
        worker_name: str | None = worker
        if start > self.now and retries:  # what is known now: waiting for its next attempt
            first = sent + timedelta(seconds=wait)
            state, finished, runtime = "retrying", None, None
            started = first if first <= self.now else None
        elif start > self.now:
            state, started, finished, runtime, worker_name, error = "queued", None, None, None, None, None
        elif start + timedelta(seconds=took) > self.now:
            state, finished, runtime = "retrying" if retries and error else "started", None, None
        attempt = f"{uuid.uuid4()}:{retries}" if started else None
        return self.row(run_id, name, due, spec.task, trigger, state, claimed, sent, started, finished, worker_name,
                        retries, runtime, error, note, attempt)

    def row(self, run_id: str, name: str, due: datetime, task: str, trigger: str, state: str, claimed: datetime,
            sent: datetime | None, started: datetime | None, finished: datetime | None, worker: str | None,
            retries: int, runtime: float | None, error: tuple[str, str] | None, note: str | None,
            attempt: str | None = None) -> tuple[Any, ...]:
        self.states[state] += 1
        return (run_id, name, due.isoformat(), task, trigger, self.revision, state, claimed.isoformat(),
                sent.isoformat() if sent else None, started.isoformat() if started else None,
                finished.isoformat() if finished else None, worker, attempt, retries,
                f"{runtime:.6f}" if runtime is not None else None, error[0] if error else None,
                error[1] if error else None, note)


@dataclass
class Ledger:
    rows: int
    computed: float
    copied: float
    finished: float
    horizon_h: float
    counts: dict[str, int]
    states: Counter[str]
    paused: int


def write_ledger(url: str, total: int, rng: random.Random) -> Ledger:
    """Date the schedules back, compute their runs, COPY them in, update beat's columns, pause a few, ANALYZE."""
    import psycopg2

    from gitbeat.spec import ScheduleSpec
    from gitbeat.timing import next_fire

    connection = psycopg2.connect(url)
    try:
        with connection, connection.cursor() as cursor:
            start = time.perf_counter()
            cursor.execute("UPDATE gitbeat_schedules SET created_at = created_at - %(h)s, "
                           "updated_at = updated_at - %(h)s, anchor_at = anchor_at - %(h)s", {"h": HISTORY})
            cursor.execute("SELECT max(id) FROM gitbeat_revisions")
            revision = cursor.fetchone()[0]
            cursor.execute("UPDATE gitbeat_revisions SET applied_at = applied_at - %(h)s", {"h": HISTORY})
            cursor.execute("SELECT name, spec::text, COALESCE(anchor_at, created_at), created_at "
                           "FROM gitbeat_schedules ORDER BY name")
            stored = cursor.fetchall()
            now = datetime.now(UTC)
            specs, periods = [], []
            for name, text, anchor, created in stored:
                spec = ScheduleSpec.model_validate_json(text)
                timezone = spec.timezone or "UTC"
                if spec.timezone is None:
                    spec = spec.model_copy(update={"timezone": timezone})
                first = next_fire(spec, timezone, now, anchor)
                following = next_fire(spec, timezone, first, anchor) if first else None
                specs.append((name, spec, anchor, created))
                periods.append((following - first).total_seconds() if first and following else 86400.0)
            counts, horizon = fit_counts(periods, total)
            maker = RunMaker(rng, now, revision)
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            fates = rng.sample(range(len(specs)), k=round((FAILING + LATE) * len(specs)))
            failing = set(fates[: round(FAILING * len(specs))])
            late = set(fates[round(FAILING * len(specs)):])
            rows = 0
            for index, ((name, spec, anchor, created), count, period) in enumerate(zip(specs, counts, periods)):
                dues = schedule_dues(spec, anchor, created, now, count + 1)  # one more: the newest may be unclaimed
                fate = "failing" if index in failing else "late" if index in late else "ok"
                made = maker.runs(name, spec, dues, count, period, fate)
                writer.writerows(made)
                rows += len(made)
            computed = time.perf_counter() - start
            start = time.perf_counter()
            buffer.seek(0)
            cursor.copy_expert(f"COPY gitbeat_runs ({', '.join(RUN_COLUMNS)}) FROM STDIN WITH (FORMAT csv)", buffer)
        copied = time.perf_counter() - start
        start = time.perf_counter()
        with connection, connection.cursor() as cursor:
            cursor.execute("""
                UPDATE gitbeat_schedules AS s
                SET last_due_at = r.due_at, last_run_at = r.due_at, last_task_id = r.task_id, run_count = r.n
                FROM (SELECT DISTINCT ON (schedule) schedule, due_at, task_id,
                             count(*) OVER (PARTITION BY schedule) AS n
                      FROM gitbeat_runs WHERE trigger IN ('scheduled', 'catchup')
                      ORDER BY schedule, due_at DESC) AS r
                WHERE s.name = r.schedule
            """)
            paused = rng.sample([name for name, *_ in specs], k=round(PAUSED * len(specs)))
            for name in paused:
                cursor.execute(
                    "INSERT INTO gitbeat_overrides (schedule, kind, actor, created_at, until, note) "
                    "VALUES (%s, 'pause', 'ops-oncall', %s, NULL, 'upstream maintenance')",
                    (name, now - timedelta(hours=rng.uniform(1, 48))),
                )
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE gitbeat_runs")
            cursor.execute("ANALYZE gitbeat_schedules")
        finished = time.perf_counter() - start
    finally:
        connection.close()
    return Ledger(rows, computed, copied, finished, horizon / 3600, {s[0]: c for s, c in zip(specs, counts)},
                  maker.states, len(paused))


# --- RabbitMQ, the server, Flower -------------------------------------------------------


def add_vhost(name: str) -> bool:
    try:
        subprocess.run(["rabbitmqctl", "add_vhost", name], check=True, capture_output=True, timeout=60)
        subprocess.run(["rabbitmqctl", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
                       check=True, capture_output=True, timeout=60)
        return True
    except (OSError, subprocess.SubprocessError) as error:
        log(f"no RabbitMQ vhost of our own ({error}): the server uses '/', no Flower anchor")
        return False


def delete_vhost(name: str) -> None:
    subprocess.run(["rabbitmqctl", "delete_vhost", name], capture_output=True, timeout=60)
    log(f"removed RabbitMQ vhost {name}")


def start_server(processes: Processes, root: Path, url: str, port: int, token: str, vhost: str | None,
                 logfile: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITBEAT_", "CELERY_"))}
    env.update(GITBEAT_API_TOKENS=f"bench:{token}:read", CELERY_BROKER="rabbitmq")
    if vhost:
        env["CELERY_RABBITMQ_VHOST"] = vhost
    command = [sys.executable, "-m", "gitbeat", "serve", "--config", str(root), "--database", url,
               "--host", "127.0.0.1", "--port", str(port)]
    with open(logfile, "wb") as out:
        return processes.start(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)


def start_flower(processes: Processes, broker: str, port: int, max_tasks: int, directory: Path,
                 logfile: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITBEAT_", "CELERY_", "FLOWER_"))}
    env["FLOWER_UNAUTHENTICATED_API"] = "true"
    command = [sys.executable, "-m", "celery", "--broker", broker, "flower", "--address=127.0.0.1",
               f"--port={port}", f"--max_tasks={max_tasks}"]
    with open(logfile, "wb") as out:
        return processes.start(command, cwd=directory, env=env, stdout=out, stderr=subprocess.STDOUT)


def flower_events(url: str, limit: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(hostname, event type, fields) for the ledger's newest `limit` runs that reached a worker, oldest first."""
    import psycopg2

    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"""
                SELECT task_id, task, state, sent_at, started_at, finished_at, worker, retries, runtime, error_type,
                       error, s.spec->'args', s.spec->'kwargs'
                FROM gitbeat_runs r JOIN gitbeat_schedules s ON s.name = r.schedule
                WHERE r.state <> 'skipped' AND r.sent_at IS NOT NULL
                ORDER BY r.due_at DESC LIMIT {int(limit)}
            """)
            found = cursor.fetchall()
    finally:
        connection.close()
    events = []
    for (task_id, task, state, sent, started, finished, worker, retries, runtime, error_type, error, args,
         kwargs) in reversed(found):
        host = worker or f"celery@worker-{int(uuid.UUID(task_id)) % WORKERS + 1}"
        events.append((host, "task-received", {
            "uuid": task_id, "name": task, "args": repr(args or []), "kwargs": repr(kwargs or {}),
            "retries": retries, "eta": None, "expires": None, "root_id": task_id, "parent_id": None,
            "timestamp": sent.timestamp()}))
        if started is not None:
            events.append((host, "task-started", {"uuid": task_id, "timestamp": started.timestamp()}))
        if finished is None:
            continue
        if state == "succeeded":
            events.append((host, "task-succeeded", {"uuid": task_id, "result": "None", "runtime": runtime,
                                                    "timestamp": finished.timestamp()}))
        elif state in ("failed", "dead-lettered"):
            events.append((host, "task-failed", {"uuid": task_id, "exception": f"{error_type}({error!r})",
                                                 "traceback": f"Traceback (most recent call last):\n{error_type}",
                                                 "timestamp": finished.timestamp()}))
        elif state == "revoked":
            events.append((host, "task-revoked", {"uuid": task_id, "terminated": False, "signum": None,
                                                  "expired": False, "timestamp": finished.timestamp()}))
    return events


def feed_flower(broker: str, base: str, events: list[tuple[str, str, dict[str, Any]]], flower: subprocess.Popen[bytes],
                logfile: Path) -> tuple[float, float]:
    """Publish the events (once Flower's receiver is bound), wait until it holds the last; (publish s, ingest s)."""
    import httpx
    from celery import Celery

    app = Celery("gitbeat-bench-flower-events", broker=broker, set_as_current=False)
    probe = str(uuid.uuid4())
    with app.connection_for_write() as connection, httpx.Client(base_url=base, timeout=10) as client:
        dispatchers: dict[str, Any] = {}

        def dispatcher(host: str) -> Any:
            if host not in dispatchers:
                dispatchers[host] = app.events.Dispatcher(connection, hostname=host, enabled=True)
            return dispatchers[host]

        def probe_seen() -> bool:  # events sent before Flower's queue is bound are lost: send until one arrives
            dispatcher("celery@bench-probe").send("task-received", uuid=probe, name="bench.probe", args="()",
                                                 kwargs="{}", retries=0)
            time.sleep(0.2)
            return client.get(f"/api/task/info/{probe}").status_code == 200

        wait_for(probe_seen, 60, "Flower's event receiver", flower, logfile)
        start = time.perf_counter()
        for host, kind, fields in events:
            dispatcher(host).send(kind, **fields)
        published = time.perf_counter() - start
        last = events[-1][2]["uuid"]
        wait_for(lambda: client.get(f"/api/task/info/{last}").status_code == 200, 300, "Flower ingesting the events",
                 flower, logfile)
        ingested = time.perf_counter() - start
        for one in dispatchers.values():
            one.close()
    return published, ingested


# --- measuring --------------------------------------------------------------------------


@dataclass
class Kind:
    label: str
    client: Any
    path: Callable[[], str]
    check: Callable[[Any, str], None]
    target_ms: float | None = None
    group: str = "gitbeat"
    pid: int = 0  # the process that answers, for its CPU time
    apart: str | None = None  # the thread id whose CPU is not the request's (gitbeat's overview refresh)
    times: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # seconds of the answering threads (not the refresh thread)


def check_list(expected: Callable[[str], int]) -> Callable[[Any, str], None]:
    def check(response: Any, path: str) -> None:
        body = response.json()
        if len(body["schedules"]) != expected(path) and expected(path) >= 0:
            raise RuntimeError(f"GET {path}: {len(body['schedules'])} schedules, expected {expected(path)}")
    return check


def check_one(counts: dict[str, int]) -> Callable[[Any, str], None]:
    def check(response: Any, path: str) -> None:
        body = response.json()
        name = path.rsplit("/", 1)[1]
        if body["name"] != name or len(body["runs"]) != min(PAGE_RUNS, counts[name]):
            raise RuntimeError(f"GET {path}: {body['name']} with {len(body['runs'])} runs, "
                               f"expected {min(PAGE_RUNS, counts[name])}")
    return check


def check_text(needle: str) -> Callable[[Any, str], None]:
    def check(response: Any, path: str) -> None:
        if needle not in response.text:
            raise RuntimeError(f"GET {path}: no {needle!r} in the answer:\n{response.text[:500]}")
    return check


def check_metrics(schedules: int) -> Callable[[Any, str], None]:
    def check(response: Any, path: str) -> None:
        found = response.text.count("gitbeat_schedule_health{")
        if found != schedules:
            raise RuntimeError(f"GET {path}: {found} gitbeat_schedule_health series, expected {schedules}")
    return check


def check_flower(response: Any, path: str) -> None:
    if not isinstance(response.json(), dict):
        raise RuntimeError(f"GET {path}: not a JSON object")


def measure(kinds: list[Kind], rounds: int, rng: random.Random, budget: float) -> float:
    """Every kind once a round, in a shuffled order; the first WARMUP rounds are not kept. Returns seconds.

    A kind whose measured requests have taken more than `budget` seconds leaves the rotation once it
    has MIN_SAMPLES (a missed target then costs the bench seconds, not minutes); the report gives each n.
    """
    start = time.perf_counter()
    active = kinds[:]
    for number in range(WARMUP + rounds):
        active = [kind for kind in active if len(kind.times) < MIN_SAMPLES or sum(kind.times) <= budget]
        if number >= WARMUP and all(len(kind.times) >= rounds for kind in active):
            break
        order = active[:]
        rng.shuffle(order)
        for kind in order:
            path = kind.path()
            before = cpu_ticks(kind.pid, kind.apart)[0]
            began = time.perf_counter()
            response = kind.client.get(path)
            elapsed = time.perf_counter() - began
            used = max(0, cpu_ticks(kind.pid, kind.apart)[0] - before) / CLOCK_TICK
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
            kind.check(response, path)
            if number >= WARMUP:
                kind.times.append(elapsed)
                kind.sizes.append(len(response.content))
                kind.cpu.append(used)
        if number == WARMUP - 1:
            log(f"warmed up; measuring {rounds} rounds of {len(kinds)} requests")
        elif number > WARMUP and (number - WARMUP) % 50 == 0:
            log(f"{number - WARMUP} rounds")
    return time.perf_counter() - start


def health_counts(client: Any) -> dict[str, int]:
    from gitbeat.health import HEALTH

    return {word: client.get("/api/v1/schedules", params={"health": word, "per_page": 1}).json()["total"]
            for word in HEALTH}


def overview_cost(url: str, root: Path, repeats: int = 3) -> tuple[float, float]:
    """What the server redoes every 2 s in its background thread, in this process: (first, median warm) seconds."""
    from gitbeat.overview import Overview
    from gitbeat.settings import normalise_database_url
    from gitbeat.store import Store

    store = Store(normalise_database_url(url, root))
    try:
        overview = Overview(store)
        start = time.perf_counter()
        overview.schedules(datetime.now(UTC))
        first = time.perf_counter() - start
        warm = []
        for _ in range(repeats):
            start = time.perf_counter()
            overview.schedules(datetime.now(UTC))
            warm.append(time.perf_counter() - start)
    finally:
        store.engine.dispose()
    return first, statistics.median(warm)


# --- the run -----------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="postgresql://root@127.0.0.1:5432", help="PostgreSQL server URL, no database")
    parser.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672", help="RabbitMQ URL, no vhost")
    parser.add_argument("--schedules", type=int, default=SCHEDULES)
    parser.add_argument("--tasks", type=int, default=None, help=f"default: schedules / 10 (so {TASKS:,})")
    parser.add_argument("--runs", type=int, default=RUNS, help="ledger rows")
    parser.add_argument("--samples", type=int, default=SAMPLES, help="measured requests of each kind")
    parser.add_argument("--budget", type=float, default=BUDGET_S,
                        help=f"seconds of requests after which a kind stops (once it has {MIN_SAMPLES})")
    parser.add_argument("--flower-tasks", type=int, default=FLOWER_TASKS, help="runs fed to Flower as events (0: no anchor)")
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--keep-server", action="store_true",
                        help="after the report, leave the server up until Enter (to profile it)")
    options = parser.parse_args()
    tasks = options.tasks or max(1, options.schedules // 10)
    rng = random.Random(options.seed)

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    from store import databases

    began = time.perf_counter()
    load_start = os.getloadavg()
    processes = Processes()
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gitbeat-bench-api-")))
        dbs = stack.enter_context(databases(options.server))
        stack.callback(lambda: log(f"dropped databases {dbs.prefix}_*"))
        vhost: str | None = f"gitbeat-bench-{secrets.token_hex(4)}"
        if vhost and add_vhost(vhost):
            stack.callback(delete_vhost, vhost)
        else:
            vhost = None
        stack.callback(processes.stop_all)
        root = directory / "config"
        root.mkdir()
        url = dbs.create("api")
        print(f"gitbeat serve API benchmark: {options.schedules:,} schedules, {tasks:,} tasks in {FILES} files, "
              f"{options.runs:,} runs; database {dbs.prefix}_api, RabbitMQ vhost {vhost or '/'}")
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load_start[0]:.2f} / "
              f"{load_start[1]:.2f} / {load_start[2]:.2f} at the start (1 / 5 / 15 min; the machine is shared)")
        print(flush=True)

        log("generating and applying the config")
        generated, applied = setup_config(root, url, options.schedules, tasks)
        log(f"applied in {applied:.2f} s; writing {options.runs:,} runs")
        ledger = write_ledger(url, options.runs, rng)
        full = sorted(name for name, count in ledger.counts.items() if count >= PAGE_RUNS)
        names = full or sorted(ledger.counts)
        per = sorted(ledger.counts.values())
        print(f"setup: config generated and committed {generated:.2f} s, `gitbeat apply` {applied:.2f} s; "
              f"ledger: {ledger.rows:,} rows computed {ledger.computed:.2f} s, COPY {ledger.copied:.2f} s "
              f"({ledger.rows / max(ledger.copied, 1e-9):,.0f} rows/s), beat columns + overrides + ANALYZE "
              f"{ledger.finished:.2f} s")
        print(f"   runs a schedule: min {per[0]}, median {per[len(per) // 2]}, max {per[-1]} (the last "
              f"{ledger.horizon_h:.2f} h of each, {MIN_RUNS}..{MAX_RUNS}); {len(full):,} schedules have >= {PAGE_RUNS} "
              f"runs; states: " + ", ".join(f"{state} {count:,}" for state, count in ledger.states.most_common())
              + f"; {ledger.paused} schedules paused")

        import httpx

        token = secrets.token_urlsafe(24)
        port = free_port()
        server_log = directory / "serve.log"
        log(f"starting gitbeat serve on 127.0.0.1:{port}")
        server = start_server(processes, root, url, port, token, vhost, server_log)
        base = f"http://127.0.0.1:{port}"
        api = stack.enter_context(httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                                               timeout=60))

        def snapshot_ready() -> bool:
            response = api.get("/api/v1/schedules", params={"per_page": 1})
            return response.status_code == 200 and response.json()["total"] == options.schedules

        up = wait_for(snapshot_ready, 180, "gitbeat serve", server, server_log)
        log(f"server up with its first snapshot in {up:.2f} s")
        health_start = health_counts(api)

        flower_line, flower_pid = None, 0
        kinds: list[Kind] = []
        if options.flower_tasks and vhost:
            broker = f"{options.amqp.rstrip('/')}/{vhost}"
            flower_port = free_port()
            flower_log = directory / "flower.log"
            log(f"starting Flower on 127.0.0.1:{flower_port}")
            flower = start_flower(processes, broker, flower_port, 100_000, directory, flower_log)
            flower_pid = flower.pid
            flower_base = f"http://127.0.0.1:{flower_port}"
            fclient = stack.enter_context(httpx.Client(base_url=flower_base, timeout=60))
            wait_for(lambda: fclient.get("/healthcheck").status_code == 200, 120, "Flower", flower, flower_log)
            events = flower_events(url, options.flower_tasks)
            held = sum(kind == "task-received" for _, kind, _ in events)
            log(f"feeding Flower {len(events):,} events of {held:,} runs")
            published, ingested = feed_flower(broker, flower_base, events, flower, flower_log)
            import flower as flower_package

            flower_line = (f"Flower {flower_package.__version__}: fed {len(events):,} task events of the ledger's "
                           f"newest {held:,} runs (+1 probe) in {published:.1f} s, all ingested after {ingested:.1f} s")
            offsets = max(1, held // 100)
            kinds += [
                Kind("Flower GET /api/tasks?limit=100&offset=N", fclient,
                     lambda: f"/api/tasks?limit=100&offset={rng.randrange(offsets) * 100}", check_flower,
                     group="anchor"),
                Kind("Flower GET /api/tasks?limit=100&search=TEXT", fclient,
                     lambda: f"/api/tasks?limit=100&search={rng.choice(FLOWER_TEXTS)}", check_flower, group="anchor"),
                Kind("Flower GET /api/tasks?limit=100&state=FAILURE", fclient,
                     lambda: "/api/tasks?limit=100&state=FAILURE", check_flower, group="anchor"),
            ]
        elif options.flower_tasks:
            flower_line = "Flower: not started (no RabbitMQ vhost of this run's own); no anchor measured"

        pages = max(1, -(-options.schedules // 100))
        totals = {text: api.get("/api/v1/schedules", params={"q": text, "per_page": 1}).json()["total"]
                  for text in TEXTS}

        def expected_list(path: str) -> int:
            if "&q=" in path or "health=" in path:
                return -1  # the filter's total moves with health; the page is checked for shape only
            page = int(path.rsplit("page=", 1)[1])
            return max(0, min(100, options.schedules - (page - 1) * 100))

        kinds = [
            Kind("floor: GET /healthz", api, lambda: "/healthz", check_text("ok"), group="floor"),
            Kind("GET /api/v1/schedules?per_page=100&page=N", api,
                 lambda: f"/api/v1/schedules?per_page=100&page={rng.randint(1, pages)}", check_list(expected_list),
                 TARGET_LIST_MS),
            Kind("GET /api/v1/schedules?per_page=100&q=TEXT", api,
                 lambda: f"/api/v1/schedules?per_page=100&q={rng.choice(TEXTS)}", check_list(expected_list),
                 TARGET_LIST_MS),
            Kind("GET /api/v1/schedules?per_page=100&health=failing", api,
                 lambda: "/api/v1/schedules?per_page=100&health=failing", check_list(expected_list), TARGET_LIST_MS),
            Kind(f"GET /api/v1/schedules/NAME (its {PAGE_RUNS} runs)", api,
                 lambda: f"/api/v1/schedules/{rng.choice(names)}", check_one(ledger.counts), TARGET_ONE_MS),
            Kind("dashboard GET /?page=N (schedules, HTML)", api, lambda: f"/?page={rng.randint(1, pages)}",
                 check_text('id="schedules"'), TARGET_PAGE_MS),
            Kind("dashboard GET /schedules/NAME (HTML)", api, lambda: f"/schedules/{rng.choice(names)}",
                 check_text('id="runs"'), TARGET_PAGE_MS),
            Kind("GET /metrics", api, lambda: "/metrics", check_metrics(options.schedules), TARGET_METRICS_MS),
            *kinds,
        ]
        refresher, idle_share = busiest_thread(server.pid, IDLE_S)
        for kind in kinds:
            kind.pid, kind.apart = (flower_pid, None) if kind.group == "anchor" else (server.pid, refresher)
        refresh_before = cpu_ticks(server.pid, refresher)[1]
        seconds = measure(kinds, options.samples, rng, options.budget)
        refresh_share = (cpu_ticks(server.pid, refresher)[1] - refresh_before) / CLOCK_TICK / seconds
        health_end = health_counts(api)
        server_rss = rss_mb(server.pid)
        flower_rss = rss_mb(flower_pid) if flower_pid else float("nan")
        first, warm = overview_cost(url, root)

        print(f"server: up with its first overview snapshot {up:.2f} s after spawn; RSS {server_rss:.0f} MB after "
              f"the run; its overview refresh thread (every 2 s; thread {refresher}) used {idle_share:.0%} of a core "
              f"while the server was idle ({IDLE_S:.0f} s), {refresh_share:.0%} during the requests; one refresh "
              f"timed in this process: first {first * 1000:.0f} ms, then {warm * 1000:.0f} ms")
        print("health at the start: " + ", ".join(f"{w} {n:,}" for w, n in health_start.items())
              + "; at the end: " + ", ".join(f"{w} {n:,}" for w, n in health_end.items())
              + " (nothing fires during the run: due schedules turn late)")
        print("text filters ?q=: " + ", ".join(f"{t!r} {n:,} schedules" for t, n in totals.items()))
        if flower_line:
            print(flower_line + (f"; Flower RSS {flower_rss:.0f} MB" if flower_rss == flower_rss else ""))
            print("   the anchor is not the same data: Flower pages the tasks it holds in memory, built from events; "
                  "gitbeat pages a snapshot of schedules with health and last run, and reads runs from PostgreSQL")
        print()
        width = max(len(kind.label) for kind in kinds)
        print(f"up to {options.samples} requests of each kind (fewer, at least {MIN_SAMPLES}, for a kind past "
              f"{options.budget:.0f} s: n), one at a time over loopback (httpx, keep-alive), the kinds shuffled "
              f"every round; {seconds:.0f} s; milliseconds")
        print("   CPU: the answering process's CPU per request, mean (gitbeat: all threads but the overview refresh; "
              "/proc ticks), which the machine's load does not stretch")
        print(f"{'request':<{width}}  {'n':>4} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} {'CPU':>7} {'KiB':>7}"
              f"  target (p95)")
        for kind in kinds:
            target = (f"<= {kind.target_ms:.0f} ms: {verdict(pct(kind.times, 95) * 1000 <= kind.target_ms)}"
                      if kind.target_ms else "(floor)" if kind.group == "floor" else "(anchor)")
            print(f"{kind.label:<{width}}  {len(kind.times):>4} {ms(pct(kind.times, 50)):>7} {ms(pct(kind.times, 95)):>7} "
                  f"{ms(pct(kind.times, 99)):>7} {ms(max(kind.times)):>7} {ms(statistics.fmean(kind.cpu)):>7} "
                  f"{statistics.median(kind.sizes) / 1024:>7.1f}  {target}")
        print()

        def p95(index: int) -> float:
            return pct(kinds[index].times, 95) * 1000

        lists = [p95(1), p95(2), p95(3)]
        print("targets (SPEC §7), p95:")
        print(f"   list page <= {TARGET_LIST_MS:.0f} ms: {verdict(max(lists) <= TARGET_LIST_MS)} "
              f"(plain {lists[0]:.1f}, text filter {lists[1]:.1f}, health filter {lists[2]:.1f} ms)")
        print(f"   one schedule with its runs <= {TARGET_ONE_MS:.0f} ms: {verdict(p95(4) <= TARGET_ONE_MS)} "
              f"({p95(4):.1f} ms)")
        pages_p95 = [p95(5), p95(6)]
        print(f"   dashboard page <= {TARGET_PAGE_MS:.0f} ms: {verdict(max(pages_p95) <= TARGET_PAGE_MS)} "
              f"(schedules {pages_p95[0]:.1f}, one schedule {pages_p95[1]:.1f} ms)")
        print(f"   /metrics <= {TARGET_METRICS_MS:.0f} ms: {verdict(p95(7) <= TARGET_METRICS_MS)} ({p95(7):.1f} ms)")
        anchors = [kind for kind in kinds if kind.group == "anchor"]
        if anchors:
            print(f"   beside the anchor, p50: gitbeat list page {pct(kinds[1].times, 50) * 1000:.1f} ms vs Flower "
                  f"/api/tasks page {pct(anchors[0].times, 50) * 1000:.1f} ms "
                  f"({pct(anchors[0].times, 50) / pct(kinds[1].times, 50):.2f}x); not the same data")
        load_end = os.getloadavg()
        print(f"\n(bench ran {time.perf_counter() - began:.0f} s; load average {load_end[0]:.2f} / {load_end[1]:.2f} / "
              f"{load_end[2]:.2f} at the end)", flush=True)
        if options.keep_server:
            print(f"server pid {server.pid} at {base}, token in GITBEAT_API_TOKENS: bench:{token}:read; "
                  f"Enter to clean up", flush=True)
            sys.stdin.readline()
    return 0


if __name__ == "__main__":
    sys.exit(main())
