"""Provider states of the orders service and the test-only app that mounts them."""

from __future__ import annotations
