"""Running a model over many views: the one inference loop shared by predict, evaluate and features.

Views are run in chunks (bounded memory on any device), under ``torch.inference_mode``, with the
fast path on by default: BatchNorm folded into convs (``SlowFast.fuse``) and channels_last_3d
memory format, in which every conv but the fast stem runs as a 2-D convolution (``layers.Conv3d``).
Outputs stay within 1e-4 of the golden logits; the measured speed-ups are in
benchmarks/RESULTS.md ("Model speed").
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from slowfast_zoo.models import SlowFast
from slowfast_zoo.models.layers import is_channels_last_3d

__all__ = ["prepare_model", "run_views", "default_views_per_batch", "resolve_device"]


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` -> CUDA when available, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def default_views_per_batch(device: torch.device) -> int:
    """3 views per forward on CPU, 10 on accelerators.

    On 2 cores 1 and 3 views per forward are equally fast (1.16 vs 1.17 s/view, r50 4x16x1; 1 view
    peaks ~290 MB lower); 3 gives CPUs with more cores more independent work per conv.
    """
    return 3 if device.type == "cpu" else 10


def prepare_model(model: SlowFast, *, device: str | torch.device | None = None, fuse: bool = True,
                  channels_last: bool = True) -> SlowFast:
    """Put ``model`` in eval mode on ``device``, folded and channels_last unless disabled (in place).

    Example:
        >>> model = prepare_model(sz.create_model("slowfast_r50_4x16x1"), device="cpu")  # doctest: +SKIP
    """
    model.eval()
    if fuse and not model.is_fused:
        model.fuse()
    model.to(resolve_device(device))
    if channels_last:
        model.to(memory_format=torch.channels_last_3d)
    return model


def _autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None or dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def run_views(model: SlowFast, views: torch.Tensor, *, views_per_batch: int | None = None,
              dtype: torch.dtype | None = None, pre_logits: bool = False) -> torch.Tensor:
    """Per-view logits (or pooled features) of ``views [V, 3, T, H, W]``, in chunks.

    Args:
        model: a model in eval mode (see :func:`prepare_model`); its device is used.
        views: normalized float views on any device.
        views_per_batch: views per forward pass (default: :func:`default_views_per_batch`).
        dtype: autocast dtype (``torch.bfloat16``/``torch.float16``) or None for float32.
        pre_logits: return the pooled ``[V, 2304]`` features instead of logits.

    Returns:
        float32 tensor ``[V, num_classes]`` (or ``[V, 2304]``) on the CPU.
    """
    if views.ndim != 5:
        raise ValueError(f"views must be [V, 3, T, H, W], got shape {list(views.shape)}")
    param = next(model.parameters())
    device = param.device
    step = default_views_per_batch(device) if views_per_batch is None else views_per_batch
    if step < 1:
        raise ValueError(f"views_per_batch must be >= 1, got {step}")
    channels_last = is_channels_last_3d(param)
    outputs = []
    with torch.inference_mode(), _autocast(device, dtype):
        for part in _chunks(views.shape[0], step):
            x = views[part].to(device, non_blocking=True)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last_3d)
            feats = model.forward_features(x)
            out = model.forward_head(feats, pre_logits=pre_logits)
            outputs.append(out.float().cpu())
    return torch.cat(outputs)
