"""Benchmark: `gitbeat apply` and `gitbeat plan` with 10,000 schedules on PostgreSQL.

Applies 10,000 new schedules (1,000 tasks, 100 files) to a fresh database, changes 1%
of them (100 schedules) and plans and applies again, every step timed as the whole
command in its own process. In the same run, the anchor: the same 10,000 schedules
inserted through sqlalchemy-celery-beat's models one at a time (a session, add and
commit per schedule, the way its README shows and a user or an admin form does), into
a fresh database of its own.

Targets (SPEC §7), whole commands: plan <= 1 s, apply of 10,000 new schedules <= 1.5 s,
so >= 40x faster than the anchor (measured here at about 61 s).

Needs PostgreSQL (default postgresql://root@127.0.0.1:5432, trust auth) and the bench
extra: `pip install -e '.[bench]'`. Every database the run creates is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import generate

SCHEDULES = 10_000
TASKS = 1_000
FILES = 100
CHANGED = SCHEDULES // 100
RUNS = 5  # repeated measurements, reported as median
FIRST_APPLY_RUNS = 3  # fresh databases for the first apply of 10,000 new schedules
ANCHOR_BUDGET_S = 120.0  # past this the anchor stops (after >= 1,000) and is extrapolated
ANCHOR_MIN_SAMPLE = 1_000
TARGET_PLAN_S = 1.0
TARGET_APPLY_S = 1.5
TARGET_RATIO = 40.0
SPEC_ANCHOR_S = 61.0  # scb, 10,000 one by one, as SPEC §7 records it


# --- databases -----------------------------------------------------------------------


class Databases:
    """Creates fresh, uniquely named databases on the server and drops them all at the end."""

    def __init__(self, server: str) -> None:
        import psycopg2

        self.server = server.rstrip("/")
        self.prefix = f"gitbeat_bench_{secrets.token_hex(4)}"
        self.admin = psycopg2.connect(f"{self.server}/postgres")
        self.admin.autocommit = True
        self.created: list[str] = []

    def create(self, label: str) -> str:
        name = f"{self.prefix}_{label}"
        with self.admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return f"{self.server}/{name}"

    def drop_all(self) -> None:
        with self.admin.cursor() as cursor:
            for name in reversed(self.created):
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()
        self.admin.close()


@contextmanager
def databases(server: str) -> Iterator[Databases]:
    dbs = Databases(server)
    try:
        yield dbs
    finally:
        dbs.drop_all()


# --- the config tree -------------------------------------------------------------------


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def make_tree(root: Path) -> Path:
    """The generated config with its handlers, committed in a git repository as in real use."""
    generate(root, SCHEDULES, TASKS, FILES, handlers=True)
    git(root, "init", "-q")
    git(root, "config", "user.name", "gitbeat bench")
    git(root, "config", "user.email", "bench@gitbeat.invalid")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "10,000 schedules")
    return root


def changed_names() -> list[str]:
    """1% of the schedules, spread over the files and over the four kinds the generator writes."""
    step = SCHEDULES // CHANGED
    return [f"sched-{k * step + k % 4:05}" for k in range(CHANGED)]


def change_schedules(root: Path, names: list[str]) -> int:
    """Edit the YAML: half of the schedules get a new cron/every, the other half new args."""
    wanted = {name: index for index, name in enumerate(names)}
    done = 0
    for path in sorted((root / "schedules").rglob("*.yaml")):
        lines = path.read_text().splitlines()
        out: list[str] = []
        index = None  # the index in `names` of the schedule whose block we are in, if changed
        args_done = False
        for line in lines:
            head = re.match(r"  (sched-\d+):$", line)
            if head:
                if index is not None and index % 2 == 1 and not args_done:
                    out.append(f"    args: [changed, {index}]")
                index = wanted.get(head.group(1))
                args_done = False
                done += index is not None
                out.append(line)
                continue
            if index is not None:
                if index % 2 == 0 and line.startswith("    every: "):
                    line = f"    every: {45 + index}m"
                elif index % 2 == 0 and line.startswith("    cron: "):
                    line = f'    cron: "{index % 60} {index % 24} * * 0"'
                elif index % 2 == 1 and line.startswith("    args: "):
                    line = f"    args: [changed, {index}]"
                    args_done = True
            out.append(line)
        if index is not None and index % 2 == 1 and not args_done:
            out.append(f"    args: [changed, {index}]")
        path.write_text("\n".join(out) + "\n")
    return done


# --- timing whole commands ----------------------------------------------------------


def timed(command: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - start, result


class Gitbeat:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GITBEAT_")}

    def run(self, url: str, *args: str, expect: str | None = None) -> tuple[float, str]:
        command = [sys.executable, "-m", "gitbeat", *args, "--config", str(self.root), "--database", url]
        start = time.perf_counter()
        result = subprocess.run(command, cwd=self.root, capture_output=True, text=True, env=self.env)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            raise RuntimeError(
                f"`gitbeat {' '.join(args)}` exited {result.returncode}:\n{result.stderr[-3000:]}{result.stdout[-1000:]}"
            )
        output = result.stdout.strip()
        if expect is not None and not re.search(expect, output):
            raise RuntimeError(f"`gitbeat {' '.join(args)}` did not print {expect!r}:\n{output[-2000:]}")
        return elapsed, output


def summary_line(output: str) -> str:
    return output.splitlines()[-1] if output else ""


# --- the anchor: sqlalchemy-celery-beat, one schedule at a time -----------------------


def anchor_rows(root: Path) -> list[dict]:
    """The same schedules, as sqlalchemy-celery-beat fields (what a user would type into its admin)."""
    from gitbeat.loader import load_config

    config, diagnostics = load_config(root)
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        raise RuntimeError(f"the generated config has {len(errors)} errors")
    rows = []
    for name, spec in config.schedules.items():
        task = config.tasks[spec.task]
        row = {
            "name": name,
            "task": spec.task,
            "args": json.dumps(spec.args),
            "kwargs": json.dumps(spec.kwargs),
            "queue": spec.queue or task.queue or config.project.default_queue,
            "priority": spec.priority if spec.priority is not None else task.priority,
            "expire_seconds": int(spec.expires) if spec.expires else None,
            "enabled": spec.enabled,
        }
        if spec.every is not None:
            row["interval"] = int(spec.every)
        elif spec.cron is not None:
            minute, hour, day_of_month, month_of_year, day_of_week = spec.cron.split()
            row["crontab"] = {
                "minute": minute,
                "hour": hour,
                "day_of_month": day_of_month,
                "month_of_year": month_of_year,
                "day_of_week": day_of_week,
                "timezone": spec.timezone or config.project.timezone or "UTC",
            }
        else:
            raise RuntimeError(f"{name}: the anchor maps only cron and every schedules")
        rows.append(row)
    return rows


def run_anchor(url: str, rows: list[dict], budget: float, *, per_session_engine: bool = False) -> tuple[float, int, float]:
    """Insert the rows one at a time; (seconds, rows inserted, seconds extrapolated to all rows).

    Each schedule is its own session: look up or create its IntervalSchedule or
    CrontabSchedule, add the PeriodicTask, commit, as the library's README shows. By
    default the sessions share one pooled engine, as a web admin holds it (the fair, and
    fast, way). With `per_session_engine`, each session comes from the library's own
    `SessionManager.session_factory`, which outside a forked worker makes a new engine
    without a pool, so a new connection, for every session.
    """
    import sqlalchemy as sa
    from sqlalchemy.orm import sessionmaker
    from sqlalchemy_celery_beat.models import CrontabSchedule, IntervalSchedule, Period, PeriodicTask
    from sqlalchemy_celery_beat.session import ModelBase, SessionManager, session_cleanup

    dburi = url.replace("postgresql://", "postgresql+psycopg2://", 1)
    manager = SessionManager()
    engine = sa.create_engine(dburi).execution_options(schema_translate_map={"celery_schema": None})
    ModelBase.metadata.create_all(engine)  # the tables: not timed, like `gitbeat db upgrade`
    manager.prepared = True
    factory = sessionmaker(bind=engine, expire_on_commit=False)

    def new_session():
        return manager.session_factory(dburi) if per_session_engine else factory()

    start = time.perf_counter()
    done = 0
    for row in rows:
        session = new_session()
        with session_cleanup(session):
            if "interval" in row:
                schedule = (
                    session.query(IntervalSchedule).filter_by(every=row["interval"], period=Period.SECONDS).first()
                )
                if not schedule:
                    schedule = IntervalSchedule(every=row["interval"], period=Period.SECONDS)
                    session.add(schedule)
                    session.commit()
            else:
                schedule = session.query(CrontabSchedule).filter_by(**row["crontab"]).first()
                if not schedule:
                    schedule = CrontabSchedule(**row["crontab"])
                    session.add(schedule)
                    session.commit()
            task = PeriodicTask(
                schedule_model=schedule,
                name=row["name"],
                task=row["task"],
                args=row["args"],
                kwargs=row["kwargs"],
                queue=row["queue"],
                priority=row["priority"],
                expire_seconds=row["expire_seconds"],
                enabled=row["enabled"],
            )
            session.add(task)
            session.commit()
        done += 1
        if done >= ANCHOR_MIN_SAMPLE and done < len(rows) and time.perf_counter() - start > budget:
            break
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed, done, elapsed * len(rows) / done


def count_rows(url: str, table: str) -> int:
    import psycopg2

    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table}")
            return cursor.fetchone()[0]
    finally:
        connection.close()


# --- the run -------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def show(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f} s"
    return f"median {median(values):.3f} s (best {min(values):.3f}, worst {max(values):.3f}, n={len(values)})"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="postgresql://root@127.0.0.1:5432", help="PostgreSQL server URL, no database")
    parser.add_argument("--runs", type=int, default=RUNS, help="repeats of each repeated measurement")
    parser.add_argument("--anchor-budget", type=float, default=ANCHOR_BUDGET_S,
                        help="seconds after which the anchor stops (after >= 1,000 rows) and is extrapolated")
    parser.add_argument("--skip-anchor", action="store_true", help="gitbeat figures only")
    parser.add_argument("--factory-sample", type=int, default=ANCHOR_MIN_SAMPLE,
                        help="also time this many rows through the library's session_factory (0: skip)")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gitbeat-bench-") as directory, databases(options.server) as dbs:
        root = make_tree(Path(directory))
        gitbeat = Gitbeat(root)
        files = len(list(root.rglob("*.yaml")))
        rows = [] if options.skip_anchor else anchor_rows(root)
        print(f"config: {SCHEDULES:,} schedules + {TASKS:,} tasks in {files} YAML files, handlers in jobs/ "
              f"(a git repository); PostgreSQL at {options.server}, fresh databases {dbs.prefix}_*")
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
        print()

        # 1. First apply of 10,000 new schedules, on fresh databases: migration timed on its own.
        upgrades, first_applies = [], []
        for run in range(FIRST_APPLY_RUNS):
            url = dbs.create(f"apply{run}")
            upgrades.append(gitbeat.run(url, "db", "upgrade", expect=r"upgraded")[0])
            seconds, output = gitbeat.run(url, "apply", expect=r"Applied revision 1")
            first_applies.append(seconds)
            stored = count_rows(url, "gitbeat_schedules")
            if stored != SCHEDULES:
                raise RuntimeError(f"apply stored {stored} schedules, expected {SCHEDULES}")
        first_output = output
        empty_url = dbs.create("empty")
        with_migration, _ = gitbeat.run(empty_url, "apply", expect=r"Applied revision 1")
        url = dbs.create("main")
        gitbeat.run(url, "db", "upgrade")
        gitbeat.run(url, "apply", expect=r"Applied revision 1")

        # 2. Nothing changed: apply (idempotent) and plan.
        noop_applies = [gitbeat.run(url, "apply", expect=r"No changes")[0] for _ in range(options.runs)]
        noop_plans = [gitbeat.run(url, "plan", expect=r"No changes")[0] for _ in range(options.runs)]

        # 3. Change 1% in the YAML, commit it, plan, apply.
        names = changed_names()
        edited = change_schedules(root, names)
        if edited != CHANGED:
            raise RuntimeError(f"changed {edited} schedules, expected {CHANGED}")
        git(root, "commit", "-q", "-am", f"change {CHANGED} schedules")
        expect_plan = rf"\b{CHANGED} to change\b"
        change_plans = []
        for _ in range(options.runs):
            seconds, plan_output = gitbeat.run(url, "plan", expect=expect_plan)
            change_plans.append(seconds)
        change_apply, change_output = gitbeat.run(url, "apply", expect=rf"\b{CHANGED} to change\b")
        after_plan, _ = gitbeat.run(url, "plan", expect=r"No changes")
        # More samples of a 100-schedule change: revert and re-apply, alternately.
        change_applies = [change_apply]
        for run in range(options.runs - 1):
            git(root, "revert", "--no-edit", "HEAD")
            change_applies.append(gitbeat.run(url, "apply", expect=rf"\b{CHANGED} to change\b")[0])

        # 4. The anchor.
        anchor = factory = None
        if not options.skip_anchor:
            anchor_url = dbs.create("scb")
            anchor = run_anchor(anchor_url, rows, options.anchor_budget)
            stored = count_rows(anchor_url, "celery_periodictask")
            if stored != anchor[1]:
                raise RuntimeError(f"the anchor stored {stored} rows, inserted {anchor[1]}")
            if options.factory_sample:
                factory_url = dbs.create("scb_factory")
                factory = run_anchor(factory_url, rows[: options.factory_sample], 0.0, per_session_engine=True)

    first = median(first_applies)
    plan = median(change_plans)
    print(f"gitbeat db upgrade (empty database -> schema), whole command: {show(upgrades)}")
    print(f"gitbeat apply, {SCHEDULES:,} new schedules, migrated database, whole command: {show(first_applies)}")
    print(f"    {summary_line(first_output)}")
    print(f"gitbeat apply, {SCHEDULES:,} new schedules, empty database (migration included): {with_migration:.3f} s")
    print(f"gitbeat apply, nothing changed (idempotent re-run): {show(noop_applies)}")
    print(f"gitbeat plan, nothing changed: {show(noop_plans)}")
    print(f"gitbeat plan, {CHANGED} of {SCHEDULES:,} schedules changed: {show(change_plans)}")
    print(f"    {summary_line(plan_output)}")
    print(f"gitbeat apply, {CHANGED} of {SCHEDULES:,} schedules changed: {show(change_applies)}")
    print(f"    {summary_line(change_output)}")
    print(f"gitbeat plan right after that apply: {after_plan:.3f} s (no changes)")
    print()
    if anchor is not None:
        seconds, done, total = anchor
        if done == SCHEDULES:
            print(f"anchor, sqlalchemy-celery-beat, {SCHEDULES:,} schedules inserted one at a time (a session, "
                  f"add + commit each, one pooled engine): {total:.1f} s ({1000 * total / SCHEDULES:.2f} ms a schedule)")
        else:
            print(f"anchor, sqlalchemy-celery-beat, one at a time: {done:,} inserted in {seconds:.1f} s, "
                  f"EXTRAPOLATED linearly to {SCHEDULES:,}: {total:.1f} s ({1000 * seconds / done:.2f} ms a schedule)")
        if options.factory_sample:
            f_seconds, f_done, _ = factory
            print(f"    for comparison, each session from the library's SessionManager.session_factory (a new engine and "
                  f"connection each): {1000 * f_seconds / f_done:.2f} ms a schedule over a sample of {f_done:,}, "
                  f"{f_seconds / f_done * SCHEDULES:.0f} s for {SCHEDULES:,} extrapolated; not used for the ratio")
        ratio = total / first
        print(f"ratio anchor / gitbeat apply of {SCHEDULES:,} new schedules: {ratio:.1f}x")
        print(f"    (against the anchor SPEC §7 records, scb {SPEC_ANCHOR_S:.0f} s: {SPEC_ANCHOR_S / first:.1f}x; "
              f"the ratio target uses the anchor measured in this run)")
        print()
    print(f"target plan <= {TARGET_PLAN_S:.1f} s ({CHANGED} changed): {verdict(plan <= TARGET_PLAN_S)} ({plan:.3f} s)")
    print(f"target apply <= {TARGET_APPLY_S:.1f} s ({SCHEDULES:,} new): {verdict(first <= TARGET_APPLY_S)} ({first:.3f} s)")
    if anchor is not None:
        print(f"target ratio >= {TARGET_RATIO:.0f}x: {verdict(ratio >= TARGET_RATIO)} ({ratio:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
