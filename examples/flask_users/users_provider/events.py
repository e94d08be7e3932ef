"""The events the users service publishes: one seam, :func:`publish`.

A real service would hand the event to Kafka, SNS or a task queue here; the
example keeps it in :data:`OUTBOX`. Code publishes through ``events.publish``
(the module attribute, looked up at call time), so that a message producer's
``capture("users_provider.events.publish")`` records the event instead.
"""

from __future__ import annotations

from typing import Any

#: Events "sent", oldest first: (topic, payload).
OUTBOX: list[tuple[str, dict[str, Any]]] = []

#: The topic of user events.
USERS_TOPIC = "users"


def publish(topic: str, payload: dict[str, Any]) -> None:
    """Send ``payload`` on ``topic`` (here: append it to :data:`OUTBOX`)."""
    OUTBOX.append((topic, payload))
