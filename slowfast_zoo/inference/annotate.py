"""Results drawn on video frames: top-k labels in a box, person boxes with their actions; the
annotated copy of a video (``slowfast-zoo predict VIDEO --out annotated.mp4``).

Drawing is Pillow's (a dependency of torchvision), with its default font at a size that follows
the frame's (``ImageFont.load_default(size=...)``, Pillow >= 10.1 with FreeType; the small
bitmap font otherwise). Both drawing functions take a :class:`PIL.Image.Image` (RGB or RGBA) or
an ``[H, W, 3]`` uint8 array, draw on it in place and return it. Text that comes from files (the
class names of a saved model) is drawn with its control characters escaped, one line each.

:func:`write_annotated_video` re-encodes a video with its predictions on every frame, through
:func:`slowfast_zoo.data.video_writer.reencode_video` (same frame count, rate and size as the
input; H.264; written atomically; audio dropped): the whole video's top-k on each frame, or,
for window predictions (:func:`slowfast_zoo.predict_windows`), each frame its window's
(:func:`window_for_frame`).

Example:
    >>> from PIL import Image
    >>> from slowfast_zoo.inference.engine import Prediction
    >>> image = Image.new("RGB", (320, 240))
    >>> image = draw_labels(image, label_lines([Prediction(5, "archery", 0.875)]))
    >>> image.getpixel((2, 2)), image.getpixel((300, 200))  # the box's corner, far from it
    ((0, 0, 0), (0, 0, 0))
    >>> image = draw_boxes(image, [[40, 60, 200, 230]], [[("ride a bike", 0.9)]])
    >>> image.getpixel((40, 150)) != (0, 0, 0)  # on the box's left edge
    True
"""

from __future__ import annotations

import bisect
import functools
import os
import unicodedata
from collections.abc import Sequence
from typing import TypeVar, Union

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from slowfast_zoo.data.decode import VideoReader
from slowfast_zoo.data.video_writer import EncodedVideo, Overlay, reencode_video
from slowfast_zoo.errors import UsageError, WrongTypeError
from slowfast_zoo.inference.detect import KeyframeActions
from slowfast_zoo.inference.engine import Prediction
from slowfast_zoo.inference.windows import WindowPrediction

__all__ = ["draw_labels", "draw_boxes", "label_lines", "font_size_for", "window_for_frame",
           "keyframe_for_time", "detection_overlay", "write_detections_video",
           "prediction_overlay", "write_annotated_video", "PALETTE", "EncodedVideo"]

#: An image drawn on: a PIL image (RGB or RGBA), or an ``[H, W, 3]`` uint8 array.
ImageT = TypeVar("ImageT", Image.Image, np.ndarray)
#: One label line of a box: the text itself, ``(label, score)``, or a :class:`Prediction`.
LabelItem = Union[str, tuple[str, float], Prediction]
RGB = tuple[int, int, int]

#: Box colours, in order (Tableau 10, then darker and lighter companions): neighbours differ in hue.
PALETTE: tuple[RGB, ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
    (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207), (174, 199, 232), (255, 187, 120),
    (152, 223, 138), (255, 152, 150), (197, 176, 213), (196, 156, 148), (247, 182, 210), (219, 219, 141),
)
_MAX_LINE_CHARS = 80  # a longer class name is cut: no frame is wide enough to show it whole
_LABEL_BACKGROUND = (0, 0, 0, 160)  # translucent black: the video stays visible behind the text
_UNSAFE = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))


# ----------------------------------------------------------------------------- text
def _size_option(value: int | None, name: str) -> int | None:
    """``value`` if None or an int >= 1 (a size in pixels), else a :class:`UsageError`."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
        raise UsageError(f"{name} must be a whole number of pixels >= 1, got {value!r}")
    return None if value is None else int(value)


def font_size_for(height: int, width: int) -> int:
    """Text height in pixels for a ``width`` x ``height`` frame: 4 % of its short side, at least 8.

    Example:
        >>> font_size_for(240, 320), font_size_for(720, 1280), font_size_for(48, 64)
        (10, 29, 8)
    """
    return max(8, round(min(height, width) * 0.04))


@functools.lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's default font at ``size`` pixels; its fixed-size bitmap font where Pillow cannot scale it."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError, AttributeError):  # Pillow < 10.1, or no FreeType
        return ImageFont.load_default()


def _clean(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> str:
    """``text`` as one drawable line: control, format and separator characters escaped (a newline
    in a class name would start a line of its own), cut at :data:`_MAX_LINE_CHARS`; Latin-1 only
    for the bitmap font, which has no other glyphs."""
    if not text.isprintable():
        text = "".join(ascii(ch)[1:-1] if unicodedata.category(ch) in _UNSAFE else ch for ch in text)
    if len(text) > _MAX_LINE_CHARS:
        text = text[:_MAX_LINE_CHARS - 3] + "..."
    if not isinstance(font, ImageFont.FreeTypeFont):
        text = text.encode("latin-1", "replace").decode("latin-1")
    return text


def _item_text(item: LabelItem) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, Prediction):
        return f"{item.label} {item.probability:.2f}"
    label, score = item
    return f"{label} {float(score):.2f}"


def label_lines(predictions: Sequence[Prediction]) -> list[str]:
    """The text of top-k predictions, one line each: ``"87.5% archery"``.

    Example:
        >>> label_lines([Prediction(5, "archery", 0.875), Prediction(9, "bowling", 0.0625)])
        ['87.5% archery', ' 6.2% bowling']
    """
    return [f"{p.probability:5.1%} {p.label}" for p in predictions]


# ----------------------------------------------------------------------------- images
def _as_image(image: Image.Image | np.ndarray) -> tuple[Image.Image, np.ndarray | None]:
    """A PIL image to draw on, and the array to copy it back into (``None`` for a PIL input)."""
    if isinstance(image, Image.Image):
        if image.mode not in ("RGB", "RGBA"):
            raise UsageError(f"an RGB or RGBA image is drawn on, got mode {image.mode!r}")
        return image, None
    if not isinstance(image, np.ndarray):
        raise WrongTypeError(f"an image is a PIL image or an [H, W, 3] uint8 array, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise UsageError(f"an image array is [H, W, 3] uint8, got {image.dtype} {image.shape}")
    if not image.flags.writeable:
        raise UsageError("the image array is read-only: it is drawn on in place (pass a copy)")
    return Image.fromarray(image), image


def _finish(image: Image.Image, array: np.ndarray | None) -> Image.Image | np.ndarray:
    if array is None:
        return image
    array[...] = np.asarray(image)
    return array


def _block(draw: ImageDraw.ImageDraw, lines: list[str], font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
           size: int) -> tuple[int, int, int, int]:
    """``(width, height, line height, padding)`` of a box holding ``lines``."""
    pad = max(2, size // 3)
    _, top, _, bottom = draw.textbbox((0, 0), "Ag", font=font)
    line_h = int(np.ceil(bottom - top)) + max(1, size // 4)
    width = max(int(np.ceil(draw.textlength(line, font=font))) for line in lines)
    return width + 2 * pad, len(lines) * line_h + 2 * pad - max(1, size // 4), line_h, pad


def _text(draw: ImageDraw.ImageDraw, xy: tuple[int, int], lines: list[str],
          font: ImageFont.FreeTypeFont | ImageFont.ImageFont, size: int, background: tuple[int, ...],
          ink: tuple[int, ...]) -> None:
    """``lines`` in a filled box whose top-left corner is ``xy``."""
    width, height, line_h, pad = _block(draw, lines, font, size)
    x, y = xy
    top = int(draw.textbbox((0, 0), "Ag", font=font)[1])
    draw.rectangle((x, y, x + width - 1, y + height - 1), fill=background)
    for i, line in enumerate(lines):
        draw.text((x + pad, y + pad + i * line_h - top), line, font=font, fill=ink)


def draw_labels(image: ImageT, lines: Sequence[str], *, font_size: int | None = None) -> ImageT:
    """Draw ``lines`` (e.g. :func:`label_lines` of the top-k) in a translucent box at the top-left.

    Args:
        image: the frame: a PIL image (RGB/RGBA) or an ``[H, W, 3]`` uint8 array, drawn on in place.
        lines: the text, one entry per line (control characters are shown escaped).
        font_size: text height in pixels (default: :func:`font_size_for` the frame).

    Returns:
        ``image``, drawn on.

    Example:
        >>> frame = np.zeros((240, 320, 3), np.uint8)
        >>> _ = draw_labels(frame, ["87.5% archery", " 6.2% bowling"])
        >>> bool(frame[:40, :120].any()), bool(frame[60:].any())  # text near the corner only
        (True, False)
    """
    pil, array = _as_image(image)
    font_size = _size_option(font_size, "font_size")
    if not lines:
        return image
    size = font_size or font_size_for(pil.height, pil.width)
    font = _font(size)
    draw = ImageDraw.Draw(pil, "RGBA")
    margin = max(2, size // 2)
    _text(draw, (margin, margin), [_clean(str(line), font) for line in lines], font, size, _LABEL_BACKGROUND,
          (255, 255, 255, 255))
    return _finish(pil, array)  # type: ignore[return-value]  # same kind as given


def _box_array(boxes: Sequence[Sequence[float]] | np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(boxes, torch.Tensor):
        boxes = boxes.detach().to("cpu", torch.float64).numpy()
    array = np.asarray(boxes, dtype=np.float64)
    if array.size == 0:
        return array.reshape(0, 4)
    if array.ndim != 2 or array.shape[1] != 4:
        raise UsageError(f"boxes are [N, 4] (x1, y1, x2, y2 in pixels), got shape {array.shape}")
    bad = ~np.isfinite(array).all(axis=1) | (array[:, 2] < array[:, 0]) | (array[:, 3] < array[:, 1])
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise UsageError(f"box {k} is {array[k].tolist()}: a box is finite (x1, y1, x2, y2) with x1 <= x2, y1 <= y2")
    return array


def draw_boxes(image: ImageT, boxes: Sequence[Sequence[float]] | np.ndarray | torch.Tensor,
               labels_per_box: Sequence[Sequence[LabelItem]] | None = None, *,
               colors: Sequence[RGB] | None = None, box_ids: Sequence[int] | None = None,
               font_size: int | None = None, line_width: int | None = None) -> ImageT:
    """Draw boxes (pixels, ``x1, y1, x2, y2``), each with its label lines just above it.

    Boxes are clipped to the frame (a box wholly outside is not drawn); a label block that would
    leave the frame at the top is drawn inside the box's top edge, one past the right edge is
    moved left. Outlines are drawn first, labels over them.

    Args:
        image: the frame: a PIL image (RGB/RGBA) or an ``[H, W, 3]`` uint8 array, drawn on in place.
        boxes: ``[N, 4]`` pixel coordinates (a list, array or tensor).
        labels_per_box: per box, its lines, best first: text, ``(label, score)`` (shown as
            ``"label 0.87"``) or :class:`~slowfast_zoo.inference.Prediction`; ``None``: outlines only.
        colors: one colour per box (cycled); default: :data:`PALETTE`, by ``box_ids``.
        box_ids: a number per box (a track id) choosing its palette colour, so that a person
            keeps a colour from frame to frame; default: the box's position.
        font_size: text height in pixels (default: 80 % of :func:`font_size_for` the frame).
        line_width: outline width in pixels (default: 1 per 200 pixels of the short side, at least 1).

    Returns:
        ``image``, drawn on.

    Raises:
        UsageError: boxes not ``[N, 4]``, not finite or inverted; labels for another number of boxes.

    Example:
        >>> frame = np.zeros((240, 320, 3), np.uint8)
        >>> _ = draw_boxes(frame, [[10, 100, 60, 200], [200, 80, 400, 239]],
        ...                [[("stand", 0.91), ("talk to", 0.4)], ["watch (a person)"]])
        >>> frame[150, 10].tolist(), frame[150, 319].tolist()  # left edge of box 0, box 1 clipped
        ([31, 119, 180], [255, 127, 14])
        >>> bool(frame[150, 30].any())  # inside box 0: untouched
        False
    """
    pil, array = _as_image(image)
    font_size, line_width = _size_option(font_size, "font_size"), _size_option(line_width, "line_width")
    coords = _box_array(boxes)
    if labels_per_box is not None and len(labels_per_box) != len(coords):
        raise UsageError(f"{len(labels_per_box)} label lists for {len(coords)} boxes")
    if box_ids is not None and len(box_ids) != len(coords):
        raise UsageError(f"{len(box_ids)} box ids for {len(coords)} boxes")
    if len(coords) == 0:
        return image
    _draw_boxes_on(pil, coords, labels_per_box, list(colors) if colors else list(PALETTE), box_ids,
                   font_size, line_width)
    return _finish(pil, array)  # type: ignore[return-value]  # same kind as given


def _draw_boxes_on(pil: Image.Image, coords: np.ndarray, labels_per_box: Sequence[Sequence[LabelItem]] | None,
                   palette: list[RGB], box_ids: Sequence[int] | None, font_size: int | None,
                   line_width: int | None) -> None:
    """:func:`draw_boxes` on a PIL image, its arguments checked."""
    width, height = pil.size
    short = min(width, height)
    size = font_size or max(8, round(font_size_for(height, width) * 0.8))
    # Pillow draws a width-w outline as w rectangles: one wider than the frame fills the same pixels.
    stroke = min(line_width or max(1, round(short / 200)), max(width, height))
    font = _font(size)
    draw = ImageDraw.Draw(pil, "RGBA")
    drawn: list[tuple[int, int, int, RGB]] = []  # (box index, left, top, colour) of visible boxes
    for k, (x1, y1, x2, y2) in enumerate(coords.tolist()):
        if x2 < 0 or y2 < 0 or x1 > width - 1 or y1 > height - 1:
            continue  # wholly outside the frame
        left, top = int(round(max(x1, 0))), int(round(max(y1, 0)))
        right, bottom = int(round(min(x2, width - 1))), int(round(min(y2, height - 1)))
        key = k if box_ids is None else int(box_ids[k])
        r, g, b = (int(c) for c in palette[key % len(palette)][:3])
        draw.rectangle((left, top, right, bottom), outline=(r, g, b), width=stroke)
        drawn.append((k, left, top, (r, g, b)))
    for box, box_left, box_top, rgb in drawn:
        items = [] if labels_per_box is None else list(labels_per_box[box])
        if not items:
            continue
        lines = [_clean(_item_text(item), font) for item in items]
        block_w, block_h = _block(draw, lines, font, size)[:2]
        y = box_top - block_h if box_top - block_h >= 0 else box_top
        x = max(0, min(box_left, width - block_w))
        luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
        ink = (0, 0, 0, 255) if luma > 140 else (255, 255, 255, 255)
        _text(draw, (x, y), lines, font, size, (*rgb, 220), ink)


# ----------------------------------------------------------------------------- videos
def window_for_frame(windows: Sequence[WindowPrediction], frame_index: int) -> WindowPrediction | None:
    """The window whose result frame ``frame_index`` shows: of the windows holding the frame
    (``start_frame <= frame_index < end_frame``), the one whose centre is nearest (the earlier
    on a tie); ``None`` when no window holds it (``stride > window`` leaves gaps).

    ``windows`` are in the order :func:`slowfast_zoo.predict_windows` yields them (by start).

    Example:
        >>> ws = [WindowPrediction(k, 3, 2.0 * k, 2.0 * k + 4, 50 * k, min(50 * k + 100, 200)) for k in range(3)]
        >>> [window_for_frame(ws, f).index for f in (0, 74, 76, 199)]
        [0, 0, 1, 2]
    """
    return _WindowIndex(windows).find(frame_index)


class _WindowIndex:
    """:func:`window_for_frame` for many frames: windows sorted once, a frame found by bisection
    (starts, ends and centres of the windows all grow with their index)."""

    def __init__(self, windows: Sequence[WindowPrediction]) -> None:
        self.windows = list(windows)
        self.starts = [w.start_frame for w in self.windows]
        self.ends = [w.end_frame for w in self.windows]
        self.centres = [(w.start_frame + w.end_frame) / 2 for w in self.windows]

    def find(self, frame_index: int) -> WindowPrediction | None:
        hi = bisect.bisect_right(self.starts, frame_index)  # windows starting at or before it
        lo = bisect.bisect_right(self.ends, frame_index)  # windows ending at or before it
        if lo >= hi:
            return None
        middle = frame_index + 0.5  # the frame spans [k, k + 1)
        j = bisect.bisect_left(self.centres, middle, lo, hi)
        best = [i for i in (j - 1, j) if lo <= i < hi]
        return self.windows[min(best, key=lambda i: abs(self.centres[i] - middle))]


def prediction_overlay(predictions: Sequence[Prediction] | Sequence[WindowPrediction], *,
                       font_size: int | None = None) -> Overlay:
    """The per-frame drawing of :func:`write_annotated_video`, for
    :func:`slowfast_zoo.data.video_writer.reencode_video`.

    Args:
        predictions: the whole video's top-k (each frame shows them), or window predictions (each
            frame shows its window's bounds and top-k: :func:`window_for_frame`; a frame in no
            window is left as it is).
        font_size: text height (default: :func:`font_size_for` the frame).

    Raises:
        WrongTypeError: a mix of both kinds, or anything else.

    Example:
        >>> overlay = prediction_overlay([Prediction(5, "archery", 0.875)])
        >>> frame = overlay(0, 0.0, Image.new("RGB", (64, 48)))
        >>> pixels = np.asarray(frame)
        >>> bool(pixels[:16, :40].any()), bool(pixels[32:].any())  # the text's corner, below it
        (True, False)
    """
    items = list(predictions)
    font_size = _size_option(font_size, "font_size")
    if all(isinstance(p, WindowPrediction) for p in items) and items:
        index = _WindowIndex(items)  # type: ignore[arg-type]
        cache: dict[int, list[str]] = {}

        def windows_overlay(frame_index: int, seconds: float, image: Image.Image) -> Image.Image:
            w = index.find(frame_index)
            if w is None:
                return image
            if w.index not in cache:
                cache.clear()  # one window's text at a time: frames come in order
                cache[w.index] = [f"{w.start:.1f}-{w.end:.1f} s", *label_lines(w.topk)]
            return draw_labels(image, cache[w.index], font_size=font_size)

        return windows_overlay
    if not all(isinstance(p, Prediction) for p in items):
        kinds = sorted({type(p).__name__ for p in items})
        raise WrongTypeError(f"predictions are Prediction (a whole video's top-k) or WindowPrediction "
                             f"objects, got {', '.join(kinds)}")
    lines = label_lines(items)  # type: ignore[arg-type]

    def video_overlay(frame_index: int, seconds: float, image: Image.Image) -> Image.Image:
        return draw_labels(image, lines, font_size=font_size)

    return video_overlay


def write_annotated_video(video: str | os.PathLike[str] | VideoReader, out: str | os.PathLike[str],
                          predictions: Sequence[Prediction] | Sequence[WindowPrediction], *,
                          font_size: int | None = None, progress: bool = False) -> EncodedVideo:
    """Write a copy of ``video`` with its predictions drawn on every frame (top-left box).

    The copy has the input's frames (those that decode, whatever the container claims), frame
    rate and size, re-encoded in H.264 (see :mod:`slowfast_zoo.data.video_writer` for odd sizes
    and fallbacks); audio is not copied. ``out`` is written atomically (a hidden temporary file
    in its folder, renamed), never through a symbolic link; leftovers of a killed run are removed.

    Args:
        video: the video file (or an open :class:`~slowfast_zoo.data.VideoReader` of it).
        out: the annotated copy: ``.mp4``, ``.m4v``, ``.mov``, ``.mkv`` or ``.avi``.
        predictions: :func:`slowfast_zoo.predict`'s top-k (shown on every frame) or the
            :class:`~slowfast_zoo.inference.windows.WindowPrediction` list of
            :func:`slowfast_zoo.predict_windows` (each frame its window's: :func:`window_for_frame`).
        font_size: text height in pixels (default: 4 % of the frame's short side).
        progress: a frame counter on stderr (only on a terminal).

    Returns:
        :class:`~slowfast_zoo.data.video_writer.EncodedVideo`: path, frames, fps, size, codec.

    Example:
        >>> import slowfast_zoo as sz
        >>> model = sz.create_model("slowfast_r50_4x16x1", pretrained=True)  # doctest: +SKIP
        >>> top5 = sz.predict(model, "clip.mp4", views=1)  # doctest: +SKIP
        >>> write_annotated_video("clip.mp4", "clip_labels.mp4", top5).num_frames  # doctest: +SKIP
        300
        >>> windows = list(sz.predict_windows(model, "long.mp4", window=4, views=1))  # doctest: +SKIP
        >>> write_annotated_video("long.mp4", "long_labels.mp4", windows)  # doctest: +SKIP
    """
    overlay = prediction_overlay(predictions, font_size=font_size)
    return reencode_video(video, out, overlay, progress=progress)


# ----------------------------------------------------------------------------- detections
def keyframe_for_time(times: Sequence[float], seconds: float, reach: float) -> int | None:
    """The index of the keyframe nearest to ``seconds`` (the earlier on a tie), if within ``reach``.

    Example:
        >>> [keyframe_for_time([1.0, 2.0], t, 0.5) for t in (0.4, 0.6, 1.5, 2.4, 2.6)]
        [None, 0, 0, 1, None]
    """
    j = bisect.bisect_left(times, seconds)
    best = [i for i in (j - 1, j) if 0 <= i < len(times)]
    if not best:
        return None
    i = min(best, key=lambda i: (abs(times[i] - seconds), i))
    return i if abs(times[i] - seconds) <= reach + 1e-9 else None


def detection_overlay(results: Sequence[KeyframeActions], *, font_size: int | None = None) -> Overlay:
    """The per-frame drawing of :func:`write_detections_video`: each frame shows the person boxes
    and top actions of the keyframe nearest to it in time, within half the keyframe spacing
    (AVA's keyframes every second: +-0.5 s), as MMAction2's and PySlowFast's demos hold each
    prediction over the frames around its keyframe.

    Example:
        >>> from slowfast_zoo.inference.detect import Action, PersonActions
        >>> person = PersonActions((4.0, 4.0, 40.0, 40.0), 0.99, (Action(12, "stand", 0.9),), ())
        >>> overlay = detection_overlay([KeyframeActions(1.0, 25, (person,))])
        >>> frame = np.asarray(overlay(25, 1.0, Image.new("RGB", (64, 48))))
        >>> bool(frame[20, 4].any()), bool(np.asarray(overlay(0, 0.0, Image.new("RGB", (64, 48)))).any())
        (True, False)
    """
    font_size = _size_option(font_size, "font_size")
    keyframes = sorted(results, key=lambda k: k.time)
    times = [k.time for k in keyframes]
    gaps = [b - a for a, b in zip(times, times[1:]) if b > a]
    reach = min(gaps) / 2 if gaps else 0.5

    def overlay(frame_index: int, seconds: float, image: Image.Image) -> Image.Image:
        i = keyframe_for_time(times, seconds, reach)
        if i is None or not keyframes[i].persons:
            return image
        persons = keyframes[i].persons
        labels = [[(a.name, a.score) for a in p.actions] for p in persons]
        return draw_boxes(image, [p.box for p in persons], labels, font_size=font_size)

    return overlay


def write_detections_video(video: str | os.PathLike[str] | VideoReader, results: Sequence[KeyframeActions],
                           out: str | os.PathLike[str], *, font_size: int | None = None,
                           progress: bool = False) -> EncodedVideo:
    """Write a copy of ``video`` with :func:`slowfast_zoo.detect`'s boxes and actions drawn
    (:func:`detection_overlay`); the copy is made as :func:`write_annotated_video` makes it.

    Example:
        >>> import slowfast_zoo as sz
        >>> results = sz.detect(model, "clip.mp4")  # doctest: +SKIP
        >>> write_detections_video("clip.mp4", results, "clip_actions.mp4").num_frames  # doctest: +SKIP
        300
    """
    return reencode_video(video, out, detection_overlay(results, font_size=font_size), progress=progress)
