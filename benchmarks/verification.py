"""Verification benchmark: whole verifier runs, ours against the floor and peers.

Contenders, each verifying the same generated pact (:mod:`.workloads`):

1. ``floor``: pact-python's bare ``Verifier`` on the app with every row in
   place and no state URL, default settings;
2. ``pact-python``: pact-python 4's in-process dict handler, teardown on;
3. ``hand-written``: a classic ``/_pact/provider_states`` view, teardown on;
4. ``ours``: :func:`flask_pact_states.verify.verify` (teardown on, mock_db),
   or a ``Verifier`` driven the same way while that is not available.

Each measurement is a fresh child process (never a fork: forking after the
pact FFI has run can hang the child), timed whole by the parent and, inside,
around the verification alone. The parent rotates the contenders' order every
round so that drift on a shared machine hits them all alike.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Final, NamedTuple, TypedDict

from flask import Flask

from . import workloads

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
#: Per-interaction growth allowed beyond the floor's before it counts as ours.
LINEAR_SLACK: Final = 1.10
_ROOT: Final = Path(__file__).resolve().parent.parent


class ChildResult(TypedDict):
    """What a child process reports back (as JSON in a file)."""

    passed: bool
    verify_seconds: float
    maxrss_kb: int
    route: str
    output: str


@dataclass(frozen=True)
class Sample:
    """One measurement: a whole child process."""

    contender: str
    size: int
    wall: float
    verify: float
    maxrss_mb: float
    route: str


class Outcome(NamedTuple):
    """How one verification in a child went, and by which route."""

    passed: bool
    output: str
    route: str


#: A verification, ready to run and be timed.
Verification = Callable[[], Outcome]
#: What a contender's child runs first, untimed: (pact file, its size).
Prepare = Callable[[Path, int], Verification]
#: Passes ``--ours-route`` to the children.
_ROUTE_VARIABLE: Final = "BENCH_OURS_ROUTE"


# -- inside the child --------------------------------------------------------


def _verifier(url: str, pact: Path) -> Any:
    """A ``Verifier`` for ``pact`` against the app at ``url``."""
    from pact import Verifier

    verifier = Verifier(workloads.PROVIDER, host="127.0.0.1")
    verifier.add_transport(url=url)
    verifier.add_source(str(pact))
    return verifier


def _run_verifier(verifier: Any, route: str) -> Outcome:
    try:
        verifier.verify()
    except RuntimeError:
        # Raised when any interaction fails; the output says which.
        return Outcome(False, str(verifier.output(strip_ansi=True)), route)
    return Outcome(True, "", route)


def _via_state_url(app: Flask, pact: Path, route: str) -> Outcome:
    with workloads.serve(app) as url:
        verifier = _verifier(url, pact)
        verifier.state_handler(url + workloads.STATE_URL, teardown=True, body=True)
        return _run_verifier(verifier, route)


def prepare_floor(pact: Path, size: int) -> Verification:
    """The floor: rows in place, no state handling at all."""
    workloads.seed(size)
    app = workloads.create_app()

    def run() -> Outcome:
        with workloads.serve(app) as url:
            return _run_verifier(_verifier(url, pact), "Verifier, no state URL")

    return run


def prepare_pact_python(pact: Path, size: int) -> Verification:
    """pact-python 4's own in-process handler: a dict of functions."""
    app = workloads.create_app()

    def run() -> Outcome:
        with workloads.serve(app) as url:
            verifier = _verifier(url, pact)
            verifier.state_handler(workloads.PEER_STATES, teardown=True)
            return _run_verifier(verifier, "Verifier.state_handler(dict)")

    return run


def prepare_hand_written(pact: Path, size: int) -> Verification:
    """The classic hand-written state view, served with the app."""
    app = workloads.create_hand_written_app()
    return lambda: _via_state_url(app, pact, "Verifier + hand-written view")


def prepare_ours(pact: Path, size: int) -> Verification:
    """This extension, through ``verify()`` when the runner is available."""
    app = workloads.create_ours_app()
    route = os.environ.get(_ROUTE_VARIABLE, "auto")
    verify = _import_verify() if route in ("auto", "verify") else None
    if verify is None and route == "verify":
        return lambda: Outcome(False, "flask_pact_states.verify is missing.", "-")
    if verify is None:
        # Until verify() lands: drive the Verifier the way the runner will.
        route = "Verifier + PactStates (self-driven, not verify())"
        return lambda: _via_state_url(app, pact, route)

    def run() -> Outcome:
        result = verify(app, pact)
        return Outcome(bool(result.passed), str(result.report()), "verify()")

    return run


def _import_verify() -> Callable[..., Any] | None:
    try:
        from flask_pact_states.verify import verify
    except ImportError:
        return None
    return verify


#: Contender name -> what its child prepares (untimed) and then verifies
#: (timed). Add a contender here (say, ours with other runner options) and
#: pick it with ``--contenders``.
CONTENDERS: Final[dict[str, Prepare]] = {
    "floor": prepare_floor,
    "pact-python": prepare_pact_python,
    "hand-written": prepare_hand_written,
    "ours": prepare_ours,
}


def child_main(contender: str, pact: Path, size: int, result_path: Path) -> None:
    """Verify once as ``contender`` and write a :class:`ChildResult`."""
    import pact as _  # noqa: F401 - imported before the clock starts, for all alike

    verification = CONTENDERS[contender](pact, size)
    started = time.perf_counter()
    outcome = verification()
    elapsed = time.perf_counter() - started
    result: ChildResult = {
        "passed": outcome.passed,
        "verify_seconds": elapsed,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "route": outcome.route,
        "output": "" if outcome.passed else outcome.output[-4000:],
    }
    result_path.write_text(json.dumps(result), encoding="utf-8")


# -- in the parent -----------------------------------------------------------


class BenchmarkError(RuntimeError):
    """A child failed, so its timing means nothing."""


def run_child(contender: str, pact: Path, size: int, workdir: Path) -> Sample:
    """Spawn one child, time it whole, and read its report.

    :raises BenchmarkError: when the child crashed or a verification failed.
    """
    result_path = workdir / f"result-{contender}.json"
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
    return Sample(
        contender,
        size,
        wall,
        result["verify_seconds"],
        result["maxrss_kb"] / 1024,
        result["route"],
    )


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
        print(f"  N={size}: round {index + 1}/{rounds} done", file=sys.stderr)
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
    """A description of where the numbers come from."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ssl = [k for k in ("SSL_CERT_FILE", "SSL_CERT_DIR") if k in os.environ]
    return [
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"Machine: {os.cpu_count()} CPUs (nproc), {cpu}, {platform.system()}"
        f" {platform.release()}",
        f"Python {platform.python_version()}, pact-python"
        f" {metadata.version('pact-python')}, Flask {metadata.version('flask')}",
        f"Trust store: {'set by ' + ', '.join(ssl) if ssl else 'system default'}",
    ]


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x"


def table(summary: Summaries, contenders: Sequence[str], size: int) -> list[str]:
    """A Markdown table of one size: medians, per interaction, ratio to floor."""
    floor = summary.get(("floor", size))
    lines = [
        f"N = {size:,} interactions ({summary[contenders[0], size].count} rounds):",
        "",
        "| contender | whole process | in verify() | per interaction"
        " | vs floor (whole) | vs floor (verify) | peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in contenders:
        s = summary[name, size]
        whole = _ratio(s.wall, floor.wall) if floor else "-"
        inner = _ratio(s.verify, floor.verify) if floor else "-"
        lines.append(
            f"| {name} | {s.wall:.3f} s | {s.verify:.3f} s"
            f" | {s.verify / size * 1e3:.2f} ms | {whole} | {inner}"
            f" | {s.maxrss_mb:.1f} MB |"
        )
    return lines


def peer_verdicts(summary: Summaries, size: int) -> list[str]:
    """Ours against each peer at ``size``, with the targets."""
    ours = summary.get(("ours", size))
    if ours is None:
        return []
    lines = []
    for peer, target in (
        ("hand-written", MAX_VS_HAND_WRITTEN),
        ("pact-python", MAX_VS_PACT_PYTHON),
    ):
        other = summary.get((peer, size))
        if other is None:
            continue
        whole, inner = ours.wall / other.wall, ours.verify / other.verify
        met = "met" if whole <= target else "MISSED"
        lines.append(
            f"- N={size:,}: ours / {peer}: {whole:.2f}x whole process,"
            f" {inner:.2f}x in verify() (target <= {target}x whole: {met})"
        )
    return lines


def linearity(
    summary: Summaries,
    contenders: Sequence[str],
    sizes: Sequence[int],
) -> list[str]:
    """Time per interaction (in verify()) at the smallest and largest size."""
    small, large = min(sizes), max(sizes)
    if small == large:
        return []
    lines = [f"Time per interaction in verify(), N={small:,} -> N={large:,}:"]
    growth: dict[str, float] = {}
    for name in contenders:
        a = summary[name, small].verify / small
        b = summary[name, large].verify / large
        growth[name] = b / a
        lines.append(f"- {name}: {a * 1e3:.2f} ms -> {b * 1e3:.2f} ms ({b / a:.2f}x)")
    if "ours" in growth and "floor" in growth:
        own = growth["ours"] / growth["floor"]
        strict = "yes" if growth["ours"] <= LINEAR_SLACK else "no"
        mine = "yes" if own <= LINEAR_SLACK else "no"
        lines.append(
            f"- linear in N: strictly {strict} (per-interaction time grows"
            f" {growth['ours']:.2f}x; the floor's grows {growth['floor']:.2f}x);"
            f" ours' own cost {mine} (growth {own:.2f}x the floor's,"
            f" target <= {LINEAR_SLACK}x)"
        )
    for name in contenders:
        if name == "floor" or "floor" not in contenders:
            continue
        over = [
            (summary[name, n].verify - summary["floor", n].verify) / n * 1e3
            for n in (small, large)
        ]
        lines.append(
            f"- {name} over the floor per interaction: {over[0]:.2f} ms at"
            f" N={small:,}, {over[1]:.2f} ms at N={large:,}"
        )
    return lines


def rss_report(summary: Summaries, size: int) -> list[str]:
    """Peak RSS (and time) of ours against the floor at ``size``."""
    floor, ours = summary.get(("floor", size)), summary.get(("ours", size))
    if floor is None or ours is None:
        return []
    over = ours.maxrss_mb - floor.maxrss_mb
    met = "met" if over <= MAX_RSS_OVER_FLOOR_MB else "MISSED"
    return [
        f"- peak RSS: floor {floor.maxrss_mb:.1f} MB, ours {ours.maxrss_mb:.1f} MB:"
        f" {over:+.1f} MB (target <= +{MAX_RSS_OVER_FLOOR_MB:.0f} MB: {met})",
        f"- wall time: floor {floor.wall:.1f} s, ours {ours.wall:.1f} s"
        f" ({ours.wall / floor.wall:.2f}x whole process,"
        f" {ours.verify / floor.verify:.2f}x in verify())",
    ]


# -- command line ------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.verification", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_ROUNDS} rounds at N={QUICK_SIZES}, RSS at N={QUICK_RSS_SIZE}",
    )
    parser.add_argument("--rounds", type=int, help=f"rounds per size ({ROUNDS})")
    parser.add_argument(
        "--sizes", type=_sizes, help=f"comma-separated pact sizes {SIZES}"
    )
    parser.add_argument(
        "--rss-size",
        type=int,
        help=f"size of the floor-vs-ours RSS run ({RSS_SIZE}; 0 skips it)",
    )
    parser.add_argument(
        "--rss-rounds", type=int, default=1, help="rounds of the RSS run (1)"
    )
    parser.add_argument(
        "--contenders",
        type=_contenders,
        default=list(CONTENDERS),
        help=f"comma-separated subset of {','.join(CONTENDERS)}",
    )
    parser.add_argument(
        "--ours-route",
        choices=("auto", "verify", "verifier"),
        default="auto",
        help="ours through verify() (when importable, 'auto') or a Verifier",
    )
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS)
    args.sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)
    if args.rss_size is None:
        args.rss_size = QUICK_RSS_SIZE if args.quick else RSS_SIZE
    return args


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(sorted(int(part) for part in text.split(",")))


def _contenders(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",")]
    unknown = [name for name in names if name not in CONTENDERS]
    if unknown:
        msg = f"unknown contenders {unknown}; choose from {list(CONTENDERS)}"
        raise argparse.ArgumentTypeError(msg)
    return names


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its report; 1 when a child failed."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        child_main(argv[1], Path(argv[2]), int(argv[3]), Path(argv[4]))
        return 0
    args = parse_args(argv)
    os.environ[_ROUTE_VARIABLE] = args.ours_route
    started = time.perf_counter()
    try:
        samples = collect(args)
    except BenchmarkError as error:
        print(f"Benchmark aborted: {error}", file=sys.stderr)
        return 1
    print("\n".join(report(args, samples)))
    print(f"\nVerification benchmark took {time.perf_counter() - started:.0f} s.")
    return 0


def collect(args: argparse.Namespace) -> list[Sample]:
    """Run every child ``args`` asks for: the sizes, then the RSS pair."""
    contenders: list[str] = args.contenders
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        workdir = Path(tmp)
        print("Warm-up (untimed, checks every contender passes)...", file=sys.stderr)
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


def report(args: argparse.Namespace, samples: Sequence[Sample]) -> list[str]:
    """The report's lines: Markdown tables, ratios and verdicts."""
    contenders: list[str] = args.contenders
    summary = summarise(samples)
    lines = ["Verification benchmark", *machine(), ""]
    for size in args.sizes:
        lines += [*table(summary, contenders, size), ""]
    lines += ["Ours against the peers (ratio of medians):"]
    for size in args.sizes:
        lines += peer_verdicts(summary, size)
    lines += ["", *linearity(summary, contenders, args.sizes), ""]
    if _rss_pair(args):
        rounds = summary["ours", args.rss_size].count
        lines += [f"N = {args.rss_size:,}, {rounds} round(s), ours vs floor:"]
        lines += [*rss_report(summary, args.rss_size), ""]
    routes = {sample.contender: sample.route for sample in samples}
    lines += ["How each contender verified:"]
    lines += [f"- {name}: {routes.get(name, '-')}" for name in contenders]
    return lines


if __name__ == "__main__":
    sys.exit(main())
