"""Generate a large, valid gitbeat config tree for the benchmarks."""

from __future__ import annotations

import argparse
from pathlib import Path

TIMEZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo")


def generate(
    root: Path, schedules: int = 10_000, tasks: int = 1_000, files: int = 100, *, handlers: bool = False
) -> Path:
    """Write `schedules` schedules and `tasks` tasks spread over `files` YAML files under `root`.

    With `handlers=True` also write the `jobs` package the tasks name (`jobs/area0.py` ...
    `jobs/area49.py`, each defining its `jobN(*args, **kwargs)`), so the tree passes
    validation with imports and `plan`/`apply` accept it.
    """
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
    args = parser.parse_args()
    generate(args.root, args.schedules, args.tasks, args.files, handlers=args.handlers)
