"""Putting a state dict (our keys) into a model: the one classifier keep/drop policy.

Every loader (MMAction2 files, the converted cache, our own ``.safetensors``, saved models and
Hub mirrors) decides here whether the file's classifier is used, and loads through here, so a
file meets the same checks whatever its origin.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import torch

from slowfast_zoo.errors import CheckpointError
from slowfast_zoo.registry import PRETRAINED
from slowfast_zoo.weights.convert import check_state_dict
from slowfast_zoo.weights.safetensors import class_names_from_metadata, read_safetensors

__all__ = ["keep_file_classifier", "apply_state_dict", "load_safetensors_into", "arch_problems",
           "classifier_rows"]

log = logging.getLogger(__name__)


def classifier_rows(sd: Mapping[str, torch.Tensor]) -> int | None:
    """Rows of the classifier in a state dict with our keys (``None``: no classifier)."""
    return int(sd["fc.weight"].shape[0]) if "fc.weight" in sd else None


def keep_file_classifier(file_classes: int | None, model: torch.nn.Module, published_classes: int,
                         source: str) -> bool:
    """Whether the model takes the file's classifier (else it keeps its fresh one).

    The file's classifier is used when its size is the model's. A model built with another
    ``num_classes`` than the weight's keeps a fresh classifier (fine-tuning). A model built
    for the weight's own class count but given a file with another classifier is an error:
    silently giving it a random head would be a nasty surprise.

    Args:
        file_classes: rows of the file's classifier (``None``: the file has none).
        model: the model being filled.
        published_classes: the class count the weight was published (or saved) with.
        source: the file, for messages.
    """
    if file_classes is None:
        # Fine only if the user asked for another head anyway; otherwise the strict load
        # reports the classifier keys as missing.
        return model.num_classes == published_classes
    if file_classes == model.num_classes:
        return True
    if model.num_classes == published_classes:
        same = sorted(n for n, c in PRETRAINED.items() if c.num_classes == file_classes)
        known = f" Registered weights with {file_classes} classes: {', '.join(same)}." if same else ""
        raise CheckpointError(
            f"Checkpoint {source} has a {file_classes}-class classifier, the model "
            f"{model.num_classes} classes. Pass num_classes={file_classes} to use the file's "
            f"classifier, or another num_classes to load the backbone with a fresh classifier."
            f"{known}")
    return False


def apply_state_dict(model: torch.nn.Module, sd: Mapping[str, torch.Tensor], *, keep_classifier: bool,
                     source: str, file_classes: int | None = None) -> None:
    """Check ``sd`` against the model (naming every bad key) and load it, with or without its classifier.

    ``file_classes`` (for the log line) defaults to the classifier rows found in ``sd``.
    """
    check_state_dict(sd, model, source=source, ignore_classifier=not keep_classifier)
    fc_keys = {k for k in model.state_dict() if k.startswith("fc.")}
    if keep_classifier:
        try:
            model.load_state_dict(sd, strict=True)
        except RuntimeError as e:  # should not happen after check_state_dict; keep one error type
            raise CheckpointError(f"Checkpoint {source} does not fit the model: {e}") from e
        return
    result = model.load_state_dict({k: v for k, v in sd.items() if not k.startswith("fc.")},
                                   strict=False)
    if set(result.missing_keys) != fc_keys or result.unexpected_keys:
        raise CheckpointError(f"Checkpoint {source}: unexpected partial load (missing "
                              f"{result.missing_keys}, unexpected {result.unexpected_keys}).")
    file_classes = classifier_rows(sd) if file_classes is None else file_classes
    log.info("Loaded all weights of %s except the classifier: the checkpoint has %s classes, the "
             "model %d; the classifier is freshly initialised (normal std 0.01, bias 0).",
             source, file_classes if file_classes is not None else "no", model.num_classes)


def arch_problems(meta: Mapping[str, str], model: torch.nn.Module) -> list[str]:
    """How a file's metadata disagrees with the model's architecture (empty: it fits)."""
    spec = model.spec
    problems = []
    if "architecture" in meta and meta["architecture"] != spec.name:
        problems.append(f"architecture {meta['architecture']} (model: {spec.name})")
    if "fusion_kernel" in meta and meta["fusion_kernel"] != str(spec.fusion_kernel):
        problems.append(f"fusion kernel {meta['fusion_kernel']} (model: {spec.fusion_kernel})")
    if "lateral_norm" in meta and meta["lateral_norm"] != str(spec.lateral_norm):
        problems.append(f"lateral_norm {meta['lateral_norm']} (model: {spec.lateral_norm})")
    return problems


def load_safetensors_into(model: torch.nn.Module, path: str | os.PathLike, *, published_classes: int, source: str) -> bool:
    """Load one of our ``.safetensors`` files into ``model``; True when its classifier was kept.

    The file's class names (a fine-tuned file, a saved model) become ``model.class_names`` when
    its classifier is kept: they only describe the classifier they were saved with.
    """
    sd, meta = read_safetensors(path)
    problems = arch_problems(meta, model)
    if problems:
        raise CheckpointError(f"Checkpoint {source} was converted for another network: "
                              f"{'; '.join(problems)}.")
    keep = keep_file_classifier(classifier_rows(sd), model, published_classes, source)
    apply_state_dict(model, sd, keep_classifier=keep, source=source)
    names = class_names_from_metadata(meta)
    if keep and names is not None and len(names) == model.num_classes:
        model.class_names = names
    return keep
