"""The repository itself: nothing half-merged is ever committed."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TEXT = {".py", ".rst", ".md", ".toml", ".sh", ".cfg", ".txt", ""}
# Both ends of a conflict (a reST heading underline looks like the middle one).
_OURS, _THEIRS = re.compile(r"^<{7} ", re.M), re.compile(r"^>{7} ", re.M)


def test_repository_has_no_merge_conflict_markers() -> None:
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    paths = [ROOT / name for name in listed if Path(name).suffix in _TEXT]

    marked = [
        str(path.relative_to(ROOT))
        for path in paths
        if path.is_file()
        and _OURS.search(text := path.read_text(encoding="utf-8", errors="replace"))
        and _THEIRS.search(text)
    ]

    assert marked == []
