"""The JSON API under /api/v1: read everything, act on runs, never write a definition (that is git's).

`router` can be mounted in an existing FastAPI application (it needs `app.state.gitbeat_service`
and `app.state.gitbeat_auth`, which `gitbeat.api.install` sets).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, JsonValue

from .. import operate
from ..app import broker_errors
from ..durations import parse_duration
from ..health import HEALTH
from ..store.runs import Run
from .auth import Principal
from .security import operator, principal
from .service import Service

router = APIRouter(prefix="/api/v1")
EDIT_THE_YAML = "definitions live in git: edit the YAML and open a pull request"
PAGE_LIMIT = 1_000_000  # pages past this are a mistake (and past a bigint offset)


def service_of(request: Request) -> Service:
    service: Service = request.app.state.gitbeat_service
    return service


# --- shapes ---------------------------------------------------------------------------


def moment(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def run_json(run: Run) -> dict[str, Any]:
    return {
        "task_id": run.task_id, "schedule": run.schedule, "task": run.task, "trigger": run.trigger,
        "state": run.state, "due_at": moment(run.due_at), "sent_at": moment(run.sent_at),
        "started_at": moment(run.started_at), "finished_at": moment(run.finished_at), "lag": run.lag,
        "runtime": run.runtime, "worker": run.worker, "retries": run.retries, "error_type": run.error_type,
        "error": run.error, "note": run.note, "revision": run.revision_id,
    }


def view_json(service: Service, view: Any, origins: dict[str, str]) -> dict[str, Any]:
    last = view.stats.last if view.stats else None
    return {
        "name": view.name, "task": view.spec.task, "timing": service.describe(view), "timezone": view.timezone,
        "queue": service.config.schedule_queue(view.spec), "enabled": view.spec.enabled,
        "description": view.spec.description, "origin": origins.get(view.name),
        "health": view.health.word, "reason": view.health.reason, "next_due": moment(view.health.next_due),
        "last_run": run_json(last) if last else None,
        "last_success_at": moment(view.stats.last_success_at) if view.stats else None,
        "failures": view.stats.failures_since_success if view.stats else 0,
        "override": view.override.as_json() if view.override else None,
    }


class SendTask(BaseModel):
    args: list[JsonValue] = Field(default_factory=list)
    kwargs: dict[str, JsonValue] = Field(default_factory=dict)
    countdown: float | None = Field(None, ge=0)
    eta: datetime | None = None
    priority: int | None = Field(None, ge=0, le=255)


class Note(BaseModel):
    note: str | None = Field(None, max_length=500)


class Backfill(BaseModel):
    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    dry_run: bool = False
    note: str | None = Field(None, max_length=500)


class Pause(BaseModel):
    note: str = Field(min_length=1, max_length=500)
    duration: str | float | None = Field(None, alias="for", description="e.g. 2h; none: until resumed")


class Replay(BaseModel):
    ids: list[str] = Field(default_factory=list)
    task: str | None = None
    limit: int | None = Field(None, ge=1)


# --- tasks ----------------------------------------------------------------------------


@router.get("/tasks")
def list_tasks(request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:  # noqa: B008
    service = service_of(request)
    config = service.config
    files = service.files()
    tasks = []
    for name, spec in sorted(config.tasks.items()):
        origin = None
        if files is not None and ("tasks", name) in files.origins:
            display, line, _ = files.origins[("tasks", name)].locate(("tasks", name), key=True)
            origin = f"{display}:{line}"
        tasks.append({"name": name, "queue": config.task_queue(name), "handler": spec.handler,
                      "registered": spec.handler is None, "options": spec.model_dump(mode="json", exclude_none=True),
                      "origin": origin})
    return {"tasks": tasks}


@router.post("/tasks/{name}/send", status_code=202)
def send_task(name: str, body: SendTask, request: Request, who: Principal = Depends(operator)) -> dict[str, Any]:  # noqa: B008
    service = service_of(request)
    if name not in service.config.tasks:
        raise HTTPException(404, f"no task named {name!r}")
    task = service.app.tasks[name]
    options: dict[str, Any] = {key: value for key, value in
                               {"countdown": body.countdown, "eta": body.eta, "priority": body.priority}.items()
                               if value is not None}
    try:
        with broker_errors(service.app, f"send {name}"):
            result = task.apply_async(args=body.args, kwargs=body.kwargs, **options)
    except TypeError as error:  # the handler's signature refused the call: nothing was sent
        raise HTTPException(422, str(error)) from None
    return {"task_id": result.id, "task": name, "queue": service.config.task_queue(name)}


@router.get("/results/{task_id}")
def task_result(task_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:  # noqa: B008
    service = service_of(request)
    result = service.app.AsyncResult(task_id)
    state = result.state
    from ..store.runs import RunLedger

    run = RunLedger(service.store).get(task_id)
    return {
        "task_id": task_id, "state": state,
        "result": result.result if state == "SUCCESS" else None,
        "error": repr(result.result) if state == "FAILURE" else None,
        "traceback": result.traceback if state == "FAILURE" else None,
        "run": run_json(run) if run else None,
    }


@router.post("/results/{task_id}/revoke")
def revoke(task_id: str, request: Request, who: Principal = Depends(operator)) -> dict[str, Any]:  # noqa: B008
    service = service_of(request)
    with broker_errors(service.app, f"revoke {task_id}"):
        service.app.control.revoke(task_id)
    return {"task_id": task_id, "revoked": True}


# --- schedules ------------------------------------------------------------------------


@router.get("/schedules")
def list_schedules(
    request: Request,
    who: Principal = Depends(principal),  # noqa: B008
    health: str | None = Query(None, pattern="^(" + "|".join(HEALTH) + ")$"),
    queue: str | None = None, file: str | None = None, q: str | None = None,
    page: int = Query(1, ge=1, le=PAGE_LIMIT), per_page: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    service = service_of(request)
    found = service.schedules(health=health, queue=queue, file=file, text=q, page=page, per_page=per_page)
    origins = service.origins()
    return {"total": found.total, "page": found.page, "per_page": found.per_page,
            "schedules": [view_json(service, view, origins) for view in found.items]}


def _view(service: Service, name: str) -> Any:
    view = service.view(name)
    if view is None:
        raise HTTPException(404, f"no schedule named {name!r} is applied")
    return view


@router.get("/schedules/{name}")
def one_schedule(name: str, request: Request, who: Principal = Depends(principal),  # noqa: B008
                 runs_page: int = Query(1, ge=1, le=PAGE_LIMIT),
                 per_page: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    service = service_of(request)
    view = _view(service, name)
    return {
        **view_json(service, view, service.origins()),
        "spec": view.spec.model_dump(mode="json", exclude_none=True),
        "next_fires": service.fire_times(view),
        "runs": [run_json(run) for run in service.runs(name, runs_page, per_page)],
    }


@router.get("/schedules/{name}/runs")
def schedule_runs(name: str, request: Request, who: Principal = Depends(principal),  # noqa: B008
                  page: int = Query(1, ge=1, le=PAGE_LIMIT), per_page: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    service = service_of(request)
    _view(service, name)
    return {"page": page, "runs": [run_json(run) for run in service.runs(name, page, per_page)]}


@router.post("/schedules/{name}/trigger", status_code=202)
def trigger(name: str, body: Note, request: Request, who: Principal = Depends(operator)) -> dict[str, Any]:  # noqa: B008
    """202 with the run's id, also when the broker is away: the run is recorded, and `deferred` says why it waits."""
    service = service_of(request)
    triggered = operate.trigger(service.store, service.app, name, who.name, body.note, source="api")
    service.refresh()
    return {"task_id": triggered.task_id, "schedule": name, "sent": triggered.deferred is None,
            "deferred": triggered.deferred}


@router.post("/schedules/{name}/backfill")
def backfill(name: str, body: Backfill, request: Request, who: Principal = Depends(operator)) -> dict[str, Any]:  # noqa: B008
    service = service_of(request)
    done = operate.backfill(service.store, None if body.dry_run else service.app, name, _aware(body.start),
                            _aware(body.end), who.name, body.note, source="api")
    service.refresh()
    return {"due": [moment(d) for d in done.due], "sent": done.sent, "already": done.already,
            "dry_run": body.dry_run, "deferred": done.deferred}


@router.post("/schedules/{name}/pause")
def pause(name: str, body: Pause, request: Request, who: Principal = Depends(operator)) -> dict[str, Any]:  # noqa: B008
    service = service_of(request)
    try:
        duration = parse_duration(body.duration) if body.duration not in (None, "") else None
    except ValueError as error:
        raise HTTPException(422, f"for: {error}") from None
    override = operate.pause(service.store, name, who.name, body.note, duration, source="api")
    service.refresh()  # read your writes: the next GET shows the pause
    return {"schedule": name, "override": override.as_json()}


@router.post("/schedules/{name}/resume")
def resume(name: str, body: Note, request: Request, who: Principal = Depends(operator)) -> dict[str, Any]:  # noqa: B008
    service = service_of(request)
    resumed = operate.resume(service.store, name, who.name, body.note, source="api")
    service.refresh()
    return {"schedule": name, "resumed": resumed}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- revisions, status, dead letters ---------------------------------------------------


@router.get("/revisions")
def revisions(request: Request, who: Principal = Depends(principal),  # noqa: B008
              limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    service = service_of(request)
    return {
        "revisions": [_revision_json(r) for r in service.store.history(limit)],
        "actions": [{"id": a.id, "at": moment(a.at), "actor": a.actor, "action": a.action, "schedule": a.schedule,
                     "note": a.note, "detail": a.detail} for a in service.audit(limit)],
    }


def _revision_json(revision: Any) -> dict[str, Any]:
    return {"id": revision.id, "applied_at": moment(revision.applied_at), "author": revision.author,
            "git_commit": revision.git_commit, "git_dirty": revision.git_dirty, "message": revision.message,
            "summary": revision.summary.get("text"), "changes": revision.summary.get("changes", [])}


@router.get("/revisions/{revision_id}")
def one_revision(revision_id: int, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:  # noqa: B008
    found = service_of(request).store.revision(revision_id)
    if found is None:
        raise HTTPException(404, f"no revision {revision_id}")
    return _revision_json(found)


@router.get("/status")
def status(request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:  # noqa: B008
    service = service_of(request)
    latest = service.store.history(1)
    return {
        "revision": _revision_json(latest[0]) if latest else None,
        "beats": [{"id": b["id"], "role": b["role"], "started_at": moment(b["started_at"]),
                   "heartbeat_at": moment(b["heartbeat_at"])} for b in service.beats()],
        "workers": service.workers(),
        "drift": service.drift(),
        "health": {word: sum(v.health.word == word for v in service.views()) for word in HEALTH},
    }


@router.get("/dead-letters/{queue}")
def dead_letters(queue: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:  # noqa: B008
    from dataclasses import asdict

    from .. import deadletters
    service = service_of(request)
    target = deadletters.resolve_queue(queue, service.config)
    with broker_errors(service.app, f"list {target}"):
        letters = deadletters.list_letters(service.app, target)
    return {"queue": target, "letters": [asdict(letter) for letter in letters]}


@router.post("/dead-letters/{queue}/replay")
def replay(queue: str, body: Replay, request: Request, who: Principal = Depends(operator)) -> dict[str, Any]:  # noqa: B008
    from .. import deadletters
    service = service_of(request)
    target = deadletters.resolve_queue(queue, service.config)
    selection = deadletters.Selection(frozenset(body.ids), body.task, body.limit)
    with broker_errors(service.app, f"replay {target}"):
        return {"queue": target, "replayed": deadletters.replay(service.app, target, selection)}


# --- definitions are not an API -------------------------------------------------------


@router.api_route("/schedules", methods=["POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
@router.api_route("/schedules/{name}", methods=["POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
@router.api_route("/tasks", methods=["POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
@router.api_route("/tasks/{name}", methods=["POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
@router.api_route("/queues", methods=["POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
@router.api_route("/queues/{name}", methods=["POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
def definitions_live_in_git(request: Request) -> JSONResponse:
    return JSONResponse({"detail": EDIT_THE_YAML}, status_code=405, headers={"Allow": "GET"})
