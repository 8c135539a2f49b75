"""docker-compose.yml and the Dockerfile: no Docker engine runs here, so they are checked, not run."""

from __future__ import annotations

import re
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
    assert re.fullmatch(r"\$\{FLOWER_BASIC_AUTH:\?.+\}", flower["environment"]["FLOWER_BASIC_AUTH"])


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
