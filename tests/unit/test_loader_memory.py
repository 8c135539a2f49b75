"""A loaded config holds each repeated text once and each set of given fields once: what 100,000 schedules cost."""

from __future__ import annotations

from pathlib import Path

from gitbeat.loader import load_config

SCHEDULES = """\
schedules:
  {name}:
    task: jobs.report
    cron: "0 3 * * *"
    timezone: Europe/Berlin
    args: [Europe/Berlin]
"""


def test_repeated_texts_and_given_field_sets_are_held_once(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "t.yaml").write_text("tasks:\n  jobs.report:\n    handler: jobs:report\n")
    (tmp_path / "schedules").mkdir()
    for name in ("first", "second"):
        (tmp_path / "schedules" / f"{name}.yaml").write_text(SCHEDULES.format(name=name))
    (tmp_path / "schedules" / "other.yaml").write_text("schedules:\n  other:\n    task: jobs.report\n    every: 1h\n")
    config, diagnostics = load_config(tmp_path)
    assert diagnostics == []
    first, second, other = (config.schedules[name] for name in ("first", "second", "other"))

    # libyaml makes a str for each scalar of each file; the loader keeps one per distinct text
    documents = [config.origins[("schedules", name)].document.data["schedules"][name] for name in ("first", "second")]
    assert documents[0] == documents[1]
    keys = [{key: key for key in document} for document in documents]
    assert all(keys[0][key] is keys[1][key] for key in keys[0])
    assert documents[0]["timezone"] is documents[1]["timezone"] is documents[0]["args"][0]

    # pydantic makes a set of given fields per model; loaded models given the same fields share one
    assert first.model_fields_set == {"task", "cron", "timezone", "args"}
    assert first.__pydantic_fields_set__ is second.__pydantic_fields_set__
    assert other.model_fields_set == {"task", "every", "timezone"}  # the project's zone, resolved by the loader
    copy = first.model_copy(update={"enabled": False})
    assert "enabled" in copy.model_fields_set and "enabled" not in second.model_fields_set
