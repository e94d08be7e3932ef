"""Interactions as pytest items: the collectors, the items and the session's
chunk results, active when ``--pact-app`` and pact sources are given.

:mod:`.pytest_plugin` imports and registers this module then (its hooks
below run only in such sessions). Flask, pact-python and the server are
imported when a chunk is first verified: pytest-xdist's controller, which
collects and verifies nothing, never imports them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

from .errors import PactSourceError, PactStatesError
from .pytest_options import (
    Sources,
    given_on_command_line,
    ordered_files,
    pact_files,
    shard,
)
from .pytest_publish import PUBLISHER_NAME, Publisher
from .pytest_remote import RemotePacts, remote_sources
from .runner.items import (
    ItemOutcome,
    ItemSpec,
    chunk_groups,
    item_specs,
    shard_of,
)
from .runner.options import VerifyOptions
from .runner.pacts import PactFile, load_pact, parse_pact
from .runner.publishing import PactVersion
from .runner.remote import RemotePact

if TYPE_CHECKING:
    from flask import Flask

    from .runner.chunks import ChunkVerifier

_PLUGIN_NAME: Final = "pact_states_items"
#: This module's name as a registered plugin.
_HOOKS_NAME: Final = "pact_states_item_hooks"
_REMOTE_NAME: Final = "pact_states_remote_pacts"


def activate(config: pytest.Config, app: str, sources: Sources) -> None:
    """Turn interaction items on: register this module's hooks, the
    session's items, its remote pacts and, when asked for, the broker
    publisher."""
    config.pluginmanager.register(sys.modules[__name__], _HOOKS_NAME)
    # Only a session that collects them fetches them (the controller too).
    collected = collects_sources(config)
    remote = RemotePacts(config, remote_sources(sources) if collected else [])
    config.pluginmanager.register(remote, _REMOTE_NAME)
    items = _PactItems(config, app, sources, shard(config), remote)
    config.pluginmanager.register(items, _PLUGIN_NAME)
    if sources.broker is not None and sources.publish is not None:
        publisher = Publisher(config, sources.broker, sources.publish)
        config.pluginmanager.register(publisher, PUBLISHER_NAME)


def collects_sources(config: pytest.Config) -> bool:
    """Whether the session adds the pact sources to what it collects: not
    when paths given to pytest (with no ``--pact-source``) say what to run."""
    return config.args_source != pytest.Config.ArgsSource.ARGS or bool(
        given_on_command_line(config)
    )


def pytest_collect_file(
    file_path: Path, parent: pytest.Collector
) -> PactJsonFile | None:
    plugin = parent.config.pluginmanager.get_plugin(_PLUGIN_NAME)
    if isinstance(plugin, _PactItems) and file_path.resolve() in plugin.files:
        return PactJsonFile.from_parent(parent, path=file_path)
    return None


class InteractionFailedError(Exception):
    """Raised by an item whose interaction failed; the text is the report's."""


class PactJsonFile(pytest.File):
    """A pact file: one collector per consumer (one, for a pact file)."""

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        plugin = self.config.pluginmanager.get_plugin(_PLUGIN_NAME)
        if isinstance(plugin, _PactItems):
            plugin.collected.add(self.path.resolve())
        try:
            pact = self.load()
        except PactStatesError as error:
            raise self.CollectError(str(error)) from None
        specs = self.specs(pact)
        consumer = PactConsumer.from_parent(self, name=pact.consumer)
        consumer.specs = specs
        return [consumer] if specs else []

    def load(self) -> PactFile:
        """The pact, read and checked."""
        return load_pact(self.path)

    def specs(self, pact: PactFile) -> list[ItemSpec]:
        """The pact's items."""
        return item_specs(pact)


class PactRemoteSource(pytest.Collector):
    """A pact URL or a Pact Broker, fetched when collected; a fetch that
    fails is a collection error that names the URL and says why."""

    fetch: Callable[[], list[RemotePact]]
    #: The folder (under the rootdir) the pacts appear in, in node ids.
    folder: str

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        try:
            pacts = self.fetch()
        except PactStatesError as error:
            raise self.CollectError(str(error)) from None
        root = self.config.rootpath / self.folder
        return [
            RemotePactFile.from_parent(self, path=root / pact.file_name, pact=pact)
            for pact in pacts
        ]


class RemotePactFile(PactJsonFile):
    """A fetched pact: a file only in node ids. A pact the broker says is
    pending makes each of its failing items xfail."""

    def __init__(self, *, pact: RemotePact, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pact = pact

    def load(self) -> PactFile:
        try:
            return parse_pact(self.pact.document, self.path)
        except PactSourceError as error:
            # The path is only a name: say where the pact came from.
            raise PactSourceError(f"{self.pact.url}: {error}") from None

    def specs(self, pact: PactFile) -> list[ItemSpec]:
        specs = item_specs(pact)
        if self.pact.pending:
            specs = [replace(spec, pending=True) for spec in specs]
        publisher = self.config.pluginmanager.get_plugin(PUBLISHER_NAME)
        if isinstance(publisher, Publisher):
            publisher.add(PactVersion.of(self.nodeid, self.pact, len(specs)))
        return specs


class PactConsumer(pytest.Collector):
    """The interactions of one consumer in one pact file."""

    specs: list[ItemSpec]

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        return [PactInteractionItem.from_parent(self, spec=spec) for spec in self.specs]


class PactInteractionItem(pytest.Item):
    """One interaction, verified with its chunk by the real verifier."""

    def __init__(self, *, spec: ItemSpec, **kwargs: Any) -> None:
        super().__init__(name=spec.name, **kwargs)
        self.spec = spec
        self.extra_keyword_matches.update(spec.keywords)

    def runtest(self) -> None:
        plugin = self.config.pluginmanager.get_plugin(_PLUGIN_NAME)
        assert isinstance(plugin, _PactItems)
        outcome = plugin.outcome(self)
        if outcome.passed:
            return
        if outcome.pending:
            pytest.xfail(f"pending pact: {outcome.text}")
        raise InteractionFailedError(outcome.text)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> Any:
        if isinstance(excinfo.value, InteractionFailedError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.spec.consumer}: {self.name}"


class _PactItems:
    """The session's interaction items: collection, shards, chunk results."""

    def __init__(
        self,
        config: pytest.Config,
        app: str,
        sources: Sources,
        shard: tuple[int, int] | None,
        remote: RemotePacts,
    ) -> None:
        self.config = config
        self.remote = remote
        self.files = set(pact_files(sources.paths))
        self.sources = sources
        self.shard = shard
        self.options = VerifyOptions(
            sources=(*sources.paths, *sources.urls),
            broker=sources.broker,
            app_factory=app,
        )
        self._app = app
        self._verifier: ChunkVerifier | None = None
        #: Pact files collected so far (by pytest's own walk, or added).
        self.collected: set[Path] = set()
        self._chunks: dict[str, list[PactInteractionItem]] = {}
        self._outcomes: dict[str, ItemOutcome] = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, items: list[pytest.Item]
    ) -> None:
        """Add the pact files no path given to pytest reached (a plain
        ``pytest``, or ``--pact-source`` given)."""
        if not collects_sources(self.config):
            return
        for source in ordered_files(self.sources.paths):
            if source not in self.collected:
                node = PactJsonFile.from_parent(session, path=source)
                items.extend(session.genitems(node))
        for remote in self._remote_sources(session):
            items.extend(session.genitems(remote))

    def _remote_sources(self, session: pytest.Session) -> Iterator[PactRemoteSource]:
        for source in self.remote.sources:
            node = PactRemoteSource.from_parent(session, name=source.name)
            node.fetch = partial(self.remote.fetch, source)
            node.folder = source.folder
            yield node

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        groups = chunk_groups((i.nodeid for i in session.items), _chunk_size(self))
        self._groups = groups
        for item in session.items:
            if isinstance(item, PactInteractionItem) and item.nodeid in groups:
                self._chunks.setdefault(groups[item.nodeid], []).append(item)

    def outcome(self, item: PactInteractionItem) -> ItemOutcome:
        """The item's outcome, verifying its chunk on first use."""
        if item.nodeid not in self._outcomes:
            group = self._groups.get(item.nodeid)
            chunk = self._chunks.get(group, [item]) if group else [item]
            outcomes = self.verifier.verify([member.spec for member in chunk])
            for member, outcome in zip(chunk, outcomes, strict=True):
                self._outcomes[member.nodeid] = outcome
        return self._outcomes[item.nodeid]

    @property
    def verifier(self) -> ChunkVerifier:
        """The session's verifier, made (and the verifier imported) on first use."""
        if self._verifier is None:
            from .runner.chunks import ChunkVerifier

            app = self._app
            self._verifier = ChunkVerifier(self.options, lambda: _load_app(app))
        return self._verifier

    def pytest_runtest_teardown(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> None:
        """After the last of a run of interaction items, stop serving: the
        session's other tests run with no server thread of ours."""
        last = not isinstance(nextitem, PactInteractionItem)
        if isinstance(item, PactInteractionItem) and last and self._verifier:
            self._verifier.pause()

    def pytest_unconfigure(self) -> None:
        if self._verifier is not None:
            self._verifier.close()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """``--pact-shard I/N``: keep the chunks of shard I, after ``-k`` and ``-m``."""
    plugin = config.pluginmanager.get_plugin(_PLUGIN_NAME)
    if not isinstance(plugin, _PactItems) or plugin.shard is None:
        return
    number, shards = plugin.shard
    groups = chunk_groups((item.nodeid for item in items), _chunk_size(plugin))
    order = list(groups.values())
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        group = groups.get(item.nodeid)
        mine = group is None or shard_of(group, order, shards) == number - 1
        (kept if mine else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``-n N`` (xdist's default ``--dist load``), send each chunk
    whole to one worker, so that it is verified in one run there."""
    plugin = config.pluginmanager.get_plugin(_PLUGIN_NAME)
    explicit = any(arg.startswith("--dist") for arg in config.invocation_params.args)
    if not isinstance(plugin, _PactItems) or explicit:
        return None
    if config.getoption("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    size = _chunk_size(plugin)

    class ChunkScheduling(LoadScopeScheduling):
        """Chunks of interactions as work units; every other test alone."""

        _groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            # Called for each node id once schedule() has set the collection.
            if self._groups is None:
                self._groups = chunk_groups(self.collection or (), size)
            return self._groups.get(nodeid, nodeid)

    return ChunkScheduling(config, log)


def _chunk_size(plugin: _PactItems) -> int:
    return plugin.options.chunk_size


def _load_app(factory: str) -> Flask:
    from .runner.parallel import load_app

    return load_app(factory)
