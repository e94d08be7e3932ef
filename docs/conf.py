"""Sphinx configuration: autodoc of the package, intersphinx to Python and Flask.

``make docs`` builds offline (the test machines reach no documentation
sites), so intersphinx links are on only with ``DOCS_INTERSPHINX=1``.
"""

from __future__ import annotations

import os

project = "flask-pact-states"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
intersphinx_mapping = (
    {
        "python": ("https://docs.python.org/3/", None),
        "flask": ("https://flask.palletsprojects.com/en/stable/", None),
    }
    if os.environ.get("DOCS_INTERSPHINX") == "1"
    else {}
)
autodoc_member_order = "bysource"
autodoc_typehints = "description"
html_theme = "alabaster"
exclude_patterns = ["_build"]
