"""The provider side of the orders example: a Flask API over Flask-SQLAlchemy.

Customers place orders of items. The data lives in a real database: SQLite by
default, PostgreSQL when ``DATABASE_URL`` is set.
"""

from __future__ import annotations
