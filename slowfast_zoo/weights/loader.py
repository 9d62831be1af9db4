"""The one loading path: resolve -> fetch -> read -> build -> convert -> check and apply -> store.

=====  ========================  =================================================================
step   module                    what it does
=====  ========================  =================================================================
1      :mod:`.source`            a name / URL / path / ``hf-hub:`` / ``local-dir:`` -> what to read
                                 (pure: mistakes are refused before any request)
2      :mod:`.download`          the files on the local disk: cache, verified download, Hub cache
3      :mod:`.readers`           the tensors (format told by the bytes), metadata, ``config.json``
-      the caller's ``build``    the model, once the checkpoint is known (a saved model's
                                 ``config.json`` decides its architecture)
4      :mod:`.convert`           the file's key names -> ours, by the source family's converter
5      :mod:`.apply`             one check (keys, shapes, architecture, classifier), then load
6      :mod:`.writer`            a published ``.pth``'s conversion kept as safetensors beside it
=====  ========================  =================================================================

:func:`slowfast_zoo.create_model` calls :func:`load_weights` for every way of naming a model;
:func:`load_pretrained` fills a model that already exists.

Cache layout, for a published file ``<stem>-<sha8>.pth`` (MMAction2) and a file whose name
carries no hash (PyTorchVideo / PySlowFast: ``<url16>`` = 16 hex digits of the whole URL's
sha256, so that the three ``SLOWFAST_8x8_R50.pyth`` of Kinetics, SSv2 and Charades never share
an entry)::

    $TORCH_HOME/hub/checkpoints/
        <stem>-<sha8>.pth                             # the download, byte-identical to the published file
        <stem>-<sha8>.slowfast_zoo.safetensors        # our keys, written after the first conversion
        <url16>-SLOWFAST_8x8_R50.pyth                 # verified by its trust-on-first-use record
        <url16>-SLOWFAST_8x8_R50.pyth.slowfast_zoo.safetensors

The download is verified against its name (or its recorded sha256) on every load; its
``.safetensors`` conversion is read instead of unpickling it when it records the download's
full sha256 and the current converter version (else it is rebuilt). The conversion records
the source's classifier column order (``feature_order``), checked against every model it fills.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

import torch

from slowfast_zoo.models.slowfast import SlowFast
from slowfast_zoo.registry.records import PretrainedCfg
from slowfast_zoo.weights.apply import apply_converted, check_state_dict
from slowfast_zoo.weights.convert import convert_checkpoint
from slowfast_zoo.weights.download import fetch
from slowfast_zoo.weights.readers import Checkpoint, read_checkpoint
from slowfast_zoo.weights.source import WeightSource, resolve_source
from slowfast_zoo.weights.writer import write_converted_cache

__all__ = ["load_weights", "load_pretrained", "convert_mmaction2_state_dict", "Builder"]

#: ``build(checkpoint) -> (model, published_classes)``: the model to fill and the class count its
#: weight was published or saved with (which decides whether the file's classifier is kept).
Builder = Callable[[Checkpoint], tuple[SlowFast, int]]


def load_weights(source: WeightSource, build: Builder, *, progress: bool = True) -> SlowFast:
    """Fetch, read, build, convert, check, load: the model ``build`` returns, filled from ``source``.

    Args:
        source: what to read (:func:`~slowfast_zoo.weights.source.resolve_source`).
        build: makes the model from what was read (see :data:`Builder`).
        progress: draw a download progress bar on stderr when it is a terminal.

    Raises:
        CheckpointError: unreadable file, or weights of another architecture (listing the
            missing, unexpected and mismatched keys).
        HashMismatchError: a file whose sha256 does not start with the expected prefix.
        DownloadError: the file could not be fetched (names the URL and the cache path).

    Example:
        >>> import slowfast_zoo as sz
        >>> cfg = sz.get_pretrained_cfg("slowfast_r50_4x16x1")
        >>> source = resolve_source(cfg.name, "my_finetune.pth", cfg)
        >>> def build(ckpt):
        ...     return sz.create_model(cfg.name, num_classes=10), cfg.num_classes
        >>> model = load_weights(source, build)  # doctest: +SKIP
    """
    with fetch(source, progress=progress) as files:
        ckpt = read_checkpoint(files)
        model, published_classes = build(ckpt)
        converted = convert_checkpoint(ckpt)
        apply_converted(model, converted, published_classes=published_classes)
        write_converted_cache(model, converted.state_dict, ckpt, source_family=converted.key_family,
                              feature_order=converted.feature_order)
    return model


def load_pretrained(model: SlowFast, cfg: PretrainedCfg, *,
                    checkpoint_path: str | os.PathLike[str] | None = None, progress: bool = True,
                    download_timeout: float | None = None, sha256: str | None = None) -> None:
    """Load published (or given) weights into ``model`` in place (:func:`load_weights`).

    Args:
        model: a :class:`~slowfast_zoo.SlowFast` built for ``cfg`` (its ``spec`` decides the
            expected keys and shapes; its ``num_classes`` whether the classifier is kept).
        cfg: the weight record; its ``url`` and ``sha256_prefix`` are used when
            ``checkpoint_path`` is ``None``.
        checkpoint_path: a local weight file of any format :mod:`.readers` reads (MMAction2
            ``.pth``, PyTorchVideo / PySlowFast ``.pyth``, caffe2 or torch ``.pkl``, slowfast_zoo
            ``.safetensors``), or an http(s) URL of one (verified by the sha256 prefix in its
            file name, else by trust on first use).
        progress: as :func:`load_weights`.
        download_timeout: the longest a download may take, in seconds (default
            ``$SLOWFAST_ZOO_DOWNLOAD_TIMEOUT`` or 3600; stalls end after 60 s regardless).
        sha256: pin the weight file to this full sha256 (see :func:`slowfast_zoo.create_model`).

    Example:
        >>> import slowfast_zoo as sz
        >>> model = sz.create_model("slowfast_r50_4x16x1")
        >>> load_pretrained(model, model.pretrained_cfg)  # doctest: +SKIP
    """
    source = resolve_source(cfg.name, checkpoint_path, cfg, download_timeout=download_timeout, sha256=sha256)
    load_weights(source, lambda ckpt: (model, cfg.num_classes), progress=progress)


def convert_mmaction2_state_dict(state_dict: Mapping[str, torch.Tensor], model: SlowFast, *,
                                 source: str, ignore_classifier: bool = False) -> dict[str, torch.Tensor]:
    """An MMAction2 state dict already in memory, renamed to our keys and checked against ``model``.

    The same converter and check as every file load (steps 4 and 5), for code that builds
    state dicts itself.

    Raises:
        CheckpointError: listing missing, unexpected and shape-mismatched keys.

    Example:
        >>> import slowfast_zoo as sz
        >>> model = sz.create_model("slowfast_r50_4x16x1")
        >>> sd = convert_mmaction2_state_dict({}, model, source="empty")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.CheckpointError: Checkpoint empty does not match the architecture slowfast_r50_4x16x1:...
    """
    converted = convert_checkpoint(Checkpoint(dict(state_dict), "mmaction2", source))
    check_state_dict(converted.state_dict, model, source=source, ignore_classifier=ignore_classifier,
                     source_keys=converted.source_keys)
    sd = converted.state_dict
    return {k: v for k, v in sd.items() if not k.startswith("fc.")} if ignore_classifier else sd
