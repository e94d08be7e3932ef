"""Run every benchmark: dispatch, then verification.

``python -m benchmarks [--quick] [--rounds N] [--sizes 100,1000] ...``: the
options go to the verification benchmark (see ``python -m benchmarks.verification
--help``); the dispatch benchmark always runs as it is.
"""

from __future__ import annotations

import sys
import time

from . import dispatch, verification


def main() -> int:
    started = time.perf_counter()
    print("== Dispatch benchmark ==")
    dispatch.main()
    print("\n== Verification benchmark ==", flush=True)
    status = verification.main(sys.argv[1:])
    print(f"\nAll benchmarks took {time.perf_counter() - started:.0f} s.")
    return status


if __name__ == "__main__":
    sys.exit(main())
