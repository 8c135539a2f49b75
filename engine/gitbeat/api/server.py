"""The FastAPI application: the JSON API, the dashboard, /healthz, /readyz and /metrics.

A 500 shows the client one line, never a traceback (the traceback goes to the server's
log). `install` adds gitbeat to an existing FastAPI application, as the guide's project
mounts its task router.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from .. import __version__
from ..errors import BrokerError, GitbeatError, StoreError, UnknownScheduleError
from ..settings import Settings, load_settings
from .auth import Auth, Principal, parse_tokens
from .routes import router
from .security import principal
from .service import Service

logger = logging.getLogger("gitbeat.api")


def install(app: FastAPI, service: Service, auth: Auth, *, dashboard: bool = True) -> None:
    """Serve gitbeat's API (and its dashboard) from `app`; the caller starts and stops `service`."""
    app.state.gitbeat_service = service
    app.state.gitbeat_auth = auth
    app.include_router(router)
    if dashboard:
        from .dashboard import pages

        app.include_router(pages)
    app.add_exception_handler(GitbeatError, _user_error)


async def _user_error(request: Request, error: Exception) -> Response:
    """One line: 404 for an unknown name, 503 when the broker or the database is away, 422 for the rest."""
    return JSONResponse({"detail": str(error)}, status_code=status_of(error))


def status_of(error: Exception) -> int:
    """The HTTP status of a gitbeat error: the one place the API decides it."""
    if isinstance(error, UnknownScheduleError):
        return 404
    if isinstance(error, BrokerError | StoreError):
        return 503
    return 422


def create_app(root: Path | None = None, settings: Settings | None = None) -> FastAPI:
    """A server of its own: the API, the dashboard, health, readiness and metrics."""
    root = Path(root or ".")
    settings = settings or load_settings(root)
    auth = Auth(parse_tokens(settings.api_tokens, settings.api_tokens_file))
    service = Service(root, settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.start()
        # The start-up's objects (modules, the app) never die: keep them out of every collection, and
        # collect less often. Each refresh makes tens of thousands of short-lived objects, and the
        # default thresholds paused every request for up to half a second with 10,000 schedules.
        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
        yield
        service.stop()

    app = FastAPI(title="gitbeat", version=__version__, lifespan=lifespan,
                  description="Schedules, runs and revisions of a gitbeat deployment. Definitions live in git.")
    install(app, service, auth)
    exposition = Exposition(service)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz(who: Principal = Depends(principal)) -> Response:  # noqa: B008
        problems = _readiness(service)
        body = {"status": "ready" if not problems else "not ready", "problems": problems}
        return JSONResponse(body, status_code=200 if not problems else 503)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request, who: Principal = Depends(principal)) -> Response:  # noqa: B008
        from prometheus_client import CONTENT_TYPE_LATEST

        body, zipped = exposition.pages()
        if "gzip" in request.headers.get("accept-encoding", ""):  # Prometheus asks for it
            return Response(zipped, media_type=CONTENT_TYPE_LATEST, headers={"Content-Encoding": "gzip"})
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        logger.exception("%s %s failed", request.method, request.url.path)
        return PlainTextResponse(f"an unexpected error ({type(error).__name__}); it is in the server's log",
                                 status_code=500)

    return app


class Exposition:
    """The metrics page of the service's current snapshot, plain and gzipped, encoded once per snapshot.

    A scrape of 10,000 schedules is 3 MB of text and a few hundred milliseconds to encode. While
    someone scrapes (a scrape in the last WANTED_SECONDS), each new snapshot is encoded by the
    refresher, off the request path; a server nobody scrapes encodes nothing.
    """

    WANTED_SECONDS = 120.0

    def __init__(self, service: Service) -> None:
        from prometheus_client import CollectorRegistry

        from ..metrics import StoreCollector

        self.service = service
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StoreCollector(service.store, service.overview, views=lambda _: service.views()))
        self._lock = threading.Lock()
        self._cached: tuple[object, bytes, bytes] | None = None
        self._wanted_until = 0.0
        service.after_refresh.append(self._follow)

    def pages(self) -> tuple[bytes, bytes]:
        """The newest page: encoded by the refresher when it kept up, else now (a first scrape)."""
        now = time.monotonic()
        following = now < self._wanted_until  # the refresher encodes each snapshot: the cached one is current
        self._wanted_until = now + self.WANTED_SECONDS
        cached = self._cached
        if cached is None or (cached[0] is not self.service.snapshot and not following):
            cached = self._encode()
        return cached[1], cached[2]

    def _follow(self) -> None:
        if time.monotonic() < self._wanted_until:
            self._encode()

    def _encode(self) -> tuple[object, bytes, bytes]:
        import gzip

        from prometheus_client import generate_latest

        with self._lock:
            snapshot = self.service.snapshot
            if self._cached is None or self._cached[0] is not snapshot:
                body = generate_latest(self.registry)
                self._cached = (snapshot, body, gzip.compress(body, compresslevel=1))
            return self._cached


def _readiness(service: Service) -> list[str]:
    """What is not reachable: the database, the broker (each named)."""
    problems = []
    try:
        service.store.latest_revision()
    except Exception as error:  # noqa: BLE001 - any failure means not ready; the reason goes to the client
        problems.append(f"database: {str(error).splitlines()[0][:200]}")
    try:
        with service.app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception as error:  # noqa: BLE001
        problems.append(f"broker: {str(error).splitlines()[0][:200] if str(error) else type(error).__name__}")
    return problems
