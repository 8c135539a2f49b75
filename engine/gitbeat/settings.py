"""Settings from the environment and `.env` (SPEC §5); every URL is normalised here and only here."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import GitbeatError

STATE_DIR = ".gitbeat"


class Settings(BaseSettings):
    """What the environment says; the config root anchors the embedded default's files."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field(f"sqlite:///{STATE_DIR}/gitbeat.db", alias="GITBEAT_DATABASE_URL")
    broker: Literal["embedded", "rabbitmq", "redis"] = Field("embedded", alias="CELERY_BROKER")
    rabbitmq_host: str = Field("127.0.0.1", alias="CELERY_RABBITMQ_HOST")
    rabbitmq_port: int = Field(5672, alias="CELERY_RABBITMQ_PORT")
    rabbitmq_username: str = Field("guest", alias="CELERY_RABBITMQ_USERNAME")
    rabbitmq_password: str = Field("guest", alias="CELERY_RABBITMQ_PASSWORD")
    rabbitmq_vhost: str = Field("/", alias="CELERY_RABBITMQ_VHOST")
    redis_host: str = Field("127.0.0.1", alias="REDIS_HOST")
    redis_port: int = Field(6379, alias="REDIS_PORT")
    redis_password: str | None = Field(None, alias="REDIS_PASSWORD")
    redis_database: int = Field(1, alias="CELERY_BROKER_REDIS_DATABASE")
    broker_url_override: str | None = Field(None, alias="CELERY_BROKER_URL")
    result_backend: str = Field(f"db+sqlite:///{STATE_DIR}/results.db", alias="CELERY_RESULT_BACKEND")
    flower_basic_auth: str | None = Field(None, alias="FLOWER_BASIC_AUTH")


def load_settings(root: Path, database: str | None = None) -> Settings:
    """Settings for the config root `root`; `--database` wins over the environment."""
    try:
        settings = Settings(_env_file=root / ".env")  # type: ignore[call-arg]
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, item['loc']))}: {item['msg']}, got {item.get('input')!r}" for item in error.errors()
        )
        raise GitbeatError(f"invalid settings: {problems}") from None
    if database:
        settings.database_url = database
    return settings


def _sqlite_path(url: str, prefix: str, root: Path) -> str:
    """Make a relative SQLite path absolute under the config root, and its folder exist."""
    path = url[len(prefix) :].split("?")[0]
    if path in ("", ":memory:"):
        return url
    absolute = (root / path).resolve()
    absolute.parent.mkdir(parents=True, exist_ok=True)
    return f"{prefix}{absolute}"


def database_url(url: str, root: Path) -> str:
    """SQLAlchemy URL for the store: psycopg2 for PostgreSQL, SQLite paths under the config root."""
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg2://" + url[len(scheme) :]
    if url.startswith("sqlite:///"):
        return _sqlite_path(url, "sqlite:///", root)
    return url


def result_backend_url(url: str, root: Path) -> str:
    """Celery result backend URL, with the same PostgreSQL driver and SQLite rules."""
    for scheme in ("db+postgres://", "db+postgresql://"):
        if url.startswith(scheme):
            return "db+postgresql+psycopg2://" + url[len(scheme) :]
    if url.startswith("db+sqlite:///"):
        return _sqlite_path(url, "db+sqlite:///", root)
    return url


def broker_url(settings: Settings, root: Path) -> str:
    if settings.broker_url_override:
        return settings.broker_url_override
    if settings.broker == "rabbitmq":
        user = quote(settings.rabbitmq_username, safe="")
        password = quote(settings.rabbitmq_password, safe="")
        vhost = quote(settings.rabbitmq_vhost, safe="")
        return f"amqp://{user}:{password}@{settings.rabbitmq_host}:{settings.rabbitmq_port}/{vhost}"
    if settings.broker == "redis":
        auth = f":{quote(settings.redis_password, safe='')}@" if settings.redis_password else ""
        return f"redis://{auth}{settings.redis_host}:{settings.redis_port}/{settings.redis_database}"
    return _sqlite_path(f"gitbeat-sqlite+sqlite:///{STATE_DIR}/broker.db", "gitbeat-sqlite+sqlite:///", root)
