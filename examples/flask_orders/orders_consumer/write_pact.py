"""Regenerate the orders pact: ``python -m orders_consumer.write_pact [DIR]``.

``DIR`` defaults to ``$PACT_OUTPUT_DIR``, else ``examples/flask_orders/pacts``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from orders_consumer.pact_builder import pact_output_dir, write_pact_file


def main(argv: Sequence[str] | None = None) -> int:
    """Write the pact file and print its path.

    :returns: the exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python -m orders_consumer.write_pact",
        description="Exercise the orders client against Pact mock servers and"
        " write the pact file.",
    )
    parser.add_argument(
        "directory",
        nargs="?",
        help="where to write the pact (default: $PACT_OUTPUT_DIR, else the"
        " example's pacts/ folder)",
    )
    args = parser.parse_args(argv)
    path = write_pact_file(args.directory or pact_output_dir())
    print(f"Wrote {path}")
    return 0


if __name__ == "__main__":
    # Without this the pact core tries to send usage events over the network.
    os.environ.setdefault("PACT_DO_NOT_TRACK", "true")
    raise SystemExit(main())
