"""The dashboard: server-rendered pages of schedules, runs, revisions, dead letters and processes.

Jinja2 templates and one small script that refreshes a page's content every 5 seconds.
Its buttons (run now, pause, resume, replay) are forms that post to this server with a
CSRF token, for a logged-in operate token (or anyone on an open, local-only server).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from .. import operate
from ..durations import format_duration, parse_duration
from ..errors import GitbeatError
from ..health import HEALTH
from ..spec import ScheduleSpec
from ..timing import next_fire, zone
from ..timingwords import when
from .auth import COOKIE, SESSION_SECONDS, Principal
from .security import auth_of, principal
from .service import Service

pages = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TIMELINE_HOURS = 24
TIMELINE_MARKS = 500  # marks on the bar in all; a 1,200-pixel bar shows no more
# ScheduleSpec's durations, stored as seconds: the schedule page shows them as YAML spells them (`every: 5m`).
DURATION_FIELDS = ("every", "alert_after", "expires", "jitter", "catchup_window")


def _service(request: Request) -> Service:
    service: Service = request.app.state.gitbeat_service
    return service


async def viewer(request: Request) -> Principal | None:
    """Who looks at a page; None sends them to the login page."""
    try:
        return await principal(request)
    except HTTPException as error:
        if error.status_code == 401:
            return None
        raise


def _local(moment: datetime | None, timezone: str) -> str:
    return f"{moment.astimezone(zone(timezone)):%Y-%m-%d %H:%M:%S %Z}" if moment else "–"


def _relative(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return ""
    seconds = (moment - now).total_seconds()
    size = abs(seconds)
    text = (f"{size:.0f}s" if size < 90 else f"{size / 60:.0f} min" if size < 5400 else
            f"{size / 3600:.0f} h" if size < 172800 else f"{size / 86400:.0f} days")
    return f"in {text}" if seconds >= 0 else f"{text} ago"


def _details(detail: dict[str, Any]) -> str:
    """An audit row's detail as 'key: value' pairs, unset ones left out: 'source: dashboard · until: …'."""
    return " · ".join(
        f"{key.replace('_', ' ')}: {value if isinstance(value, str) else json.dumps(value)}"
        for key, value in detail.items() if value is not None
    )


def _render(request: Request, template: str, who: Principal, **context: Any) -> Response:
    session = request.cookies.get(COOKIE)
    return templates.TemplateResponse(request, template, {
        "who": who, "csrf": auth_of(request).csrf(session), "now": datetime.now(UTC), "local": _local,
        "relative": _relative, "details": _details, "health_words": HEALTH, "open_server": auth_of(request).open,
        **context,
    })


def _login(request: Request) -> Response:
    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)


@pages.get("/login")
def login_page(request: Request, next: str = "/", failed: bool = False) -> Response:
    return templates.TemplateResponse(request, "login.html", {"next": next, "failed": failed, "who": None})


@pages.post("/login")
def login(request: Request, token: str = Form(...), next: str = Form("/")) -> Response:
    auth = auth_of(request)
    found = auth.by_secret(token)
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    if found is None:
        return RedirectResponse(f"/login?failed=1&next={quote(target)}", status_code=303)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, auth.session(found), max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    return response


@pages.post("/logout")
def logout(request: Request, who: Principal = Depends(principal)) -> Response:  # noqa: B008
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@pages.get("/", response_class=HTMLResponse)
def schedules_page(request: Request, health: str | None = None, q: str | None = None, queue: str | None = None,
                   page: int = 1, who: Principal | None = Depends(viewer)) -> Response:  # noqa: B008
    if who is None:
        return _login(request)
    service = _service(request)
    found = service.schedules(health=health or None, queue=queue or None, text=q or None, page=max(page, 1),
                              per_page=100)
    now = datetime.now(UTC)
    counts = {word: sum(v.health.word == word for v in service.views()) for word in HEALTH}
    return _render(request, "schedules.html", who, found=found, health=health or "", q=q or "", queue=queue or "",
                   counts=counts, timeline=_timeline(found.items, now), service=service,
                   pages=max(1, -(-found.total // found.per_page)))


def _timeline(views: list[Any], now: datetime) -> list[dict[str, Any]]:
    """The fires of the next 24 hours of the schedules shown, as positions on a day-long bar.

    Each schedule gets an even share of TIMELINE_MARKS, spread over the whole day: a schedule
    firing every second is a band across the bar, not 500 marks in its first minutes that
    leave none for the others.
    """
    end = now + timedelta(hours=TIMELINE_HOURS)
    due = [view for view in views if view.health.next_due is not None and view.health.next_due <= end]
    share = max(1, TIMELINE_MARKS // max(1, len(due)))
    spacing = (end - now) / share
    marks: list[dict[str, Any]] = []
    for view in due:
        anchor = view.anchor or now
        after, placed = now, 0
        while placed < share:
            moment = next_fire(view.spec, view.timezone, after, anchor)
            if moment is None or moment > end:
                break
            marks.append({"name": view.name, "at": moment, "left": (moment - now) / (end - now) * 100,
                          "health": view.health.word})
            placed += 1
            # the next mark: the first fire at or after the next slot of the share, never the same one again
            after = max(moment, now + placed * spacing - timedelta(microseconds=1))
    return sorted(marks, key=lambda mark: mark["at"])


@pages.get("/schedules/{name}", response_class=HTMLResponse)
def schedule_page(name: str, request: Request, page: int = 1,
                  who: Principal | None = Depends(viewer)) -> Response:  # noqa: B008
    if who is None:
        return _login(request)
    service = _service(request)
    view = service.view(name)
    if view is None:
        raise HTTPException(404, f"no schedule named {name!r} is applied")
    return _render(request, "schedule.html", who, view=view, service=service, runs=service.runs(name, max(page, 1)),
                   fires=_fires(service.fire_times(view), view.timezone), origin=service.origins().get(name, ""),
                   page=max(page, 1), spec_yaml=_spec_yaml(view.spec))


def _fires(fires: list[dict[str, Any]], timezone: str) -> list[dict[str, Any]]:
    """The next fire times as the plan shows them, '2026-12-03 02:30 CET (01:30 UTC)', each with its DST note."""
    return [{"when": when(datetime.fromisoformat(fire["utc"]), timezone), "note": fire["note"]} for fire in fires]


def _spec_yaml(spec: ScheduleSpec) -> str:
    """The schedule as applied, in YAML, its durations spelled as in the files (`every: 1s`, not `every: 1`)."""
    import yaml

    data = spec.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    for key in DURATION_FIELDS:
        if key in data:
            data[key] = format_duration(getattr(spec, key))
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False).strip()


def _back(name: str, message: str) -> Response:
    return RedirectResponse(f"/schedules/{quote(name)}?done={quote(message)}", status_code=303)


def _operate(who: Principal) -> None:
    if not who.operates:
        raise HTTPException(403, f"the token {who.name!r} may read, not operate")


@pages.post("/schedules/{name}/trigger")
def trigger(name: str, request: Request, note: str = Form(""),
            who: Principal = Depends(principal)) -> Response:  # noqa: B008
    _operate(who)
    service = _service(request)
    triggered = operate.trigger(service.store, service.app, name, who.name, note or None, source="dashboard")
    service.refresh()
    if triggered.deferred:
        return _back(name, f"run {triggered.task_id} recorded, not sent yet: the broker is away; the beat sends it")
    return _back(name, f"run {triggered.task_id} sent")


@pages.post("/schedules/{name}/pause")
def pause(name: str, request: Request, note: str = Form(...), duration: str = Form(""),
          who: Principal = Depends(principal)) -> Response:  # noqa: B008
    _operate(who)
    service = _service(request)
    try:
        seconds = parse_duration(duration) if duration.strip() else None
        operate.pause(service.store, name, who.name, note, seconds, source="dashboard")
    except (GitbeatError, ValueError) as error:
        raise HTTPException(422, str(error)) from None
    service.refresh()
    return _back(name, "paused")


@pages.post("/schedules/{name}/resume")
def resume(name: str, request: Request, who: Principal = Depends(principal)) -> Response:  # noqa: B008
    _operate(who)
    service = _service(request)
    operate.resume(service.store, name, who.name, None, source="dashboard")
    service.refresh()
    return _back(name, "resumed")


@pages.get("/revisions", response_class=HTMLResponse)
def revisions_page(request: Request, who: Principal | None = Depends(viewer)) -> Response:  # noqa: B008
    if who is None:
        return _login(request)
    service = _service(request)
    entries = [("revision", r.applied_at, r) for r in service.store.history(50)]
    entries += [("action", a.at, a) for a in service.audit(50)]
    entries.sort(key=lambda entry: entry[1], reverse=True)
    return _render(request, "revisions.html", who, entries=entries[:100])


@pages.get("/dead-letters", response_class=HTMLResponse)
def dead_letters_page(request: Request, who: Principal | None = Depends(viewer)) -> Response:  # noqa: B008
    if who is None:
        return _login(request)
    from .. import deadletters
    from ..app import broker_errors

    service = _service(request)
    queues: dict[str, Any] = {}
    for name in sorted(service.config.dead_letter_queues()):
        try:
            with broker_errors(service.app, f"list {name}"):
                queues[name] = deadletters.list_letters(service.app, name)
        except GitbeatError as error:
            queues[name] = str(error)
    return _render(request, "deadletters.html", who, queues=queues)


@pages.post("/dead-letters/{queue}/replay")
def replay(queue: str, request: Request, task_id: str = Form(""),
           who: Principal = Depends(principal)) -> Response:  # noqa: B008
    _operate(who)
    from .. import deadletters

    service = _service(request)
    target = deadletters.resolve_queue(queue, service.config)
    deadletters.replay(service.app, target, deadletters.Selection(frozenset([task_id]) if task_id else frozenset()))
    return RedirectResponse("/dead-letters", status_code=303)


@pages.get("/processes", response_class=HTMLResponse)
def processes_page(request: Request, who: Principal | None = Depends(viewer)) -> Response:  # noqa: B008
    if who is None:
        return _login(request)
    service = _service(request)
    return _render(request, "processes.html", who, beats=service.beats(), workers=service.workers())
