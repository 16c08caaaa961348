"""Adapter and daemon-configuration tests (a package, so its conftest does not shadow tests/conftest.py)."""
