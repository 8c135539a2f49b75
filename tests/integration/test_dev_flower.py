"""`gitbeat dev` on a fresh copy of the example project, and a real Flower process."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitbeat.commands.flower import flower_arguments
from tests.integration.conftest import group_alive, wait_until

pytestmark = pytest.mark.integration


def heartbeat(project: Path) -> dict | None:
    try:
        return json.loads((project / ".gitbeat" / "heartbeat.json").read_text())
    except (OSError, ValueError):
        return None


def beat_at(project: Path) -> float:
    """When the handler last wrote its heartbeat. It writes atomically: a read never sees half a file."""
    found = heartbeat(project)
    assert found is not None, "heartbeat.json is missing or half-written"
    return float(found["at"])


def start(project: Path, *args: str, env: dict[str, str] | None = None, log: str = "out.log") -> subprocess.Popen:
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    for name in ("CELERY_BROKER", "CELERY_BROKER_URL", "GITBEAT_DATABASE_URL", "CELERY_RESULT_BACKEND"):
        if env is None or name not in env:
            environment.pop(name, None)  # the embedded default
    return subprocess.Popen(
        [sys.executable, "-m", "gitbeat", *args], cwd=project, env=environment,
        stdout=open(project / log, "w"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def kill_tree(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@pytest.fixture
def dev(project: Path) -> Iterator[tuple[Path, subprocess.Popen]]:
    schedules = project / "schedules" / "maintenance.yaml"
    schedules.write_text(schedules.read_text().replace("every: 300s", "every: 1s").replace("    jitter: 10s\n", ""))
    process = start(project, "dev", log="dev.log")
    yield project, process
    kill_tree(process)


def test_dev_runs_the_example_reloads_edits_and_stops_on_sigint(dev: tuple[Path, subprocess.Popen]) -> None:
    project, process = dev
    log = project / "dev.log"
    wait_until(lambda: heartbeat(project), timeout=40, message=log.read_text)  # health-check's handler wrote it
    assert "gitbeat dev: applied revision 1: 12 to add, 0 to change, 0 to remove" in log.read_text()

    # A valid edit: health-check fires every 3 s from now on. What matters: the revision is applied
    # fast, and the schedule keeps firing under it.
    schedules = project / "schedules" / "maintenance.yaml"
    schedules.write_text(schedules.read_text().replace("every: 1s", "every: 3s"))
    edited = time.monotonic()
    wait_until(lambda: "applied revision 2: 0 to add, 1 to change, 0 to remove" in log.read_text(), timeout=5,
               message=log.read_text)
    applied = time.monotonic() - edited
    assert applied < 1.0, f"the edit took {applied:.2f}s to apply"
    before = beat_at(project)
    wait_until(lambda: beat_at(project) > before, timeout=7,
               message=lambda: "the schedule stopped firing after the edit:\n" + log.read_text())

    # An invalid edit: located errors, and the last good config keeps running.
    (project / "schedules" / "broken.yaml").write_text("schedules:\n  x:\n    task: health.check\n"
                                                        "    cron: \"61 * * * *\"\n")
    wait_until(lambda: "1 error in the config; revision 2 keeps running" in log.read_text(), timeout=5,
               message=log.read_text)
    assert "schedules/broken.yaml:4:11: error: schedules.x.cron: minute 61 is out of range 0-59" in log.read_text()
    before = beat_at(project)
    wait_until(lambda: beat_at(project) > before, timeout=10, message=log.read_text)

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    wait_until(lambda: not group_alive(process.pid), timeout=20)  # worker and beat are gone too
    assert "Traceback" not in log.read_text()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, auth: str | None = None) -> tuple[int, object]:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None
    except (urllib.error.URLError, OSError):
        return 0, None  # not listening yet


def test_flower_binds_to_localhost_without_credentials() -> None:
    assert flower_arguments(8555, None) == ["--port=8555", "--address=127.0.0.1"]
    assert flower_arguments(9000, "ops:secret") == ["--port=9000", "--basic-auth=ops:secret", "--address=0.0.0.0"]


def test_flower_shows_the_worker_and_its_tasks_and_asks_for_credentials(project: Path, rabbitmq_vhost: str) -> None:
    """On RabbitMQ: Flower follows workers through broadcast and events, which the embedded broker lacks."""
    port = free_port()
    auth = "ops:s3cret"
    env = {"FLOWER_BASIC_AUTH": auth, "CELERY_BROKER": "rabbitmq", "CELERY_RABBITMQ_VHOST": rabbitmq_vhost}
    os.environ.update({"CELERY_BROKER": "rabbitmq", "CELERY_RABBITMQ_VHOST": rabbitmq_vhost})
    worker = start(project, "worker", "--", "--pool", "solo", "-E", "--hostname", "flowertest@%h", env=env,
                   log="worker.log")
    flower = start(project, "flower", "--port", str(port), env=env, log="flower.log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: "flowertest" in json.dumps(get(f"{base}/api/workers?refresh=1", auth)[1]),
                   timeout=60, message=lambda: (project / "flower.log").read_text(), step=0.5)
        from gitbeat.app import create_app
        from gitbeat.runtime import applied_config
        from gitbeat.settings import load_settings

        settings = load_settings(project)
        _, config = applied_config(project, settings)
        task_id = create_app(project, settings, config).send_task(
            "db_log.log_login", args=[7, True, "127.0.0.1"], queue="default").id
        wait_until(lambda: task_id in json.dumps(get(f"{base}/api/tasks", auth)[1]), timeout=30,
                   message=lambda: (project / "worker.log").read_text(), step=0.5)
        assert get(f"{base}/api/workers")[0] == 401
        assert get(f"{base}/api/workers", "ops:wrong")[0] == 401
        status, tasks = get(f"{base}/api/tasks", auth)
        assert status == 200 and isinstance(tasks, dict) and tasks[task_id]["name"] == "db_log.log_login"
    finally:
        for name in ("CELERY_BROKER", "CELERY_RABBITMQ_VHOST"):
            os.environ.pop(name, None)
        kill_tree(flower)
        kill_tree(worker)
