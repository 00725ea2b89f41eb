"""Fixtures of the serve tests (the helpers live in serve_helpers.py)."""

from serve_helpers import project_dir  # noqa: F401
