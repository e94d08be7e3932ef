"""The consumer side of the users example: a client and the pact it expects.

The consumer keeps its own :class:`~users_consumer.client.User` type and never
imports the provider's code: the pact is the only thing the two sides share.
"""

from __future__ import annotations
