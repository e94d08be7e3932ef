"""Pact files on disk: load, validate, group by consumer and provider.

No Flask and no verifier in here, so ``flask pact-states check`` and the
runner's plan share one reading of a pact. Formats read: V2
(``providerState``), V3 and V4 (``providerStates[].name``/``params``), V3
message pacts (``messages``) and V4 ``interactions[].type``. HTTP and message
interactions (asynchronous and synchronous) are verified against a Flask app;
the others (plugin interactions) are listed so that the runner can say it
skipped them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NoReturn

from ..errors import PactSourceError
from .files import read_pact_text

#: The request-response interaction type.
HTTP_INTERACTION: Final = "Synchronous/HTTP"
#: Message interaction types, produced by ``@states.message`` producers.
MESSAGE_INTERACTIONS: Final = frozenset(
    {"Asynchronous/Messages", "Synchronous/Messages"}
)


@dataclass(frozen=True)
class PactState:
    """A provider state an interaction asks for.

    .. versionadded:: 0.1
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PactInteraction:
    """What the runner and ``check`` need to know about one interaction.

    .. versionadded:: 0.1
    """

    description: str
    states: tuple[PactState, ...]
    #: V4 type; ``Synchronous/HTTP`` for V2/V3 request-response interactions.
    type: str = HTTP_INTERACTION
    pending: bool = False

    @property
    def is_message(self) -> bool:
        """Whether a message producer answers it (else the app's routes)."""
        return self.type in MESSAGE_INTERACTIONS

    @property
    def verifiable(self) -> bool:
        """Whether ``flask pact-verify`` can verify it against the app."""
        return self.type == HTTP_INTERACTION or self.is_message


@dataclass(frozen=True)
class PactFile:
    """One pact file, read and checked.

    .. versionadded:: 0.1
    """

    path: Path
    consumer: str
    provider: str
    specification: str | None
    interactions: tuple[PactInteraction, ...]
    #: The parsed JSON document, for writing a filtered copy.
    document: Mapping[str, Any] = field(repr=False, compare=False)
    #: The Pact plugins it needs (``metadata.plugins``), by name.
    plugins: tuple[str, ...] = ()

    @property
    def verifiable_interactions(self) -> tuple[PactInteraction, ...]:
        """The HTTP and message interactions the runner verifies."""
        return tuple(i for i in self.interactions if i.verifiable)

    @property
    def skipped_interactions(self) -> tuple[PactInteraction, ...]:
        """Plugin interactions the runner leaves out."""
        return tuple(i for i in self.interactions if not i.verifiable)


def is_url(source: str | Path) -> bool:
    """Whether ``source`` names a remote pact (``http://`` or ``https://``)."""
    return isinstance(source, str) and source.startswith(("http://", "https://"))


def load_pacts(*sources: str | Path) -> list[PactFile]:
    """Load pact files and directories of them (``*.json``, not recursive).

    :raises PactSourceError: for a missing or unreadable path, invalid JSON,
        a JSON file that is not a pact, or a directory without pact files.

    .. versionadded:: 0.1
    """
    pacts: list[PactFile] = []
    for source in sources:
        path = _local_path(source)
        if path.is_dir():
            # Every *.json: one that is not a regular file is refused by name.
            files = sorted(p for p in path.iterdir() if p.suffix == ".json")
            if not files:
                msg = (
                    f"The directory '{path}' holds no pact files (*.json); pass the"
                    " directory the consumer tests write their pacts to."
                )
                raise PactSourceError(msg)
            pacts.extend(load_pact(file) for file in files)
        elif path.exists():
            pacts.append(load_pact(path))
        else:
            msg = f"The pact source '{source}' does not exist; check the path."
            raise PactSourceError(msg)
    return pacts


def _local_path(source: str | Path) -> Path:
    if isinstance(source, str) and source.startswith("file://"):
        from urllib.parse import urlsplit
        from urllib.request import url2pathname

        return Path(url2pathname(urlsplit(source).path))
    return Path(source)


def load_pact(path: str | Path) -> PactFile:
    """Read and check one pact file.

    :raises PactSourceError: when it cannot be read or is not a pact.

    .. versionadded:: 0.1
    """
    path = Path(path)
    text = read_pact_text(path)
    try:
        document = json.loads(text)
    except RecursionError:
        msg = (
            f"The pact file '{path}' is not a valid pact: its JSON is nested too"
            " deeply to read; regenerate it with the consumer's tests."
        )
        raise PactSourceError(msg) from None
    except ValueError as error:
        msg = (
            f"The pact file '{path}' is not valid JSON ({error}); regenerate it"
            " with the consumer's tests."
        )
        raise PactSourceError(msg) from None
    return parse_pact(document, path)


def parse_pact(document: Any, path: Path) -> PactFile:
    """Check a parsed pact ``document`` read from ``path``.

    :raises PactSourceError: when it is not a pact.
    """
    if not isinstance(document, dict):
        _not_a_pact(path, "it is not a JSON object")
    consumer = _participant(document, "consumer", path)
    provider = _participant(document, "provider", path)
    raw = document.get("interactions", document.get("messages"))
    if not isinstance(raw, list):
        _not_a_pact(path, "it has no 'interactions' list")
    message_pact = "interactions" not in document
    interactions = tuple(
        _interaction(entry, index, path, message_pact)
        for index, entry in enumerate(raw)
    )
    metadata = document.get("metadata")
    return PactFile(
        path=path,
        consumer=consumer,
        provider=provider,
        specification=_specification(metadata),
        interactions=interactions,
        document=document,
        plugins=_plugins(metadata),
    )


def _not_a_pact(path: Path, why: str) -> NoReturn:
    msg = (
        f"The file '{path}' is not a pact: {why}. Pass pact files written by"
        " a Pact consumer library."
    )
    raise PactSourceError(msg)


def _participant(document: Mapping[str, Any], role: str, path: Path) -> str:
    entry = document.get(role)
    name = entry.get("name") if isinstance(entry, dict) else None
    if not isinstance(name, str) or not name:
        _not_a_pact(path, f"it has no {role} name ('{role}': {{'name': ...}})")
    return str(name)


def _interaction(
    entry: Any, index: int, path: Path, message_pact: bool
) -> PactInteraction:
    if not isinstance(entry, dict) or not isinstance(entry.get("description"), str):
        _not_a_pact(path, f"interaction {index} has no 'description'")
    kind = entry.get("type")
    if not isinstance(kind, str):
        kind = "Asynchronous/Messages" if message_pact else HTTP_INTERACTION
    return PactInteraction(
        description=entry["description"],
        states=_states(entry, index, path),
        type=kind,
        pending=entry.get("pending") is True,
    )


def _states(entry: Mapping[str, Any], index: int, path: Path) -> tuple[PactState, ...]:
    if isinstance(entry.get("providerState"), str):  # V2
        return (PactState(entry["providerState"]),)
    raw = entry.get("providerStates", [])
    if not isinstance(raw, list):
        _not_a_pact(path, f"interaction {index} has providerStates that are not a list")
    states = []
    for state in raw:
        if not isinstance(state, dict) or not isinstance(state.get("name"), str):
            _not_a_pact(path, f"interaction {index} has a provider state without name")
        params = state.get("params") or {}
        if not isinstance(params, dict):
            _not_a_pact(path, f"interaction {index} has params that are not an object")
        states.append(PactState(state["name"], params))
    return tuple(states)


def _specification(metadata: Any) -> str | None:
    if not isinstance(metadata, dict):
        return None
    for key in ("pactSpecification", "pact-specification", "pactSpecificationVersion"):
        value = metadata.get(key)
        if isinstance(value, dict) and isinstance(value.get("version"), str):
            return str(value["version"])
        if isinstance(value, str):
            return value
    return None


def _plugins(metadata: Any) -> tuple[str, ...]:
    plugins = metadata.get("plugins") if isinstance(metadata, dict) else None
    if not isinstance(plugins, list):
        return ()
    return tuple(
        str(plugin.get("name", "?")) if isinstance(plugin, dict) else str(plugin)
        for plugin in plugins
    )


def group_by_consumer(pacts: Iterable[PactFile]) -> dict[str, list[PactFile]]:
    """The pacts per consumer name, consumers in first-seen order.

    .. versionadded:: 0.1
    """
    groups: dict[str, list[PactFile]] = {}
    for pact in pacts:
        groups.setdefault(pact.consumer, []).append(pact)
    return groups


def infer_provider(pacts: Sequence[PactFile]) -> str | None:
    """The provider all ``pacts`` name, or ``None`` when none or they disagree.

    .. versionadded:: 0.1
    """
    names = {pact.provider for pact in pacts}
    return names.pop() if len(names) == 1 else None


def select_provider(
    pacts: Sequence[PactFile], provider: str, *, remote: bool, notes: list[str]
) -> list[PactFile]:
    """The pacts written for ``provider``; those for others are left out,
    with a note.

    :param remote: whether URL or broker sources come too (they may hold the
        provider's pacts when no local one does).
    :raises PactSourceError: when local pacts were given but none is for
        ``provider``, and nothing else is to be verified.

    .. versionadded:: 0.1
    """
    mine = [pact for pact in pacts if pact.provider == provider]
    others = sorted({pact.provider for pact in pacts if pact.provider != provider})
    if others and not mine and not remote:
        msg = (
            f"None of the {len(pacts)} pact file(s) is for provider {provider!r}:"
            f" they are for {', '.join(map(repr, others))}. Check --provider"
            " (or PACT_STATES_PROVIDER) and the sources."
        )
        raise PactSourceError(msg)
    if others:
        notes.append(
            f"Left out {len(pacts) - len(mine)} pact file(s) for other providers"
            f" ({', '.join(map(repr, others))}): only those for {provider!r} are"
            " verified."
        )
    return mine
