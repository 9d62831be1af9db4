"""Class names of the datasets the registered weights were trained on.

Kinetics-400 names come with the package (``slowfast_zoo/labels/kinetics400.txt``, alphabetical:
MMAction2's label map). The PyTorchVideo and PySlowFast Kinetics weights use the same order:
PySlowFast's ``kinetics_classnames.json`` (the one PyTorchVideo's torch.hub tutorial loads) lists
its names in another order, but the index it gives each name is its alphabetical rank (all 400
checked). The Something-Something and Charades names are the datasets' own files, distributed
under the datasets' licences with their annotations, so they are not shipped: the classes are
``class_0`` ... (``predict --label-map FILE`` shows real ones).
"""

from __future__ import annotations

from importlib import resources

from slowfast_zoo.errors import ConfigError

__all__ = ["KINETICS400_CLASSES", "STHV1_CLASSES", "SSV2_CLASSES", "CHARADES_CLASSES", "placeholder_classes"]


def _load_class_names() -> tuple[str, ...]:
    text = resources.files("slowfast_zoo").joinpath("labels/kinetics400.txt").read_text("utf-8")
    names = tuple(line for line in text.splitlines() if line)
    if len(names) != 400:  # a broken install must not silently mislabel predictions
        raise ConfigError(f"slowfast_zoo/labels/kinetics400.txt has {len(names)} names, expected 400")
    return names


def placeholder_classes(n: int) -> tuple[str, ...]:
    """``("class_0", ..., "class_{n-1}")``: the names of a dataset whose names are not shipped.

    Example:
        >>> placeholder_classes(3)
        ('class_0', 'class_1', 'class_2')
    """
    return tuple(f"class_{i}" for i in range(n))


#: The 400 Kinetics-400 class names in MMAction2's label-map order (alphabetical).
KINETICS400_CLASSES: tuple[str, ...] = _load_class_names()

#: Something-Something V1 has 174 classes, but MMAction2 ships no names for them: placeholders
#: (``predict --label-map FILE`` shows real ones).
STHV1_CLASSES: tuple[str, ...] = placeholder_classes(174)

#: Something-Something V2's 174 classes are numbered by the dataset's
#: ``something-something-v2-labels.json`` (PySlowFast's ``Ssv2`` reads the index from it).
SSV2_CLASSES: tuple[str, ...] = placeholder_classes(174)

#: Charades' 157 classes ``c000`` ... ``c156`` are named in the dataset's
#: ``Charades_v1_classes.txt``.
CHARADES_CLASSES: tuple[str, ...] = placeholder_classes(157)
