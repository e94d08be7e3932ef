"""Verification benchmark: whole verifier runs, ours against the floor and peers.

Every contender (:data:`.workloads.CONTENDERS`) verifies the same generated
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
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Final, TypedDict

from . import workloads
from .workloads import CONTENDERS, DEFAULT_CONTENDERS

SIZES: Final = (100, 1000)
ROUNDS: Final = 5
RSS_SIZE: Final = 5000
QUICK_SIZES: Final = (50, 200)
QUICK_ROUNDS: Final = 3
QUICK_RSS_SIZE: Final = 500
#: Interactions in the untimed warm-up pact (also a check that all pass).
WARM_UP_SIZE: Final = 10
#: Targets from issue 6.
MAX_VS_HAND_WRITTEN: Final = 1.05
MAX_VS_PACT_PYTHON: Final = 0.85
MAX_RSS_OVER_FLOOR_MB: Final = 20.0
#: How much faster than the floor's ours' time per interaction may grow
#: with N before it counts as a superlinear cost of ours.
LINEAR_SLACK: Final = 1.10
_ROOT: Final = Path(__file__).resolve().parent.parent
_TRUST_STORE_KEYS: Final = ("SSL_CERT_FILE", "SSL_CERT_DIR")


class ChildResult(TypedDict):
    """What a child process reports back (as JSON in a file)."""

    passed: bool
    verify_seconds: float
    maxrss_kb: int
    output: str


@dataclass(frozen=True)
class Sample:
    """One measurement: a whole child process."""

    contender: str
    size: int
    wall: float
    verify: float
    maxrss_mb: float


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


@dataclass(frozen=True)
class Summary:
    """Medians of one contender at one size."""

    wall: float
    verify: float
    maxrss_mb: float
    count: int


#: Medians by (contender, size).
Summaries = dict[tuple[str, int], Summary]


def summarise(samples: Sequence[Sample]) -> Summaries:
    """Median wall time, in-process time and peak RSS per (contender, size)."""
    groups: dict[tuple[str, int], list[Sample]] = {}
    for sample in samples:
        groups.setdefault((sample.contender, sample.size), []).append(sample)
    return {
        key: Summary(
            statistics.median(s.wall for s in group),
            statistics.median(s.verify for s in group),
            max(s.maxrss_mb for s in group),
            len(group),
        )
        for key, group in groups.items()
    }


# -- the report --------------------------------------------------------------


def machine() -> list[str]:
    """A description of where and when the numbers were taken."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    # The verifier loads the trust store per interaction: where it points
    # changes every contender's time (see DESIGN.md).
    ssl = [f"{k}={os.environ[k]}" for k in _TRUST_STORE_KEYS if k in os.environ]
    loads = ", ".join(f"{load:.2f}" for load in os.getloadavg())
    return [
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {len(os.sched_getaffinity(0))} CPUs (nproc), {cpu},"
        f" {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, pact-python"
        f" {metadata.version('pact-python')}, Flask {metadata.version('flask')}",
        f"- Trust store: {', '.join(ssl) if ssl else 'system default'}",
        # Other work on a shared machine slows contenders unevenly: say so.
        f"- Load average at the end (1, 5, 15 min): {loads}",
    ]


def table(summary: Summaries, contenders: Sequence[str], size: int) -> list[str]:
    """A Markdown table of one size: medians, per interaction, ratio to floor."""
    floor = summary.get(("floor", size))
    rounds = summary[contenders[0], size].count
    lines = [
        f"N = {size:,} interactions, median of {rounds} rounds:",
        "",
        "| contender | whole process | in-process | per interaction"
        " | vs floor (whole) | vs floor (in-process) | peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in contenders:
        s = summary[name, size]
        whole = f"{s.wall / floor.wall:.2f}x" if floor else "-"
        inner = f"{s.verify / floor.verify:.2f}x" if floor else "-"
        lines.append(
            f"| {name} | {s.wall:.2f} s | {s.verify:.2f} s"
            f" | {s.verify / size * 1e3:.2f} ms | {whole} | {inner}"
            f" | {s.maxrss_mb:.1f} MB |"
        )
    return lines


def peer_verdicts(summary: Summaries, size: int) -> list[str]:
    """Each of ours against each peer at ``size``, with the targets."""
    lines = []
    for ours in ("ours", "ours-plain"):
        for peer, target in (
            ("hand-written", MAX_VS_HAND_WRITTEN),
            ("pact-python", MAX_VS_PACT_PYTHON),
        ):
            a, b = summary.get((ours, size)), summary.get((peer, size))
            if a is None or b is None:
                continue
            met = "met" if a.wall <= target * b.wall else "MISSED"
            lines.append(
                f"- N={size:,}: {ours} / {peer}: {a.wall / b.wall:.2f}x whole"
                f" process, {a.verify / b.verify:.2f}x in-process"
                f" (target <= {target}x: {met})"
            )
    return lines


def jobs_report(summary: Summaries, size: int) -> list[str]:
    """How much faster two worker processes are than one (issue 8)."""
    one, two = summary.get(("ours", size)), summary.get(("ours-jobs2", size))
    if one is None or two is None:
        return []
    return [
        f"- N={size:,}: ours (1 job) / ours-jobs2: {one.wall / two.wall:.2f}x"
        f" whole process, {one.verify / two.verify:.2f}x in-process"
    ]


def linearity(
    summary: Summaries, contenders: Sequence[str], sizes: Sequence[int]
) -> list[str]:
    """Time per interaction (in-process) at the smallest and largest size."""
    small, large = min(sizes), max(sizes)
    if small == large:
        return []
    lines = [f"Time per interaction (in-process), N={small:,} -> N={large:,}:", ""]
    growth: dict[str, float] = {}
    for name in contenders:
        a = summary[name, small].verify / small
        b = summary[name, large].verify / large
        growth[name] = b / a
        lines.append(f"- {name}: {a * 1e3:.2f} ms -> {b * 1e3:.2f} ms ({b / a:.2f}x)")
    for name in ("ours", "ours-plain"):
        if name in growth and "floor" in growth:
            lines.append(_linear_verdict(name, growth[name], growth["floor"]))
    return lines


def _linear_verdict(name: str, growth: float, floor: float) -> str:
    strict = "yes" if growth <= LINEAR_SLACK else "no"
    own = "met" if growth <= floor * LINEAR_SLACK else "MISSED"
    return (
        f"- {name} linear in N: strictly {strict} ({growth:.2f}x per interaction);"
        f" no faster growth than the floor's {floor:.2f}x"
        f" (target <= {LINEAR_SLACK}x that: {own})"
    )


def rss_report(summary: Summaries, size: int) -> list[str]:
    """Peak RSS (and time) of ours against the floor at ``size``."""
    floor, ours = summary.get(("floor", size)), summary.get(("ours", size))
    if floor is None or ours is None:
        return []
    over = ours.maxrss_mb - floor.maxrss_mb
    met = "met" if over <= MAX_RSS_OVER_FLOOR_MB else "MISSED"
    return [
        f"N = {size:,}, {ours.count} round(s), ours against the floor:",
        "",
        f"- peak RSS: floor {floor.maxrss_mb:.1f} MB, ours {ours.maxrss_mb:.1f} MB:"
        f" {over:+.1f} MB (target <= +{MAX_RSS_OVER_FLOOR_MB:.0f} MB: {met})",
        f"- wall time: floor {floor.wall:.1f} s, ours {ours.wall:.1f} s"
        f" ({ours.wall / floor.wall:.2f}x whole process,"
        f" {ours.verify / floor.verify:.2f}x in-process)",
        f"- per interaction (in-process): floor {floor.verify / size * 1e3:.2f} ms,"
        f" ours {ours.verify / size * 1e3:.2f} ms",
    ]


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
