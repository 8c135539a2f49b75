"""`gitbeat serve` end to end: a real server process, a real beat and worker, PostgreSQL and a RabbitMQ vhost.

One deployment serves the whole module (starting one takes seconds); each test reads or acts on schedules
of its own, or compares the ledger and the audit before and after, so the order of the tests does not matter.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import CI
from tests.integration.cluster import Cluster
from tests.integration.conftest import new_database, rabbitmq_available, wait_until
from tests.unit.test_error_path import free_port

pytestmark = pytest.mark.integration

HANDLERS = '''
from celery import current_task


def record(name):
    return name


def broken(name):
    raise ValueError("broken for good")


def add(x, y):
    return [x + y, current_task.request.delivery_info.get("routing_key")]
'''
TASKS = """
queues:
  work: {}
  mail:
    dead_letter: true
tasks:
  exec.record:
    handler: apiprobe:record
    queue: work
  exec.broken:
    handler: apiprobe:broken
    queue: work
  probe.add:
    handler: apiprobe:add
    queue: mail
    acks_late: true
"""
SCHEDULES_A = """
schedules:
  tick:
    task: exec.record
    every: 1s
    args: [tick]
  yearly:
    task: exec.record
    cron: "0 0 1 1 *"
    description: the annual report
    args: [yearly]
"""
SCHEDULES_B = """
schedules:
  broken:
    task: exec.broken
    every: 2s
    args: [broken]
  report:
    task: exec.record
    cron: "0 0 1 1 *"
    queue: mail
    args: [report]
"""
NAMES = ["broken", "report", "tick", "yearly"]
EDIT_THE_YAML = "definitions live in git: edit the YAML and open a pull request"


# --- the deployment -------------------------------------------------------------------------------------


@contextmanager
def vhost() -> Iterator[str]:
    """A RabbitMQ virtual host for this module, deleted afterwards."""
    rabbitmq_available()
    name = f"gitbeat-test-{uuid.uuid4().hex[:10]}"
    try:
        subprocess.run(["rabbitmqctl", "add_vhost", name], check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.CalledProcessError) as error:
        if CI:
            raise
        pytest.skip(f"cannot add a RabbitMQ vhost ({error})")
    try:
        subprocess.run(["rabbitmqctl", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
                       check=True, capture_output=True, timeout=60)
        yield name
    finally:
        subprocess.run(["rabbitmqctl", "delete_vhost", name], capture_output=True, timeout=60)


@dataclass(frozen=True)
class Tokens:
    reader: str
    ops: str

    def setting(self) -> str:
        return f"reader:{self.reader}:read,ops:{self.ops}:operate"


@dataclass
class Server:
    """A `gitbeat serve` process."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, token: str | None = None, *, headers: dict[str, str] | None = None) -> httpx.Client:
        sent = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers={**sent, **(headers or {})}, timeout=15)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@dataclass
class Deployment:
    cluster: Cluster
    tokens: Tokens
    server: Server

    def ops(self) -> httpx.Client:
        return self.server.client(self.tokens.ops)

    def reader(self) -> httpx.Client:
        return self.server.client(self.tokens.reader)

    def logs(self) -> str:
        return f"{self.cluster.logs()}\n--- server\n{self.server.output()}"


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module", params=["postgresql", "mysql"])
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The project (four schedules, a queue with dead_letter) applied, with a real beat and worker running, on a
    database of its own: PostgreSQL, then MariaDB."""
    root = tmp_path_factory.mktemp("api") / "project"
    (root / "tasks").mkdir(parents=True)
    (root / "schedules").mkdir()
    (root / "apiprobe.py").write_text(HANDLERS)
    (root / "tasks" / "t.yaml").write_text(textwrap.dedent(TASKS))
    (root / "schedules" / "a.yaml").write_text(textwrap.dedent(SCHEDULES_A))
    (root / "schedules" / "b.yaml").write_text(textwrap.dedent(SCHEDULES_B))
    with new_database(request.param) as url, vhost() as name:
        made = Cluster(root, url, f"amqp://guest:guest@127.0.0.1:5672/{name}")
        try:
            made.setup()
            made.start("beat")
            made.start("worker")
            yield made
        finally:
            made.close()


@pytest.fixture(scope="module")
def tokens() -> Tokens:
    return Tokens(reader=secrets.token_hex(16), ops=secrets.token_hex(16))


@pytest.fixture(scope="module")
def serve(cluster: Cluster, tokens: Tokens) -> Iterator[Callable[..., Server]]:
    """A factory of `gitbeat serve` processes on the cluster's store (`**env` overrides its environment)."""
    started: list[Server] = []

    def start(**env: str) -> Server:
        port = free_port()
        environment = {key: value for key, value in cluster.environment().items() if key != "GITBEAT_API_TOKENS_FILE"}
        environment.update(GITBEAT_API_TOKENS=tokens.setting(), **env)
        log = cluster.project / f"serve-{port}.txt"
        process = subprocess.Popen(
            [sys.executable, "-m", "gitbeat", "serve", "--port", str(port), "--config", str(cluster.project)],
            cwd=cluster.project, env=environment, stdout=log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        server = Server(f"http://127.0.0.1:{port}", process, log)
        started.append(server)
        wait_until(lambda: process.poll() is not None or _up(server.url), 30, server.output)
        assert process.poll() is None, server.output()
        return server

    try:
        yield start
    finally:
        for server in started:
            try:
                os.killpg(server.process.pid, signal.SIGTERM)
                server.process.wait(timeout=10)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(server.process.pid, signal.SIGKILL)
                server.process.wait()


@pytest.fixture(scope="module")
def deployment(cluster: Cluster, tokens: Tokens, serve: Callable[..., Server]) -> Deployment:
    made = Deployment(cluster, tokens, serve())
    wait_until(lambda: cluster.leader_pid() is not None, 30, made.logs)
    return made


@pytest.fixture(scope="module")
def brokerless(serve: Callable[..., Server]) -> Server:
    """A second server on the same store whose broker URL names a port where nothing listens."""
    return serve(CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}//")


# --- helpers --------------------------------------------------------------------------------------------


def ledger(cluster: Cluster, schedule: str | None = None) -> list[tuple[Any, ...]]:
    """Every run, oldest claim first: (task_id, schedule, trigger, state, due_at, note)."""
    # gitbeat_runs.trigger: TRIGGER is a reserved word in MySQL, but not after a table's name
    sql = "SELECT task_id, schedule, gitbeat_runs.trigger, state, due_at, note FROM gitbeat_runs"
    if schedule is None:
        rows = cluster.query(sql + " ORDER BY claimed_at, task_id")
    else:
        rows = cluster.query(sql + " WHERE schedule = %s ORDER BY claimed_at, task_id", schedule)
    return [(*row[:4], row[4].astimezone(UTC), row[5]) for row in rows]


def audit(cluster: Cluster) -> list[tuple[Any, ...]]:
    """Every audit row: (id, actor, action, schedule, note, detail as a dict)."""
    rows = cluster.query("SELECT id, actor, action, schedule, note, detail FROM gitbeat_audit ORDER BY id")
    return [(*row[:5], json.loads(row[5])) for row in rows]


def hand_started(cluster: Cluster) -> list[tuple[Any, ...]]:
    """The runs nobody but an operator starts (beat's own keep coming every second)."""
    return cluster.query("SELECT task_id, schedule, gitbeat_runs.trigger FROM gitbeat_runs"
                         " WHERE gitbeat_runs.trigger IN ('manual', 'backfill') ORDER BY task_id")


def overrides(cluster: Cluster) -> list[tuple[Any, ...]]:
    return cluster.query("SELECT schedule, actor, note FROM gitbeat_overrides ORDER BY schedule")


def result(client: httpx.Client, task_id: str, state: str, deployment: Deployment, timeout: float = 20) -> Any:
    """/api/v1/results/ID once it reaches `state`."""
    def reached() -> Any:
        found = client.get(f"/api/v1/results/{task_id}").json()
        return found if found["state"] == state else None

    return wait_until(reached, timeout, deployment.logs, step=0.2)


def dead_letter(cluster: Cluster, *args: int) -> str:
    """A probe.add message put straight into mail.dlq (as RabbitMQ's dead-lettering would); its id."""
    from gitbeat.app import create_app
    from gitbeat.runtime import files_config

    app = create_app(cluster.project, cluster.settings(), files_config(cluster.project), name="dlq-test")
    try:
        return str(app.send_task("probe.add", args=list(args), queue="mail.dlq").id)
    finally:
        app.close()


def yaml_line(path: Path, key: str) -> int:
    """The 1-based line of `key:` in a YAML file."""
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if line.strip() == f"{key}:")


def same_override(shown: dict[str, Any], made: dict[str, Any]) -> bool:
    """The same pause, its times compared as instants (the store may give them another offset)."""
    def instants(override: dict[str, Any]) -> dict[str, Any]:
        return {key: datetime.fromisoformat(value) if key in ("created_at", "until") and value else value
                for key, value in override.items()}

    return instants(shown) == instants(made)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, page[:2000]
    return found.group(1)


# --- authentication and authorisation -------------------------------------------------------------------


def routes(server: Server) -> list[tuple[str, str]]:
    """Every (method, path) of /api/v1 that the OpenAPI document lists, path parameters filled in."""
    document = httpx.get(f"{server.url}/openapi.json", timeout=10).json()
    found = []
    for path, methods in document["paths"].items():
        if path.startswith("/api/v1/"):
            concrete = re.sub(r"\{(\w+)\}", lambda m: "1" if m.group(1) == "revision_id" else "tick", path)
            found += [(method.upper(), concrete) for method in methods]
    return sorted(found)


def test_every_route_but_healthz_wants_a_valid_token(deployment: Deployment) -> None:
    server = deployment.server
    api = routes(server)
    assert ("GET", "/api/v1/schedules") in api and ("POST", "/api/v1/dead-letters/tick/replay") in api
    assert len(api) == 16, api
    basic_header = {"Authorization": f"Basic {deployment.tokens.ops}"}
    with server.client() as anonymous, server.client("x" * 32) as wrong, server.client(headers=basic_header) as basic:
        for method, path in [*api, ("GET", "/readyz"), ("GET", "/metrics")]:
            for client in (anonymous, wrong, basic):
                answer = client.request(method, path)
                assert answer.status_code == 401, (method, path, answer.text)
                assert answer.headers["www-authenticate"] == "Bearer"
                assert answer.json() == {"detail": "a valid bearer token is required"}
        healthz = anonymous.get("/healthz")
        assert (healthz.status_code, healthz.json()) == (200, {"status": "ok"})
    with deployment.reader() as reader:
        assert reader.get("/api/v1/schedules").status_code == 200


def test_a_read_token_may_not_operate_and_nothing_happens(deployment: Deployment) -> None:
    cluster = deployment.cluster
    letter = dead_letter(cluster, 20, 22)
    with deployment.ops() as ops:
        later = ops.post("/api/v1/tasks/probe.add/send", json={"args": [1, 1], "countdown": 1.5})
        assert later.status_code == 202, later.text
        later_id = later.json()["task_id"]
    before = (audit(cluster), hand_started(cluster), overrides(cluster))
    attempts = [
        ("/api/v1/tasks/probe.add/send", {"args": [1, 2]}),
        (f"/api/v1/results/{later_id}/revoke", {}),
        ("/api/v1/schedules/report/trigger", {"note": "no"}),
        ("/api/v1/schedules/yearly/backfill", {"from": "2001-01-01T00:00:00Z", "to": "2003-01-01T00:00:00Z"}),
        ("/api/v1/schedules/tick/pause", {"note": "no"}),
        ("/api/v1/schedules/tick/resume", {}),
        ("/api/v1/dead-letters/mail/replay", {"ids": [letter]}),
    ]
    assert sorted(path.rsplit("/", 1)[1] for path, _ in attempts) == sorted(
        path.rsplit("/", 1)[1] for method, path in routes(deployment.server) if method == "POST")
    with deployment.reader() as reader:
        for path, body in attempts:
            answer = reader.post(path, json=body)
            assert (answer.status_code, answer.json()) == (403, {"detail": "the token 'reader' may read, not operate"})
        # the revoke was refused: the task still runs; the dead letter is still there
        assert result(reader, later_id, "SUCCESS", deployment)["result"] == [2, "mail"]
        letters = reader.get("/api/v1/dead-letters/mail").json()["letters"]
        assert letter in [found["id"] for found in letters]
    assert (audit(cluster), hand_started(cluster), overrides(cluster)) == before


def test_definitions_are_not_written_through_the_api(deployment: Deployment) -> None:
    with deployment.ops() as ops:
        before = ops.get("/api/v1/schedules").json()["total"]
        for path in ("/api/v1/schedules", "/api/v1/schedules/tick", "/api/v1/tasks/exec.record", "/api/v1/queues"):
            for method in ("POST", "PUT", "PATCH", "DELETE"):
                answer = ops.request(method, path, json={"task": "exec.record", "every": "1s"})
                assert (answer.status_code, answer.json()) == (405, {"detail": EDIT_THE_YAML}), (method, path)
                assert answer.headers["allow"] == "GET"
        assert ops.get("/api/v1/schedules/tick").status_code == 200
        assert ops.get("/api/v1/schedules").json()["total"] == before == len(NAMES)


# --- tasks and results ----------------------------------------------------------------------------------


def test_tasks_are_listed_with_queue_options_and_origin(deployment: Deployment) -> None:
    tasks_file = deployment.cluster.project / "tasks" / "t.yaml"
    with deployment.reader() as reader:
        listed = reader.get("/api/v1/tasks").json()["tasks"]
    assert [task["name"] for task in listed] == ["exec.broken", "exec.record", "probe.add"]
    probe = listed[2]
    assert probe["queue"] == "mail" and probe["handler"] == "apiprobe:add" and probe["registered"] is False
    assert probe["options"] == {"handler": "apiprobe:add", "queue": "mail", "acks_late": True}
    assert {task["name"]: task["origin"] for task in listed} == {
        name: f"tasks/t.yaml:{yaml_line(tasks_file, name)}" for name in ("exec.broken", "exec.record", "probe.add")
    }


def test_send_by_name_routes_as_declared_and_checks_the_arguments(deployment: Deployment) -> None:
    cluster = deployment.cluster
    before = (audit(cluster), hand_started(cluster))
    with deployment.ops() as ops:
        sent = ops.post("/api/v1/tasks/probe.add/send", json={"args": [2], "kwargs": {"y": 3}})
        assert sent.status_code == 202, sent.text
        body = sent.json()
        assert (body["task"], body["queue"]) == ("probe.add", "mail") and uuid.UUID(body["task_id"])
        # the worker ran it from the task's queue: the handler returns the routing key it was delivered with
        done = result(ops, body["task_id"], "SUCCESS", deployment)
        assert done == {"task_id": body["task_id"], "state": "SUCCESS", "result": [5, "mail"], "error": None,
                        "traceback": None, "run": None}
        wrong = ops.post("/api/v1/tasks/probe.add/send", json={"args": [1, 2, 3]})
        assert wrong.status_code == 422  # the exact reason: test_a_wrong_call_is_refused_with_the_handlers_own_count
        assert re.fullmatch(r"add\(\) takes \d positional arguments but \d were given", wrong.json()["detail"])
        missing = ops.post("/api/v1/tasks/probe.add/send", json={"kwargs": {"x": 1}})
        assert (missing.status_code, missing.json()) == (
            422, {"detail": "add() missing 1 required positional argument: 'y'"})
        unknown = ops.post("/api/v1/tasks/probe.nope/send", json={})
        assert (unknown.status_code, unknown.json()) == (404, {"detail": "no task named 'probe.nope'"})
        bad = ops.post("/api/v1/tasks/probe.add/send", json={"args": [1, 2], "countdown": -1})
        assert bad.status_code == 422 and "countdown" in bad.text
        pending = ops.get(f"/api/v1/results/{uuid.uuid4()}").json()
        assert (pending["state"], pending["result"], pending["run"]) == ("PENDING", None, None)
    assert (audit(cluster), hand_started(cluster)) == before  # sending a task is not a schedule's run


def test_results_show_the_ledger_run_of_a_scheduled_task(deployment: Deployment) -> None:
    cluster = deployment.cluster

    def finished(schedule: str, state: str) -> str:
        found = cluster.query("SELECT task_id FROM gitbeat_runs WHERE schedule = %s AND state = %s "
                              "ORDER BY due_at DESC LIMIT 1", schedule, state)
        return str(found[0][0]) if found else ""

    with deployment.reader() as reader:
        tick = wait_until(lambda: finished("tick", "succeeded"), 20, deployment.logs)
        done = result(reader, tick, "SUCCESS", deployment)
        assert done["result"] == "tick"
        run = done["run"]
        assert (run["task_id"], run["schedule"], run["trigger"], run["state"]) == (tick, "tick", "scheduled",
                                                                                  "succeeded")
        assert run["task"] == "exec.record" and run["revision"] == 1 and run["lag"] >= 0
        broken = wait_until(lambda: finished("broken", "failed"), 20, deployment.logs)
        failed = result(reader, broken, "FAILURE", deployment)
        assert failed["error"] == "ValueError('broken for good')" and failed["result"] is None
        assert failed["traceback"].rstrip().endswith("ValueError: broken for good")
        assert (failed["run"]["state"], failed["run"]["error_type"], failed["run"]["error"]) == (
            "failed", "ValueError", "broken for good")


def test_revoke_stops_a_task_that_waits_for_its_eta(deployment: Deployment) -> None:
    with deployment.ops() as ops:
        sent = ops.post("/api/v1/tasks/probe.add/send", json={"args": [1, 2], "countdown": 2})
        task_id = sent.json()["task_id"]
        revoked = ops.post(f"/api/v1/results/{task_id}/revoke")
        assert (revoked.status_code, revoked.json()) == (200, {"task_id": task_id, "revoked": True})
        assert result(ops, task_id, "REVOKED", deployment)["result"] is None


# --- schedules ------------------------------------------------------------------------------------------


def test_schedules_are_listed_with_filters_and_pages(deployment: Deployment) -> None:
    def names(client: httpx.Client, **query: Any) -> list[str]:
        return sorted(s["name"] for s in client.get("/api/v1/schedules", params=query).json()["schedules"])

    with deployment.reader() as reader:
        everything = reader.get("/api/v1/schedules").json()
        assert (everything["total"], everything["page"], everything["per_page"]) == (4, 1, 100)
        assert sorted(s["name"] for s in everything["schedules"]) == NAMES
        yearly = next(s for s in everything["schedules"] if s["name"] == "yearly")
        assert yearly["task"] == "exec.record" and yearly["timing"] == "on 1 January at 00:00"
        assert yearly["timezone"] == "UTC" and yearly["queue"] == "work" and yearly["enabled"] is True
        a_yaml = deployment.cluster.project / "schedules" / "a.yaml"
        assert yearly["origin"] == f"schedules/a.yaml:{yaml_line(a_yaml, 'yearly')}"
        assert yearly["description"] == "the annual report"
        assert yearly["next_due"] == datetime(datetime.now(UTC).year + 1, 1, 1, tzinfo=UTC).isoformat()
        assert yearly["override"] is None and yearly["health"] == "ok"

        assert names(reader, queue="mail") == ["report"]
        assert names(reader, queue="work") == ["broken", "tick", "yearly"]
        assert names(reader, file="schedules/b.yaml") == ["broken", "report"]
        assert names(reader, file="schedules/a") == ["tick", "yearly"]
        assert names(reader, q="ANNUAL") == ["yearly"]  # the description, any case
        assert names(reader, q="exec.broken") == ["broken"]  # the task
        assert names(reader, q="nothing like it") == []
        wait_until(lambda: names(reader, health="failing") == ["broken"], 20, deployment.logs, step=0.3)
        assert names(reader, health="failing", queue="mail") == []
        assert reader.get("/api/v1/schedules", params={"health": "poorly"}).status_code == 422

        pages = [reader.get("/api/v1/schedules", params={"per_page": 3, "page": n}).json() for n in (1, 2, 3)]
        assert [(p["total"], p["page"], p["per_page"], len(p["schedules"])) for p in pages] == [
            (4, 1, 3, 3), (4, 2, 3, 1), (4, 3, 3, 0)]
        assert sorted(s["name"] for p in pages for s in p["schedules"]) == NAMES
        assert reader.get("/api/v1/schedules", params={"per_page": 0}).status_code == 422
        assert reader.get("/api/v1/schedules", params={"page": 0}).status_code == 422


def test_one_schedule_with_spec_origin_next_fires_and_runs(deployment: Deployment) -> None:
    with deployment.reader() as reader:
        one = reader.get("/api/v1/schedules/tick").json()
        schedules = deployment.cluster.project / "schedules"
        assert one["origin"] == f"schedules/a.yaml:{yaml_line(schedules / 'a.yaml', 'tick')}"
        assert one["timing"] == "every second"
        assert one["spec"] == {"task": "exec.record", "every": 1, "timezone": "UTC", "args": ["tick"], "kwargs": {},
                               "enabled": True, "overlap": "allow", "catchup": "latest"}
        fires = [datetime.fromisoformat(fire["utc"]) for fire in one["next_fires"]]
        assert len(fires) == 10 and fires[0] > datetime.now(UTC) - timedelta(seconds=1)
        assert [b - a for a, b in pairwise(fires)] == [timedelta(seconds=1)] * 9
        assert all(fire["local"] == fire["utc"] and fire["note"] is None for fire in one["next_fires"])
        runs = one["runs"]
        assert runs and all(run["schedule"] == "tick" for run in runs)
        assert [run["due_at"] for run in runs] == sorted((run["due_at"] for run in runs), reverse=True)

        report = reader.get("/api/v1/schedules/report").json()
        assert report["queue"] == "mail"
        assert report["origin"] == f"schedules/b.yaml:{yaml_line(schedules / 'b.yaml', 'report')}"
        year = datetime.now(UTC).year
        assert [fire["utc"] for fire in report["next_fires"]] == [
            datetime(year + n, 1, 1, tzinfo=UTC).isoformat() for n in range(1, 11)]

        for path in ("/api/v1/schedules/nope", "/api/v1/schedules/nope/runs"):
            missing = reader.get(path)
            assert (missing.status_code, missing.json()) == (404, {"detail": "no schedule named 'nope' is applied"})
            assert "\n" not in missing.text


def test_trigger_records_a_manual_run_audited_with_the_tokens_name(deployment: Deployment) -> None:
    cluster = deployment.cluster
    with deployment.ops() as ops:
        sent = ops.post("/api/v1/schedules/report/trigger", json={"note": "month end, by hand"})
        assert sent.status_code == 202, sent.text
        run_id = sent.json()["task_id"]
        assert sent.json() == {"task_id": run_id, "schedule": "report", "sent": True, "deferred": None}
        (_, schedule, trigger, _, due, note), = [row for row in ledger(cluster, "report") if row[0] == run_id]
        assert (schedule, trigger, note) == ("report", "manual", "month end, by hand")
        assert abs(due - datetime.now(UTC)) < timedelta(seconds=10)
        last = audit(cluster)[-1]
        assert last[1:5] == ("ops", "trigger", "report", "month end, by hand")
        assert last[5]["task_id"] == run_id and last[5]["source"] == "api" and last[5]["runs"] == 1
        done = result(ops, run_id, "SUCCESS", deployment)
        assert done["result"] == "report" and done["run"]["trigger"] == "manual"
        assert wait_until(lambda: run_id in [r["task_id"] for r in ops.get("/api/v1/schedules/report").json()["runs"]
                                             if r["state"] == "succeeded"], 10, deployment.logs)
        actions = ops.get("/api/v1/revisions").json()["actions"]
        assert any(a["action"] == "trigger" and a["actor"] == "ops" and a["detail"]["task_id"] == run_id
                   for a in actions)
        unknown = ops.post("/api/v1/schedules/reprot/trigger", json={})
        assert (unknown.status_code, unknown.json()) == (
            404, {"detail": "no schedule named 'reprot' is applied (did you mean 'report'?)"})


def test_backfill_dry_run_then_sends_each_due_time_once(deployment: Deployment) -> None:
    cluster = deployment.cluster
    span = {"from": "2020-01-01T00:00:00", "to": "2023-01-01T00:00:00Z"}
    due = [f"{year}-01-01T00:00:00+00:00" for year in (2020, 2021, 2022, 2023)]
    with deployment.ops() as ops:
        dry = ops.post("/api/v1/schedules/yearly/backfill", json={**span, "dry_run": True})
        assert (dry.status_code, dry.json()) == (200, {"due": due, "sent": [], "already": 0, "dry_run": True,
                                                    "deferred": None})
        assert ledger(cluster, "yearly") == []
        first = ops.post("/api/v1/schedules/yearly/backfill", json={**span, "note": "lost in the outage"})
        assert first.status_code == 200, first.text
        sent = first.json()["sent"]
        assert first.json() == {"due": due, "sent": sent, "already": 0, "dry_run": False, "deferred": None}
        assert len(sent) == 4
        rows = ledger(cluster, "yearly")
        assert sorted(row[0] for row in rows) == sorted(sent)
        assert sorted(row[4].isoformat() for row in rows) == due
        assert {(row[2], row[5]) for row in rows} == {("backfill", "lost in the outage")}
        last = audit(cluster)[-1]
        assert last[1:5] == ("ops", "backfill", "yearly", "lost in the outage") and last[5]["runs"] == 4
        again = ops.post("/api/v1/schedules/yearly/backfill", json=span)
        assert again.json() == {"due": due, "sent": [], "already": 4, "dry_run": False, "deferred": None}
        assert sorted(row[0] for row in ledger(cluster, "yearly")) == sorted(sent)
        for run_id in sent:
            assert result(ops, run_id, "SUCCESS", deployment)["result"] == "yearly"

        # the runs, newest due time first, a page at a time
        pages = [ops.get("/api/v1/schedules/yearly/runs", params={"per_page": 3, "page": n}).json() for n in (1, 2)]
        assert [p["page"] for p in pages] == [1, 2]
        assert [r["due_at"] for p in pages for r in p["runs"]] == due[::-1]
        one = ops.get("/api/v1/schedules/yearly", params={"runs_page": 2, "per_page": 3}).json()
        assert [r["due_at"] for r in one["runs"]] == due[:1]

        backwards = ops.post("/api/v1/schedules/yearly/backfill", json={"from": "2023-01-01T00:00:00",
                                                                         "to": "2020-01-01T00:00:00"})
        assert (backwards.status_code, backwards.json()) == (422, {
            "detail": "--to 2020-01-01T00:00:00+00:00 is before --from 2023-01-01T00:00:00+00:00"})
        too_many = ops.post("/api/v1/schedules/yearly/backfill", json={"from": "1000-01-01T00:00:00",
                                                                       "to": "2100-01-01T00:00:00"})
        assert (too_many.status_code, too_many.json()) == (422, {
            "detail": "more than 1000 due times of yearly between 1000-01-01T00:00:00+00:00 and "
                      "2100-01-01T00:00:00+00:00; backfill a shorter range, or raise --limit"})
        assert sorted(row[0] for row in ledger(cluster, "yearly")) == sorted(sent)


def test_pause_is_shown_and_honoured_by_beat_and_resume_lets_it_fire_again(deployment: Deployment) -> None:
    cluster = deployment.cluster

    def scheduled() -> list[datetime]:
        return [row[4] for row in ledger(cluster, "tick") if row[2] in ("scheduled", "catchup")]

    with deployment.ops() as ops:
        wait_until(lambda: len(scheduled()) >= 2, 20, deployment.logs)
        try:
            paused = ops.post("/api/v1/schedules/tick/pause", json={"note": "db maintenance", "for": "1h"})
            assert paused.status_code == 200, paused.text
            override = paused.json()["override"]
            paused_at = datetime.fromisoformat(override["created_at"])  # taken in the pause's transaction
            assert paused.json()["schedule"] == "tick"
            assert (override["kind"], override["actor"], override["note"]) == ("pause", "ops", "db maintenance")
            until = datetime.fromisoformat(override["until"]) - datetime.fromisoformat(override["created_at"])
            assert until == timedelta(hours=1)
            shown = wait_until(lambda: (one := ops.get("/api/v1/schedules/tick").json())["override"] and one, 5,
                               deployment.logs)
            assert shown["health"] == "paused" and shown["next_due"] is None
            assert same_override(shown["override"], override)
            listed = ops.get("/api/v1/schedules", params={"health": "paused"}).json()["schedules"]
            assert [s["name"] for s in listed] == ["tick"]
            # beat honours it within 0.5 s: no due time after that is claimed (an absence: look a while)
            time.sleep(2.5)
            assert max(scheduled()) <= paused_at + timedelta(seconds=0.5), "beat went on firing a paused schedule"
            assert overrides(cluster) == [("tick", "ops", "db maintenance")]
        finally:
            resumed = ops.post("/api/v1/schedules/tick/resume", json={"note": "done"})
        resumed_at = datetime.now(UTC)
        assert (resumed.status_code, resumed.json()) == (200, {"schedule": "tick", "resumed": True})
        assert overrides(cluster) == []
        wait_until(lambda: max(scheduled()) > resumed_at, 10, deployment.logs)
        wait_until(lambda: ops.get("/api/v1/schedules/tick").json()["override"] is None, 5, deployment.logs)
        again = ops.post("/api/v1/schedules/tick/resume", json={})
        assert again.json() == {"schedule": "tick", "resumed": False}
        actions = [row[1:5] for row in audit(cluster) if row[3] == "tick"]
        assert actions[-2:] == [("ops", "pause", "tick", "db maintenance"), ("ops", "resume", "tick", "done")]

        bad = ops.post("/api/v1/schedules/tick/pause", json={"note": "x", "for": "soon"})
        assert bad.status_code == 422 and bad.json()["detail"].startswith("for: ")
        assert ops.post("/api/v1/schedules/tick/pause", json={"note": ""}).status_code == 422
        missing = ops.post("/api/v1/schedules/nope/pause", json={"note": "x"})
        assert (missing.status_code, missing.json()) == (404, {"detail": "no schedule named 'nope' is applied"})
        assert overrides(cluster) == []


# --- revisions, status, dead letters, readiness, metrics ------------------------------------------------


def test_revisions_with_summary_and_changes(deployment: Deployment) -> None:
    with deployment.reader() as reader:
        listed = reader.get("/api/v1/revisions").json()
        first = listed["revisions"][-1]
        assert first["id"] == 1 and first["summary"] == "9 to add, 0 to change, 0 to remove"
        assert sorted(first["changes"]) == sorted([
            "+ schedule broken", "+ schedule report", "+ schedule tick", "+ schedule yearly", "+ task exec.broken",
            "+ task exec.record", "+ task probe.add", "+ queue mail", "+ queue work"])
        assert datetime.fromisoformat(first["applied_at"]) < datetime.now(UTC)
        assert isinstance(listed["actions"], list)
        one = reader.get("/api/v1/revisions/1")
        assert (one.status_code, one.json()) == (200, first)
        missing = reader.get("/api/v1/revisions/999")
        assert (missing.status_code, missing.json()) == (404, {"detail": "no revision 999"})


def test_status_names_the_leading_beat_the_workers_drift_and_health(deployment: Deployment) -> None:
    cluster = deployment.cluster
    with deployment.reader() as reader:
        status = wait_until(lambda: (found := reader.get("/api/v1/status").json())["workers"] and found, 10,
                            deployment.logs)  # a worker busy at the ping answers the next one
    assert status["revision"]["id"] == 1
    (beat,) = status["beats"]
    assert beat["role"] == "leader" and beat["id"].endswith(f":{cluster.leader_pid()}")
    assert datetime.fromisoformat(beat["heartbeat_at"]) > datetime.now(UTC) - timedelta(seconds=30)
    assert [w["hostname"].split("@")[0] for w in status["workers"]] == ["worker-2"]
    assert status["drift"] == 0
    assert set(status["health"]) == {"ok", "late", "failing", "stale", "paused"}
    assert sum(status["health"].values()) == len(NAMES)


def test_dead_letters_are_listed_and_replayed_by_id(deployment: Deployment) -> None:
    cluster = deployment.cluster
    first, second = dead_letter(cluster, 1, 2), dead_letter(cluster, 10, 20)
    with deployment.ops() as ops:
        listed = ops.get("/api/v1/dead-letters/mail").json()
        assert listed["queue"] == "mail.dlq"
        letters = {letter["id"]: letter for letter in listed["letters"]}
        assert {first, second} <= set(letters)
        assert (letters[first]["task"], letters[first]["args"], letters[first]["kwargs"]) == ("probe.add", [1, 2], {})
        assert ops.get("/api/v1/dead-letters/mail.dlq").json()["queue"] == "mail.dlq"
        replayed = ops.post("/api/v1/dead-letters/mail/replay", json={"ids": [first]})
        assert (replayed.status_code, replayed.json()) == (200, {"queue": "mail.dlq", "replayed": 1})
        assert result(ops, first, "SUCCESS", deployment)["result"] == [3, "mail"]
        left = [letter["id"] for letter in ops.get("/api/v1/dead-letters/mail").json()["letters"]]
        assert first not in left and second in left
        again = ops.post("/api/v1/dead-letters/mail/replay", json={"ids": [first]})
        assert again.json() == {"queue": "mail.dlq", "replayed": 0}
        refused = ops.get("/api/v1/dead-letters/work")
        assert (refused.status_code, refused.json()) == (422, {
            "detail": "'work' is not a dead-letter queue; gitbeat dlq acts only on those of queues with dead_letter "
                      "(mail.dlq)"})


def test_readiness_and_metrics(deployment: Deployment) -> None:
    with deployment.reader() as reader:
        ready = reader.get("/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready", "problems": []})
        metrics = reader.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    samples = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
               for line in metrics.text.splitlines() if line and not line.startswith("#")}
    health = {key: value for key, value in samples.items() if key.startswith("gitbeat_schedule_health{")}
    assert {re.search(r'name="([^"]+)"', key).group(1) for key in health} == set(NAMES)  # type: ignore[union-attr]
    assert samples['gitbeat_schedule_health{health="ok",name="yearly"}'] == 1.0


def test_without_its_broker_a_server_is_not_ready_and_never_shows_a_traceback(
    deployment: Deployment, brokerless: Server,
) -> None:
    with brokerless.client(deployment.tokens.ops) as ops:
        ready = ops.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "not ready"
        assert [problem.split(":")[0] for problem in ready.json()["problems"]] == ["broker"]
        assert "Connection refused" in ready.json()["problems"][0]
        # reads from the store still answer
        assert sorted(s["name"] for s in ops.get("/api/v1/schedules").json()["schedules"]) == NAMES
        # a send cannot reach the broker: the error is one line, the traceback stays in the server's log
        failed = ops.post("/api/v1/tasks/probe.add/send", json={"args": [1, 2]})
    assert failed.status_code == 503, failed.text
    assert "Traceback" not in failed.text and "File \"" not in failed.text
    assert len(failed.text.strip().splitlines()) == 1
    assert failed.json()["detail"].startswith("cannot reach the broker at amqp://guest:***@")


# --- the dashboard --------------------------------------------------------------------------------------


@contextmanager
def login(deployment: Deployment, token: str) -> Iterator[httpx.Client]:
    """A browser's session: logged in with `token` through the form, holding the cookie the server set."""
    with deployment.server.client() as client:
        answer = client.post("/login", data={"token": token, "next": "/"})
        assert (answer.status_code, answer.headers["location"]) == (303, "/"), answer.text
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("gitbeat_session=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "Path=/" in cookie and token not in cookie
        assert client.cookies.get("gitbeat_session")
        yield client


def test_dashboard_login_cookie_and_csrf(deployment: Deployment) -> None:
    cluster = deployment.cluster
    with deployment.server.client() as anonymous:
        away = anonymous.get("/")
        assert (away.status_code, away.headers["location"]) == (303, "/login?next=/")
        failed = anonymous.post("/login", data={"token": "x" * 32, "next": "/"})
        assert (failed.status_code, failed.headers["location"]) == (303, "/login?failed=1&next=/")
        assert "set-cookie" not in failed.headers
    with login(deployment, deployment.tokens.ops) as ops:
        home = ops.get("/")
        assert home.status_code == 200
        for name in NAMES:
            assert f"/schedules/{name}" in home.text
        page = ops.get("/schedules/report")
        assert page.status_code == 200 and 'id="run-now"' in page.text
        csrf = csrf_of(page.text)
        before = hand_started(cluster)
        refused = ops.post("/schedules/report/trigger", data={"note": "no csrf"})
        assert (refused.status_code, refused.json()) == (
            403, {"detail": "the CSRF token is missing or wrong: reload the page"})
        wrong = ops.post("/schedules/report/trigger", data={"csrf": "0" * 64})
        assert wrong.status_code == 403
        cross = ops.post("/schedules/report/trigger", data={"csrf": csrf},
                         headers={"Origin": "https://evil.example"})
        assert (cross.status_code, cross.json()) == (403, {"detail": "a cross-site request is refused"})
        assert hand_started(cluster) == before
        done = ops.post("/schedules/report/trigger", data={"csrf": csrf, "note": "from the page"},
                        headers={"Origin": deployment.server.url})
        assert done.status_code == 303, done.text
        assert done.headers["location"].startswith("/schedules/report?done=run%20")
        (run_id, _, trigger, _, _, note), = [row for row in ledger(cluster, "report") if row[0] not in
                                             {b[0] for b in before}]
        assert (trigger, note) == ("manual", "from the page") and run_id in done.headers["location"]
        last = audit(cluster)[-1]
        assert last[1:3] == ("ops", "trigger") and last[5]["source"] == "dashboard"
        # the same cookie works for the JSON API, with the CSRF token in a header
        assert ops.post("/api/v1/schedules/report/trigger", json={}).status_code == 403
        by_header = ops.post("/api/v1/schedules/report/trigger", json={}, headers={"X-CSRF-Token": csrf})
        assert by_header.status_code == 202, by_header.text
    with login(deployment, deployment.tokens.reader) as reader:
        page = reader.get("/schedules/report")
        assert page.status_code == 200 and 'id="run-now"' not in page.text
        unchanged = (hand_started(cluster), audit(cluster))
        refused = reader.post("/schedules/report/trigger", data={"csrf": csrf_of(page.text)})
        assert (refused.status_code, refused.json()) == (403, {"detail": "the token 'reader' may read, not operate"})
        refused = reader.post("/schedules/tick/pause", data={"csrf": csrf_of(page.text), "note": "no"})
        assert refused.status_code == 403
        assert (hand_started(cluster), audit(cluster)) == unchanged
        assert overrides(cluster) == []


# --- the router in an application of one's own ---------------------------------------------------------


def test_the_router_mounted_in_another_fastapi_application(deployment: Deployment) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from gitbeat.api import install
    from gitbeat.api.auth import Auth, parse_tokens
    from gitbeat.api.service import Service

    cluster = deployment.cluster
    app = FastAPI(title="the guide's application")

    @app.get("/hello")
    def hello() -> dict[str, str]:
        return {"hello": "world"}

    service = Service(cluster.project, cluster.settings())
    install(app, service, Auth(parse_tokens(deployment.tokens.setting(), None)))
    service.start()
    try:
        with TestClient(app) as client:
            client.headers["Authorization"] = f"Bearer {deployment.tokens.reader}"
            mounted = client.get("/api/v1/schedules")
            assert client.get("/hello").json() == {"hello": "world"}
            assert client.get("/api/v1/schedules", headers={"Authorization": "Bearer nope"}).status_code == 401
            refused = client.post("/api/v1/schedules/report/trigger", json={})
            assert refused.status_code == 403
            assert client.get("/api/v1/schedules/nope").status_code == 404
    finally:
        service.stop()
        service.app.close()
    with deployment.reader() as reader:
        served = reader.get("/api/v1/schedules").json()
    assert mounted.status_code == 200
    assert [s["name"] for s in mounted.json()["schedules"]] == [s["name"] for s in served["schedules"]]
    assert mounted.json()["total"] == served["total"] == len(NAMES)


# --- read your writes, and a broker outage ----------------------------------------------------------


def test_a_pause_is_shown_at_once_by_the_server_that_made_it(deployment: Deployment) -> None:
    with deployment.ops() as ops:
        wait_until(lambda: ops.get("/api/v1/schedules/yearly").json()["override"] is None, 5)
        try:
            assert ops.post("/api/v1/schedules/yearly/pause", json={"note": "read your writes"}).status_code == 200
            one = ops.get("/api/v1/schedules/yearly").json()
        finally:
            ops.post("/api/v1/schedules/yearly/resume", json={})
            wait_until(lambda: ops.get("/api/v1/schedules/yearly").json()["override"] is None, 5)
        assert (one["health"], one["override"] and one["override"]["note"]) == ("paused", "read your writes")


def test_a_trigger_while_the_broker_is_away_names_the_run_it_recorded(
    deployment: Deployment, brokerless: Server,
) -> None:
    cluster = deployment.cluster
    note = f"broker away {uuid.uuid4().hex[:6]}"
    with brokerless.client(deployment.tokens.ops) as ops:
        answer = ops.post("/api/v1/schedules/report/trigger", json={"note": note})
    (run_id,) = [row[0] for row in ledger(cluster, "report") if row[5] == note]
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["task_id"], body["sent"]) == (run_id, False)
    assert "cannot reach the broker" in body["deferred"] and "the leading beat sends it" in body["deferred"]
    # the leading beat (its broker is up) sends the recorded run from the outbox: it executes, once
    wait_until(lambda: [row[3] for row in ledger(cluster, "report") if row[0] == run_id] == ["succeeded"], 30,
               deployment.logs)


def test_a_wrong_call_is_refused_with_the_handlers_own_count(deployment: Deployment) -> None:
    with deployment.ops() as ops:
        wrong = ops.post("/api/v1/tasks/probe.add/send", json={"args": [1, 2, 3]})
    assert (wrong.status_code, wrong.json()) == (422, {"detail": "add() takes 2 positional arguments but 3 were given"})


def test_a_broker_outage_is_a_503_on_the_routes_that_need_the_broker(
    deployment: Deployment, brokerless: Server,
) -> None:
    answers = {}
    for what, method, path in [("send", "POST", "/api/v1/tasks/probe.add/send"),
                               ("list", "GET", "/api/v1/dead-letters/mail"),
                               ("replay", "POST", "/api/v1/dead-letters/mail/replay")]:
        with brokerless.client(deployment.tokens.ops) as ops:  # uvicorn drops the connection after a 500
            answers[what] = ops.request(method, path, json={"send": {"args": [1, 2]}, "list": None, "replay": {}}[what])
    assert {what: answer.status_code for what, answer in answers.items()} == {"send": 503, "list": 503,
                                                                              "replay": 503}
    for answer in answers.values():
        assert answer.json()["detail"].startswith("cannot reach the broker at amqp://guest:***@127.0.0.1:")
