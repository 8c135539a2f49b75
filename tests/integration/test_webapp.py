"""The guide's FastAPI server (webapp/) and `celery -A gitbeat.celery`, end to end: a real worker, RabbitMQ, PostgreSQL results."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PROJECT
from tests.integration.conftest import rabbitmq_available
from tests.unit.test_error_path import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def environment(tmp_path: Path, server_url: str, rabbitmq_vhost: str) -> Iterator[tuple[Path, dict[str, str]]]:
    rabbitmq_available()
    root = tmp_path / "project"
    root.mkdir()
    for name in ("tasks", "schedules", "webapp"):
        shutil.copytree(PROJECT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / "gitbeat.yaml", root / "gitbeat.yaml")
    scrubbed = {k: v for k, v in os.environ.items() if not k.startswith(("GITBEAT_", "CELERY_", "REDIS_", "FLOWER_"))}
    env = {
        **scrubbed, "PYTHONDONTWRITEBYTECODE": "1", "GITBEAT_CONFIG": str(root), "GITBEAT_DATABASE_URL": server_url,
        "CELERY_BROKER": "rabbitmq", "CELERY_RABBITMQ_VHOST": rabbitmq_vhost,
        "CELERY_RESULT_BACKEND": "db+" + server_url, "EXAMPLE_APP_DB": str(tmp_path / "app.db"),
    }
    yield root, env


def start(command: list[str], root: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, cwd=root, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait(check: Any, what: str, log: Path, timeout: float = 40) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except (httpx.HTTPError, OSError):
            found = None
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}\n{log.read_text(errors='replace')[-3000:]}"
        time.sleep(0.3)


def test_the_guides_fastapi_server_enqueues_and_reads_results(environment: tuple[Path, dict[str, str]]) -> None:
    root, env = environment
    port = free_port()
    worker = start([sys.executable, "-m", "celery", "-A", "gitbeat.celery", "worker", "--loglevel", "INFO",
                    "--concurrency", "1", "--without-mingle", "--without-gossip"], root, env, root / "worker.log")
    server = start([sys.executable, "-m", "uvicorn", "webapp.main:api", "--port", str(port)], root, env,
                   root / "server.log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait(lambda: httpx.get(f"{base}/docs", timeout=2).status_code == 200, "the server did not start",
             root / "server.log")
        sent = httpx.post(f"{base}/notify", params={"user_id": 7, "message": "hello"}, timeout=10)
        assert sent.status_code == 202, sent.text
        task_id = sent.json()["task_id"]
        done = wait(lambda: (r := httpx.get(f"{base}/tasks/{task_id}", timeout=5).json())["state"] == "SUCCESS" and r,
                    "the task did not succeed", root / "worker.log")
        assert done["result"] == {"status": "sent", "user_id": 7}
        # A call the handler cannot take is refused by the server: nothing is sent.
        wrong = httpx.post(f"{base}/notify", params={"user_id": "x", "message": "m"}, timeout=10)
        assert wrong.status_code == 422
        log = (root / "worker.log").read_text()
        # `celery -A gitbeat.celery worker` is a gitbeat worker: it never consumes a dead-letter queue.
        queues = log.split("[queues]")[1].split("[tasks]")[0]
        assert ".> notifications " in queues and ".> default " in queues and "notifications.dlq" not in queues
        inspected = subprocess.run([sys.executable, "-m", "celery", "-A", "gitbeat.celery", "inspect", "registered"],
                                   cwd=root, env=env, capture_output=True, text=True, timeout=60)
        assert "notifications.send" in inspected.stdout and "email.send" in inspected.stdout, inspected.stderr
    finally:
        for process in (worker, server):
            os.killpg(process.pid, 9)
            process.wait()
