"""Plan-building benchmark: time from the sources to the first request.

Builds the plan of one local pact of N interactions, chunked as the runner
chunks it (20 per run), and prints the time per size and per 1,000
interactions: linear building keeps that second column flat. Listing the
work directory once per chunk copy made it quadratic (80,000 interactions:
20 s on the machine the issue was measured on, 13.1 s here; now 2.6 s,
and 320,000 take 7.3 s; benchmarks/RESULTS.md has the table).

Run with ``python -m benchmarks.planning [--sizes 20000,80000]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from flask_pact_states.runner.options import VerifyOptions
from flask_pact_states.runner.plan import build_plan


def _pact(path: Path, size: int) -> Path:
    interactions = [
        {
            "description": f"interaction {n}",
            "providerStates": [{"name": f"state {n % 7}"}],
            "request": {"method": "GET", "path": f"/items/{n}"},
            "response": {"status": 200},
        }
        for n in range(size)
    ]
    document = {
        "consumer": {"name": "Web"},
        "provider": {"name": "Items"},
        "interactions": interactions,
        "metadata": {"pactSpecification": {"version": "3.0.0"}},
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def measure(size: int) -> float:
    """Seconds to build the plan of one pact of ``size`` interactions."""
    with tempfile.TemporaryDirectory(prefix="plan-bench-") as directory:
        pact = _pact(Path(directory) / "big.json", size)
        workdir = Path(directory) / "work"
        workdir.mkdir()
        started = time.perf_counter()
        build_plan(VerifyOptions(sources=(pact,)), provider=None, workdir=workdir)
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,20000,80000")
    sizes = [int(size) for size in parser.parse_args(argv).sizes.split(",")]
    print(f"{'interactions':>12}  {'seconds':>8}  {'ms per 1,000':>12}")
    for size in sizes:
        seconds = measure(size)
        print(f"{size:>12,}  {seconds:>8.2f}  {seconds / size * 1e6:>12.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
