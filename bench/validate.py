"""Benchmark: `gitbeat validate --no-imports` on a realistic config, beside PyYAML on the same files.

SPEC §7: on the realistic config (10,000 schedules and 1,000 tasks in 200 files, see
`generate.write_realistic`) the whole command takes at most 1.0x a plain
`yaml.load(..., Loader=yaml.CSafeLoader)` of the same files, and at most 0.5 s on a quiet
machine; on 100,000 schedules (`--size 100k`) at most 5 s and 400 MB peak.

Each command runs in a fresh interpreter (its start included), the three alternating so
that a drift of the machine's speed hits them alike; medians of `--runs` rounds (at least
7). Printed beside gitbeat: the CSafeLoader load of the same files (the anchor of the ratio)
and libyaml's own composer on them (`yaml.compose`, nodes with marks: the floor of reading
YAML with positions from Python). Peak memory is each process's own (ru_maxrss, as VmHWM).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import SIZES, generate

# The same files gitbeat reads: gitbeat.yaml and every *.yaml under tasks/ and schedules/.
_FILES = (
    "import pathlib, yaml\n"
    "files = [pathlib.Path('gitbeat.yaml'), *sorted(pathlib.Path('tasks').rglob('*.yaml')),"
    " *sorted(pathlib.Path('schedules').rglob('*.yaml'))]\n"
)
LOAD = _FILES + "for f in files:\n    yaml.load(f.read_text(), Loader=yaml.CSafeLoader)\n"
COMPOSE = _FILES + "for f in files:\n    yaml.compose(f.read_text(), Loader=yaml.CSafeLoader)\n"
TARGETS = {  # size: (ratio to the CSafeLoader load, seconds on a quiet machine, peak MB)
    "10k": (1.0, 0.5, None),
    "100k": (None, 5.0, 400),
}


def run_once(command: list[str], cwd: Path) -> tuple[float, int, int]:
    """Seconds, peak RSS (KiB) and exit code of one fresh-interpreter run of `command`."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="10k")
    parser.add_argument("--runs", type=int, default=7, help="rounds (at least 7)")
    parser.add_argument("--keep", type=Path, help="generate into this directory (kept) instead of a temporary one")
    args = parser.parse_args()
    runs = max(7, args.runs)
    schedules, tasks, files = SIZES[args.size]
    with tempfile.TemporaryDirectory() as directory:
        root = args.keep or Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        generate(root, schedules, tasks, files, realistic=True)
        count = len(list(root.rglob("*.yaml")))
        megabytes = sum(path.stat().st_size for path in root.rglob("*.yaml")) / 1024 / 1024
        commands = {
            "gitbeat validate --no-imports": [sys.executable, "-m", "gitbeat", "validate", "--no-imports"],
            "yaml.load, CSafeLoader": [sys.executable, "-c", LOAD],
            "yaml.compose, CSafeLoader": [sys.executable, "-c", COMPOSE],
        }
        check = subprocess.run(commands["gitbeat validate --no-imports"], cwd=root, capture_output=True, text=True)
        if check.returncode != 0:
            print(check.stderr[-2000:], file=sys.stderr)
            return 1
        for command in commands.values():  # warm the page cache and the bytecode
            run_once(command, root)
        load_before = os.getloadavg()
        times: dict[str, list[float]] = {name: [] for name in commands}
        peaks: dict[str, list[int]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, command in commands.items():
                seconds, peak, code = run_once(command, root)
                if code != 0:
                    print(f"{name} failed (exit {code})", file=sys.stderr)
                    return 1
                times[name].append(seconds)
                peaks[name].append(peak)
        load_after = os.getloadavg()
    print(
        f"config: {schedules:,} schedules + {tasks:,} tasks in {count} files, {megabytes:.1f} MB "
        f"({check.stdout.strip()})"
    )
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}; {runs} rounds, medians")
    anchor = statistics.median(times["yaml.load, CSafeLoader"])
    for name in commands:
        median = statistics.median(times[name])
        print(
            f"  {name:32} {median:6.3f} s  (best {min(times[name]):.3f})  peak {max(peaks[name]) / 1024:6.1f} MB"
            f"  {median / anchor:5.2f}x the load"
        )
    ratio_target, seconds_target, peak_target = TARGETS[args.size]
    median = statistics.median(times["gitbeat validate --no-imports"])
    peak_mb = max(peaks["gitbeat validate --no-imports"]) / 1024
    verdicts = []
    if ratio_target is not None:
        ratio = median / anchor
        verdicts.append(f"<= {ratio_target:.1f}x the load: {'met' if ratio <= ratio_target else 'MISSED'} ({ratio:.2f}x)")
    verdicts.append(f"<= {seconds_target:.1f} s: {'met' if median <= seconds_target else 'MISSED'} ({median:.3f} s)")
    if peak_target is not None:
        verdicts.append(f"<= {peak_target} MB peak: {'met' if peak_mb <= peak_target else 'MISSED'} ({peak_mb:.0f} MB)")
    print("target " + "; ".join(verdicts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
