"""The events the orders service publishes: one seam, :func:`publish`.

A real service would hand the event to Kafka, SNS or a task queue here; the
example keeps it in :data:`OUTBOX`. Code publishes through ``events.publish``
(the module attribute, looked up at call time), so that a message producer's
``capture("orders_provider.events.publish")`` records the event instead.
"""

from __future__ import annotations

from typing import Any

#: What was published, oldest first: ``(topic, event)``.
OUTBOX: list[tuple[str, dict[str, Any]]] = []


def publish(topic: str, event: dict[str, Any]) -> None:
    """Publish ``event`` on ``topic``."""
    OUTBOX.append((topic, event))
