"""Each due time executes once (SPEC §6), counted as completed handler executions under real faults, on PostgreSQL
and on MariaDB.

Ten `every: 1s`, `catchup: all` schedules run on real beats and workers for 30 s of
faults; then the executions of every due time in that window are counted: none may
be doubled and none lost. The faults: database sessions killed (beat's, in the claim
window too, and the workers'), beats killed with kill -9, workers killed with kill -9
mid-task (`acks_late`), and the broker restarted (a RabbitMQ node of the test's own).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.cluster import Cluster, Tally, during, settle, write_project
from tests.integration.conftest import rabbitmq_available
from tests.integration.rabbitnode import RabbitNode

pytestmark = pytest.mark.integration

FAULT_SECONDS = 30
SCHEDULES = 10


@pytest.fixture
def cluster(tmp_path: Path, server_url: str, rabbitmq_vhost: str) -> Iterator[Cluster]:
    rabbitmq_available()
    made = Cluster(write_project(tmp_path / "project", SCHEDULES), server_url,
                   f"amqp://guest:guest@127.0.0.1:5672/{rabbitmq_vhost}")
    made.setup()
    yield made
    made.close()


def warm_up(cluster: Cluster, beats: int = 2, workers: int = 1) -> datetime:
    for _ in range(beats):
        cluster.start("beat")
    for _ in range(workers):
        cluster.start("worker")
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    while not cluster.query("SELECT 1 FROM executions LIMIT 1"):
        assert datetime.now(UTC) < deadline, cluster.logs()
    return datetime.now(UTC) + timedelta(seconds=1)


def assert_exactly_once(found: Tally, cluster: Cluster, struck: int) -> None:
    print(f"due times checked: {found.expected}, doubled: {len(found.doubled)}, lost: {len(found.lost)}, "
          f"faults: {struck}")
    assert found.expected >= SCHEDULES * (FAULT_SECONDS - 2)
    assert found.doubled == [], cluster.logs()
    assert found.lost == [], cluster.logs()


def kill_sessions(cluster: Cluster, role: str, *, prefer_idle_in_transaction: bool = False) -> None:
    """End one database session of a beat or a worker: pg_terminate_backend, or KILL <id> on MariaDB."""
    sessions = cluster.sessions(role)
    if not sessions:
        return
    waiting = [session for session, idle_in_transaction in sessions if idle_in_transaction]
    session = random.choice(waiting if prefer_idle_in_transaction and waiting else [s for s, _ in sessions])
    cluster.kill_session(session)


def test_killing_beat_sessions_in_the_claim_window(cluster: Cluster) -> None:
    """Beat's own sessions (claims, marking sent, leadership) die at random, above all mid-transaction."""
    start = warm_up(cluster)
    struck = during(FAULT_SECONDS, lambda: kill_sessions(cluster, "beat", prefer_idle_in_transaction=True),
                    lambda: random.uniform(0.05, 0.4))
    end = datetime.now(UTC) - timedelta(seconds=1)
    assert_exactly_once(settle(cluster, start, end), cluster, struck)


def test_killing_any_session_at_random(cluster: Cluster) -> None:
    """Any gitbeat session dies: beat's and the workers' (the ledger gate and the outcome writes)."""
    start = warm_up(cluster)

    def strike() -> None:
        kill_sessions(cluster, random.choice(["beat", "worker"]))

    struck = during(FAULT_SECONDS, strike, lambda: random.uniform(0.1, 0.5))
    end = datetime.now(UTC) - timedelta(seconds=1)
    assert_exactly_once(settle(cluster, start, end), cluster, struck)


def test_three_beats_with_the_leader_killed_again_and_again(cluster: Cluster) -> None:
    start = warm_up(cluster, beats=3)

    def kill_the_leader() -> None:
        leader = cluster.leader_pid()
        for name in cluster.running("beat"):
            if cluster.processes[name].pid == leader:
                cluster.kill(name)
                cluster.start("beat")

    struck = during(FAULT_SECONDS, kill_the_leader, lambda: random.uniform(3, 6))
    end = datetime.now(UTC) - timedelta(seconds=1)
    assert_exactly_once(settle(cluster, start, end), cluster, struck)


def test_workers_killed_mid_task(tmp_path: Path, server_url: str, rabbitmq_vhost: str) -> None:
    """acks_late: a run whose worker dies mid-task executes again, to completion, once.

    Each kill strikes a worker while one of its pool processes is stopped inside the handler,
    before its effect. (A kill in the instant between a handler's last effect and the ledger's
    record of its success would run it again: no queue can tell that instant from mid-task, so
    the test makes sure it never strikes there, however loaded the machine.)
    """
    rabbitmq_available()
    cluster = Cluster(write_project(tmp_path / "slow", SCHEDULES, seconds=0.4), server_url,
                      f"amqp://guest:guest@127.0.0.1:5672/{rabbitmq_vhost}")
    cluster.setup()
    try:
        start = warm_up(cluster, beats=1, workers=3)

        killed: list[str] = []

        def kill_a_worker() -> None:
            frozen = cluster.frozen_mid_task()
            if frozen:
                cluster.kill(frozen)
                killed.append(frozen)
                cluster.start("worker")

        during(FAULT_SECONDS, kill_a_worker, lambda: random.uniform(2, 4))
        end = datetime.now(UTC) - timedelta(seconds=1)
        assert len(killed) >= 2, f"workers killed mid-task: {killed}"
        assert_exactly_once(settle(cluster, start, end), cluster, len(killed))
    finally:
        cluster.close()


def test_the_broker_restarted_under_beat_and_workers(tmp_path: Path, server_url: str, rabbit_node: RabbitNode) -> None:
    """`rabbitmqctl -n <node> stop_app`/`start_app` on a node of the test's own (rabbit_node: its own name, port and
    data directory; never the shared broker), again and again, under a beat and two workers."""
    cluster = Cluster(write_project(tmp_path / "project", SCHEDULES), server_url, rabbit_node.url)
    cluster.setup()
    try:
        start = warm_up(cluster, beats=1, workers=2)

        def restart() -> None:
            rabbit_node.stop_app()
            time.sleep(random.uniform(1, 3))
            rabbit_node.start_app()

        struck = during(FAULT_SECONDS, restart, lambda: random.uniform(3, 6))
        end = datetime.now(UTC) - timedelta(seconds=1)
        assert_exactly_once(settle(cluster, start, end), cluster, struck)
    finally:
        cluster.close()
