"""Who may use the API and the dashboard: bearer tokens with a scope (read or operate), a login cookie, CSRF.

Tokens come from GITBEAT_API_TOKENS (`name:token:scope`, comma-separated) or the file
GITBEAT_API_TOKENS_FILE (one a line); they are compared in constant time and never logged.
The dashboard logs in with a token into an HttpOnly, SameSite=Strict cookie that names the
token and is signed with it; its forms carry a CSRF token signed the same way. Without
any token the server answers anyone who can reach it, so `gitbeat serve` then binds
127.0.0.1 only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import SettingsError

SCOPES = ("read", "operate")
COOKIE = "gitbeat_session"
SESSION_SECONDS = 12 * 3600


@dataclass(frozen=True)
class Principal:
    """Who is asking: a token's name and scope (`local` when no token is configured)."""

    name: str
    scope: str

    @property
    def operates(self) -> bool:
        return self.scope == "operate"


@dataclass(frozen=True, repr=False)
class Token:
    name: str
    secret: str
    scope: str

    def __repr__(self) -> str:  # never the secret
        return f"Token({self.name!r}, scope={self.scope!r})"


def parse_tokens(text: str | None, path: Path | None) -> list[Token]:
    """The tokens of the settings; a bad entry is one line naming its place, never its secret."""
    entries: list[tuple[str, str]] = []
    if text:
        entries += [(f"GITBEAT_API_TOKENS entry {i}", e.strip()) for i, e in enumerate(text.split(","), 1) if e.strip()]
    if path is not None:
        try:
            lines = path.read_text().splitlines()
        except OSError as error:
            raise SettingsError(f"GITBEAT_API_TOKENS_FILE: cannot read {path}: {error.strerror}") from None
        entries += [(f"{path}:{n}", line.strip()) for n, line in enumerate(lines, 1)
                    if line.strip() and not line.lstrip().startswith("#")]
    tokens: list[Token] = []
    for where, entry in entries:
        name, _, rest = entry.partition(":")
        secret, _, scope = rest.rpartition(":")
        if not name or not secret or scope not in SCOPES:
            raise SettingsError(f"{where}: expected name:token:scope with scope read or operate")
        if len(secret) < 16:
            raise SettingsError(f"{where}: the token of {name[:40]!r} is shorter than 16 characters")
        if any(token.name == name for token in tokens):
            raise SettingsError(f"{where}: a second token named {name[:40]!r}")
        tokens.append(Token(name, secret, scope))
    return tokens


class Auth:
    """The configured tokens, and what the dashboard's cookie and forms are signed with."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self._process_secret = secrets.token_bytes(32)  # signs CSRF tokens when there is no token

    @property
    def open(self) -> bool:
        """No token configured: everyone who can reach the server operates (it binds 127.0.0.1)."""
        return not self.tokens

    def by_secret(self, presented: str) -> Token | None:
        """The token whose secret is `presented`, compared in constant time with every one."""
        found = None
        for token in self.tokens:
            if hmac.compare_digest(token.secret.encode(), presented.encode()):
                found = token
        return found

    def session(self, token: Token, now: float | None = None) -> str:
        """A login cookie's value: the token's name and an expiry, signed with the token's secret."""
        expires = int((now or time.time()) + SESSION_SECONDS)
        return f"{token.name}|{expires}|{self._sign(token.secret.encode(), f'{token.name}|{expires}')}"

    def from_session(self, value: str | None, now: float | None = None) -> Token | None:
        if not value or value.count("|") != 2:
            return None
        name, expires, signature = value.split("|")
        token = next((t for t in self.tokens if t.name == name), None)
        if token is None or not expires.isdigit() or int(expires) < (now or time.time()):
            return None
        expected = self._sign(token.secret.encode(), f"{name}|{expires}")
        return token if hmac.compare_digest(expected, signature) else None

    def csrf(self, session: str | None) -> str:
        """The CSRF token of a session (a logged-in cookie, or none on an open server)."""
        token = self.from_session(session)
        key = token.secret.encode() if token else self._process_secret
        return self._sign(key, f"csrf|{session or ''}")

    def csrf_ok(self, session: str | None, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf(session), presented or "")

    @staticmethod
    def _sign(key: bytes, message: str) -> str:
        return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
