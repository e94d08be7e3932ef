"""The fake database of the users example.

``FAKE_DB`` is a plain module global on purpose: it is what provider states
patch (``mock_db("users_provider.db.FAKE_DB", {...})``), the way many real
apps keep a module-level session or repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass
class User:
    """A user as the provider stores it.

    :param id: Primary key.
    :param name: Display name.
    :param created_on: When the user was created; timezone-aware.
    :param admin: Whether the user may administer others.
    """

    id: int
    name: str
    created_on: datetime
    admin: bool = False

    def to_json(self) -> dict[str, object]:
        """Return the user as the API sends it.

        ``created_on`` keeps its UTC offset as ``+00:00`` and drops
        microseconds, the format the consumer's datetime matcher expects.

        :returns: A JSON-serialisable mapping.
        """
        return {
            "id": self.id,
            "name": self.name,
            "created_on": self.created_on.isoformat(timespec="seconds"),
            "admin": self.admin,
        }


FAKE_DB: dict[int, User] = {}
"""Users by id. Views read it as ``db.FAKE_DB`` at call time so patches apply."""
