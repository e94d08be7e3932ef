"""Targets the benchmarks check: each result line says ``met`` or ``MISSED``,
and ``python -m benchmarks`` ends with every missed one."""

from __future__ import annotations

#: (what, the line printed) of every target missed in this process.
MISSED: list[str] = []


def at_most(name: str, value: float, limit: float, unit: str = "x") -> str:
    """A result line for a target ``value <= limit``; records a miss."""
    return _verdict(name, value, limit, unit, value <= limit, "<=")


def at_least(name: str, value: float, limit: float, unit: str = "x") -> str:
    """A result line for a target ``value >= limit``; records a miss."""
    return _verdict(name, value, limit, unit, value >= limit, ">=")


def _verdict(
    name: str, value: float, limit: float, unit: str, met: bool, relation: str
) -> str:
    line = f"{name}: {value:.2f}{unit} (target {relation} {limit:g}{unit})"
    if met:
        return f"{line}: met"
    MISSED.append(line)
    return f"{line}: MISSED"
