"""Settings from the environment and `.env` (SPEC §5); every URL is checked and normalised here and only here.

A bad URL is one `SettingsError` naming the setting it came from; no message shows a
password (URLs are printed through `safe_url`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote, urlsplit

from pydantic import BeforeValidator, Field, PrivateAttr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from .durations import parse_duration
from .errors import SettingsError

STATE_DIR = ".gitbeat"
STORE_BACKENDS = ("sqlite", "postgresql", "mysql", "mariadb")  # the databases the store runs on
SUPPORTED = "SQLite (sqlite:///…), PostgreSQL (postgresql://…) or MySQL/MariaDB (mysql://…)"
# A URL without a driver gets gitbeat's: psycopg2 (SQLAlchemy 2.1 would pick psycopg 3) and PyMySQL (it would pick
# mysqlclient, which needs a C library); mariadb:// is the same dialect and driver.
DRIVERS = {"postgresql": "postgresql+psycopg2", "mysql": "mysql+pymysql", "mariadb": "mysql+pymysql"}


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
    metrics_port: int | None = Field(None, alias="GITBEAT_METRICS_PORT", ge=1, le=65535)
    env: str | None = Field(None, alias="GITBEAT_ENV", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
    # `gitbeat serve`: name:token:scope entries (scope read or operate), comma-separated, or a file of them a line each
    api_tokens: str | None = Field(None, alias="GITBEAT_API_TOKENS", repr=False)
    api_tokens_file: Path | None = Field(None, alias="GITBEAT_API_TOKENS_FILE")
    # Results older than this are deleted (by celery.backend_cleanup on a database backend); 0 keeps them.
    result_expires: Annotated[float, BeforeValidator(parse_duration)] = Field(86400, alias="CELERY_RESULT_EXPIRES")
    # Where database_url came from, for messages: the option or the variable.
    _database_source: str = PrivateAttr("GITBEAT_DATABASE_URL")


def flower_basic_auth(settings: Settings) -> str | None:
    """FLOWER_BASIC_AUTH, checked: user:password (several comma-separated), neither part empty."""
    if settings.flower_basic_auth is None:
        return None
    for pair in settings.flower_basic_auth.split(","):
        user, _, password = pair.partition(":")
        if not user.strip() or not password:
            raise SettingsError("FLOWER_BASIC_AUTH: expected user:password with neither part empty")
    return settings.flower_basic_auth


def load_settings(root: Path, database: str | None = None) -> Settings:
    """Settings for the config root `root`; `--database` wins over the environment."""
    try:
        settings = Settings(_env_file=root / ".env")  # type: ignore[call-arg]
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, item['loc']))}: {item['msg']}, got {_excerpt(item.get('input'))}"
            for item in error.errors()
            if item["loc"]
        )
        raise SettingsError(f"invalid settings: {problems}") from None
    if database:
        settings.database_url = database
        settings._database_source = "--database"
    return settings


def _excerpt(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def safe_url(url: str) -> str:
    """`url` with its password replaced by `***`, for messages and logs."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url.split("@")[-1] if "@" in url else url
    if not password:
        return url
    userinfo, host = parts.netloc.rsplit("@", 1)
    user = userinfo.split(":", 1)[0]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def _sqlite_path(url: str, prefix: str, root: Path, *, create: bool) -> str:
    """A relative SQLite path made absolute under the config root (its folder made only when `create`)."""
    path = url[len(prefix) :].split("?")[0]
    if path in ("", ":memory:"):
        return url
    absolute = (root / path).resolve()
    if create:
        absolute.parent.mkdir(parents=True, exist_ok=True)
    return f"{prefix}{absolute}"


def _sqlalchemy_url(url: str, setting: str, backends: tuple[str, ...] | None = None) -> str:
    """Check a SQLAlchemy URL: it parses, names one of `backends` (any when None), its driver loads."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    url = url.replace("postgres://", "postgresql://", 1)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as error:
        reason = "the port is not a number" if isinstance(error, ValueError) else "not a database URL"
        raise SettingsError(f"{setting}: cannot read {safe_url(url)!r}: {reason}") from None
    backend = parsed.get_backend_name()
    if backends is not None and backend not in backends:
        raise SettingsError(f"{setting}: {backend[:40]!r} is not a database gitbeat can use; use {SUPPORTED}")
    if parsed.drivername in DRIVERS:  # as text: rendering the URL again would re-quote its parts
        url = DRIVERS[parsed.drivername] + url[len(parsed.drivername) :]
        parsed = parsed.set(drivername=DRIVERS[parsed.drivername])
    try:
        parsed.get_dialect().import_dbapi()
    except NoSuchModuleError:
        raise SettingsError(f"{setting}: {parsed.drivername!r} is not a database SQLAlchemy knows") from None
    except ImportError as error:
        extra = {"mysql": "mysql", "mariadb": "mysql"}.get(parsed.get_backend_name())
        hint = f": pip install 'gitbeat[{extra}]'" if extra and error.name == "pymysql" else ""
        raise SettingsError(
            f"{setting}: the driver for {parsed.drivername!r} is not installed ({error.name}){hint}"
        ) from None
    return url


def database_url(settings: Settings, root: Path) -> str:
    """SQLAlchemy URL for the store of `settings` (see normalise_database_url)."""
    return normalise_database_url(settings.database_url, root, settings._database_source)


def normalise_database_url(url: str, root: Path, setting: str = "GITBEAT_DATABASE_URL") -> str:
    """A store URL checked and normalised: psycopg2 for PostgreSQL, PyMySQL for MySQL and MariaDB, SQLite paths
    under the config root.

    Nothing is made.
    """
    url = _sqlalchemy_url(url, setting, STORE_BACKENDS)
    if url.startswith("sqlite:///"):
        return _sqlite_path(url, "sqlite:///", root, create=False)
    return url


def result_backend_url(settings: Settings, root: Path) -> str:
    """Celery result backend URL, with the same drivers (db+mysql:// is PyMySQL) and SQLite rules; checked before
    any worker starts."""
    from celery.app.backends import by_url

    url = settings.result_backend
    if url.startswith("db+"):
        url = "db+" + _sqlalchemy_url(url[3:], "CELERY_RESULT_BACKEND")
        if url.startswith("db+sqlite:///"):
            return _sqlite_path(url, "db+sqlite:///", root, create=True)
        return url
    try:
        by_url(url)
    except (ImportError, ValueError, KeyError, AttributeError):
        scheme = url.split("://", 1)[0] if "://" in url else url
        raise SettingsError(
            f"CELERY_RESULT_BACKEND: {scheme[:40]!r} is not a result backend Celery knows "
            "(e.g. db+postgresql://…, db+mysql://…, redis://…, rpc://)"
        ) from None
    return url


def broker_url(settings: Settings, root: Path) -> str:
    """The broker URL from CELERY_BROKER_URL or the broker settings, checked: a known transport, a numeric port."""
    if settings.broker_url_override:
        url, setting = settings.broker_url_override, "CELERY_BROKER_URL"
    elif settings.broker == "rabbitmq":
        user = quote(settings.rabbitmq_username, safe="")
        password = quote(settings.rabbitmq_password, safe="")
        vhost = quote(settings.rabbitmq_vhost, safe="")
        url, setting = (f"amqp://{user}:{password}@{settings.rabbitmq_host}:{settings.rabbitmq_port}/{vhost}",
                        "CELERY_RABBITMQ_*")
    elif settings.broker == "redis":
        auth = f":{quote(settings.redis_password, safe='')}@" if settings.redis_password else ""
        url = f"redis://{auth}{settings.redis_host}:{settings.redis_port}/{settings.redis_database}"
        setting = "REDIS_*"
    else:
        return _sqlite_path(f"gitbeat-sqlite+sqlite:///{STATE_DIR}/broker.db", "gitbeat-sqlite+sqlite:///", root,
                            create=True)
    _check_broker(url, setting)
    return url


def _check_broker(url: str, setting: str) -> None:
    from kombu.transport import TRANSPORT_ALIASES

    scheme = url.split("://", 1)[0] if "://" in url else ""
    transport = scheme.split("+", 1)[0]
    if transport not in TRANSPORT_ALIASES:
        raise SettingsError(
            f"{setting}: {transport[:40] or safe_url(url)[:40]!r} is not a broker kombu knows "
            "(e.g. amqp://…, redis://…)"
        )
    try:
        _port = urlsplit(url).port  # reading it raises ValueError when it is not a number
    except ValueError:
        raise SettingsError(f"{setting}: the port in {safe_url(url)!r} is not a number") from None
