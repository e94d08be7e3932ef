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

The names are imported on first use (:pep:`562`): the pytest plugin is
loaded by every pytest session of a project that has the package installed,
and importing Flask, pact-python and the server there would cost each of
them about 0.1 s for nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
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

#: Where each public name lives, relative to this package.
_HOMES: Final = {
    "PactSourceError": ".errors",
    "PactStatesError": ".errors",
    "VerificationSetupError": ".errors",
    "capture": ".provider.capture",
    "PactStates": ".provider.extension",
    "StateChangeRecord": ".provider.journal",
    "Message": ".provider.messages",
    "active_patch_count": ".provider.mocking",
    "mock_db": ".provider.mocking",
    "override_config": ".provider.mocking",
    "patch": ".provider.mocking",
    "undo_patches": ".provider.mocking",
    "verify": ".runner.api",
    "BrokerOptions": ".runner.broker",
    "PublishOptions": ".runner.broker",
    "VerifyOptions": ".runner.options",
    "InteractionResult": ".runner.results",
    "StateFailure": ".runner.results",
    "VerificationResult": ".runner.results",
}


if not TYPE_CHECKING:  # type checkers see the imports above, and flag typos

    def __getattr__(name: str) -> Any:
        home = _HOMES.get(name)
        if home is None:
            return _submodule(name)
        value = getattr(importlib.import_module(home, __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *_HOMES})


def _submodule(name: str) -> Any:
    """``flask_pact_states.errors`` and the other modules, as attributes."""
    try:
        return importlib.import_module(f".{name}", __name__)
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{name}":
            raise
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


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
