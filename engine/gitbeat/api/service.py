"""What the API and the dashboard show and do, over the store, the Celery app and the config files.

Definitions are read here, never written: schedules, tasks and queues change through git.
The schedules' overview (health, next and last runs) is refreshed in the background every
two seconds (less often when a refresh is slow: at most a fifth of the time), so a page of
10,000 schedules is a filter and a slice of it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
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

REFRESH_SECONDS = 2.0  # the snapshot's age at most, while a refresh is cheap
REFRESH_SHARE = 0.2  # at most this share of the time refreshing: 10,000 schedules take about a second


@dataclass(frozen=True)
class Snapshot:
    """The schedules' overview as of one refresh, indexed for the requests that read it."""

    views: list[ScheduleView]
    by_name: dict[str, ScheduleView]
    search: dict[str, str]  # name → the lowercase text a search matches: name, task, description
    origins: dict[str, str]  # name → file:line, as apply recorded it
    revision: int | None

    @classmethod
    def of(cls, views: list[ScheduleView], origins: dict[str, str], revision: int | None) -> Snapshot:
        return cls(views, {view.name: view for view in views},
                   {view.name: f"{view.name} {view.spec.task} {view.spec.description or ''}".lower() for view in views},
                   origins, revision)


EMPTY = Snapshot([], {}, {}, {}, None)


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
        self.snapshot = EMPTY  # replaced whole by each refresh: readers need no lock
        self.after_refresh: list[Callable[[], None]] = []  # run in the refresher, after each new snapshot
        self._refresh_lock = threading.Lock()
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
        pause = REFRESH_SECONDS
        while not self._stopping.wait(pause):
            started = time.monotonic()
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - the store is away: keep serving the last snapshot
                continue
            # The refresh holds the GIL for much of its time: requests wait behind it. Keep it to a share.
            pause = max(REFRESH_SECONDS, (time.monotonic() - started) * (1 / REFRESH_SHARE - 1))

    def refresh(self) -> None:
        """A new snapshot of every schedule's health, next and last run (origins reread only after an apply)."""
        with self._refresh_lock:
            views = self.overview.schedules(datetime.now(UTC))
            revision = self.store.latest_revision()
            previous = self.snapshot
            origins = previous.origins if revision == previous.revision and previous.origins else \
                BeatStore(self.store).origins()
            self.snapshot = Snapshot.of(views, origins, revision)
        for follow in self.after_refresh:
            follow()

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
        return self.snapshot.views

    def schedules(self, *, health: str | None = None, queue: str | None = None, file: str | None = None,
                  text: str | None = None, page: int = 1, per_page: int = 100) -> Page:
        snapshot = self.snapshot
        config = self.config
        needle = text.lower() if text is not None else None
        found = [
            view for view in snapshot.views
            if (health is None or view.health.word == health)
            and (queue is None or config.schedule_queue(view.spec) == queue)
            and (file is None or snapshot.origins.get(view.name, "").startswith(file))
            and (needle is None or needle in snapshot.search[view.name])
        ]
        start = (page - 1) * per_page
        return Page(found[start : start + per_page], len(found), page, per_page)

    def view(self, name: str) -> ScheduleView | None:
        """One schedule from the snapshot, or fresh from the store when it is newer than the snapshot."""
        found = self.snapshot.by_name.get(name)
        if found is not None or self.store.stored_schedule(name) is None:  # an unknown name costs one row lookup
            return found
        self.refresh()  # applied since the last snapshot
        return self.snapshot.by_name.get(name)

    def origins(self) -> dict[str, str]:
        """Where each schedule is declared (file:line), as the store recorded it at apply."""
        return self.snapshot.origins

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
