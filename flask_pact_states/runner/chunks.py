"""Verifying chunks of interaction items: one verifier run per chunk, the
app built once and served while a run of items lasts.

The pytest plugin imports this on a chunk's first item only (it needs Flask,
pact-python and the server); :mod:`.items` holds what needs none of them.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PactStatesError
from ..provider.journal import StateChangeRecord
from . import process
from .assembly import build_result
from .execution import Target, app_states, end_run, execute_run, served_app
from .items import ItemOutcome, ItemSpec, match_results
from .options import VerifyOptions
from .pacts import load_pact
from .plan import VerificationPlan, VerifierRun, build_plan
from .results import RunOutcome
from .server import run_in_worker
from .serving import serve_target
from .streams import StdoutSilencer

if TYPE_CHECKING:
    from flask import Flask

    from .results import VerificationResult


class ChunkVerifier:
    """Verifies chunks of items against one app, built and served on first
    use and kept up until :meth:`close`.

    :param options: the session's options (filters and sources aside).
    :param load_app: builds the app; called once.
    """

    def __init__(self, options: VerifyOptions, load_app: Callable[[], Flask]) -> None:
        self._options = options
        self._load_app = load_app
        self._served: _ServedApp | None = None
        self._workdir = tempfile.TemporaryDirectory(prefix="pact-items-")
        self._copies = 0

    def verify(self, chunk: Sequence[ItemSpec]) -> list[ItemOutcome]:
        """Verify ``chunk`` (one pact file's items) in one verifier run."""
        options = replace(
            self._options,
            sources=(self._write_copy(chunk),),
            consumers=(),
            description=None,
            state=None,
            broker=None,
            publish=None,
            chunk_size=0,
            jobs=1,
            progress=None,
        )
        try:
            if self._served is None:
                self._served = _ServedApp(self._load_app(), self._options)
            result = self._served.verify(options, Path(self._workdir.name))
        except PactStatesError as error:
            return [ItemOutcome(False, f"{type(error).__name__}: {error}")] * len(chunk)
        return match_results(chunk, result)

    def pause(self) -> None:
        """Stop the server until the next chunk (the app stays built): no
        server thread runs while the session's other tests do."""
        if self._served is not None:
            self._served.pause()

    def close(self) -> None:
        """Stop the server, undo every state, remove the pact copies."""
        try:
            if self._served is not None:
                self._served.close()
        finally:
            self._workdir.cleanup()

    def _write_copy(self, chunk: Sequence[ItemSpec]) -> Path:
        """A copy of the chunk's pact with the chunk's interactions only."""
        first = chunk[0]
        source = first.document or load_pact(first.path).document
        key = "interactions" if "interactions" in source else "messages"
        raw: list[Any] = list(source.get(key, []))
        document = dict(source)
        document[key] = [raw[spec.index] for spec in chunk]
        self._copies += 1
        copy = Path(self._workdir.name) / f"{self._copies}-{first.path.name}"
        copy.write_text(json.dumps(document), encoding="utf-8")
        return copy


class _ServedApp:
    """An app served on 127.0.0.1 for many verifications, one at a time.

    What :func:`~.api.verify` does per call, with the server and the journal
    listener kept up between calls; the process-wide changes of
    :mod:`.process` are made for each verification only: between two chunks
    pytest reports items, and other plugins' hooks run then (one that sends
    results over HTTPS must not meet the minimal trust store). :meth:`pause`
    stops serving while the session runs other tests (the app stays built).
    """

    def __init__(self, app: Flask, options: VerifyOptions) -> None:
        self._app = app
        self._states = app_states(app)
        self._direct = bool(options.for_app(app.config).direct_state_calls)
        self._records: list[StateChangeRecord] = []
        self._serving: tuple[ExitStack, Target, StdoutSilencer] | None = None

    def verify(self, options: VerifyOptions, workdir: Path) -> VerificationResult:
        options = options.for_app(self._app.config)
        plan = build_plan(options, provider=options.provider, workdir=workdir)
        trust = bool(options.minimal_trust_store) and not plan.needs_tls
        outcomes = []
        target, silencer = self._serve()
        with process.verification_environment(trust_store_minimal=trust):
            try:
                for run in plan.runs:
                    self._states.expect(run.schedule)
                    execute = partial(self._execute, run, plan, target, silencer)
                    outcomes.append(run_in_worker(execute))
            finally:
                self._states.reset()
        return build_result(
            plan, outcomes, self._states.registry, self._states.producers
        )

    def _serve(self) -> tuple[Target, StdoutSilencer]:
        if self._serving is None:
            stack = ExitStack()
            wsgi_app = served_app(self._app, direct_state_calls=self._direct)
            settings = self._states.settings
            target = stack.enter_context(
                serve_target(wsgi_app, settings, door=self._direct)
            )
            stack.enter_context(self._states.journal.listen(self._records.append))
            silencer = StdoutSilencer()
            stack.callback(silencer.close)
            self._serving = (stack, target, silencer)
        return self._serving[1], self._serving[2]

    def _execute(
        self,
        run: VerifierRun,
        plan: VerificationPlan,
        target: Target,
        silencer: StdoutSilencer,
    ) -> RunOutcome:
        def fresh() -> list[StateChangeRecord]:
            self._records.clear()
            return self._records

        outcome = execute_run(run, plan, target, silencer, fresh)
        outcome = end_run(self._states, outcome)
        return replace(outcome, records=list(self._records))

    def pause(self) -> None:
        """Undo every state and stop serving, until the next verification."""
        serving, self._serving = self._serving, None
        if serving is not None:
            try:
                self._states.reset()
            finally:
                serving[0].close()

    def close(self) -> None:
        try:
            self.pause()
        finally:
            self._states.close()
