"""The installed package, as the Docker image gets it: a wheel built from the repository."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import PROJECT


def test_the_wheel_carries_the_migrations(tmp_path: Path) -> None:
    """The image installs gitbeat from a wheel, not in editable mode: migrations must be inside it."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path),
         str(PROJECT)],
        check=True, capture_output=True, timeout=300,
    )
    [wheel] = tmp_path.glob("gitbeat-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "gitbeat/store/migrations/versions/0001_initial.py" in names
    assert "gitbeat/store/migrations/versions/0002_beat.py" in names
    assert "gitbeat/store/migrations/script.py.mako" in names
    assert "gitbeat/store/migrations/env.py" in names
