"""Run every benchmark: dispatch, plan building, verification, database
isolation, messages, then pytest items.

``python -m benchmarks [--quick] [--rounds N] [--sizes 100,1000] ...``: the
options go to the verification benchmark (see ``python -m benchmarks.verification
--help``); the dispatch benchmark always runs as it is, the orders benchmark
(:mod:`benchmarks.orders`) and the pytest items one (:mod:`benchmarks.pytest_items`,
1,000 interactions, 3 rounds) with ``--quick`` when given. ``make bench`` runs
``--quick`` (about a minute), ``make bench-full`` the full tables (about 20
minutes). The run ends by listing every target missed, and exits 1 if any.
"""

from __future__ import annotations

import sys
import time

from . import (
    dispatch,
    messages,
    orders,
    planning,
    pytest_items,
    targets,
    verification,
)


def main() -> int:
    started = time.perf_counter()
    print("== Dispatch benchmark ==")
    dispatch.main()
    print("\n== Plan-building benchmark ==", flush=True)
    planning.main([])
    print("\n== Verification benchmark ==", flush=True)
    status = verification.main(sys.argv[1:])
    print("\n== Database isolation benchmark ==", flush=True)
    orders.main(["--quick"] if "--quick" in sys.argv[1:] else [])
    print("\n== Message benchmark ==", flush=True)
    messages.main(["--quick"] if "--quick" in sys.argv[1:] else [])
    print("\n== pytest items benchmark ==", flush=True)
    pytest_items.main(["--quick"] if "--quick" in sys.argv[1:] else [])
    print(f"\nAll benchmarks took {time.perf_counter() - started:.0f} s.")
    if targets.MISSED:
        print("Targets MISSED:", *targets.MISSED, sep="\n  ")
        return 1
    print("Every target was met.")
    return status


if __name__ == "__main__":
    sys.exit(main())
