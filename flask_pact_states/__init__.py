"""Provider states for Pact verification of Flask apps.

.. code-block:: python

    from flask_pact_states import PactStates, mock_db

    states = PactStates()

    @states.register("user {user_id:int} exists")
    def user_exists(user_id, name="Verna Hampton"):
        mock_db("myapp.db.USERS", {user_id: {"name": name}})
"""

from __future__ import annotations

from .errors import (
    DuplicateStateError,
    HandlerReturnError,
    MockTargetError,
    PactSourceError,
    PactStatesError,
    PactStatesNotEnabledError,
    StateBindingError,
    StateRegistrationError,
    VerificationSetupError,
    WorkerDiedError,
)
from .provider.endpoint import DirectStateCalls
from .provider.extension import PactStates, get_app_states
from .provider.journal import StateChangeRecord
from .provider.mocking import (
    active_patch_count,
    mock_db,
    override_config,
    patch,
    undo_patches,
)
from .provider.wire import StateChange
from .runner.api import verify
from .runner.broker import BrokerOptions, PublishOptions
from .runner.results import InteractionResult, StateFailure, VerificationResult

__all__ = [
    "BrokerOptions",
    "DirectStateCalls",
    "DuplicateStateError",
    "HandlerReturnError",
    "InteractionResult",
    "MockTargetError",
    "PactSourceError",
    "PactStates",
    "PactStatesError",
    "PactStatesNotEnabledError",
    "PublishOptions",
    "StateBindingError",
    "StateChange",
    "StateChangeRecord",
    "StateFailure",
    "StateRegistrationError",
    "VerificationResult",
    "VerificationSetupError",
    "WorkerDiedError",
    "active_patch_count",
    "get_app_states",
    "mock_db",
    "override_config",
    "patch",
    "undo_patches",
    "verify",
]
