"""Verification benchmark: whole verifier runs, ours against the floor and peers.

Every contender (:data:`.contenders.CONTENDERS`) verifies the same generated
pact: the floor (pact-python's bare ``Verifier``, rows in place, no state
URL, default settings), the floor with the runner's trust-store setting,
pact-python 4's in-process dict handler, a hand-written state view, and
this extension both through its runner ``verify()`` and served exactly like
the hand-written view (so that the runner's speed-ups and the extension's
own cost can be told apart).

Each measurement is a fresh child process (``subprocess``, never a fork:
forking after the pact FFI has run can hang the child), timed whole by the
parent and, inside, around the verification alone. The parent rotates the
contenders' order every round so that drift on a shared machine hits them
all alike.

Run with ``python -m benchmarks.verification`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final, TypedDict

from . import workloads
from .contenders import CONTENDERS, DEFAULT_CONTENDERS
from .verification_report import (
    LINEAR_SLACK,
    MAX_RSS_OVER_FLOOR_MB,
    MAX_VS_HAND_WRITTEN,
    MAX_VS_PACT_PYTHON,
    Sample,
    Summaries,
    Summary,
    jobs_report,
    linearity,
    machine,
    peer_verdicts,
    rss_report,
    summarise,
    table,
)

__all__ = [
    "CONTENDERS",
    "DEFAULT_CONTENDERS",
    "LINEAR_SLACK",
    "MAX_RSS_OVER_FLOOR_MB",
    "MAX_VS_HAND_WRITTEN",
    "MAX_VS_PACT_PYTHON",
    "QUICK_ROUNDS",
    "QUICK_RSS_SIZE",
    "QUICK_SIZES",
    "ROUNDS",
    "RSS_SIZE",
    "SIZES",
    "WARM_UP_SIZE",
    "BenchmarkError",
    "ChildResult",
    "Sample",
    "Summaries",
    "Summary",
    "child_main",
    "collect",
    "jobs_report",
    "linearity",
    "machine",
    "main",
    "measure",
    "parse_args",
    "peer_verdicts",
    "report",
    "rss_report",
    "run_child",
    "summarise",
    "table",
    "workloads",
]

SIZES: Final = (100, 1000)
ROUNDS: Final = 5
RSS_SIZE: Final = 5000
QUICK_SIZES: Final = (50, 200)
QUICK_ROUNDS: Final = 3
QUICK_RSS_SIZE: Final = 500
#: Interactions in the untimed warm-up pact (also a check that all pass).
WARM_UP_SIZE: Final = 10
_ROOT: Final = Path(__file__).resolve().parent.parent


class ChildResult(TypedDict):
    """What a child process reports back (as JSON in a file)."""

    passed: bool
    verify_seconds: float
    maxrss_kb: int
    output: str


# -- inside the child --------------------------------------------------------


def child_main(contender: str, pact: Path, size: int, result_path: Path) -> None:
    """Verify once as ``contender`` and write a :class:`ChildResult`."""
    # Imported before the clock starts, for every contender alike.
    import pact as _  # noqa: F401

    verification = CONTENDERS[contender].prepare(pact, size)
    started = time.perf_counter()
    outcome = verification()
    elapsed = time.perf_counter() - started
    result: ChildResult = {
        "passed": outcome.passed,
        "verify_seconds": elapsed,
        "maxrss_kb": _peak_rss_kb(),
        "output": "" if outcome.passed else outcome.output[-4000:],
    }
    result_path.write_text(json.dumps(result), encoding="utf-8")


def _peak_rss_kb() -> int:
    """This process's peak RSS (KiB on Linux), plus its largest worker's.

    Server and verifier run in this process, so its peak covers them; a
    runner with worker processes (``jobs``) has them counted too, though
    only the largest one: the kernel keeps no sum.
    """
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return own + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


# -- in the parent -----------------------------------------------------------


class BenchmarkError(RuntimeError):
    """A child failed, so its timing means nothing."""


def run_child(contender: str, pact: Path, size: int, workdir: Path) -> Sample:
    """Spawn one child, time it whole, and read its report.

    :raises BenchmarkError: when the child crashed or a verification failed.
    """
    result_path = workdir / "result.json"
    result_path.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "benchmarks.verification", "--child", contender]
    argv += [str(pact), str(size), str(result_path)]
    env = {**os.environ, "PACT_DO_NOT_TRACK": "true"}
    started = time.perf_counter()
    # The verifier prints a report per run to stdout: thrown away, unread.
    proc = subprocess.run(
        argv, cwd=_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0 or not result_path.exists():
        stderr = proc.stderr.decode(errors="replace")[-4000:]
        msg = f"{contender} at N={size} exited {proc.returncode}:\n{stderr}"
        raise BenchmarkError(msg)
    result: ChildResult = json.loads(result_path.read_text(encoding="utf-8"))
    if not result["passed"]:
        msg = f"{contender} at N={size}: verification failed:\n{result['output']}"
        raise BenchmarkError(msg)
    verify, rss = result["verify_seconds"], result["maxrss_kb"] / 1024
    return Sample(contender, size, wall, verify, rss)


def measure(
    contenders: Sequence[str], size: int, rounds: int, workdir: Path
) -> list[Sample]:
    """``rounds`` samples of each contender at ``size``, order rotated per round."""
    pact = workloads.write_pact(size, workdir)
    samples = []
    for index in range(rounds):
        shift = index % len(contenders)
        for contender in [*contenders[shift:], *contenders[:shift]]:
            samples.append(run_child(contender, pact, size, workdir))
        print(f"  N={size:,}: round {index + 1}/{rounds} done", file=sys.stderr)
    return samples


def report(args: argparse.Namespace, samples: Sequence[Sample]) -> list[str]:
    """The report's lines: Markdown tables, ratios and verdicts."""
    contenders: list[str] = args.contenders
    summary = summarise(samples)
    lines = ["Verification benchmark", "", *machine(), ""]
    for size in args.sizes:
        lines += [*table(summary, contenders, size), ""]
    lines += ["Ours against the peers (ratio of medians):", ""]
    for size in args.sizes:
        lines += peer_verdicts(summary, size)
    for size in args.sizes:
        lines += jobs_report(summary, size)
    lines += ["", *linearity(summary, contenders, args.sizes), ""]
    if _rss_pair(args):
        lines += [*rss_report(summary, args.rss_size), ""]
    lines += ["Contenders:", ""]
    lines += [f"- {name}: {CONTENDERS[name].description}" for name in contenders]
    return lines


# -- command line ------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The options; ``--quick`` fills in what was not given."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.verification", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_ROUNDS} rounds at N={QUICK_SIZES}, RSS at N={QUICK_RSS_SIZE}",
    )
    parser.add_argument("--rounds", type=int, help=f"rounds per size ({ROUNDS})")
    parser.add_argument("--sizes", type=_sizes, help=f"pact sizes, e.g. {SIZES}")
    parser.add_argument(
        "--rss-size", type=int, help=f"N of the RSS run ({RSS_SIZE}; 0 skips it)"
    )
    parser.add_argument(
        "--rss-rounds", type=int, default=1, help="rounds of the RSS run (1)"
    )
    parser.add_argument(
        "--contenders",
        type=_contenders,
        default=list(DEFAULT_CONTENDERS),
        help=f"comma-separated, from {','.join(CONTENDERS)}"
        f" (default {','.join(DEFAULT_CONTENDERS)})",
    )
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS)
    args.sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    if args.rss_size is None:
        args.rss_size = QUICK_RSS_SIZE if args.quick else RSS_SIZE
    return args


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(sorted({int(part) for part in text.split(",")}))


def _contenders(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",")]
    unknown = [name for name in names if name not in CONTENDERS]
    if unknown:
        msg = f"unknown contenders {unknown}; choose from {list(CONTENDERS)}"
        raise argparse.ArgumentTypeError(msg)
    return names


def collect(args: argparse.Namespace) -> list[Sample]:
    """Run every child ``args`` asks for: the sizes, then the RSS pair."""
    contenders: list[str] = args.contenders
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        workdir = Path(tmp)
        print("Warm-up (untimed, checks every contender passes)", file=sys.stderr)
        measure(contenders, WARM_UP_SIZE, 1, workdir)
        for size in args.sizes:
            samples += measure(contenders, size, args.rounds, workdir)
        pair = _rss_pair(args)
        if pair and args.rss_size not in args.sizes:
            samples += measure(pair, args.rss_size, args.rss_rounds, workdir)
    return samples


def _rss_pair(args: argparse.Namespace) -> list[str]:
    pair = [name for name in ("floor", "ours") if name in args.contenders]
    return pair if args.rss_size and len(pair) == 2 else []


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its report; 1 when a child failed."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        child_main(argv[1], Path(argv[2]), int(argv[3]), Path(argv[4]))
        return 0
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        samples = collect(args)
    except BenchmarkError as error:
        print(f"Benchmark aborted: {error}", file=sys.stderr)
        return 1
    print("\n".join(report(args, samples)))
    print(f"\nVerification benchmark took {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
