"""A RabbitMQ node of the test's own (the `rabbit_node` fixture) survives a broker restart with its durable
messages, and restarting it never touches the shared node on 5672."""

from __future__ import annotations

import time
import uuid

import kombu
import pytest
from kombu.message import Message

from tests.integration.conftest import AMQP, rabbitmq_available
from tests.integration.rabbitnode import RabbitNode

pytestmark = pytest.mark.integration


def answers(url: str) -> bool:
    """Whether an AMQP connection to `url` works right now (one attempt)."""
    try:
        with kombu.Connection(url, connect_timeout=5) as connection:
            connection.ensure_connection(max_retries=0)
    except Exception:
        return False
    return True


def get(url: str, queue: kombu.Queue, timeout: float = 10) -> Message | None:
    """basic.get one message from `queue`, retrying briefly: None if none came within `timeout`."""
    deadline = time.monotonic() + timeout
    with kombu.Connection(url, connect_timeout=5) as connection:
        bound = queue(connection.default_channel)
        while True:
            message = bound.get(no_ack=True)
            if message is not None or time.monotonic() > deadline:
                return message
            time.sleep(0.2)


def test_durable_message_survives_restart_of_own_node_and_shared_node_stays_up(rabbit_node: RabbitNode) -> None:
    rabbitmq_available()  # the shared node: skipped locally without it, a failure in CI
    assert rabbit_node.port != 5672 and rabbit_node.url != AMQP
    assert answers(AMQP)
    assert answers(rabbit_node.url)

    name = f"gitbeat-restart-{uuid.uuid4().hex[:8]}"
    exchange = kombu.Exchange(name, type="direct", durable=True)
    queue = kombu.Queue(name, exchange=exchange, routing_key=name, durable=True)
    # Publisher confirms: the broker has the message (persisted) before the restart begins.
    confirmed = {"confirm_publish": True}
    with kombu.Connection(rabbit_node.url, connect_timeout=5, transport_options=confirmed) as connection:
        connection.Producer().publish(
            {"id": name}, exchange=exchange, routing_key=name, declare=[queue], serializer="json", delivery_mode=2
        )

    rabbit_node.stop_app()
    assert not answers(rabbit_node.url), "the node still accepts connections: stop_app did not stop it"
    assert answers(AMQP)
    rabbit_node.start_app()
    assert answers(AMQP)

    message = get(rabbit_node.url, queue)
    assert message is not None, "the persistent message was lost in the restart"
    assert message.payload == {"id": name}
    assert message.properties["delivery_mode"] == 2

    rabbit_node.stop()
    assert not answers(rabbit_node.url)
    assert answers(AMQP)
