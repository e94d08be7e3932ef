"""pytest with interaction items against ``flask pact-verify``, whole processes.

``python -m benchmarks.pytest_items [--size 1000] [--rounds 3]``: the
benchmark pact (:mod:`.workloads`) verified by

- ``flask pact-verify``: ``flask --app benchmarks.workloads:create_ours_app
  pact-verify PACT``;
- ``pytest -n 0``: ``pytest -n 0 --pact-app ... --pact-source PACT PACT``
  (one item per interaction, chunks of 20);
- ``pytest -n 2``: the same with two xdist workers;
- ``flask pact-verify --jobs 2``: for scale, what two processes earn the CLI.

Each sample is a fresh process timed from spawn to exit, the contenders
alternating within a round (the order rotated each round), medians reported.
Targets: pytest -n 0 at most 1.15x the CLI; -n 2 at least 1.4x faster than -n 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from . import targets
from .workloads import write_pact

_APP: Final = "benchmarks.workloads:create_ours_app"
_ROOT: Final = Path(__file__).resolve().parents[1]
_JOBS2: Final = "flask pact-verify --jobs 2"
#: The size the issue's targets are set for.
_TARGET_SIZE: Final = 1000


def commands(pact: Path) -> dict[str, list[str]]:
    """Each contender's command line."""
    bin_dir = Path(sys.executable).parent
    pytest = [
        str(bin_dir / "python"),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        # Hypothesis's plugin imports hypothesis at the session's end (1.2 s
        # here): a cost of the dev environment, neither contender's.
        "-p",
        "no:hypothesispytest",
        "--pact-app",
        _APP,
        "--pact-source",
        str(pact),
        str(pact),
    ]
    flask = [str(bin_dir / "flask"), "--app", _APP, "pact-verify", str(pact)]
    return {
        "flask pact-verify": flask,
        _JOBS2: [*flask, "--jobs", "2"],
        "pytest -n 0": [*pytest, "-n", "0"],
        "pytest -n 2": [*pytest, "-n", "2"],
    }


def run(command: Sequence[str], expect: int) -> float:
    """Seconds ``command`` took; it must pass and verify ``expect`` items."""
    env = {**os.environ, "PACT_DO_NOT_TRACK": "true", "PYTHONPATH": str(_ROOT)}
    # Bytecode caches written, as by default: pytest rewrites the asserts of
    # every plugin's package (pact-python's too) and caches the result.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=_ROOT, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    lines = (done.stdout + done.stderr).strip().splitlines()
    last = lines[-1] if lines else ""
    if done.returncode != 0 or str(expect) not in last:
        msg = f"{command[0]} failed ({done.returncode}): {last}"
        raise RuntimeError(msg)
    return elapsed


def measure(size: int, rounds: int) -> dict[str, list[float]]:
    """Timings per contender, ``rounds`` each, the order rotated per round."""
    with tempfile.TemporaryDirectory(prefix="bench-items-") as workdir:
        pact = write_pact(size, Path(workdir))
        contenders = list(commands(pact).items())
        times: dict[str, list[float]] = {name: [] for name, _ in contenders}
        for round_ in range(rounds):
            shift = round_ % len(contenders)
            for name, command in contenders[shift:] + contenders[:shift]:
                times[name].append(run(command, size))
    return times


def report(size: int, times: dict[str, list[float]]) -> list[str]:
    """A table of medians and the two target lines."""
    median = {name: statistics.median(values) for name, values in times.items()}
    cli, serial, parallel = (
        median["flask pact-verify"],
        median["pytest -n 0"],
        median["pytest -n 2"],
    )
    lines = [
        f"N = {size} interactions, median of {len(times[next(iter(times))])} rounds:",
        "",
        "| contender | whole process | vs flask pact-verify |",
        "|---|---:|---:|",
    ]
    lines += [f"| {n} | {t:.2f} s | {t / cli:.2f}x |" for n, t in median.items()]
    lines += [
        "",
        f"flask pact-verify / --jobs 2 at {size}: {cli / median[_JOBS2]:.2f}x",
    ]
    if size < _TARGET_SIZE:
        return [*lines, f"(the targets are for {_TARGET_SIZE:,} interactions)"]
    return [
        *lines,
        targets.at_most(
            f"pytest -n 0 / flask pact-verify at {size}", serial / cli, 1.15
        ),
        targets.at_least(
            f"pytest -n 0 / pytest -n 2 at {size}", serial / parallel, 1.4
        ),
    ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 interactions, once")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.rounds = 200, 1
    print("\n".join(report(args.size, measure(args.size, args.rounds))), flush=True)
    return 1 if targets.MISSED else 0


if __name__ == "__main__":
    sys.exit(main())
