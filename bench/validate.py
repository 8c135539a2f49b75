"""Benchmark: `gitbeat validate --no-imports` on 10,000 schedules and 1,000 tasks in 100 files.

Target (SPEC §7): the whole command in at most 1 s. None of the anchors validates, so
the anchor printed beside it is the floor: the same interpreter starting and exiting.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import generate

RUNS = 7
TARGET_S = 1.0


def timed(command: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - start, result


def main() -> int:
    with tempfile.TemporaryDirectory() as directory:
        root = generate(Path(directory))
        files = len(list(root.rglob("*.yaml")))
        command = [sys.executable, "-m", "gitbeat", "validate", "--no-imports"]
        first, result = timed(command, root)
        if result.returncode != 0:
            print(result.stderr[-2000:], file=sys.stderr)
            return 1
        runs = [timed(command, root)[0] for _ in range(RUNS)]
        floor = [timed([sys.executable, "-c", "pass"], root)[0] for _ in range(RUNS)]
    median, best = statistics.median(runs), min(runs)
    print(f"config: 10,000 schedules + 1,000 tasks in {files} files ({result.stdout.strip()})")
    print(f"gitbeat validate --no-imports, whole command: median {median:.3f} s, best {best:.3f} s, first {first:.3f} s")
    print(f"anchor, bare interpreter start: median {statistics.median(floor):.3f} s")
    print(f"target <= {TARGET_S:.1f} s: {'met' if median <= TARGET_S else 'MISSED'} ({median / TARGET_S:.2f} of the budget)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
