"""The lifecycle tests (a package, so that mypy tells its conftest apart)."""
