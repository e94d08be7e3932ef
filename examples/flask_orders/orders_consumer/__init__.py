"""The consumer side of the orders example: a client and the pact it expects.

The consumer keeps its own types and never imports the provider's code: the
pact is the only thing the two sides share.
"""

from __future__ import annotations
