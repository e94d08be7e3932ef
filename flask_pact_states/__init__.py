"""Provider states for Pact verification of Flask apps.

.. code-block:: python

    from flask_pact_states import PactStates, mock_db

    states = PactStates()

    @states.register("user {user_id:int} exists")
    def user_exists(user_id, name="Verna Hampton"):
        mock_db("myapp.db.USERS", {user_id: {"name": name}})

This module holds the public API: what users write in their code. Every
other exception lives in :mod:`flask_pact_states.errors`; the modules under
``provider/`` and ``runner/`` are the implementation.
"""

from __future__ import annotations

from .errors import PactSourceError, PactStatesError, VerificationSetupError
from .provider.capture import capture
from .provider.extension import PactStates
from .provider.journal import StateChangeRecord
from .provider.messages import Message
from .provider.mocking import (
    active_patch_count,
    mock_db,
    override_config,
    patch,
    undo_patches,
)
from .runner.api import verify
from .runner.broker import BrokerOptions, PublishOptions
from .runner.options import VerifyOptions
from .runner.results import InteractionResult, StateFailure, VerificationResult

__all__ = [
    "BrokerOptions",
    "InteractionResult",
    "Message",
    "PactSourceError",
    "PactStates",
    "PactStatesError",
    "PublishOptions",
    "StateChangeRecord",
    "StateFailure",
    "VerificationResult",
    "VerificationSetupError",
    "VerifyOptions",
    "active_patch_count",
    "capture",
    "mock_db",
    "override_config",
    "patch",
    "undo_patches",
    "verify",
]
