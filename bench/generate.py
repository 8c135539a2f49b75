"""Generate a large, valid gitbeat config tree for the benchmarks."""

from __future__ import annotations

import argparse
from pathlib import Path

TIMEZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo")


def generate(
    root: Path,
    schedules: int = 10_000,
    tasks: int = 1_000,
    files: int = 100,
    *,
    handlers: bool = False,
    realistic: bool = False,
) -> Path:
    """Write `schedules` schedules and `tasks` tasks spread over `files` YAML files under `root`.

    With `handlers=True` also write the `jobs` package the tasks name (`jobs/area0.py` ...
    `jobs/area49.py`, each defining its `jobN(*args, **kwargs)`), so the tree passes
    validation with imports and `plan`/`apply` accept it. With `realistic=True` the files
    look like a real project's (see `write_realistic`) instead of the plain default layout.
    """
    if realistic:
        write_realistic(root, schedules, tasks, files)
        if handlers:
            write_handlers(root, tasks)
        return root
    task_files = max(1, files // 5)
    schedule_files = files - task_files
    queues = "queues:\n  default: {}\n  reports:\n    max_priority: 10\n    dead_letter: true\n"
    (root / "tasks" / "generated").mkdir(parents=True, exist_ok=True)
    (root / "schedules" / "generated").mkdir(parents=True, exist_ok=True)
    (root / "gitbeat.yaml").write_text("timezone: UTC\ndefault_queue: default\n")
    for f in range(task_files):
        lines = [queues] if f == 0 else []
        lines.append("tasks:")
        for i in range(f, tasks, task_files):
            lines += [
                f"  area{i % 50}.job{i}:",
                f"    handler: jobs.area{i % 50}:job{i}",
                f"    queue: {'reports' if i % 3 == 0 else 'default'}",
                "    acks_late: true",
                "    time_limit: 5m",
                "    soft_time_limit: 4m",
            ]
            if i % 4 == 0:
                lines += [
                    "    retry:",
                    "      on: [ConnectionError, TimeoutError]",
                    "      max_retries: 3",
                    "      delay: 10s",
                    "      backoff: exponential",
                ]
            if i % 5 == 0:
                lines += ["    rate_limit: 100/m", "    priority: 5"]
        (root / "tasks" / "generated" / f"tasks{f:03}.yaml").write_text("\n".join(lines) + "\n")
    for f in range(schedule_files):
        lines = ["schedules:"]
        for i in range(f, schedules, schedule_files):
            lines += [f"  sched-{i:05}:", f"    task: area{i % tasks % 50}.job{i % tasks}"]
            kind = i % 4
            if kind == 0:
                lines.append(f"    every: {30 + i % 600}s")
            elif kind == 1:
                lines.append(f'    cron: "{i % 60} {(i // 60) % 24} * * *"')
                lines.append(f"    timezone: {TIMEZONES[i % len(TIMEZONES)]}")
            elif kind == 2:
                lines.append(f'    cron: "*/{1 + i % 30} * * * 1-5"')
            else:
                lines.append("    every: 1h")
                lines.append("    jitter: 30s")
                lines.append("    overlap: skip")
            if i % 7 == 0:
                lines += ["    args: [1, two, 3.0]", "    kwargs: {user_id: 42, dry_run: false}"]
            if i % 11 == 0:
                lines += ["    catchup: all", "    catchup_window: 1d", "    expires: 10m"]
        (root / "schedules" / "generated" / f"schedules{f:03}.yaml").write_text("\n".join(lines) + "\n")
    if handlers:
        write_handlers(root, tasks)
    return root


# The zones of the realistic config: each has DST changes, so crons at some hours are skipped or repeated.
DST_ZONES = ("Europe/Berlin", "America/New_York", "Australia/Sydney", "America/Santiago", "Europe/London")
SOLAR_EVENTS = ("sunrise", "sunset", "dawn_civil", "dusk_civil", "solar_noon")
# --size: (schedules, tasks, files) of the realistic configs the benchmarks name.
SIZES = {"10k": (10_000, 1_000, 200), "100k": (100_000, 10_000, 2_000)}
BIG_FILE = 1_000  # schedules in each of the big files


def write_realistic(root: Path, schedules: int, tasks: int, files: int) -> None:
    """A config as a grown project has it, for the validate benchmark (issue #15).

    Crons at every hour of the day in five zones with DST changes (those inside a change
    warn: a few hundred warnings), every schedule kind (cron, every, at, solar), flow
    mappings (kwargs, solar, retry), merge keys (`<<: *defaults`) and aliases, comments,
    quoted strings, a few tasks whose retry budget outlasts their schedules' period (more
    warnings). A fifth of the files hold tasks; 40% of the schedules are in files of 1,000,
    the rest spread over the other files.
    """
    task_files = max(1, files // 5)
    schedule_files = max(1, files - task_files)
    (root / "tasks" / "generated").mkdir(parents=True, exist_ok=True)
    (root / "schedules" / "generated").mkdir(parents=True, exist_ok=True)
    (root / "gitbeat.yaml").write_text("# project defaults\ntimezone: UTC\ndefault_queue: default\n")
    queues = [
        "queues:",
        "  default: {}",
        "  reports:",
        "    max_priority: 10",
        "    dead_letter: true",
        "  bulk: {message_ttl: 1h, max_length: 100000}",
    ]
    for f in range(task_files):
        lines = [f"# tasks of part {f}: generated for the validate benchmark", *(queues if f == 0 else []), "tasks:"]
        for n, i in enumerate(range(f, tasks, task_files)):
            lines += _task(i, n)
        (root / "tasks" / "generated" / f"tasks{f:04}.yaml").write_text("\n".join(lines) + "\n")
    big = min(schedule_files // 2, schedules * 4 // 10 // BIG_FILE)
    rest = schedules - big * BIG_FILE
    bounds = [k * BIG_FILE for k in range(big + 1)]
    small = schedule_files - big
    bounds += [big * BIG_FILE + rest * (k + 1) // small for k in range(small)]
    width = max(5, len(str(schedules - 1)))
    for f in range(schedule_files):
        lines = [f"# schedules of part {f}", "schedules:"]
        for i in range(bounds[f], bounds[f + 1]):
            lines += _schedule(i, tasks, width, template=i == bounds[f])
        (root / "schedules" / "generated" / f"schedules{f:04}.yaml").write_text("\n".join(lines) + "\n")


def _task(i: int, n: int) -> list[str]:
    """Task `i`, the `n`th of its file."""
    head = [f"  area{i % 50}.job{i}:" + (" &task-defaults" if n == 0 else ""), f"    handler: jobs.area{i % 50}:job{i}"]
    if n == 0:
        return [
            *head,
            "    queue: default",
            "    acks_late: true",
            "    time_limit: 5m",
            "    soft_time_limit: 4m",
            "    retry: &retry {on: [ConnectionError, TimeoutError], max_retries: 3, delay: 5s, backoff: exponential}",
        ]
    if i % 100 == 0:  # retries for longer than the period of the schedules that run it: a warning each
        return [
            *head,
            "    queue: reports",
            "    acks_late: true",
            "    retry:",
            "      on: [ConnectionError, tasks.errors.Transient]",
            "      max_retries: 8",
            "      delay: 1m",
            "      backoff: exponential",
            "      backoff_max: 1h",
        ]
    kind = n % 4
    if kind == 0:
        return [*head, "    <<: *task-defaults", f"    queue: {'reports' if i % 3 == 0 else 'default'}"]
    if kind == 1:
        return [
            *head,
            "    queue: bulk",
            "    time_limit: 10m",
            "    soft_time_limit: 9m",
            "    retry:",
            "      on: [ConnectionError]",
            "      max_retries: 5",
            "      delay: 10s",
            "      backoff: fixed",
            "    ignore_result: true",
        ]
    if kind == 2:
        return [*head, "    retry: *retry", "    rate_limit: 100/m", "    priority: 5", "    expires: 1h"]
    return [*head, "    queue: default", f'    description: "job {i}: a task with a description"']


def _schedule(i: int, tasks: int, width: int, *, template: bool) -> list[str]:
    t = i % tasks
    task = f"    task: area{t % 50}.job{t}"
    name = f"  sched-{i:0{width}}:"
    zone = DST_ZONES[(i // 20) % len(DST_ZONES)]
    if template:  # the first of each file: what the merge keys below refer to
        return [
            name + " &defaults",
            task,
            "    every: 15m",
            "    catchup: skip",
            "    expires: 10m",
            "    kwargs: &kwargs {region: eu-west-1, dry_run: false, batch: 500}",
        ]
    kind = i % 20
    if kind < 8:  # a cron at each hour of the day, in a zone with DST changes
        days = "1-5" if i % 3 == 0 else "*"
        lines = [name, task, f'    cron: "{i * 7 % 60} {i // 100 % 24} * * {days}"', f"    timezone: {zone}"]
        if i % 2:
            lines.append(f"    kwargs: {{report: daily-{i % 97}, limit: {i % 1000}, notify: true}}")
        return lines
    if kind < 10:
        cron = ("*/5 * * * *", "@hourly", "0 */2 * * 1-5", "15,45 8-18 * * *")[i % 4]
        return [name, task, f"    cron: '{cron}'", "    # runs in the project's timezone"]
    if kind < 14:
        lines = [name, task, f"    every: {60 + i % 120 * 30}s", f"    args: [{i}, sched-{i}, 2.5, null]"]
        lines.append("    kwargs: {user_id: 42, tags: [a, b], options: {dry_run: false, level: 3}}")
        if i % 2:
            lines += ["    jitter: 10s", "    overlap: skip"]
        return lines
    if kind < 16:  # merge keys: the template's fields, some of them overridden
        return [name, "    <<: *defaults", task, f"    every: {5 + i % 55}m", f"    kwargs: {{<<: *kwargs, user_id: {i}}}"]
    if kind == 16:
        event = SOLAR_EVENTS[i % len(SOLAR_EVENTS)]
        latitude, longitude = -60 + i % 120 + 0.25, -170 + i % 340 + 0.5
        return [name, task, f"    solar: {{event: {event}, latitude: {latitude}, longitude: {longitude}}}"]
    if kind == 17:
        at = f"{2030 + i % 5}-{1 + i % 12:02}-{1 + i % 28:02}T{i % 24:02}:30:00"
        return [name, task, f"    at: {at}", f"    timezone: {zone}", f"    description: 'one-off run {i}'"]
    if kind == 18:
        return [
            name,
            task,
            "    every: 1h",
            "    start_at: 2026-01-01T00:00:00",
            "    end_at: 2031-01-01T00:00:00",
            "    alert_after: 3h",
            "    catchup: all",
            "    catchup_window: 1d",
        ]
    return [
        name,
        task,
        f'    cron: "{i % 60} {i % 24} 1 * *"',
        "    enabled: false",
        "    note: paused during the migration (TICKET-123)",
        "    queue: reports",
        "    routing_key: reports",
        "    priority: 3",
        "    expires: 30m",
    ]


def write_handlers(root: Path, tasks: int) -> None:
    """The `jobs` package: `jobs.areaK` defines `jobN` for every task N with N % 50 == K."""
    package = root / "jobs"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text('"""Generated task handlers for the benchmarks."""\n')
    for area in range(min(50, tasks)):
        lines = [f'"""Handlers of the area{area}.* tasks."""', ""]
        for i in range(area, tasks, 50):
            lines += ["", f"def job{i}(*args, **kwargs):", "    return None", ""]
        (package / f"area{area}.py").write_text("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", type=Path)
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=1_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--handlers", action="store_true", help="also write the jobs/ package the tasks name")
    parser.add_argument("--realistic", action="store_true", help="DST zones, flow mappings, merge keys, every kind")
    parser.add_argument(
        "--size", choices=sorted(SIZES), help="a realistic config of this size (sets --schedules, --tasks, --files)"
    )
    args = parser.parse_args()
    if args.size:
        args.schedules, args.tasks, args.files = SIZES[args.size]
    realistic = args.realistic or args.size is not None
    generate(args.root, args.schedules, args.tasks, args.files, handlers=args.handlers, realistic=realistic)
