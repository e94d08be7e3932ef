"""Templated state names: ``"user {user_id:int} exists"`` compiled to a regex.

Split out of :mod:`flask_pact_states.registry`, which re-exports
:data:`CONVERTERS`, :class:`Template` and :func:`compile_template`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..errors import StateRegistrationError

RESERVED_ARGUMENTS: Final = frozenset({"params", "state", "consumer"})

#: Converter name -> (regex, function turning the matched text into a value).
CONVERTERS: Final[Mapping[str, tuple[str, Callable[[str], Any]]]] = {
    "str": (r".+?", str),
    "int": (r"[+-]?\d+", int),
    "float": (r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", float),
    "uuid": (
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        uuid.UUID,
    ),
}

# Braces that do not form a valid placeholder stay literal text, so names such
# as 'a body {"json": 1}' register as plain names.
_PLACEHOLDER: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z_]\w*))?\}")


@dataclass(frozen=True, eq=False)
class Template:
    """A compiled templated state name such as ``"user {user_id:int} exists"``."""

    text: str
    regex: re.Pattern[str]
    converters: tuple[tuple[str, Callable[[str], Any]], ...]
    prefix: str
    suffix: str
    literal_length: int

    def match(self, state: str) -> dict[str, Any] | None:
        """Return the converted captures when ``state`` fits, else ``None``."""
        found = self.regex.fullmatch(state)
        if found is None:
            return None
        try:
            return {
                name: convert(found.group(name)) for name, convert in self.converters
            }
        except ValueError:  # e.g. a float regex match that float() still refuses
            return None


def compile_template(text: str) -> Template | None:
    """Compile ``text`` into a :class:`Template`, or ``None`` without placeholders.

    :raises StateRegistrationError: for an unknown converter, a reserved or
        repeated placeholder name.
    """
    pieces: list[str] = []
    converters: list[tuple[str, Callable[[str], Any]]] = []
    literals: list[str] = []
    position = 0
    for found in _PLACEHOLDER.finditer(text):
        name, converter = found.group(1), found.group(2) or "str"
        _check_placeholder(text, name, converter, [n for n, _ in converters])
        literal = text[position : found.start()]
        literals.append(literal)
        pieces += [re.escape(literal), f"(?P<{name}>{CONVERTERS[converter][0]})"]
        converters.append((name, CONVERTERS[converter][1]))
        position = found.end()
    if not converters:
        return None
    literals.append(text[position:])
    pieces.append(re.escape(literals[-1]))
    return Template(
        text=text,
        regex=re.compile("".join(pieces), re.DOTALL),
        converters=tuple(converters),
        prefix=literals[0],
        suffix=literals[-1],
        literal_length=sum(map(len, literals)),
    )


def _check_placeholder(text: str, name: str, converter: str, seen: list[str]) -> None:
    if converter not in CONVERTERS:
        known = ", ".join(sorted(CONVERTERS))
        msg = f"Unknown converter {converter!r} in state {text!r}; use one of {known}."
        raise StateRegistrationError(msg)
    if name in RESERVED_ARGUMENTS:
        msg = (
            f"The placeholder {{{name}}} in state {text!r} uses a reserved argument"
            f" name; rename it (reserved: {', '.join(sorted(RESERVED_ARGUMENTS))})."
        )
        raise StateRegistrationError(msg)
    if name in seen:
        msg = f"The placeholder {{{name}}} appears twice in state {text!r}."
        raise StateRegistrationError(msg)


def template_signature(template: Template) -> str:
    """The template with placeholder names erased: equal signatures clash."""
    return re.sub(r"\(\?P<\w+>", "(", template.regex.pattern)
