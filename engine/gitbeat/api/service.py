"""What the API and the dashboard show and do, over the store, the Celery app and the config files.

Definitions are read here, never written: schedules, tasks and queues change through git.
The schedules' overview (health, next and last runs) is refreshed in the background every
two seconds, so a page of 10,000 schedules is a filter and a slice of it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from ..applied import AppliedConfig
from ..live import LiveConfig
from ..loader import Config, load_config
from ..overview import Overview, ScheduleView
from ..settings import Settings, database_url
from ..store import Store
from ..store.beat import BeatStore, beat_processes
from ..store.operate import Operations
from ..store.runs import Run, RunLedger
from ..timing import fire_times, zone
from ..timingwords import in_words

REFRESH_SECONDS = 2.0


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int
    page: int
    per_page: int


class Service:
    """One server's view of a gitbeat deployment: a store, a Celery app, the config root."""

    def __init__(self, root: Path, settings: Settings) -> None:
        from ..app import create_app, register_tasks
        from ..runtime import applied_config

        self.root = root
        self.store = Store(database_url(settings, root), application_name="gitbeat serve")
        self.store.ensure_schema()
        revision, config = applied_config(root, settings)
        self.app = create_app(root, settings, config, name="gitbeat-serve")
        register_tasks(self.app, config, root)  # a send is checked against the handler, as in a web app
        self.live = LiveConfig(self.app, root, database_url(settings, root), revision, config)
        self.overview = Overview(self.store)
        self._views: list[ScheduleView] = []
        self._views_at = 0.0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._files: tuple[float, Config | None] = (0.0, None)

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self.refresh()
        threading.Thread(target=self._refresh_loop, name="gitbeat-overview", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        self.store.engine.dispose()

    def _refresh_loop(self) -> None:
        while not self._stopping.wait(REFRESH_SECONDS):
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - the store is away: keep serving the last snapshot
                continue

    def refresh(self) -> None:
        views = self.overview.schedules(datetime.now(UTC))
        with self._lock:
            self._views, self._views_at = views, time.monotonic()

    @property
    def config(self) -> AppliedConfig:
        self.live.refresh()  # at most once a second: a new revision's tasks, routes and options
        return self.live.config

    def files(self) -> Config | None:
        """The config files as the server's checkout holds them (for origins), reread at most every 10 s."""
        read_at, config = self._files
        if time.monotonic() - read_at > 10:
            try:
                config, _ = load_config(self.root)
            except Exception:  # noqa: BLE001 - no checkout beside the server: no origins
                config = None
            self._files = (time.monotonic(), config)
        return config

    # --- schedules ------------------------------------------------------------------

    def views(self) -> list[ScheduleView]:
        with self._lock:
            return self._views

    def schedules(self, *, health: str | None = None, queue: str | None = None, file: str | None = None,
                  text: str | None = None, page: int = 1, per_page: int = 100) -> Page:
        origins = self.origins()
        config = self.config
        found = [
            view for view in self.views()
            if (health is None or view.health.word == health)
            and (queue is None or config.schedule_queue(view.spec) == queue)
            and (file is None or origins.get(view.name, "").startswith(file))
            and (text is None or text.lower() in f"{view.name} {view.spec.task} {view.spec.description or ''}".lower())
        ]
        start = (page - 1) * per_page
        return Page(found[start : start + per_page], len(found), page, per_page)

    def view(self, name: str) -> ScheduleView | None:
        return next((v for v in self.views() if v.name == name), None) or next(
            (v for v in self.overview.schedules(datetime.now(UTC)) if v.name == name), None
        )

    def origins(self) -> dict[str, str]:
        """Where each schedule is declared (file:line), as the store recorded it at apply."""
        with self._lock:
            cached = getattr(self, "_origins", None)
            if cached is not None and time.monotonic() - cached[0] < REFRESH_SECONDS:
                return cached[1]
        origins = BeatStore(self.store).origins()
        with self._lock:
            self._origins = (time.monotonic(), origins)
        return origins

    def fire_times(self, view: ScheduleView, count: int = 10) -> list[dict[str, Any]]:
        """The next fire times, each with its local time and a note where a DST change moves it."""
        tz = zone(view.timezone)
        times: list[dict[str, Any]] = []
        offset = datetime.now(UTC).astimezone(tz).utcoffset()
        for moment in islice(fire_times(view.spec, view.timezone, datetime.now(UTC), view.anchor), count):
            local = moment.astimezone(tz)
            note = None
            if local.utcoffset() != offset:
                note = f"after a DST change: UTC{local:%z} from here"
                offset = local.utcoffset()
            times.append({"utc": moment.isoformat(), "local": local.isoformat(), "note": note})
        return times

    def runs(self, name: str, page: int = 1, per_page: int = 50) -> list[Run]:
        return RunLedger(self.store).list(name, limit=per_page, offset=(page - 1) * per_page)

    def describe(self, view: ScheduleView) -> str:
        """When the schedule fires, in words ('every day at 02:30'); its timezone is shown beside them."""
        return in_words(view.spec)

    # --- status ---------------------------------------------------------------------

    def beats(self) -> list[dict[str, Any]]:
        return beat_processes(self.store)

    def workers(self, timeout: float = 1.0) -> list[dict[str, Any]]:
        """The workers that answer a control ping now."""
        try:
            replies = self.app.control.ping(timeout=timeout) or []
        except Exception:  # noqa: BLE001 - no broadcast on this broker (embedded) or it is away
            return []
        return [{"hostname": name, "reply": reply} for answer in replies for name, reply in answer.items()]

    def drift(self) -> int:
        return self.store.counts()["drifted"]

    def audit(self, limit: int = 50) -> list[Any]:
        return Operations(self.store).audit(limit)
