"""Make the example's packages importable: ``orders_provider``,
``orders_consumer`` and ``orders_provider_tests``.

The repository runs pytest with ``--import-mode=importlib``, which leaves
``sys.path`` alone, and the example is not an installed package. The names
differ from the users example's, as both examples share one test run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

# The verifier sends usage events over the network unless told not to.
os.environ.setdefault("PACT_DO_NOT_TRACK", "true")
