"""The verification benchmark's contenders: each way of verifying the pact.

``CONTENDERS`` says how each one verifies; a child process of the benchmark
runs one of them. The pacts, apps and servers they use are in
:mod:`.workloads`.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple

from flask import Flask

from . import workloads
from .workloads import (
    PEER_STATES,
    PROVIDER,
    STATE_URL,
    create_app,
    create_hand_written_app,
    create_ours_app,
    seed,
    serve,
    states,
)


class Outcome(NamedTuple):
    """How one verification went: the verifier's output when it failed."""

    passed: bool
    output: str


#: A verification, ready to run and be timed.
Verification = Callable[[], Outcome]
#: What a child runs first, untimed: (pact file, its size) -> the verification.
Prepare = Callable[[Path, int], Verification]


@dataclass(frozen=True)
class Contender:
    """One way of verifying the pact, as the report describes it."""

    description: str
    prepare: Prepare


def _verifier(url: str, pact: Path) -> Any:
    """A ``Verifier`` for ``pact`` against the app at ``url``, default settings."""
    from pact import Verifier

    verifier = Verifier(PROVIDER, host="127.0.0.1")
    verifier.add_transport(url=url)
    verifier.add_source(str(pact))
    return verifier


def _run(verifier: Any) -> Outcome:
    try:
        verifier.verify()
    except RuntimeError:
        # Raised when any interaction fails; the output says which.
        return Outcome(False, str(verifier.output(strip_ansi=True)))
    return Outcome(True, "")


def _via_state_url(app: Flask, pact: Path) -> Verification:
    def run() -> Outcome:
        with serve(app) as url:
            verifier = _verifier(url, pact)
            verifier.state_handler(url + STATE_URL, teardown=True, body=True)
            return _run(verifier)

    return run


def prepare_floor(pact: Path, size: int) -> Verification:
    """The floor: every row in place, no state handling at all."""
    seed(size)
    app = create_app()

    def run() -> Outcome:
        with serve(app) as url:
            return _run(_verifier(url, pact))

    return run


def prepare_floor_trust(pact: Path, size: int) -> Verification:
    """The floor with a one-certificate trust store (what the runner can do)."""
    file, directory = _minimal_trust_store(pact.parent / "trust-store")
    os.environ["SSL_CERT_FILE"] = str(file)
    os.environ["SSL_CERT_DIR"] = str(directory)
    return prepare_floor(pact, size)


def _minimal_trust_store(where: Path) -> tuple[Path, Path]:
    """One CA certificate from the system store, and an empty directory."""
    empty = where / "empty"
    empty.mkdir(parents=True, exist_ok=True)
    certificate = where / "one.pem"
    if not certificate.exists():
        paths = ssl.get_default_verify_paths()
        bundle = Path(paths.cafile or paths.openssl_cafile)
        text = bundle.read_text(encoding="ascii", errors="replace")
        end = "-----END CERTIFICATE-----"
        certificate.write_text(text[: text.index(end) + len(end)] + "\n")
    return certificate, empty


def prepare_pact_python(pact: Path, size: int) -> Verification:
    """pact-python 4's own in-process handler: the dict of functions."""
    app = create_app()

    def run() -> Outcome:
        with serve(app) as url:
            verifier = _verifier(url, pact)
            verifier.state_handler(PEER_STATES, teardown=True)
            return _run(verifier)

    return run


def prepare_hand_written(pact: Path, size: int) -> Verification:
    """The classic hand-written state view, served with the app."""
    return _via_state_url(create_hand_written_app(), pact)


def prepare_ours_plain(pact: Path, size: int) -> Verification:
    """PactStates served and verified exactly like the hand-written view."""
    app = create_ours_app()
    run = _via_state_url(app, pact)

    def run_and_reset() -> Outcome:
        try:
            return run()
        finally:
            states.reset(app)

    return run_and_reset


def prepare_ours(pact: Path, size: int, **options: Any) -> Verification:
    """This extension through its runner, ``flask_pact_states.verify.verify``.

    :param options: more keyword arguments for ``verify()``.
    """
    from flask_pact_states.runner.api import verify

    app = create_ours_app()

    def run() -> Outcome:
        result = verify(app, pact, **options)
        return Outcome(bool(result.passed), "" if result.passed else result.report())

    return run


def prepare_ours_jobs2(pact: Path, size: int) -> Verification:
    """The runner with two worker processes, each building its own app."""
    factory = f"{workloads.__name__}:create_ours_app"
    return prepare_ours(pact, size, jobs=2, app_factory=factory)


#: Name -> contender. Add one here (say, ours with other runner options) and
#: pick it with ``--contenders``.
CONTENDERS: Final[dict[str, Contender]] = {
    "floor": Contender(
        "pact.Verifier, no state URL, rows in place, default settings",
        prepare_floor,
    ),
    "floor+trust": Contender(
        "the floor with SSL_CERT_FILE/SSL_CERT_DIR at one certificate and an"
        " empty directory (the runner's trust-store setting)",
        prepare_floor_trust,
    ),
    "pact-python": Contender(
        "pact.Verifier.state_handler({name: function}, teardown=True)",
        prepare_pact_python,
    ),
    "hand-written": Contender(
        "hand-written /_pact/provider_states view, teardown on, JSON body",
        prepare_hand_written,
    ),
    "ours": Contender(
        "flask_pact_states.verify.verify(app, pact): runner defaults",
        prepare_ours,
    ),
    "ours-plain": Contender(
        "PactStates + mock_db, served and verified like the hand-written view",
        prepare_ours_plain,
    ),
    "ours-jobs2": Contender(
        "verify(app, pact, jobs=2): two spawned workers (opt-in, for issue 8)",
        prepare_ours_jobs2,
    ),
}
#: What runs unless ``--contenders`` says otherwise.
DEFAULT_CONTENDERS: Final = (
    "floor",
    "floor+trust",
    "pact-python",
    "hand-written",
    "ours",
    "ours-plain",
)
