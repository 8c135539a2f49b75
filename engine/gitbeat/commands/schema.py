"""Print the JSON Schema of the config files (for `# yaml-language-server: $schema=`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..spec import ConfigFile, ProjectSpec
from . import OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", action="store_true", help="the schema of gitbeat.yaml instead")


def json_schema(project: bool = False) -> dict[str, Any]:
    model = ProjectSpec if project else ConfigFile
    schema = model.model_json_schema()
    title = "gitbeat.yaml" if project else "gitbeat tasks/ and schedules/ file"
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "title": title}


def run(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(args.project), indent=2, sort_keys=True))
    return OK
