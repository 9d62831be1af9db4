"""Loading step 5: check a converted state dict against the model once, then load it.

Every way of loading (published files, the converted cache, our own ``.safetensors``, saved
models) ends here, so a file meets the same checks whatever its origin:

* our metadata's ``architecture`` / ``fusion_kernel`` / ``lateral_norm`` against the model
  (a user's own file converted for another network);
* the one key/shape/value check (:func:`check_state_dict`): every tensor consumed, every weight
  filled, mismatches named in the file's own key names, with the registered weights the file
  does fit (:mod:`.identify`); then every tensor to be loaded holds finite floating-point
  values (integer ``num_batches_tracked``), running variances non-negative;
* the classifier policy (:func:`keep_file_classifier`): the file's classifier is used when its
  size is the model's, a model built with another ``num_classes`` keeps a fresh one; a kept
  classifier must have the model's pathway order (:func:`feature_order_error`: PySlowFast and
  PyTorchVideo classify slow-then-fast features, MMAction2 fast-then-slow, with equal shapes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import torch

from slowfast_zoo.errors import CheckpointError
from slowfast_zoo.models.slowfast import SlowFast
from slowfast_zoo.registry import PRETRAINED
from slowfast_zoo.weights.convert import UNMAPPED, Converted
from slowfast_zoo.weights.identify import fitting_weights_hint

__all__ = ["apply_converted", "check_state_dict", "value_problem", "keep_file_classifier", "arch_problems",
           "classifier_rows", "feature_order_error"]

log = logging.getLogger(__name__)


def classifier_rows(sd: Mapping[str, torch.Tensor]) -> int | None:
    """Rows of the classifier in a state dict with our keys (``None``: no classifier).

    Example:
        >>> classifier_rows({"fc.weight": torch.zeros(7, 2304)})
        7
    """
    return int(sd["fc.weight"].shape[0]) if "fc.weight" in sd else None


def keep_file_classifier(file_classes: int | None, model: SlowFast, published_classes: int,
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

    Example:
        >>> import slowfast_zoo as sz
        >>> model = sz.create_model("slowfast_r50_4x16x1", num_classes=10)
        >>> keep_file_classifier(400, model, 400, "k400.pth")  # fine-tuning: a fresh head
        False
        >>> keep_file_classifier(10, model, 400, "ft.pth")  # the file's own 10-class head
        True
    """
    if file_classes is None:
        # Fine only if the user asked for another head anyway; otherwise the check reports
        # the classifier keys as missing.
        return model.num_classes == published_classes
    if file_classes == model.num_classes:
        return True
    if model.num_classes == published_classes:
        same = sorted(n for n, c in PRETRAINED.items() if c.num_classes == file_classes)
        more = f" and {len(same) - 6} more" if len(same) > 6 else ""
        known = f" Registered weights with {file_classes} classes: {', '.join(same[:6])}{more}." if same else ""
        raise CheckpointError(
            f"Checkpoint {source} has a {file_classes}-class classifier, the model "
            f"{model.num_classes} classes. Pass num_classes={file_classes} to use the file's "
            f"classifier, or another num_classes to load the backbone with a fresh classifier."
            f"{known}")
    return False


def value_problem(key: str, t: torch.Tensor) -> str | None:
    """What is wrong with the values of the tensor a file holds for our ``key`` (``None``: fine).

    Weights, biases and running statistics must be finite floating-point tensors (any float
    precision: loading casts), running variances non-negative; ``num_batches_tracked`` must
    be an integer. Integer and bool tensors are refused before any value is looked at.

    Example:
        >>> value_problem("fc.weight", torch.zeros(2, 3, dtype=torch.float16)) is None
        True
        >>> value_problem("fc.weight", torch.zeros(2, 3, dtype=torch.int8))
        'is torch.int8, expected floating-point weights'
        >>> value_problem("slow.stem.bn.running_var", torch.tensor([1.0, -0.5]))
        'running variance has negative values'
        >>> value_problem("slow.stem.bn.num_batches_tracked", torch.tensor(3.0))
        'is torch.float32, expected an integer count'
    """
    if key.endswith("num_batches_tracked"):
        if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
            return f"is {t.dtype}, expected an integer count"
        return None
    if not t.dtype.is_floating_point:  # ints, bools, complex: isfinite/>= would mislead or fail
        return f"is {t.dtype}, expected floating-point weights"
    # A sum is finite only if every element is (inf, -inf and NaN all propagate): a cheap
    # screen that allocates nothing; a non-finite sum may be overflow, so it is confirmed.
    if not bool(torch.isfinite(t.sum())) and not bool(torch.isfinite(t).all()):
        return "holds NaN or infinite values"
    if key.endswith("running_var") and not bool((t >= 0).all()):
        return "running variance has negative values"
    return None


_BACKBONE = ("laterals.", "slow.", "fast.")
# The classifier's names in every family (a junk key beside it is no sign of another backbone).
_CLASSIFIER_NAMES = ("cls_head.", "head.", "blocks.6.", "model.blocks.6.", "pred_", "fc.")


def _is_classifier(file_key: str) -> bool:
    return file_key.startswith(_CLASSIFIER_NAMES)


def check_state_dict(state_dict: Mapping[str, torch.Tensor], model: SlowFast, *,
                     source: str, ignore_classifier: bool = False,
                     source_keys: Mapping[str, str] | None = None,
                     feature_order: str | None = None, detector: bool = False) -> None:
    """Raise :class:`CheckpointError` unless ``state_dict`` fills ``model`` exactly with sane values.

    First the keys and shapes (every problem listed at once), then the values of every tensor
    that will be loaded (:func:`value_problem`: finite floating-point weights, integer
    ``num_batches_tracked``, non-negative running variances), each named as the file names it.

    Args:
        state_dict: tensors under our key names.
        model: the model to fill.
        source: file or URL named in the error message.
        ignore_classifier: the classifier (``fc.*``) is being replaced (``num_classes`` differs).
        source_keys: our key -> the file's own key, to report errors in the file's own names.
        feature_order: the file's classifier column order when known (narrows the hint).
        detector: the file holds an action detector's RoI head (narrows the hint to detectors).

    Example:
        >>> import slowfast_zoo as sz
        >>> model = sz.create_model("slowfast_r50_4x16x1", num_classes=3)
        >>> check_state_dict(model.state_dict(), model, source="ok.pth")  # fits: no error
        >>> sd = {k: v for k, v in model.state_dict().items() if k != "fc.bias"}
        >>> check_state_dict(sd, model, source="x.pth")
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.CheckpointError: Checkpoint x.pth does not match the architecture slowfast_r50_4x16x1:
          1 missing:
            fc.bias
        >>> sd = dict(model.state_dict(), **{"fc.bias": torch.full((3,), float("nan"))})
        >>> check_state_dict(sd, model, source="nan.pth")
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.CheckpointError: Checkpoint nan.pth: tensor 'fc.bias' holds NaN or infinite values
    """
    expected = model.state_dict()
    names = source_keys or {}
    def skip(k: str) -> bool:
        return ignore_classifier and k.startswith("fc.")
    missing = [k for k in expected if k not in state_dict and not skip(k)]
    extra = [k for k in state_dict if k not in expected and not skip(k)]
    wrong = [k for k, v in state_dict.items()
             if k in expected and not skip(k) and tuple(v.shape) != tuple(expected[k].shape)]
    if not (missing or extra or wrong):
        _check_values(state_dict, expected, skip, names, source)
        return
    unexpected = [names.get(k, k) for k in extra]
    mismatched = [f"{names.get(k, k)}: file {list(state_dict[k].shape)} vs model {list(expected[k].shape)}"
                  for k in wrong]
    lines = [f"Checkpoint {source} does not match the architecture {model.spec.name}:"]
    if any(k.startswith(_BACKBONE) for k in missing + extra + wrong) or \
            any(k.startswith(UNMAPPED) and not _is_classifier(names.get(k, k)) for k in extra):
        # The backbone differs (not only the classifier), told by our keys whatever the
        # file's own names: name the architectures the file fits.
        lines.append("  " + fitting_weights_hint(
            {k: v for k, v in state_dict.items() if not k.startswith(UNMAPPED)}, feature_order=feature_order,
            detector=detector))
    for title, items in (("missing", missing), ("unexpected", unexpected), ("mismatched shapes", mismatched)):
        if items:
            shown = "\n    ".join(items[:20]) + (f"\n    ... and {len(items) - 20} more" if len(items) > 20 else "")
            lines.append(f"  {len(items)} {title}:\n    {shown}")
    raise CheckpointError("\n".join(lines))


def _check_values(state_dict: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor],
                  skip: Callable[[str], bool], names: Mapping[str, str], source: str) -> None:
    """The value half of :func:`check_state_dict`, once keys and shapes fit: one pass."""
    bad = [f"tensor {names.get(k, k)!r} {problem}" for k, v in state_dict.items()
           if k in expected and not skip(k) and (problem := value_problem(k, v)) is not None]
    if not bad:
        return
    more = ""
    if len(bad) > 1:
        rest = bad[1:]
        more = f"\n  {len(rest)} more bad tensors:\n    " + "\n    ".join(rest[:20]) + \
            (f"\n    ... and {len(rest) - 20} more" if len(rest) > 20 else "")
    raise CheckpointError(f"Checkpoint {source}: {bad[0]}{more}")


def arch_problems(meta: Mapping[str, str], model: SlowFast) -> list[str]:
    """How a file's metadata disagrees with the model's architecture (empty: it fits).

    Example:
        >>> import slowfast_zoo as sz
        >>> model = sz.create_model("slowfast_r50_4x16x1")
        >>> arch_problems({"architecture": "slowfast_r50_4x16x1", "fusion_kernel": "5"}, model)
        []
        >>> arch_problems({"fusion_kernel": "7"}, model)
        ['fusion kernel 7 (model: 5)']
    """
    spec = model.spec
    problems = []
    if "architecture" in meta and meta["architecture"] != spec.name:
        problems.append(f"architecture {meta['architecture']} (model: {spec.name})")
    if "fusion_kernel" in meta and meta["fusion_kernel"] != str(spec.fusion_kernel):
        problems.append(f"fusion kernel {meta['fusion_kernel']} (model: {spec.fusion_kernel})")
    if "lateral_norm" in meta and meta["lateral_norm"] != str(spec.lateral_norm):
        problems.append(f"lateral_norm {meta['lateral_norm']} (model: {spec.lateral_norm})")
    return problems


def _published_differs(url: str | None, file_classes: int | None) -> CheckpointError | None:
    """The error for a published file whose classifier is not the size its record says
    (pytorchvideo#67 reports a 400-class head in the Charades file); ``None`` otherwise."""
    record = next((c for c in PRETRAINED.values() if url is not None and url in (c.url, *c.alternative_urls)), None)
    if record is None or file_classes is None or file_classes == record.num_classes:
        return None
    return CheckpointError(
        f"The file published for {record.name} ({url}) has a {file_classes}-class classifier, but the "
        f"registry records {record.num_classes} classes for it: the published file is not what its record "
        f"describes. Pass num_classes={file_classes} to use the file's classifier, or "
        f"num_classes={record.num_classes} with another file.")


_FAMILY_NAMES = {"mmaction2": "an MMAction2", "pytorchvideo": "a PyTorchVideo", "pyslowfast": "a PySlowFast",
                 "caffe2": "a PySlowFast caffe2", "slowfast_zoo": "a slowfast_zoo"}
_ORDER_NAMES = {"fast_slow": "the fast pathway's features first, then the slow pathway's (MMAction2)",
                "slow_fast": "the slow pathway's features first, then the fast pathway's (PySlowFast, "
                             "PyTorchVideo)"}


def feature_order_error(converted: Converted, model: SlowFast) -> CheckpointError:
    """The refusal of a classifier whose columns are in the other pathway order than the model's.

    Shapes cannot tell the orders apart (MMAction2's ``slowfast_r50_8x8x1_ln`` and
    ``pysf_slowfast_r50_8x8`` have the same ones): loaded, the classifier would weigh each
    pathway's features with the other's columns.

    Example:
        >>> import slowfast_zoo as sz
        >>> from slowfast_zoo.weights.convert import convert_checkpoint
        >>> from slowfast_zoo.weights.readers import Checkpoint
        >>> ckpt = Checkpoint({"head.projection.bias": torch.zeros(400)}, "pyslowfast", "SLOWFAST_8x8_R50.pkl")
        >>> model = sz.create_model("slowfast_r50_8x8x1_ln")
        >>> print(feature_order_error(convert_checkpoint(ckpt), model))  # doctest: +ELLIPSIS
        Checkpoint SLOWFAST_8x8_R50.pkl is a PySlowFast file: its classifier's columns take the slow pathway's features first, ...
    """
    file_order = converted.feature_order or ""
    family = _FAMILY_NAMES.get(converted.key_family, "a")
    hint = fitting_weights_hint({k: v for k, v in converted.state_dict.items() if not k.startswith(UNMAPPED)},
                                feature_order=file_order, detector=converted.is_detector)
    return CheckpointError(
        f"Checkpoint {converted.checkpoint.source} is {family} file: its classifier's columns take "
        f"{_ORDER_NAMES.get(file_order, file_order)}, but {model.spec.name} joins "
        f"{_ORDER_NAMES[model.spec.feature_order]}. The shapes fit, the scores would not. {hint} "
        f"To use only its backbone, pass another num_classes (a fresh classifier).")


def apply_converted(model: SlowFast, converted: Converted, *, published_classes: int) -> bool:
    """Check ``converted`` against ``model`` once and load it; True when the file's classifier was kept.

    The file's class names (a fine-tuned file, a saved model) become ``model.class_names`` when
    its classifier is kept: they only describe the classifier they were saved with.

    Raises:
        CheckpointError: weights of another network (listing every missing, unexpected and
            mismatched key, with the registered weights the file fits), a classifier of
            another size than the model's own class count, a classifier whose columns are in
            the other pathway order (PySlowFast's slow-then-fast into an MMAction2
            architecture, or the reverse: :func:`feature_order_error`), or a tensor holding
            non-float, NaN or infinite values (or a negative running variance), named as in
            the file.

    Example:
        >>> import slowfast_zoo as sz
        >>> from slowfast_zoo.weights.convert import convert_checkpoint
        >>> from slowfast_zoo.weights.readers import Checkpoint
        >>> donor = sz.create_model("slowfast_r50_4x16x1", num_classes=4)
        >>> model = sz.create_model("slowfast_r50_4x16x1", num_classes=4)
        >>> converted = convert_checkpoint(Checkpoint(donor.state_dict(), "slowfast_zoo", "mine.safetensors"))
        >>> apply_converted(model, converted, published_classes=400)
        True
        >>> torch.equal(model.fc.weight, donor.fc.weight)
        True
    """
    ckpt = converted.checkpoint
    sd = converted.state_dict
    source = ckpt.source
    # The converted cache records which model first converted the published file; any model
    # the file fits may use it. A user's own file must be for this network.
    problems = [] if ckpt.from_cache else arch_problems(ckpt.metadata, model)
    if problems:
        raise CheckpointError(f"Checkpoint {source} was converted for another network: "
                              f"{'; '.join(problems)}.")
    file_classes = classifier_rows(sd)
    if converted.is_detector and model.spec.roi is None and model.num_classes == published_classes:
        raise CheckpointError(
            f"Checkpoint {source} is an action detector's (its classifier takes RoI features), "
            f"{model.spec.name} a video classifier: load it with a detection architecture "
            f"(slowfast_zoo.list_models('*ava*')), or pass another num_classes to use only its backbone.")
    if file_classes is not None and model.spec.roi is not None and model.spec.roi.background_class:
        file_classes -= 1  # MMAction2's AVA classifiers: a background row before the actions
    try:
        keep: bool | None = keep_file_classifier(file_classes, model, published_classes, source)
    except CheckpointError as e:
        classifier_error = e
        keep = None
    # The backbone first: a file of another network is reported as such (with the names it
    # fits), not as a classifier-size problem.
    check_state_dict(sd, model, source=source, ignore_classifier=not keep, source_keys=converted.source_keys,
                     feature_order=converted.feature_order, detector=converted.is_detector)
    if keep is None:
        raise _published_differs(ckpt.url, file_classes) or classifier_error
    if keep and converted.feature_order not in (None, model.spec.feature_order):
        raise feature_order_error(converted, model)
    if keep:
        model.load_state_dict(sd, strict=True)
        names = ckpt.class_names
        if names is not None and len(names) == model.num_classes:
            model.class_names = names
        return True
    model.load_state_dict({k: v for k, v in sd.items() if not k.startswith("fc.")}, strict=False)
    log.info("Loaded all weights of %s except the classifier: the checkpoint has %s classes, the "
             "model %d; the classifier is freshly initialised (normal std 0.01, bias 0).",
             source, file_classes if file_classes is not None else "no", model.num_classes)
    return False
