"""Moved to :mod:`slowfast_zoo.weights.hub` in 0.2; this alias is kept for one release (see CHANGELOG.md)."""

from slowfast_zoo._compat import warn_moved
from slowfast_zoo.weights.hub import (  # noqa: F401
    CONFIG_NAME,
    HF_HUB_PREFIX,
    LOCAL_DIR_PREFIX,
    WEIGHTS_NAME,
    hub_download,
    is_prefixed,
    load_prefixed,
    push_to_hub,
    save_pretrained,
)

warn_moved(__name__, "slowfast_zoo.weights.hub")
