"""Make the example's packages importable as ``users_provider`` and ``users_consumer``.

The repository runs pytest with ``--import-mode=importlib``, which leaves
``sys.path`` alone, and the example is not an installed package.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
