"""Reading a pact file from disk, whatever sits at its path.

A pact directory is read whole (``*.json``), so anything named like a pact
reaches here: a FIFO that would block the open for ever, a link to
``/dev/zero`` that would be read until memory runs out, a file in another
encoding. Each is refused in one sentence that names it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

from ..errors import PactSourceError

#: The largest pact file read (512 MiB): a bigger one, or an endless one, is
#: refused rather than read until memory runs out.
MAX_PACT_BYTES: Final = 2**29


def read_pact_text(path: Path) -> str:
    """The text of a pact file: a regular file of at most
    :data:`MAX_PACT_BYTES`, in UTF-8.

    Opened without blocking, so that a FIFO named ``*.json`` cannot hang the
    run, and checked once open, so that a link to ``/dev/zero`` is never read.

    :raises PactSourceError: naming the file and what is wrong with it.
    """
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        msg = f"The pact file '{path}' does not exist; check the path."
        raise PactSourceError(msg) from None
    except OSError as error:
        msg = f"The pact file '{path}' cannot be read ({error}); check its permissions."
        raise PactSourceError(msg) from None
    with os.fdopen(handle, "rb") as file:
        info = os.fstat(handle)
        if not stat.S_ISREG(info.st_mode):
            msg = (
                f"The pact source '{path}' is not a regular file (a FIFO, device"
                " or socket?); pass pact files written by the consumer's tests."
            )
            raise PactSourceError(msg)
        data = file.read(MAX_PACT_BYTES + 1)
    if len(data) > MAX_PACT_BYTES:
        msg = (
            f"The pact file '{path}' is larger than {MAX_PACT_BYTES // 2**20} MiB,"
            " the limit for a pact file flask pact-verify reads; split it."
        )
        raise PactSourceError(msg)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        msg = (
            f"The pact file '{path}' is not UTF-8 text ({error}); pact files are"
            " JSON in UTF-8: regenerate it with the consumer's tests."
        )
        raise PactSourceError(msg) from None
