"""Moved to :mod:`slowfast_zoo.training` (freezing, schedule, checkpoints, lists) in 0.2; this
alias is kept for one release (see CHANGELOG.md)."""

from slowfast_zoo._compat import warn_moved
from slowfast_zoo._io import atomic_write  # noqa: F401
from slowfast_zoo.errors import ListFileError  # noqa: F401
from slowfast_zoo.inference.device import peak_memory_bytes, reset_peak_memory  # noqa: F401
from slowfast_zoo.training.checkpoints import (  # noqa: F401
    load_training_state,
    read_weights_metadata,
    rng_state,
    save_training_state,
    save_weights,
    set_rng_state,
)
from slowfast_zoo.training.freezing import configure_finetune  # noqa: F401
from slowfast_zoo.training.lists import check_list_file  # noqa: F401
from slowfast_zoo.training.schedule import WarmupCosine, scaled_lr  # noqa: F401

warn_moved(__name__, "slowfast_zoo.training")
