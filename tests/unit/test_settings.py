"""Settings (SPEC §5): the seed's variable names, `.env`, and URLs normalised in one place."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitbeat.errors import GitbeatError
from gitbeat.settings import broker_url, database_url, load_settings, normalise_database_url, result_backend_url

NAMES = [
    "GITBEAT_DATABASE_URL", "CELERY_BROKER", "CELERY_RABBITMQ_HOST", "CELERY_RABBITMQ_PORT",
    "CELERY_RABBITMQ_USERNAME", "CELERY_RABBITMQ_PASSWORD", "CELERY_RABBITMQ_VHOST", "REDIS_HOST", "REDIS_PORT",
    "REDIS_PASSWORD", "CELERY_BROKER_REDIS_DATABASE", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND",
    "FLOWER_BASIC_AUTH",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_embedded_ones(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert database_url(settings, tmp_path) == f"sqlite:///{tmp_path / '.gitbeat' / 'gitbeat.db'}"
    assert broker_url(settings, tmp_path) == f"gitbeat-sqlite+sqlite:///{tmp_path / '.gitbeat' / 'broker.db'}"
    assert result_backend_url(settings, tmp_path) == f"db+sqlite:///{tmp_path / '.gitbeat' / 'results.db'}"
    assert (tmp_path / ".gitbeat").is_dir()
    assert settings.flower_basic_auth is None


def test_rabbitmq_from_the_seed_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELERY_BROKER", "rabbitmq")
    monkeypatch.setenv("CELERY_RABBITMQ_HOST", "mq.internal")
    monkeypatch.setenv("CELERY_RABBITMQ_PORT", "5673")
    monkeypatch.setenv("CELERY_RABBITMQ_USERNAME", "app")
    monkeypatch.setenv("CELERY_RABBITMQ_PASSWORD", "p@ss/word")
    monkeypatch.setenv("CELERY_RABBITMQ_VHOST", "/")
    assert broker_url(load_settings(tmp_path), tmp_path) == "amqp://app:p%40ss%2Fword@mq.internal:5673/%2F"


def test_redis_from_the_seed_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELERY_BROKER", "redis")
    monkeypatch.setenv("REDIS_PASSWORD", "secret")
    monkeypatch.setenv("CELERY_BROKER_REDIS_DATABASE", "3")
    assert broker_url(load_settings(tmp_path), tmp_path) == "redis://:secret@127.0.0.1:6379/3"


def test_broker_url_overrides_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELERY_BROKER", "redis")
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://x@y//")
    assert broker_url(load_settings(tmp_path), tmp_path) == "amqp://x@y//"


def test_dotenv_in_the_config_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("CELERY_BROKER='rabbitmq'\nGITBEAT_DATABASE_URL=postgresql://u@db/x\n")
    settings = load_settings(tmp_path)
    assert settings.broker == "rabbitmq"
    assert database_url(settings, tmp_path) == "postgresql+psycopg2://u@db/x"
    monkeypatch.setenv("CELERY_BROKER", "redis")  # the environment wins over .env
    assert load_settings(tmp_path).broker == "redis"


def test_database_flag_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITBEAT_DATABASE_URL", "postgresql://a@b/c")
    assert load_settings(tmp_path, "sqlite:///other.db").database_url == "sqlite:///other.db"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h:5432/d", "postgresql+psycopg2://u:p@h:5432/d"),
        ("postgres://u@h/d", "postgresql+psycopg2://u@h/d"),
        ("postgresql+psycopg2://u@h/d", "postgresql+psycopg2://u@h/d"),
        ("mysql://u:p@h:3306/d", "mysql+pymysql://u:p@h:3306/d"),
        ("mariadb://u@h/d?charset=utf8mb4", "mysql+pymysql://u@h/d?charset=utf8mb4"),
        ("mysql+pymysql://u@h/d", "mysql+pymysql://u@h/d"),
        ("sqlite:////abs/x.db", "sqlite:////abs/x.db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
    ],
)
def test_database_urls(given: str, expected: str, tmp_path: Path) -> None:
    assert normalise_database_url(given, tmp_path) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("db+postgresql://u@h/d", "db+postgresql+psycopg2://u@h/d"),
        ("db+postgres://u@h/d", "db+postgresql+psycopg2://u@h/d"),
        ("db+mysql://root@127.0.0.1:3306/r", "db+mysql+pymysql://root@127.0.0.1:3306/r"),
        ("db+mariadb://root@127.0.0.1/r", "db+mysql+pymysql://root@127.0.0.1/r"),
        ("redis://h:6379/2", "redis://h:6379/2"),
    ],
)
def test_result_backend_urls(given: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELERY_RESULT_BACKEND", given)
    assert result_backend_url(load_settings(tmp_path), tmp_path) == expected


def test_an_unknown_broker_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELERY_BROKER", "kafka")
    with pytest.raises(GitbeatError, match="invalid settings: CELERY_BROKER: Input should be 'embedded', 'rabbitmq' or 'redis', got 'kafka'"):
        load_settings(tmp_path)
