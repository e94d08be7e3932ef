"""pytest plugin (registered as ``pytest11``): interactions as test items.

``pytest --pact-app myapp.tests:create_test_app --pact-source pacts/`` (or
the ini options ``pact_app`` and ``pact_sources``) collects one item per
verifiable interaction, ``pacts/C-P.json::C::description``. Selected items
are verified in chunks by the real verifier (:mod:`.runner.items`), the app
built once per process; under pytest-xdist, whole chunks go to one worker.

Like pytest-flask, fixtures and options are prefixed ``pact_``/``--pact-``,
clear of pact-python's own plugin (``pact``). The ``pact_verify`` fixture
relies on the user's ``app`` fixture; the one autouse fixture only undoes
patches that :func:`mock_db` and friends started outside a state.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

from .errors import PactStatesError
from .provider.mocking import undo_patches
from .runner.items import (
    ChunkVerifier,
    ItemOutcome,
    ItemSpec,
    chunk_groups,
    item_specs,
    shard_of,
)
from .runner.options import VerifyOptions
from .runner.pacts import is_url, load_pact

if TYPE_CHECKING:
    from flask import Flask

    from .runner.results import VerificationResult

_PLUGIN_NAME: Final = "pact_states_items"
_SHARD: Final = re.compile(r"^(\d+)/(\d+)$")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pact_states", "provider verification (flask-pact-states)")
    group.addoption(
        "--pact-app",
        dest="pact_app",
        metavar="IMPORT",
        help="The test app factory, as flask --app takes it"
        " (myapp.tests:create_test_app or path/to/states.py:create_test_app).",
    )
    group.addoption(
        "--pact-source",
        dest="pact_sources",
        action="append",
        default=[],
        metavar="PATH",
        help="A pact file or a directory of them; repeatable. Each verifiable"
        " interaction becomes a test item.",
    )
    group.addoption(
        "--pact-shard",
        dest="pact_shard",
        metavar="I/N",
        help="Run only shard I of N (1-based) of the interactions, whole"
        " chunks dealt in turn: for splitting them over CI machines.",
    )
    parser.addini("pact_app", "The test app factory, as --pact-app.")
    parser.addini("pact_sources", "Pact files or directories.", type="linelist")


def pytest_configure(config: pytest.Config) -> None:
    sources = _sources(config)
    if not sources:
        return
    app = config.getoption("pact_app") or _ini_app(config)
    if not app:
        msg = (
            "--pact-source (or the pact_sources ini option) needs --pact-app"
            " (or pact_app): the test app factory, e.g."
            " --pact-app myapp.tests:create_test_app."
        )
        raise pytest.UsageError(msg)
    config.pluginmanager.register(
        _PactItems(config, app, sources, _shard(config)), _PLUGIN_NAME
    )


def _sources(config: pytest.Config) -> list[Path]:
    given: list[str] = config.getoption("pact_sources") or []
    base = config.invocation_params.dir
    if not given:
        given = list(config.getini("pact_sources"))
        base = config.rootpath
    urls = [source for source in given if is_url(source)]
    if urls:
        msg = (
            f"--pact-source takes pact files and directories, not URLs ({urls[0]});"
            " verify URL and broker pacts with flask pact-verify."
        )
        raise pytest.UsageError(msg)
    return [(base / source).resolve() for source in given]


def _ini_app(config: pytest.Config) -> str | None:
    app = str(config.getini("pact_app") or "")
    path, colon, factory = app.partition(":")
    if path.endswith(".py"):  # a file path: relative to the ini file
        return f"{(config.rootpath / path).resolve()}{colon}{factory}"
    return app or None


def _shard(config: pytest.Config) -> tuple[int, int] | None:
    value: str | None = config.getoption("pact_shard")
    if value is None:
        return None
    match = _SHARD.match(value)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        msg = f"--pact-shard takes I/N with 1 <= I <= N, e.g. 1/3; got {value!r}."
        raise pytest.UsageError(msg)
    return int(match[1]), int(match[2])


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
            pact = load_pact(self.path)
        except PactStatesError as error:
            raise self.CollectError(str(error)) from None
        specs = item_specs(pact)
        consumer = PactConsumer.from_parent(self, name=pact.consumer)
        consumer.specs = specs
        return [consumer] if specs else []


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
        sources: list[Path],
        shard: tuple[int, int] | None,
    ) -> None:
        self.config = config
        self.files = set(_pact_files(sources))
        self.sources = sources
        self.shard = shard
        self.options = VerifyOptions(sources=tuple(sources), app_factory=app)
        self._verifier = ChunkVerifier(self.options, lambda: _load_app(app))
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
        if self.config.args_source == pytest.Config.ArgsSource.ARGS and not (
            self.config.getoption("pact_sources")
        ):
            return
        for source in _ordered_files(self.sources):
            if source not in self.collected:
                node = PactJsonFile.from_parent(session, path=source)
                items.extend(session.genitems(node))

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
            outcomes = self._verifier.verify([member.spec for member in chunk])
            for member, outcome in zip(chunk, outcomes, strict=True):
                self._outcomes[member.nodeid] = outcome
        return self._outcomes[item.nodeid]

    def pytest_unconfigure(self) -> None:
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


def _pact_files(sources: Iterable[Path]) -> Iterator[Path]:
    """Every pact file the sources name (what does not exist: as given)."""
    for source in sources:
        if source.is_dir():
            yield from sorted(p.resolve() for p in source.glob("*.json"))
        else:
            yield source


def _ordered_files(sources: Iterable[Path]) -> list[Path]:
    return list(dict.fromkeys(_pact_files(sources)))


def _load_app(factory: str) -> Flask:
    from .runner.parallel import load_app

    return load_app(factory)


@pytest.fixture(autouse=True)
def _pact_undo_stray_patches() -> Iterator[None]:
    """Undo ``mock_db``/``patch`` calls made outside a state after each test."""
    yield
    undo_patches()


@pytest.fixture
def pact_verify(request: pytest.FixtureRequest) -> Callable[..., VerificationResult]:
    """Verify the user's ``app`` fixture against pacts::

        def test_provider(pact_verify):
            result = pact_verify("pacts/")
            assert result.passed, result.report()

    Arguments are those of :func:`flask_pact_states.verify` after ``app``.
    """
    app: Flask = request.getfixturevalue("app")

    def run(*sources: Any, **options: Any) -> VerificationResult:
        from .runner.api import verify  # the verifier is heavy: import on use

        return verify(app, *sources, **options)

    return run
