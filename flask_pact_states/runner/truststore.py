"""A minimal trust store for verifier runs that fetch nothing over TLS.

The Rust verifier builds a new HTTP client for every interaction, and every
build loads the whole system trust store (hundreds of files under
``/etc/ssl/certs``): a fifth of its CPU time, and more than half the wall
time of a local run. A run whose sources are local files or plain-HTTP URLs,
against the app served on ``http://127.0.0.1``, never makes a TLS connection,
so no certificate is ever checked. Pointing ``SSL_CERT_FILE`` at one
certificate shipped with the package (self-signed, its private key
discarded: it vouches for no server) and ``SSL_CERT_DIR`` at an empty
directory makes each build cheap and changes no outcome.

Runs with an ``https://`` source or a Pact Broker keep the system store.

The variables are process-wide: while a run goes, another thread of the same
process that builds a TLS client from the environment (e.g. an app view
calling an HTTPS API) would trust only that one certificate and fail. Turn
the store off with ``--system-trust-store`` (``minimal_trust_store=False``,
or ``PACT_STATES_MINIMAL_TRUST_STORE = False``) for such apps.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

#: The one certificate of the minimal store (public, no key exists).
CERTIFICATE: Final = Path(__file__).with_name("minimal-trust-store.pem")
_VARIABLES: Final = ("SSL_CERT_FILE", "SSL_CERT_DIR")
_lock = threading.Lock()
_depth = 0
_saved: dict[str, str | None] = {}
#: The empty SSL_CERT_DIR of the current setting.
_empty: list[str] = []


@contextmanager
def minimal_trust_store(enabled: bool = True) -> Iterator[None]:
    """Point ``SSL_CERT_FILE``/``SSL_CERT_DIR`` at a minimal store meanwhile.

    Nested and concurrent users share one setting; the last one out restores
    the environment as it was (variables that were unset are unset again).

    :param enabled: when false, change nothing.

    .. versionadded:: 0.1
    """
    if not enabled:
        yield
        return
    _enter()
    try:
        yield
    finally:
        _exit()


def _enter() -> None:
    global _depth
    with _lock:
        if _depth == 0:
            _saved.update({name: os.environ.get(name) for name in _VARIABLES})
            os.environ["SSL_CERT_FILE"] = str(CERTIFICATE)
            _empty.append(tempfile.mkdtemp(prefix="pact-trust-"))
            os.environ["SSL_CERT_DIR"] = _empty[0]
        _depth += 1


def _exit() -> None:
    global _depth
    with _lock:
        _depth -= 1
        if _depth:
            return
        # The environment first: a failed clean-up must not leave the whole
        # process with the dummy trust store.
        for name, value in _saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(_empty.pop(), ignore_errors=True)
        _saved.clear()
