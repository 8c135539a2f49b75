"""FastAPI dependencies: who asks (bearer token, login cookie, or an open local server), and may they act.

A request authenticated by the cookie that changes something must carry the CSRF token
(form field `csrf` or header `X-CSRF-Token`) and come from this server's own origin: a
cross-site POST is refused even when the browser sends the cookie.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request

from .auth import COOKIE, Auth, Principal

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def auth_of(request: Request) -> Auth:
    auth: Auth = request.app.state.gitbeat_auth
    return auth


async def principal(request: Request) -> Principal:
    """Who asks; 401 without a valid token (the dashboard's pages redirect to the login instead)."""
    auth = auth_of(request)
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, presented = header.partition(" ")
        token = auth.by_secret(presented.strip()) if scheme.lower() == "bearer" else None
        if token is None:
            raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        return Principal(token.name, token.scope)
    session = request.cookies.get(COOKIE)
    found = auth.from_session(session)
    if found is None and not auth.open:
        raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    if request.method not in SAFE_METHODS:
        await _check_csrf(request, auth, session)
    return Principal(found.name, found.scope) if found else Principal("local", "operate")


async def _check_csrf(request: Request, auth: Auth, session: str | None) -> None:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise HTTPException(403, "a cross-site request is refused")
    presented = request.headers.get("x-csrf-token")
    if presented is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        presented = str((await request.form()).get("csrf") or "")
    if not auth.csrf_ok(session, presented):
        raise HTTPException(403, "the CSRF token is missing or wrong: reload the page")


async def operator(who: Principal = Depends(principal)) -> Principal:  # noqa: B008 - FastAPI's way
    """An operate-scope principal; 403 for a read token."""
    if not who.operates:
        raise HTTPException(403, f"the token {who.name!r} may read, not operate")
    return who
