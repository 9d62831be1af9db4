"""Class names of the datasets the registered weights were trained on.

Kinetics-400 names come with the package (``slowfast_zoo/labels/kinetics400.txt``, alphabetical:
MMAction2's label map). The PyTorchVideo and PySlowFast Kinetics weights use the same order:
PySlowFast's ``kinetics_classnames.json`` (the one PyTorchVideo's torch.hub tutorial loads) lists
its names in another order, but the index it gives each name is its alphabetical rank (all 400
checked). The Something-Something and Charades names are the datasets' own files, distributed
under the datasets' licences with their annotations, so they are not shipped: the classes are
``class_0`` ... (``predict --label-map FILE`` shows real ones).

AVA's 80 action names come with the package as the dataset's own label maps (CC BY 4.0, like the
AVA annotations): ``slowfast_zoo/labels/ava_action_list_v2.2_all.pbtxt`` (all 80, v2.1 and v2.2
share the list) and ``ava_action_list_v2.2.pbtxt`` (the 60 of the official evaluation). A
detector's output column ``j`` is the action of id ``j + 1`` (MMAction2's background column is
dropped): ``AVA_CLASSES[j]``. MultiSports' 66 names are MMAction2's
``tools/data/multisports/label_map.txt`` (ids 0..65, the classifier's columns).
"""

from __future__ import annotations

import re
from importlib import resources

from slowfast_zoo.errors import ConfigError

__all__ = ["KINETICS400_CLASSES", "STHV1_CLASSES", "SSV2_CLASSES", "CHARADES_CLASSES", "placeholder_classes",
           "AVA_CLASSES", "AVA_EVALUATED_IDS", "AVA_CUSTOM16_IDS", "AVA_CUSTOM16_CLASSES",
           "MULTISPORTS_CLASSES", "read_pbtxt"]


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


_PBTXT_ENTRY = re.compile(r'^\s*name:\s*"([^"]*)"\s*\n\s*(?:label_)?id:\s*(\d+)\s*$', re.MULTILINE)


def read_pbtxt(text: str) -> dict[int, str]:
    """``{id: name}`` of an AVA label map in the dataset's pbtxt format (``item { name id }`` or
    ``label { name label_id label_type }``; ``#`` lines are comments).

    Example:
        >>> read_pbtxt('item {\\n  name: "bend/bow (at the waist)"\\n  id: 1\\n}\\n')
        {1: 'bend/bow (at the waist)'}
    """
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    entries = _PBTXT_ENTRY.findall(body)
    out = {int(i): name for name, i in entries}
    if len(out) != len(entries):
        raise ConfigError("label map lists an id twice")
    return out


def _ava_label_map(file_name: str, expected: int) -> dict[int, str]:
    text = resources.files("slowfast_zoo").joinpath(f"labels/{file_name}").read_text("utf-8")
    names = read_pbtxt(text)
    if len(names) != expected:  # a broken install must not silently mislabel detections
        raise ConfigError(f"slowfast_zoo/labels/{file_name} has {len(names)} actions, expected {expected}")
    return names


_AVA_ALL = _ava_label_map("ava_action_list_v2.2_all.pbtxt", 80)
_AVA_EVALUATED = _ava_label_map("ava_action_list_v2.2.pbtxt", 60)
if sorted(_AVA_ALL) != list(range(1, 81)) or any(_AVA_ALL.get(i) != n for i, n in _AVA_EVALUATED.items()):
    raise ConfigError("slowfast_zoo/labels/ava_action_list_v2.2*.pbtxt disagree")

#: The 80 AVA actions (v2.1 = v2.2): ``AVA_CLASSES[i - 1]`` is the action of id ``i``.
AVA_CLASSES: tuple[str, ...] = tuple(_AVA_ALL[i] for i in range(1, 81))

#: The 60 action ids of the official frame-mAP evaluation (``ava_action_list_v2.2.pbtxt``; MMAction2's
#: ``label_map.txt`` and ``ava_action_list_v2.1_for_activitynet_2018.pbtxt`` list the same 60).
AVA_EVALUATED_IDS: tuple[int, ...] = tuple(sorted(_AVA_EVALUATED))

#: The 16 AVA action ids of MMAction2's custom-classes SlowFast (the 0.x config
#: ``slowfast_kinetics_pretrained_r50_4x16x1_20e_ava_rgb_custom_classes``: classes whose AP was in
#: [0.1, 0.3) for its SlowOnly baseline); its output column ``j`` is id ``AVA_CUSTOM16_IDS[j]``.
#: Id 53 ("shovel") is not among the 60 evaluated ones: that config evaluates on the 80-action list.
AVA_CUSTOM16_IDS: tuple[int, ...] = (3, 6, 10, 27, 29, 38, 41, 48, 51, 53, 54, 59, 61, 64, 70, 72)

#: The names of :data:`AVA_CUSTOM16_IDS`, in the custom classifier's column order.
AVA_CUSTOM16_CLASSES: tuple[str, ...] = tuple(AVA_CLASSES[i - 1] for i in AVA_CUSTOM16_IDS)

#: The 66 MultiSports actions (ids 0..65 = the classifier's columns), as in MMAction2's
#: ``tools/data/multisports/label_map.txt``.
MULTISPORTS_CLASSES: tuple[str, ...] = (
    "aerobic_push_up", "aerobic_explosive_push_up", "aerobic_explosive_support", "aerobic_leg_circle",
    "aerobic_helicopter", "aerobic_support", "aerobic_v_support", "aerobic_horizontal_support",
    "aerobic_straight_jump", "aerobic_illusion", "aerobic_bent_leg(s)_jump", "aerobic_pike_jump",
    "aerobic_straddle_jump", "aerobic_split_jump", "aerobic_scissors_leap", "aerobic_kick_jump",
    "aerobic_off_axis_jump", "aerobic_butterfly_jump", "aerobic_split", "aerobic_turn",
    "aerobic_balance_turn", "volleyball_serve", "volleyball_block", "volleyball_first_pass",
    "volleyball_defend", "volleyball_protect", "volleyball_second_pass", "volleyball_adjust",
    "volleyball_save", "volleyball_second_attack", "volleyball_spike", "volleyball_dink",
    "volleyball_no_offensive_attack", "football_shoot", "football_long_pass", "football_short_pass",
    "football_through_pass", "football_cross", "football_dribble", "football_trap", "football_throw",
    "football_diving", "football_tackle", "football_steal", "football_clearance", "football_block",
    "football_press", "football_aerial_duels", "basketball_pass", "basketball_drive",
    "basketball_dribble", "basketball_3-point_shot", "basketball_2-point_shot", "basketball_free_throw",
    "basketball_block", "basketball_offensive_rebound", "basketball_defensive_rebound",
    "basketball_pass_steal", "basketball_dribble_steal", "basketball_interfere_shot",
    "basketball_pick-and-roll_defensive", "basketball_sag", "basketball_screen", "basketball_pass-inbound",
    "basketball_save", "basketball_jump_ball",
)
