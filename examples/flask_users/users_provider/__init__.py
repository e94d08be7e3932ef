"""The provider side of the users example: a tiny Flask API over a fake database.

Import the :mod:`users_provider.db` *module* (not its names) wherever the
database is read, so that patching ``users_provider.db.FAKE_DB`` in a provider
state reaches every view.
"""

from __future__ import annotations
