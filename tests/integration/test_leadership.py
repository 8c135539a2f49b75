"""Beat's leadership connection is made as the store's engine makes its own: the URL's options hold for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitbeat.settings import normalise_database_url
from gitbeat.store import Store
from gitbeat.store.leadership import PostgresLeadership, leadership_for

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sslmode=disable", {"sslmode": "disable"}),
        ("sslmode=allow&connect_timeout=3", {"sslmode": "allow", "connect_timeout": "3"}),
        ("host=/var/run/postgresql", {"host": "/var/run/postgresql"}),
    ],
)
def test_the_leadership_connection_keeps_the_url_options(postgres_url: str, query: str, expected: dict) -> None:
    url = normalise_database_url(f"{postgres_url}?{query}", Path("."))
    if "host=" in query:  # the server given only as a socket folder in the query, as libpq allows
        url = url.replace("@127.0.0.1:5432", "@")
    store = Store(url)
    leadership = leadership_for(store)
    assert isinstance(leadership, PostgresLeadership)
    try:
        assert leadership.acquire() is True
        parameters = leadership.connection.get_dsn_parameters()
        assert {key: parameters.get(key) for key in expected} == expected
        assert parameters["application_name"] == "gitbeat beat"
        # A second beat on the same database stands by.
        other = PostgresLeadership(Store(url))
        try:
            assert other.acquire() is False
        finally:
            other.close()
    finally:
        leadership.close()
        store.engine.dispose()
