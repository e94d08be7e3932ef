"""Sphinx configuration: autodoc of the package, intersphinx to Python and Flask."""

from __future__ import annotations

project = "flask-pact-states"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.intersphinx"]
intersphinx_mapping = {
    "python": ("https://docs.python.org/3/", None),
    "flask": ("https://flask.palletsprojects.com/en/stable/", None),
}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
html_theme = "alabaster"
