"""Benchmark: `gitbeat apply` and `gitbeat plan` with 10,000 schedules on PostgreSQL and MariaDB.

Applies 10,000 new schedules (1,000 tasks, 100 files) to a fresh database, changes 1%
of them (100 schedules) and plans and applies again, every step timed as the whole
command in its own process. The same steps run on PostgreSQL and then on MariaDB (a
config tree of its own each, the same generated schedules), printed side by side. In
the same run, the anchor: the same 10,000 schedules inserted through
sqlalchemy-celery-beat's models one at a time (a session, add and commit per schedule,
the way its README shows and a user or an admin form does), into a fresh PostgreSQL
database of its own (the anchor is not run on MariaDB).

Targets (SPEC §7), whole commands: plan <= 1 s, apply of 10,000 new schedules <= 1.5 s,
so >= 40x faster than the anchor (measured here at about 61 s); on MariaDB, apply of
10,000 new schedules <= 2 s.

Needs PostgreSQL (default postgresql://root@127.0.0.1:5432, trust auth), MariaDB or
MySQL (default mysql://root@127.0.0.1:3306; --skip-mariadb to leave it out) and the
bench extra: `pip install -e '.[bench]'`. Every database the run creates, on either
server, is dropped at the end, also on failure.
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
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

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
TARGET_APPLY_MARIADB_S = 2.0
TARGET_RATIO = 40.0
SPEC_ANCHOR_S = 61.0  # scb, 10,000 one by one, as SPEC §7 records it


# --- databases -----------------------------------------------------------------------


def is_mysql(url: str) -> bool:
    return url.split("://", 1)[0].split("+", 1)[0] in ("mysql", "mariadb")


def connect(url: str) -> Any:
    """An autocommit DB-API connection to a PostgreSQL or MySQL/MariaDB URL; without a database, to the server."""
    database = urlsplit(url).path.strip("/")
    if is_mysql(url):
        import pymysql

        parts = urlsplit(url)
        return pymysql.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 3306,
                               user=unquote(parts.username or "root"), password=unquote(parts.password or ""),
                               database=database or None, autocommit=True, connect_timeout=10)
    import psycopg2

    connection = psycopg2.connect(url if database else f"{url.rstrip('/')}/postgres")
    connection.autocommit = True
    return connection


class Databases:
    """Creates fresh, uniquely named databases on a PostgreSQL or MariaDB (MySQL) server and drops them all at the end."""

    def __init__(self, server: str, prefix: str | None = None) -> None:
        self.server = server.rstrip("/")
        self.prefix = prefix or f"gitbeat_bench_{secrets.token_hex(4)}"
        self.mysql = is_mysql(self.server)
        self.kind = "MariaDB" if self.mysql else "PostgreSQL"
        self.admin = connect(self.server)
        self.created: list[str] = []

    def create(self, label: str) -> str:
        name = f"{self.prefix}_{label}"
        with self.admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4" if self.mysql else f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return f"{self.server}/{name}"

    def drop_all(self) -> None:
        try:
            with self.admin.cursor() as cursor:
                for name in reversed(self.created):
                    cursor.execute(f"DROP DATABASE IF EXISTS `{name}`" if self.mysql
                                   else f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self.created.clear()
        finally:
            self.admin.close()


@contextmanager
def databases(server: str, prefix: str | None = None) -> Iterator[Databases]:
    dbs = Databases(server, prefix)
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
    connection = connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table}")
            return cursor.fetchone()[0]
    finally:
        connection.close()


# --- the run -------------------------------------------------------------------------


@dataclass
class Figures:
    """gitbeat's figures on one database server: seconds of whole commands, and what they printed."""

    upgrades: list[float]
    first_applies: list[float]
    first_output: str
    with_migration: float
    noop_applies: list[float]
    noop_plans: list[float]
    change_plans: list[float]
    plan_output: str
    change_applies: list[float]
    change_output: str
    after_plan: float


def measure(root: Path, dbs: Databases, runs: int) -> Figures:
    """gitbeat's steps on fresh databases of one server; `root` is edited and committed on the way."""
    gitbeat = Gitbeat(root)

    # 1. First apply of 10,000 new schedules, on fresh databases: migration timed on its own.
    upgrades, first_applies = [], []
    for run in range(FIRST_APPLY_RUNS):
        url = dbs.create(f"apply{run}")
        upgrades.append(gitbeat.run(url, "db", "upgrade", expect=r"upgraded")[0])
        seconds, first_output = gitbeat.run(url, "apply", expect=r"Applied revision 1")
        first_applies.append(seconds)
        stored = count_rows(url, "gitbeat_schedules")
        if stored != SCHEDULES:
            raise RuntimeError(f"apply stored {stored} schedules on {dbs.kind}, expected {SCHEDULES}")
    empty_url = dbs.create("empty")
    with_migration, _ = gitbeat.run(empty_url, "apply", expect=r"Applied revision 1")
    url = dbs.create("main")
    gitbeat.run(url, "db", "upgrade")
    gitbeat.run(url, "apply", expect=r"Applied revision 1")

    # 2. Nothing changed: apply (idempotent) and plan.
    noop_applies = [gitbeat.run(url, "apply", expect=r"No changes")[0] for _ in range(runs)]
    noop_plans = [gitbeat.run(url, "plan", expect=r"No changes")[0] for _ in range(runs)]

    # 3. Change 1% in the YAML, commit it, plan, apply.
    names = changed_names()
    edited = change_schedules(root, names)
    if edited != CHANGED:
        raise RuntimeError(f"changed {edited} schedules, expected {CHANGED}")
    git(root, "commit", "-q", "-am", f"change {CHANGED} schedules")
    expect_plan = rf"\b{CHANGED} to change\b"
    change_plans = []
    for _ in range(runs):
        seconds, plan_output = gitbeat.run(url, "plan", expect=expect_plan)
        change_plans.append(seconds)
    change_apply, change_output = gitbeat.run(url, "apply", expect=rf"\b{CHANGED} to change\b")
    after_plan, _ = gitbeat.run(url, "plan", expect=r"No changes")
    # More samples of a 100-schedule change: revert and re-apply, alternately.
    change_applies = [change_apply]
    for _ in range(runs - 1):
        git(root, "revert", "--no-edit", "HEAD")
        change_applies.append(gitbeat.run(url, "apply", expect=rf"\b{CHANGED} to change\b")[0])
    return Figures(upgrades, first_applies, first_output, with_migration, noop_applies, noop_plans, change_plans,
                   plan_output, change_applies, change_output, after_plan)


def median(values: list[float]) -> float:
    return statistics.median(values)


def cell(values: list[float]) -> str:
    """The median, and best-worst when there are several."""
    if len(values) == 1:
        return f"{values[0]:.3f} s"
    return f"{median(values):.3f} s ({min(values):.3f}-{max(values):.3f})"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="postgresql://root@127.0.0.1:5432", help="PostgreSQL server URL, no database")
    parser.add_argument("--mariadb", default="mysql://root@127.0.0.1:3306", help="MariaDB (or MySQL) server URL, no database")
    parser.add_argument("--skip-mariadb", action="store_true", help="PostgreSQL only")
    parser.add_argument("--runs", type=int, default=RUNS, help="repeats of each repeated measurement")
    parser.add_argument("--anchor-budget", type=float, default=ANCHOR_BUDGET_S,
                        help="seconds after which the anchor stops (after >= 1,000 rows) and is extrapolated")
    parser.add_argument("--skip-anchor", action="store_true", help="gitbeat figures only")
    parser.add_argument("--factory-sample", type=int, default=ANCHOR_MIN_SAMPLE,
                        help="also time this many rows through the library's session_factory (0: skip)")
    options = parser.parse_args()
    servers = [options.server] if options.skip_mariadb else [options.server, options.mariadb]
    prefix = f"gitbeat_bench_{secrets.token_hex(4)}"

    with tempfile.TemporaryDirectory(prefix="gitbeat-bench-") as directory, ExitStack() as stack:
        all_dbs = [stack.enter_context(databases(server, prefix)) for server in servers]
        pg = all_dbs[0]
        # A tree of its own for each server (step 3 edits it), the same generated schedules in each.
        roots = {dbs.kind: make_tree(Path(directory) / dbs.kind) for dbs in all_dbs}
        files = len(list(roots[pg.kind].rglob("*.yaml")))
        rows = [] if options.skip_anchor else anchor_rows(roots[pg.kind])
        where = ", ".join(f"{dbs.kind} at {dbs.server}" for dbs in all_dbs)
        print(f"config: {SCHEDULES:,} schedules + {TASKS:,} tasks in {files} YAML files, handlers in jobs/ "
              f"(a git repository); {where}, fresh databases {prefix}_* on each")
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start")
        print()

        figures = {dbs.kind: measure(roots[dbs.kind], dbs, options.runs) for dbs in all_dbs}

        # 4. The anchor, on PostgreSQL only.
        anchor = factory = None
        if not options.skip_anchor:
            anchor_url = pg.create("scb")
            anchor = run_anchor(anchor_url, rows, options.anchor_budget)
            stored = count_rows(anchor_url, "celery_periodictask")
            if stored != anchor[1]:
                raise RuntimeError(f"the anchor stored {stored} rows, inserted {anchor[1]}")
            if options.factory_sample:
                factory_url = pg.create("scb_factory")
                factory = run_anchor(factory_url, rows[: options.factory_sample], 0.0, per_session_engine=True)

    width = 26
    print(f"gitbeat, whole commands, each in its own process: median (best-worst) of n={FIRST_APPLY_RUNS} fresh databases "
          f"for the first apply, of n={options.runs} otherwise")
    print(f"{'':<62}" + "".join(f"{kind:>{width}}" for kind in figures))

    def row(label: str, values: Callable[[Figures], list[float]]) -> None:
        print(f"{label:<62}" + "".join(f"{cell(values(f)):>{width}}" for f in figures.values()))

    row("db upgrade (empty database -> schema)", lambda f: f.upgrades)
    row(f"apply, {SCHEDULES:,} new schedules, migrated database", lambda f: f.first_applies)
    row(f"apply, {SCHEDULES:,} new schedules, empty database (with migration)", lambda f: [f.with_migration])
    row("apply, nothing changed (idempotent re-run)", lambda f: f.noop_applies)
    row("plan, nothing changed", lambda f: f.noop_plans)
    row(f"plan, {CHANGED} of {SCHEDULES:,} schedules changed", lambda f: f.change_plans)
    row(f"apply, {CHANGED} of {SCHEDULES:,} schedules changed", lambda f: f.change_applies)
    row("plan right after that apply (no changes)", lambda f: [f.after_plan])
    for kind, f in figures.items():
        print(f"what gitbeat printed on {kind}:")
        print(f"    apply, {SCHEDULES:,} new: {summary_line(f.first_output)}")
        print(f"    plan, {CHANGED} changed: {summary_line(f.plan_output)}")
        print(f"    apply, {CHANGED} changed: {summary_line(f.change_output)}")
    print()
    first = median(figures[pg.kind].first_applies)
    plan = median(figures[pg.kind].change_plans)
    if anchor is not None:
        seconds, done, total = anchor
        if done == SCHEDULES:
            print(f"anchor, sqlalchemy-celery-beat on PostgreSQL, {SCHEDULES:,} schedules inserted one at a time (a "
                  f"session, add + commit each, one pooled engine): {total:.1f} s ({1000 * total / SCHEDULES:.2f} ms a "
                  f"schedule)")
        else:
            print(f"anchor, sqlalchemy-celery-beat on PostgreSQL, one at a time: {done:,} inserted in {seconds:.1f} s, "
                  f"EXTRAPOLATED linearly to {SCHEDULES:,}: {total:.1f} s ({1000 * seconds / done:.2f} ms a schedule)")
        if options.factory_sample:
            f_seconds, f_done, _ = factory
            print(f"    for comparison, each session from the library's SessionManager.session_factory (a new engine and "
                  f"connection each): {1000 * f_seconds / f_done:.2f} ms a schedule over a sample of {f_done:,}, "
                  f"{f_seconds / f_done * SCHEDULES:.0f} s for {SCHEDULES:,} extrapolated; not used for the ratio")
        ratio = total / first
        print(f"ratio anchor / gitbeat apply of {SCHEDULES:,} new schedules, both on PostgreSQL: {ratio:.1f}x")
        print(f"    (against the anchor SPEC §7 records, scb {SPEC_ANCHOR_S:.0f} s: {SPEC_ANCHOR_S / first:.1f}x; "
              f"the ratio target uses the anchor measured in this run)")
        print()
    print(f"target plan <= {TARGET_PLAN_S:.1f} s ({CHANGED} changed), PostgreSQL: {verdict(plan <= TARGET_PLAN_S)} "
          f"({plan:.3f} s)")
    print(f"target apply <= {TARGET_APPLY_S:.1f} s ({SCHEDULES:,} new), PostgreSQL: {verdict(first <= TARGET_APPLY_S)} "
          f"({first:.3f} s)")
    if "MariaDB" in figures:
        first_mariadb = median(figures["MariaDB"].first_applies)
        print(f"target apply <= {TARGET_APPLY_MARIADB_S:.1f} s ({SCHEDULES:,} new), MariaDB: "
              f"{verdict(first_mariadb <= TARGET_APPLY_MARIADB_S)} ({first_mariadb:.3f} s)")
    if anchor is not None:
        print(f"target ratio >= {TARGET_RATIO:.0f}x (PostgreSQL): {verdict(ratio >= TARGET_RATIO)} ({ratio:.1f}x)")
    print(f"(load average {os.getloadavg()[0]:.2f} at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
