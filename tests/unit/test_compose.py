"""docker-compose.yml and the Dockerfile: no Docker engine runs here, so they are checked, not run."""

from __future__ import annotations

import pytest
import yaml

from gitbeat.cli import COMMANDS
from gitbeat.settings import Settings
from tests.conftest import PROJECT

COMPOSE = yaml.safe_load((PROJECT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
GITBEAT_SERVICES = {name: s for name, s in SERVICES.items() if s.get("image") == "gitbeat:local"}
SETTINGS = {field.alias for field in Settings.model_fields.values()}


def test_the_stack_of_the_spec() -> None:
    assert set(SERVICES) == {"postgres", "rabbitmq", "apply", "worker", "beat", "flower"}
    assert set(GITBEAT_SERVICES) == {"apply", "worker", "beat", "flower"}


@pytest.mark.parametrize("name", ["apply", "worker", "beat", "flower"])
def test_gitbeat_services_run_gitbeat_commands_with_spec_settings(name: str) -> None:
    service = GITBEAT_SERVICES[name]
    command = service["command"]
    if command[:2] == ["sh", "-c"]:  # a guard, then `exec gitbeat …`
        command = command[2].rsplit("exec ", 1)[1].split()
    assert command[0] == "gitbeat" and command[1] in COMMANDS
    environment = service["environment"]
    unknown = {key for key in environment if key not in SETTINGS and not key.startswith("EXAMPLE_")}
    assert unknown == set(), f"{name} sets variables SPEC §5 does not name"
    assert environment["CELERY_BROKER"] == "rabbitmq"
    assert environment["GITBEAT_DATABASE_URL"].startswith("postgresql://")
    assert environment["CELERY_RESULT_BACKEND"].startswith("db+postgresql://")
    for dependency in service["depends_on"]:
        assert dependency in SERVICES


def test_services_wait_for_healthy_backends_and_for_apply() -> None:
    for backend in ("postgres", "rabbitmq"):
        assert SERVICES[backend]["healthcheck"]["test"]
    assert GITBEAT_SERVICES["apply"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("worker", "beat"):
        assert GITBEAT_SERVICES[name]["depends_on"]["apply"]["condition"] == "service_completed_successfully"


def test_two_beats_one_leads_one_stands_by() -> None:
    assert GITBEAT_SERVICES["beat"]["deploy"]["replicas"] >= 2


def test_flower_is_published_only_behind_basic_auth() -> None:
    flower = GITBEAT_SERVICES["flower"]
    assert "8555:8555" in flower["ports"]
    # Asked for by the flower service only: `docker compose down` or `logs` need no credentials.
    assert flower["environment"]["FLOWER_BASIC_AUTH"] == "${FLOWER_BASIC_AUTH:-}"
    others = [name for name, service in SERVICES.items() if name != "flower" and "FLOWER_BASIC_AUTH" in str(service)]
    assert others == []
    guard = flower["command"][2]
    assert guard.startswith('test -n "$$FLOWER_BASIC_AUTH" || {') and guard.endswith("exec gitbeat flower")


def test_no_port_clashes_with_services_on_the_host() -> None:
    published = {port for service in SERVICES.values() for port in service.get("ports", [])}
    assert published == {"8555:8555"}


def test_the_example_data_and_the_deployed_commit_are_shared() -> None:
    for service in GITBEAT_SERVICES.values():
        assert "example-data:/data" in service["volumes"]
    dockerfile = (PROJECT / "Dockerfile").read_text()
    assert "GITBEAT_GIT_COMMIT=${GIT_COMMIT}" in dockerfile
    assert "EXAMPLE_APP_DB=/data/example-app.db" in dockerfile
    assert "chown gitbeat:gitbeat /app/.gitbeat /data" in dockerfile  # the handlers write there as that user
    assert COMPOSE["x-gitbeat"]["build"]["args"]["GIT_COMMIT"] == "${GIT_COMMIT:-}"


def test_credentials_agree_between_services() -> None:
    postgres = SERVICES["postgres"]["environment"]
    rabbitmq = SERVICES["rabbitmq"]["environment"]
    for service in GITBEAT_SERVICES.values():
        environment = service["environment"]
        user, password = postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"]
        assert f"//{user}:{password}@postgres:5432/{postgres['POSTGRES_DB']}" in environment["GITBEAT_DATABASE_URL"]
        assert environment["CELERY_RABBITMQ_USERNAME"] == rabbitmq["RABBITMQ_DEFAULT_USER"]
        assert environment["CELERY_RABBITMQ_PASSWORD"] == rabbitmq["RABBITMQ_DEFAULT_PASS"]


def test_the_dockerfile_copies_what_exists() -> None:
    for line in (PROJECT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (PROJECT / source).exists(), f"the Dockerfile copies {source}, which does not exist"


def test_without_git_the_deployed_commit_is_recorded(tmp_path, monkeypatch) -> None:
    from gitbeat import gitinfo

    monkeypatch.setenv("GITBEAT_GIT_COMMIT", "4f2a9c1e07b3")
    assert gitinfo.commit(tmp_path) == ("4f2a9c1e07b3", None)  # tmp_path is no git work tree
    monkeypatch.delenv("GITBEAT_GIT_COMMIT")
    assert gitinfo.commit(tmp_path) == (None, None)
