"""The HTTP API and dashboard (`gitbeat serve`): `router` to mount, `create_app()` for a server of its own."""

from __future__ import annotations

from .routes import router
from .server import create_app, install

__all__ = ["create_app", "install", "router"]
