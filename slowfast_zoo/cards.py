"""Moved to :mod:`slowfast_zoo.tools.cards` in 0.2; this alias is kept for one release (see CHANGELOG.md)."""

from slowfast_zoo._compat import warn_moved
from slowfast_zoo.tools.cards import main, render, render_card, reproduce_command  # noqa: F401

warn_moved(__name__, "slowfast_zoo.tools.cards")

if __name__ == "__main__":
    raise SystemExit(main())
