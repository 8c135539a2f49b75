"""`gitbeat schema`: generated from the models, committed for editors, and true to the files."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import jsonschema
import pytest
import yaml

from gitbeat.commands.schema import json_schema
from gitbeat.yamlsource import load_yaml
from tests.conftest import PROJECT, gitbeat

EXAMPLES = sorted([*PROJECT.glob("tasks/**/*.yaml"), *PROJECT.glob("schedules/**/*.yaml")])


def as_json(value: object) -> object:
    """YAML data as the editor's JSON Schema validator sees it: timestamps are strings."""
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_json(item) for item in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def all_messages(error: jsonschema.ValidationError) -> list[str]:
    """The message of `error` and of every error under it (anyOf branches)."""
    return [error.message] + [message for child in error.context or [] for message in all_messages(child)]


def validator(project: bool = False) -> jsonschema.protocols.Validator:
    schema = json_schema(project)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_examples_exist() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(PROJECT)))
def test_every_example_file_passes_the_schema(path: Path) -> None:
    # gitbeat's own reader, as an editor's YAML 1.2 would: `on:` is a key, not True.
    errors = list(validator().iter_errors(as_json(load_yaml(path.read_text()).data)))
    assert errors == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(PROJECT)))
def test_every_example_file_names_the_schema(path: Path) -> None:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = (path.parent / first.split("=", 1)[1]).resolve()
    assert target == (PROJECT / "schema" / "gitbeat.schema.json").resolve()


def test_project_file_passes_its_schema() -> None:
    data = yaml.safe_load((PROJECT / "gitbeat.yaml").read_text())
    assert list(validator(project=True).iter_errors(data)) == []


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ({"schedules": {"a": {"task": "t", "cron": "0 0 * * *", "crn": "x"}}}, "Additional properties"),
        ({"schedules": {"a": {"task": "t", "every": "5 minutes"}}}, "is not valid under any of the given schemas"),
        ({"tasks": {"t": {"retry": {"backoff": "linear"}}}}, "'linear' is not one of"),
        ({"queues": {"q": {"max_priority": 300}}}, "300 is greater than the maximum of 255"),
        ({"schedules": {"a": {"cron": "0 0 * * *"}}}, "'task' is a required property"),
        ({"jobs": {}}, "Additional properties"),
    ],
)
def test_a_broken_file_fails_the_schema(document: dict, complaint: str) -> None:
    messages = [message for error in validator().iter_errors(document) for message in all_messages(error)]
    assert any(complaint in message for message in messages), messages


@pytest.mark.parametrize(
    ("name", "project"), [("gitbeat.schema.json", False), ("gitbeat-project.schema.json", True)]
)
def test_committed_schema_is_the_generated_one(name: str, project: bool) -> None:
    args = ["schema", "--project"] if project else ["schema"]
    result = gitbeat(*args)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads((PROJECT / "schema" / name).read_text()), (
        f"schema/{name} is stale: run `gitbeat schema{' --project' if project else ''} > schema/{name}`"
    )
