"""Fine-tuning: the loop (:mod:`.finetune`), what it trains (:mod:`.freezing`), the lr schedule
(:mod:`.schedule`), checkpoints (:mod:`.checkpoints`) and the data: ``path label`` lists or class
folders (:mod:`.lists`). ``slowfast-zoo finetune`` is its command line.

Example:
    >>> from slowfast_zoo.training.finetune import FinetuneConfig, finetune
"""

from slowfast_zoo.training.finetune import (
    BEST_WEIGHTS,
    LATEST_WEIGHTS,
    LOG_FILE,
    STATE_FILE,
    FinetuneConfig,
    finetune,
)

__all__ = ["FinetuneConfig", "finetune", "STATE_FILE", "LOG_FILE", "LATEST_WEIGHTS", "BEST_WEIGHTS"]
