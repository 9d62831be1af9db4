"""The package version, written once (pyproject.toml reads it: ``dynamic = ["version"]``)."""

__version__ = "0.3.0"
