"""Benchmark: worker throughput, a gitbeat-declared task beside a plain `@app.task` doing the same work.

The last row of SPEC §7: a task declared in gitbeat's YAML, run by a real `gitbeat worker`
(its app factory, GitbeatTask base class, failure log filter), against the anchor measured
in the same run: a plain Celery app module (`plain_app.py`, `app = Celery(broker=...)`,
`@app.task`) run by `celery -A plain_app worker`. Both sides: the same handler body (a
small fixed loop), the same RabbitMQ, the same pool and concurrency (prefork, 2 by
default), the same Celery worker arguments and log level (INFO, gitbeat's default),
`ignore_result: true`, and each its own queue.

One run of a side: N identical task messages are published to its (purged) queue, then
its worker starts; the run is timed from the first message the worker takes (the queue's
ready count first drops below N) to the queue being drained (ready count 0), polling
`queue_declare(passive=True)` every few milliseconds, and the worker is stopped. The
sides alternate (gitbeat, plain, gitbeat, plain, ...), 3 runs each; medians are printed.
Beside tasks/s, the CPU the worker and its pool's processes used over the same window,
per task, which load from other processes on the machine skews less than wall time.
The messages carry no ignore_result of their own (as `send_task` by name and beat send
them), so the task's `ignore_result: true` holds; the run fails if any result was stored.

Target (SPEC §7): gitbeat tasks/s >= 0.95 x plain Celery tasks/s.

Needs RabbitMQ (default amqp://guest:guest@127.0.0.1:5672//). The queues and exchanges
the run creates are deleted and the workers stopped at the end, also on failure.
About 1.5 minutes with the defaults.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BROKER = "amqp://guest:guest@127.0.0.1:5672//"
MESSAGES = 20_000
RUNS = 3
CONCURRENCY = 2
LOOP = 200  # the handler's fixed work: a loop of this many additions (a few microseconds)
TARGET_RATIO = 0.95
POLL_S = 0.005
START_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 120.0
TASK = "bench.work"

HANDLER = '''
def work(n):
    total = 0
    for i in range(n):
        total += i
    return total
'''

PLAIN_APP = '''"""The anchor: a plain Celery app, the way its docs show it."""

from celery import Celery

app = Celery("plain", broker={broker!r})


@app.task(name={task!r}, ignore_result=True)
{handler}'''


# --- the two projects ---------------------------------------------------------------------


def gitbeat_project(root: Path, queue: str) -> Path:
    """A gitbeat config root: one queue, one task with its handler in the project's `jobs` module."""
    root.mkdir(parents=True)
    (root / "gitbeat.yaml").write_text(f"timezone: UTC\ndefault_queue: {queue}\n")
    (root / "tasks").mkdir()
    (root / "tasks" / "bench.yaml").write_text(
        f"queues:\n  {queue}: {{}}\n"
        f"tasks:\n  {TASK}:\n    handler: jobs:work\n    queue: {queue}\n    ignore_result: true\n"
    )
    (root / "jobs.py").write_text('"""The benchmark\'s handler."""\n' + HANDLER)
    return root


def plain_project(root: Path, broker: str) -> Path:
    root.mkdir(parents=True)
    (root / "plain_app.py").write_text(PLAIN_APP.format(broker=broker, task=TASK, handler=HANDLER.lstrip("\n")))
    return root


# --- RabbitMQ -------------------------------------------------------------------------------


class Broker:
    """One connection for publishing and polling; the queues it declares are deleted at close."""

    def __init__(self, url: str) -> None:
        from celery import Celery
        from kombu import Connection

        self.connection = Connection(url)
        self.connection.ensure_connection(max_retries=3)
        self.channel = self.connection.channel()
        self.app = Celery("bench", broker=url, set_as_current=False)  # builds the task messages only
        self.queues: list[Any] = []

    def declare(self, name: str) -> None:
        """The queue as both workers declare it: a durable direct exchange of the same name."""
        from kombu import Exchange, Queue

        queue = Queue(name, Exchange(name, "direct"), name)
        queue(self.channel).declare()
        self.queues.append(queue)

    def fill(self, name: str, count: int, loop: int) -> None:
        """Purge the queue and publish `count` task messages (protocol 2, JSON), each its own task id."""
        from kombu import Producer
        from kombu.utils.json import dumps

        self.channel.queue_purge(name)
        producer = Producer(self.channel)
        # ignore_result=None, as app.send_task(name) and beat send it: the task's own setting decides
        # (as_task_v2's default False would override ignore_result: true and store every result).
        template = self.app.amqp.as_task_v2(secrets.token_hex(16), TASK, args=(loop,), kwargs={}, ignore_result=None)
        body = dumps(template.body)
        for _ in range(count):
            task_id = secrets.token_hex(16)
            producer.publish(
                body, exchange=name, routing_key=name, headers=dict(template.headers, id=task_id, root_id=task_id),
                content_type="application/json", content_encoding="utf-8", correlation_id=task_id,
                delivery_mode=2, retry=False,
            )
        self.wait_ready(name, count)

    def ready(self, name: str) -> int:
        return self.channel.queue_declare(queue=name, passive=True).message_count

    def wait_ready(self, name: str, count: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while (ready := self.ready(name)) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"queue {name}: {ready} of {count} messages ready after publishing")
            time.sleep(0.05)

    def close(self) -> None:
        for queue in self.queues:
            try:
                self.channel.queue_delete(queue.name)
                self.channel.exchange_delete(queue.exchange.name)
            except Exception as error:  # noqa: BLE001 - best effort, report and go on
                print(f"warning: could not delete queue {queue.name}: {error}", file=sys.stderr)
        self.connection.release()


# --- workers --------------------------------------------------------------------------------


class Side:
    """One side of the comparison: how to start its worker, its queue, its runs."""

    def __init__(self, label: str, command: list[str], cwd: Path, env: dict[str, str], queue: str, log: Path) -> None:
        self.label, self.command, self.cwd, self.env, self.queue, self.log = label, command, cwd, env, queue, log
        self.rates: list[float] = []
        self.times: list[float] = []
        self.cpu: list[float] = []  # worker CPU ms per task
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the pool's children are stopped with it
            )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        group = process.pid  # the group this run started (start_new_session), never anything else
        try:
            os.killpg(group, signal.SIGTERM)
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass
        try:  # a pool child that outlived its parent
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a worker and its pool's processes so far (from /proc; 0 for one gone)."""
    total, pending, seen = 0, [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
            for thread in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (thread / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total / TICKS


def measure(broker: Broker, side: Side, count: int, loop: int) -> tuple[float, float, float]:
    """One run: fill the queue, start the worker, time first take -> drained.

    Returns (tasks/s, seconds, worker CPU ms per task): the CPU of the worker and its pool
    over the same window, which contention from other processes on the machine skews less.
    """
    broker.fill(side.queue, count, loop)
    side.start()
    assert side.process is not None
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while (first := broker.ready(side.queue)) >= count:
            if side.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{side.label} worker did not start consuming:\n{side.log_tail()}")
            time.sleep(POLL_S)
        start, cpu_start = time.perf_counter(), cpu_seconds(side.process.pid)
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while broker.ready(side.queue) > 0:
            if side.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{side.label} worker did not drain its queue:\n{side.log_tail()}")
            time.sleep(POLL_S)
        elapsed, cpu = time.perf_counter() - start, cpu_seconds(side.process.pid) - cpu_start
    finally:
        side.stop()
    return first / elapsed, elapsed, cpu * 1000 / first


def stored_results(root: Path) -> int:
    """Rows in the gitbeat side's result backend (its default SQLite file): 0 when ignore_result held."""
    import sqlite3

    path = root / ".gitbeat" / "results.db"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return sum(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables if t.startswith("celery_"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default=os.environ.get("BENCH_RABBITMQ_URL", BROKER))
    parser.add_argument("--messages", type=int, default=MESSAGES, help="tasks per run (default %(default)s)")
    parser.add_argument("--runs", type=int, default=RUNS, help="runs per side, alternating (default %(default)s)")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--pool", default="prefork")
    parser.add_argument("--loop", type=int, default=LOOP, help="the handler's loop length (default %(default)s)")
    parser.add_argument("--loglevel", default="INFO", help="both workers' log level (default: gitbeat's, INFO)")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped from outside: still clean up
    tag = secrets.token_hex(4)
    celery_args = ["--pool", args.pool, "--concurrency", str(args.concurrency), "--without-mingle"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITBEAT_", "CELERY_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(Path(__file__).resolve().parents[1] / "engine"),
                                                     env.get("PYTHONPATH", "")] if p)
    broker = Broker(args.broker)
    sides: list[Side] = []
    try:
        with tempfile.TemporaryDirectory(prefix="gitbeat-bench-worker-") as directory:
            tmp = Path(directory)
            gitbeat_queue, plain_queue = f"gbbench-{tag}-gitbeat", f"gbbench-{tag}-plain"
            root = gitbeat_project(tmp / "gitbeat", gitbeat_queue)
            plain = plain_project(tmp / "plain", args.broker)
            gitbeat_env = dict(env, CELERY_BROKER="rabbitmq", CELERY_BROKER_URL=args.broker)
            sides = [
                Side(
                    "gitbeat",
                    [sys.executable, "-m", "gitbeat", "worker", "--config", str(root), "--loglevel", args.loglevel,
                     "--", "--hostname", f"gitbeat-{tag}@%h", *celery_args],
                    root, gitbeat_env, gitbeat_queue, tmp / "gitbeat.log",
                ),
                Side(
                    "plain",
                    [sys.executable, "-m", "celery", "-A", "plain_app", "worker", "--loglevel", args.loglevel,
                     "--queues", plain_queue, "--hostname", f"plain-{tag}@%h", *celery_args],
                    plain, env, plain_queue, tmp / "plain.log",
                ),
            ]
            for side in sides:
                broker.declare(side.queue)
            for run in range(args.runs):
                for side in sides:
                    rate, elapsed, cpu = measure(broker, side, args.messages, args.loop)
                    side.rates.append(rate)
                    side.times.append(elapsed)
                    side.cpu.append(cpu)
                    print(f"  run {run + 1} {side.label:8} {rate:8,.0f} tasks/s ({elapsed:.2f} s), "
                          f"worker CPU {cpu:.3f} ms/task", flush=True)
            stored = stored_results(root)
            if stored:
                raise RuntimeError(f"the gitbeat worker stored {stored} results: ignore_result did not hold")
    finally:
        for side in sides:
            side.stop()
        broker.close()

    gitbeat, plain_side = sides
    g, p = statistics.median(gitbeat.rates), statistics.median(plain_side.rates)
    ratio = g / p
    gc, pc = statistics.median(gitbeat.cpu), statistics.median(plain_side.cpu)
    print(f"workload: {args.messages:,} tasks per run, handler a {args.loop}-step loop, ignore_result, RabbitMQ, "
          f"--pool {args.pool} --concurrency {args.concurrency}, log level {args.loglevel}, {args.runs} runs per side")
    print(f"gitbeat worker, YAML task (GitbeatTask): median {g:,.0f} tasks/s "
          f"(runs {', '.join(f'{r:,.0f}' for r in gitbeat.rates)}; results stored: {stored})")
    print(f"anchor, celery worker, plain @app.task:  median {p:,.0f} tasks/s "
          f"(runs {', '.join(f'{r:,.0f}' for r in plain_side.rates)})")
    print(f"worker CPU per task (worker + pool, same windows): gitbeat median {gc:.3f} ms, plain {pc:.3f} ms, "
          f"plain/gitbeat {pc / gc:.3f}")
    print(f"target ratio >= {TARGET_RATIO:.2f}: {'met' if ratio >= TARGET_RATIO else 'MISSED'} (gitbeat/plain {ratio:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
