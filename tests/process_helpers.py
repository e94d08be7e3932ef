"""Running ``flask`` as a real subprocess for the process-level tests.

Imported after putting tests/ on ``sys.path`` (``--import-mode=importlib``
keeps it off), as ``verify_helpers`` is.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path


def _default_sigint() -> None:
    # A process started in the background by a non-interactive shell (as a CI
    # job may be) inherits SIGINT ignored, and Python then leaves it ignored:
    # the interrupt tests need it delivered.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def flask_process(
    directory: Path, module: str, source: str, *arguments: str
) -> subprocess.Popen[str]:
    """``flask --app MODULE:create_app ARGUMENTS`` in ``directory``, where
    ``source`` is written as ``MODULE.py``; stdout and stderr piped."""
    (directory / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    env = {**os.environ, "PACT_DO_NOT_TRACK": "true"}
    env.pop("PACT_BROKER_BASE_URL", None)
    command = [sys.executable, "-m", "flask", "--app", f"{module}:create_app"]
    return subprocess.Popen(
        [*command, *arguments],
        cwd=directory,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
