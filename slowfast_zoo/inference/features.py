"""Per-clip SlowFast embeddings of a video: ``extract_features(model, video)``.

Layout of one embedding (``[2304]``, float32): exactly the vector the classifier sees
(``model.forward_head(model.forward_features(x), pre_logits=True)``), in the checkpoint's own
order, which ``model.fast_channels`` / ``model.slow_channels`` slice (and
:attr:`ClipFeatures.fast_channels` / :attr:`ClipFeatures.slow_channels`): for MMAction2's
architectures the global average over time and space of the fast pathway's last stage
(**channels 0-255**) followed by that of the slow pathway (**channels 256-2303**), its
``SlowFastHead`` order; for the ``pysf_*`` architectures the slow pathway's 2048 channels first,
then the fast pathway's 256 (PySlowFast / PyTorchVideo), pooled as their head pools (the
training crop's kernel, then the mean over head positions).

Clips: by default the model's own test protocol (``clip_len`` frames every ``frame_interval``-th
frame, ``num_clips`` evenly spread clips as MMAction2's test-mode ``SampleFrames``), each seen
through one centre crop (``crop="center"``) after resizing the short side. With ``stride`` (in
frames) the clips are dense instead: starting at frames ``0, stride, 2 * stride, ...`` as long as
the clip's last frame is inside the video (a video shorter than one clip gives one clip from
frame 0, wrapping around like MMAction2's loop rule). ``crop="three"`` averages the embeddings
of the three ThreeCrop views of each clip.

Example:
    >>> import slowfast_zoo as sz
    >>> model = sz.create_model("slowfast_r50_4x16x1", pretrained=True)      # doctest: +SKIP
    >>> feats = sz.extract_features(model, "video.mp4", stride=32)           # doctest: +SKIP
    >>> feats.embeddings.shape, feats.timestamps[0]                          # doctest: +SKIP
    (torch.Size([9, 2304]), tensor([0.0000, 2.1333]))
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from slowfast_zoo.data.presets import VideoSource, open_reader, test_transform
from slowfast_zoo.data.sampling import sample_frames
from slowfast_zoo.inference.device import resolve_device
from slowfast_zoo.inference.engine import default_views_per_batch, prepare_model, run_view_stream, run_views
from slowfast_zoo.models.slowfast import SlowFast
from slowfast_zoo.registry.records import TestProtocol
from slowfast_zoo.weights.writer import encode_metadata, write_safetensors
from slowfast_zoo.errors import UsageError

__all__ = ["ClipFeatures", "extract_features", "dense_clip_starts", "FAST_CHANNELS", "SLOW_CHANNELS"]

log = logging.getLogger(__name__)

#: MMAction2's layout (its architectures): channels ``[0, 256)`` come from the fast pathway,
#: ``[256, 2304)`` from the slow one. Other architectures differ: use ``model.fast_channels`` /
#: ``model.slow_channels`` (or those of :class:`ClipFeatures`).
FAST_CHANNELS = slice(0, 256)
SLOW_CHANNELS = slice(256, 2304)

_CROPS = ("center", "three")


@dataclass
class ClipFeatures:
    """What :func:`extract_features` returns for one video.

    Attributes:
        embeddings: float32 ``[num_clips, 2304]``, in the model's channel order.
        timestamps: float64 ``[num_clips, 2]``: start and end time in seconds of each clip
            (first frame's time, last frame's time + one frame), from the stream's frame rate;
            NaN when the rate is unknown.
        frame_indices: int64 ``[num_clips, clip_len]``: the decoded frame numbers of each clip.
        fps: the frame rate used for the timestamps (0.0 when unknown).
        maps: with ``return_maps=True``, per-clip unpooled ``(slow, fast)`` maps
            (``[num_clips, 2048, T/tau, h, w]`` and ``[num_clips, 256, T, h, w]``; averaged over
            crops for ``crop="three"``); otherwise ``None``.
        fast_channels: where the fast pathway's channels lie in an embedding (``model.fast_channels``).
        slow_channels: where the slow pathway's channels lie (``model.slow_channels``).

    Example:
        >>> feats = ClipFeatures(embeddings=torch.zeros(2, 2304), timestamps=torch.tensor([[0.0, 2.0], [2.0, 4.0]]),
        ...                      frame_indices=torch.zeros(2, 32, dtype=torch.int64), fps=32.0)
        >>> feats.embeddings[:, feats.fast_channels].shape, feats.maps is None, feats.layout
        (torch.Size([2, 256]), True, 'fast[0:256] slow[256:2304]')
    """

    embeddings: torch.Tensor
    timestamps: torch.Tensor
    frame_indices: torch.Tensor
    fps: float
    maps: tuple[torch.Tensor, torch.Tensor] | None = None
    fast_channels: slice = field(default_factory=lambda: FAST_CHANNELS)
    slow_channels: slice = field(default_factory=lambda: SLOW_CHANNELS)

    @property
    def layout(self) -> str:
        """The channel layout, as :meth:`save` records it, e.g. ``"slow[0:2048] fast[2048:2304]"``.

        Example:
            >>> ClipFeatures(torch.zeros(1, 6), torch.zeros(1, 2), torch.zeros(1, 1), 0.0,
            ...              fast_channels=slice(4, 6), slow_channels=slice(0, 4)).layout
            'slow[0:4] fast[4:6]'
        """
        parts = sorted((("fast", self.fast_channels), ("slow", self.slow_channels)), key=lambda p: p[1].start or 0)
        return " ".join(f"{name}[{sl.start}:{sl.stop}]" for name, sl in parts)

    def save(self, path: str | os.PathLike, **metadata: Any) -> Path:
        """Write embeddings, timestamps and frame indices as one ``.safetensors`` file
        (atomically, 0644; ``metadata`` values that are not strings are stored as JSON).

        Example:
            >>> feats.save("video.mp4.safetensors", model="slowfast_r50_4x16x1")  # doctest: +SKIP
        """
        tensors = {"embeddings": self.embeddings, "timestamps": self.timestamps,
                   "frame_indices": self.frame_indices}
        meta = {"fps": repr(self.fps), "layout": self.layout}
        return write_safetensors(path, tensors, {**meta, **encode_metadata(metadata)})


def dense_clip_starts(num_frames: int, clip_len: int, frame_interval: int, stride: int) -> np.ndarray:
    """Start frames of dense sliding clips (see the module docstring).

    Example:
        >>> dense_clip_starts(100, 32, 2, 16).tolist()
        [0, 16, 32]
        >>> dense_clip_starts(10, 32, 2, 16).tolist()
        [0]
    """
    if stride < 1:
        raise UsageError(f"stride must be >= 1 frame, got {stride}")
    span = (clip_len - 1) * frame_interval + 1
    last = num_frames - span
    return np.arange(0, last + 1, stride, dtype=np.int64) if last >= 0 else np.zeros(1, np.int64)


def _clip_indices(num_frames: int, clip_len: int, frame_interval: int, num_clips: int,
                  stride: int | None, rule: str) -> np.ndarray:
    if stride is None:
        return sample_frames(num_frames, clip_len, frame_interval, num_clips, test_mode=True,
                             rule=rule).reshape(num_clips, clip_len)
    starts = dense_clip_starts(num_frames, clip_len, frame_interval, stride)
    idx = starts[:, None] + np.arange(clip_len, dtype=np.int64)[None, :] * frame_interval
    return np.mod(idx, num_frames)  # only wraps when the video is shorter than one clip


def extract_features(model: SlowFast, video: VideoSource, *, clip_len: int | None = None,
                     frame_interval: int | None = None, num_clips: int | None = None,
                     stride: int | None = None, crop: str = "center", crop_size: int | None = None,
                     resize_short_side: int | None = None, return_maps: bool = False,
                     clips_per_chunk: int = 8, views_per_batch: int | None = None,
                     device: str | torch.device | None = None, dtype: torch.dtype | None = None,
                     prepare: bool = True) -> ClipFeatures:
    """Pooled 2304-d SlowFast embeddings of the clips of one video (channel order: the model's,
    see the module docstring).

    Every option left ``None`` comes from the model's test protocol
    (``model.pretrained_cfg.test``: 10 clips of 32 frames every 2nd frame, short side 256,
    crop 256 for the Kinetics-400 weights, placed by the weight's MMAction2 generation's rule). Clips are decoded, transformed and run
    ``clips_per_chunk`` at a time, so memory does not grow with the length of the video.

    Args:
        model: a SlowFast, e.g. ``create_model(name, pretrained=True)``.
        video: a video file, a rawframe folder, or a reader (``VideoReader``...).
        clip_len: frames per clip.
        frame_interval: step between the frames of a clip.
        num_clips: evenly spread clips (test-mode sampling); ignored when ``stride`` is given.
        stride: dense sliding clips, one every ``stride`` frames, over the whole video.
        crop: ``"center"`` (one centre crop per clip) or ``"three"`` (ThreeCrop, embeddings
            averaged over the three crops).
        crop_size: crop side in pixels (default: the protocol's).
        resize_short_side: short side before cropping (default: the protocol's).
        return_maps: also return the unpooled per-pathway maps (memory heavy; use short videos).
        clips_per_chunk: clips decoded and transformed at once.
        views_per_batch: views per forward pass (default: 1 on CPU, 10 on GPU).
        device: compute device (default: CUDA when available).
        dtype: autocast dtype (``torch.bfloat16``/``torch.float16``) or ``None`` for float32.
        prepare: put the model in inference mode first (eval, BatchNorm folded, channels_last,
            in place, see :func:`~slowfast_zoo.inference.prepare_model`); with ``False`` the
            model is used as it is (it must be in eval mode and on ``device``).

    Returns:
        :class:`ClipFeatures` (embeddings ``[num_clips, 2304]`` in the model's channel order,
        timestamps, frame indices).

    Example:
        >>> feats = extract_features(model, "video.mp4", clip_len=32, frame_interval=2, stride=16)  # doctest: +SKIP
    """
    if crop not in _CROPS:
        raise UsageError(f"crop must be one of {_CROPS}, got {crop!r}")
    if clips_per_chunk < 1:
        raise UsageError(f"clips_per_chunk must be >= 1, got {clips_per_chunk}")
    cfg = model.pretrained_cfg
    proto = cfg.test if cfg is not None else TestProtocol()
    L = int(clip_len if clip_len is not None else proto.clip_len)
    step = int(frame_interval if frame_interval is not None else proto.frame_interval)
    K = int(num_clips if num_clips is not None else proto.num_clips)
    S = int(crop_size if crop_size is not None else proto.crop_size)
    short = int(resize_short_side if resize_short_side is not None else proto.resize_short_side)
    if prepare:
        model = prepare_model(model, device=resolve_device(device), channels_last=not return_maps)
    elif model.training:
        raise UsageError("the model is in training mode: call model.eval() or use prepare=True")

    reader, first = open_reader(video, filename_tmpl=proto.filename_tmpl)
    n = int(reader.num_frames)
    # The weight's own generation places the evenly spread clips (0.x or 1.x SampleFrames); for
    # PyTorchVideo / PySlowFast weights (whose samplers pick clips by time, for scoring) the 1.x
    # rule spreads them, and the weight's own transform still resizes, crops and normalizes.
    rule = proto.sampling_rule if proto.sampling_rule in ("0.x", "1.x") else "1.x"
    clips = _clip_indices(n, L, step, K, stride, rule)  # [C, L], before start_index
    crops = 3 if crop == "three" else 1
    embeddings, slows, fasts = [], [], []
    for lo in range(0, len(clips), clips_per_chunk):
        part = clips[lo:lo + clips_per_chunk]
        tf = test_transform(cfg if cfg is not None else proto, clip_len=L, frame_interval=step,
                            num_clips=len(part), resize_short_side=short, crop_size=S, num_crops=crops)
        if return_maps:
            out = run_views(model, tf.read_views(reader, part + first), views_per_batch=views_per_batch,
                            dtype=dtype, pre_logits=True, return_maps=True)
            pooled = out.pooled
        else:  # streamed: a chunk of float views at a time, never all of them
            chunk = views_per_batch or default_views_per_batch(next(model.parameters()).device, (L, S, S))
            pooled = run_view_stream(model, tf.stream_views(reader, part + first, chunk), views_per_batch=chunk,
                                     dtype=dtype, pre_logits=True)
        # Views are crop-major: [crops * clips] -> mean over the crop axis.
        embeddings.append(pooled.view(crops, len(part), -1).mean(0))
        if return_maps:
            slows.append(out.slow.view(crops, len(part), *out.slow.shape[1:]).mean(0))
            fasts.append(out.fast.view(crops, len(part), *out.fast.shape[1:]).mean(0))
    fps = float(getattr(reader, "fps", 0.0) or 0.0)
    starts = clips[:, 0].astype(np.float64)
    ends = clips[:, -1].astype(np.float64) + 1.0
    times = np.stack([starts, ends], 1) / fps if fps > 0 else np.full((len(clips), 2), np.nan)
    return ClipFeatures(embeddings=torch.cat(embeddings), timestamps=torch.from_numpy(times),
                        frame_indices=torch.from_numpy(clips + first), fps=fps,
                        maps=(torch.cat(slows), torch.cat(fasts)) if return_maps else None,
                        fast_channels=model.fast_channels, slow_channels=model.slow_channels)
