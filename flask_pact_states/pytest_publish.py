"""Publishing the pytest items' results to a Pact Broker (``--pact-publish``).

One verdict per fetched pact version, published at the session's end by the
process that sees every report: the only process under ``-n 0``, the
controller under pytest-xdist (its workers hand over what they collected).
A pact version whose interactions did not all run in the session is left
unpublished, and the summary says so; a publication that fails fails the
session.
"""

from __future__ import annotations

from typing import Any, Final

import pytest

from .errors import PactStatesError
from .runner.broker import BrokerOptions, PublishOptions
from .runner.items import is_interaction_id
from .runner.publishing import PactVersion, Verdict, publish, verdicts
from .runner.remote import BrokerClient

#: The plugin's name in pytest's plugin manager.
PUBLISHER_NAME: Final = "pact_states_publisher"
#: The key of a worker's pact versions in pytest-xdist's ``workeroutput``.
_OUTPUT_KEY: Final = "pact_states_versions"


class Publisher:
    """Collects the outcomes of the fetched pacts' items and publishes them."""

    def __init__(
        self, config: pytest.Config, broker: BrokerOptions, options: PublishOptions
    ) -> None:
        self._config = config
        self._client = BrokerClient(broker)
        self._options = options
        self._pacts: dict[str, PactVersion] = {}
        self._outcomes: dict[str, bool] = {}
        self._lines: list[str] = []

    def add(self, pact: PactVersion) -> None:
        """A fetched pact version, as collected here or by a worker."""
        self._pacts[pact.name] = pact

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and is_interaction_id(report.nodeid):
            # An xfailed item (a pending pact's failure) did not pass.
            self._outcomes[report.nodeid] = report.passed

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """pytest-xdist's controller: take the pact versions a worker collected."""
        for fields in getattr(node, "workeroutput", {}).get(_OUTPUT_KEY, []):
            self.add(PactVersion(**fields))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        worker_output = getattr(self._config, "workeroutput", None)
        if worker_output is not None:  # an xdist worker: the controller publishes
            worker_output[_OUTPUT_KEY] = [p.to_dict() for p in self._pacts.values()]
            return
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        failed = False
        for verdict in verdicts(self._pacts.values(), self._outcomes):
            if interrupted:
                verdict = Verdict(verdict.pact, None, "the session was interrupted")
            failed |= not self._publish(verdict)
        if failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _publish(self, verdict: Verdict) -> bool:
        """Publish one verdict; whether that went well (or was not asked)."""
        name, version = verdict.pact.name, self._options.provider_version
        if verdict.success is None:
            self._lines.append(f"not published for {name}: {verdict.skipped}.")
            return True
        try:
            publish(self._client, verdict, self._options)
        except PactStatesError as error:
            self._lines.append(f"FAILED to publish for {name}: {error}")
            return False
        outcome = "success" if verdict.success else "failure"
        self._lines.append(f"published {outcome} of {version} for {name}.")
        return True

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self._lines:
            return
        terminalreporter.section("pact verification results")
        for line in self._lines:
            terminalreporter.write_line(line)
