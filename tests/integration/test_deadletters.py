"""`gitbeat dlq` touches dead-letter queues only, asks before purging, selects by id, task and count, lists anything."""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import amqp
import kombu
import pytest

from gitbeat.app import create_app
from gitbeat.runtime import files_config
from tests.integration.cluster import Cluster
from tests.integration.conftest import rabbitmq_available

pytestmark = pytest.mark.integration

TASKS = """
queues:
  default: {}
  mail:
    dead_letter: true
tasks:
  mail.send:
    handler: handlers:send
    queue: mail
    acks_late: true
"""


@pytest.fixture
def cluster(tmp_path: Path, server_url: str, rabbitmq_vhost: str) -> Iterator[Cluster]:
    rabbitmq_available()
    root = tmp_path / "project"
    (root / "tasks").mkdir(parents=True)
    (root / "schedules").mkdir()
    (root / "handlers.py").write_text("def send(to):\n    return to\n")
    (root / "gitbeat.yaml").write_text("default_queue: default\n")
    (root / "tasks" / "t.yaml").write_text(textwrap.dedent(TASKS))
    made = Cluster(root, server_url, f"amqp://guest:guest@127.0.0.1:5672/{rabbitmq_vhost}")
    made.setup()
    yield made
    made.close()


def depth(cluster: Cluster, queue: str) -> int:
    with kombu.Connection(cluster.broker) as connection:
        return connection.default_channel.queue_declare(queue=queue, passive=True).message_count


def dead_letters(cluster: Cluster, *recipients: str) -> list[str]:
    """Task messages put straight into mail.dlq (as RabbitMQ's DLX would); their ids."""
    app = create_app(cluster.project, cluster.settings(), files_config(cluster.project), name="dlq-test")
    ids = [app.send_task("mail.send", args=[to], queue="mail.dlq").id for to in recipients]
    app.close()
    return ids


def test_only_dead_letter_queues(cluster: Cluster) -> None:
    app = create_app(cluster.project, cluster.settings(), files_config(cluster.project), name="pending")
    for n in range(3):
        app.send_task("mail.send", args=[f"x{n}"], queue="default")
    app.close()
    refused = cluster.run_gitbeat("dlq", "purge", "default", "--yes")
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == (
        "gitbeat: error: 'default' is not a dead-letter queue; gitbeat dlq acts only on those of queues with "
        "dead_letter (mail.dlq)\n"
    )
    assert depth(cluster, "default") == 3, "pending tasks were purged"
    unknown = cluster.run_gitbeat("dlq", "list", "nope")
    assert unknown.returncode == 1 and "'nope' is not a dead-letter queue" in unknown.stderr
    with pytest.raises(amqp.exceptions.NotFound):
        depth(cluster, "nope")  # nothing was created on the broker


def test_purge_asks_first_and_selects(cluster: Cluster) -> None:
    first, second, third = dead_letters(cluster, "a@x", "b@x", "c@x")
    asked = cluster.run_gitbeat("dlq", "purge", "mail")  # not a terminal: it cannot ask
    assert asked.returncode == 1
    assert asked.stderr == "gitbeat: error: purge drops every message of mail.dlq for good: add --yes to confirm\n"
    assert depth(cluster, "mail.dlq") == 3
    assert cluster.gitbeat("dlq", "purge", "mail", "--id", second, "--yes") == "purged 1 message(s) from mail.dlq\n"
    listed = json.loads(cluster.gitbeat("dlq", "list", "mail", "--format", "json"))
    assert sorted(letter["id"] for letter in listed["letters"]) == sorted([first, third])
    assert cluster.gitbeat("dlq", "replay", "mail", "--limit", "1") == "replayed 1 message(s) from mail.dlq\n"
    assert depth(cluster, "mail.dlq") == 1 and depth(cluster, "mail") == 1
    assert cluster.gitbeat("dlq", "purge", "mail.dlq", "--task", "other.task", "--yes") == (
        "purged 0 message(s) from mail.dlq\n"
    )


def test_a_foreign_message_is_listed_as_such(cluster: Cluster) -> None:
    dead_letters(cluster, "a@x")
    with kombu.Connection(cluster.broker) as connection:
        connection.default_channel.basic_publish(
            amqp.Message(b"\x00\x01 not json", content_type="application/octet-stream"), exchange="",
            routing_key="mail.dlq",
        )
    listing = cluster.run_gitbeat("dlq", "list", "mail")
    assert listing.returncode == 0 and "Traceback" not in listing.stderr
    assert "- - (no task name)() kwargs={} from None, 0 retries: not a Celery task message " \
           "(application/octet-stream)" in listing.stdout
    assert cluster.gitbeat("dlq", "replay", "mail") == "replayed 1 message(s) from mail.dlq\n"
    assert depth(cluster, "mail.dlq") == 1  # the foreign one stays


def test_flower_metrics_need_the_credentials_too(cluster: Cluster) -> None:
    from tests.unit.test_error_path import free_port

    port = free_port()
    cluster.extra["FLOWER_BASIC_AUTH"] = "admin:s3cret"
    process = subprocess.Popen(
        [*cluster_command(cluster), "flower", "--port", str(port), "--config", str(cluster.project)],
        cwd=cluster.project, env=cluster.environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        import time
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
                status = 200
            except urllib.error.HTTPError as error:
                status = error.code
            except OSError:
                assert time.monotonic() < deadline, "flower did not start"
                time.sleep(0.3)
                continue
            break
        assert status == 401
    finally:
        process.kill()
        process.wait()


def cluster_command(cluster: Cluster) -> list[str]:
    import sys

    return [sys.executable, "-m", "gitbeat"]
