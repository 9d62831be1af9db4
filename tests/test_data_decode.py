"""Tests of slowfast_zoo.data.decode (VideoReader) and slowfast_zoo.data.rawframes (RawframeReader).

Frame identity is checked against a plain single-threaded full decode with PyAV
(``video_factory.reference_decode``): frame ``k`` is the ``k``-th frame it yields. Damaged and
crafted files (``hostile_files``, issue 13) either read or raise VideoDecodeError naming the path.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.io import encode_jpeg, encode_png
from hostile_files import (DAMAGE, HOSTILE_FRAMES, crafted, damaged_variants, hostile_frame, png16,
                           png_claiming, samples)
from video_factory import codec_available, frame_pattern, make_audio_only, make_video, reference_decode

from slowfast_zoo.data import TestTransform
from slowfast_zoo.data.decode import FrameIndexError, VideoReader
from slowfast_zoo.data import rawframes
from slowfast_zoo.data.rawframes import MAX_FRAME_FILE_BYTES, RawframeReader
from slowfast_zoo.errors import UsageError, VideoDecodeError

pytestmark = pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")

REPO = Path(__file__).resolve().parents[1]
LOCAL_VIDEOS = REPO / "tests" / "data" / "videos"
SHARED_VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "videos"

# file -> decoded frame count, from /work/shared/videos/README.md (PyAV 18.1 full decode).
REAL_VIDEOS = {
    "3gp.3gp": 83,
    "Force_constante.avi": 26,
    "alea.mpg": 162,
    "balle1-vp9.avi": 295,
    "flv.flv": 139,
    "mkv.mkv": 147,
    "mov.mov": 166,
    "mp4.mp4": 166,
    "ogg.ogv": 166,
    "realshort.mp4": 36,
    "small_movie.mp4": 11,
    "webm.webm": 166,
}
GPL_VIDEOS = {"Force_constante.avi", "balle1-vp9.avi", "alea.mpg"}  # not redistributable: ../shared only


def test_mode_indices(n: int, clip_len: int = 32, interval: int = 2, num_clips: int = 10) -> np.ndarray:
    """MMAction2's SampleFrames test-mode indices (docs/SPEC.md 4.2), start_index 0."""
    span = clip_len * interval
    if n > span - 1:
        avg = (n - span + 1) / num_clips
        starts = [int(k * avg + avg / 2) for k in range(num_clips)]
    else:
        starts = [0] * num_clips
    return np.array([(s + j * interval) % n for s in starts for j in range(clip_len)], dtype=np.int64)


test_mode_indices.__test__ = False  # a helper, not a test


def assert_read(reader: VideoReader, ref: np.ndarray, indices, strategy: str = "auto") -> torch.Tensor:
    out = reader.read(indices, strategy=strategy)
    idx = np.asarray(indices, dtype=np.int64)
    assert out.dtype == torch.uint8 and out.shape == (len(idx), *ref.shape[1:])
    # Row by row: ref[idx] of a 720p video would be a 900 MB temporary.
    for i, k in enumerate(idx.tolist()):
        if not np.array_equal(out[i].numpy(), ref[k]):
            raise AssertionError(f"{reader.path.name}: row {i} (frame {k}, strategy {strategy}) differs")
    return out


# --------------------------------------------------------------------------- synthetic videos
SYNTHETIC = {
    # name: (file name, frames, width, height, codec, gop)
    "h264_short": ("h264_short.mp4", 40, 64, 48, "libx264", 12),
    "h264_long": ("h264_long.mp4", 320, 48, 32, "libx264", 12),
    "h264_odd": ("h264_odd.mp4", 30, 66, 38, "libx264", 12),
    "h264_portrait": ("h264_portrait.mkv", 30, 32, 72, "libx264", 12),
    "h264_one": ("h264_one.mp4", 1, 64, 48, "libx264", 12),
    "h264_two": ("h264_two.mkv", 2, 64, 48, "libx264", 12),
    "h264_three": ("h264_three.mp4", 3, 64, 48, "libx264", 12),
    "mpeg4_mkv": ("mpeg4.mkv", 50, 64, 48, "mpeg4", 12),
    "mpeg4_avi": ("mpeg4.avi", 50, 64, 48, "mpeg4", 12),
    "mpeg4_long": ("mpeg4_long.mp4", 200, 48, 32, "mpeg4", 12),
    "vp9": ("vp9.webm", 50, 64, 48, "libvpx-vp9", 12),
}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, np.ndarray]]:
    root = tmp_path_factory.mktemp("videos")
    made = {}
    for key, (name, frames, width, height, codec, gop) in SYNTHETIC.items():
        if not codec_available(codec):
            continue
        path = make_video(root / name, frames, width, height, codec=codec, gop=gop)
        made[key] = (path, reference_decode(path))
    return made


def _get(synthetic, key):
    if key not in synthetic:
        pytest.skip(f"encoder for {key} not available in PyAV's FFmpeg")
    return synthetic[key]


@pytest.mark.slow
@pytest.mark.parametrize("key", list(SYNTHETIC))
def test_synthetic_matches_full_decode(synthetic, key: str) -> None:
    path, ref = _get(synthetic, key)
    expected_frames = SYNTHETIC[key][1]
    reader = VideoReader(path)
    assert len(ref) == expected_frames
    assert reader.num_frames == expected_frames
    assert reader.size == ref.shape[1:3]
    n = reader.num_frames
    rng = np.random.default_rng(0)
    cases = [
        list(range(n)),  # sorted, all
        rng.permutation(n).tolist(),  # unsorted
        [n - 1, 0, n - 1, 0, n // 2, n // 2],  # repeated
        test_mode_indices(n),  # MMAction2 test mode (wraps around for short videos)
        [n - 1],
    ]
    for strategy in ("sequential", "seek", "auto"):
        for indices in cases:
            assert_read(reader, ref, indices, strategy)


def test_frames_are_distinguishable(synthetic) -> None:
    """The synthetic content really tells neighbouring frames apart (else the tests prove nothing)."""
    _, ref = _get(synthetic, "h264_long")
    diffs = np.abs(ref[1:].astype(int) - ref[:-1].astype(int)).reshape(len(ref) - 1, -1).mean(1)
    assert diffs.min() > 5
    np.testing.assert_allclose(ref[7].astype(int), frame_pattern(7, 32, 48).astype(int), atol=60)


def test_seek_strategy_really_seeks_and_matches(synthetic) -> None:
    path, ref = _get(synthetic, "h264_long")
    reader = VideoReader(path)
    assert reader.count_method == "packets"
    sparse = [300, 5, 150, 151, 250, 5]
    assert_read(reader, ref, sparse, "seek")
    assert reader._last_strategy == "seek" and reader._seeks >= 3
    # auto: seeks for a few frames spread over a long video...
    assert_read(reader, ref, sparse, "auto")
    assert reader._last_strategy == "seek"
    # ...but decodes sequentially for clips that cover the video (test mode).
    assert_read(reader, ref, test_mode_indices(reader.num_frames), "auto")
    assert reader._last_strategy == "sequential"


def test_seek_in_mpeg4_and_decode_counted_video(synthetic) -> None:
    path, ref = _get(synthetic, "mpeg4_long")
    reader = VideoReader(path)
    assert_read(reader, ref, [199, 3, 120, 60, 61], "seek")
    # A table built by decoding (no packet count) seeks just as exactly.
    reader2 = VideoReader(path)
    reader2._count_decoded()
    assert reader2.count_method == "decode" and reader2.num_frames == 200
    assert_read(reader2, ref, [199, 3, 120, 60, 61], "seek")
    assert reader2._last_strategy == "seek"


def test_metadata_and_index_types(synthetic) -> None:
    path, ref = _get(synthetic, "h264_short")
    reader = VideoReader(path)
    assert reader.path == Path(path)
    assert reader.fps == pytest.approx(30.0)
    assert reader.duration == pytest.approx(40 / 30, abs=1e-6)
    assert reader.header_frames in (0, 40)
    assert reader.size == (48, 64)
    np.testing.assert_array_equal(reader.read(torch.tensor([3, 1])).numpy(), ref[[3, 1]])
    np.testing.assert_array_equal(reader.read(np.array([[2], [2]])).numpy(), ref[[2, 2]])
    assert reader.read([]).shape == (0, 48, 64, 3)
    for bad in ([40], [0, 41], [-1]):
        with pytest.raises(FrameIndexError, match=path.name):
            reader.read(bad)
    with pytest.raises(IndexError):  # FrameIndexError is also an IndexError...
        reader.read([40])
    with pytest.raises(VideoDecodeError):  # ...and a VideoDecodeError
        reader.read([40])
    with pytest.raises(ValueError, match="strategy"):
        reader.read([0], strategy="fast")
    # A caller-owned output buffer is filled and returned (no allocation per video).
    buf = torch.zeros((4, 48, 64, 3), dtype=torch.uint8)
    assert reader.read([5, 1, 5, 0], out=buf) is buf
    np.testing.assert_array_equal(buf.numpy(), ref[[5, 1, 5, 0]])
    with pytest.raises(ValueError, match="out must be"):
        reader.read([5, 1], out=buf)


def test_decode_counted_video_reads_from_the_counting_pass() -> None:
    """A count by decoding keeps the YUV frames for the next read (one decode, not two)."""
    path = _real_path("small_movie.mp4")
    ref = reference_decode(path)
    reader = VideoReader(path)
    assert reader.num_frames == 11 and reader.count_method == "decode"
    assert_read(reader, ref, test_mode_indices(11))
    assert reader._last_strategy == "cache" and reader._cache is None  # freed after one read
    assert_read(reader, ref, [10, 0, 7])
    assert reader._last_strategy == "sequential"


def test_pickle_and_threads(synthetic) -> None:
    path, ref = _get(synthetic, "mpeg4_avi")
    reader = VideoReader(path, num_threads=1)
    _ = reader.num_frames  # fills the cache of decoded frames, which must not be pickled
    clone = pickle.loads(pickle.dumps(reader))
    assert clone.num_frames == 50 and clone._cache is None
    assert_read(clone, ref, [3, 1, 3])
    assert_read(reader, ref, [3, 1, 3])


def test_packet_count_is_verified_by_decoding(synthetic) -> None:
    """A wrong packet-based table is caught by the sequential pass and corrected."""
    path, ref = _get(synthetic, "h264_short")
    reader = VideoReader(path)
    assert reader.num_frames == 40 and reader.count_method == "packets"
    reader._pts = [p + 1 for p in reader._pts]  # simulate a container whose timestamps lie
    assert_read(reader, ref, [0, 39, 20], "sequential")
    assert reader.count_method == "decode" and reader.num_frames == 40


# --------------------------------------------------------------------------- real-world files
def _real_path(name: str) -> Path:
    local = LOCAL_VIDEOS / name
    if local.exists():
        return local
    shared = SHARED_VIDEOS / name
    if shared.exists():
        return shared
    if name in GPL_VIDEOS:
        pytest.skip(f"not in a clone: needs the project's real-world video collection ({name} is GPL, not redistributable)")
    pytest.fail(f"{name} should be shipped in tests/data/videos")


def test_permitted_videos_are_shipped() -> None:
    for name in REAL_VIDEOS.keys() - GPL_VIDEOS:
        assert (LOCAL_VIDEOS / name).is_file(), name
        assert name in (LOCAL_VIDEOS / "CREDITS.md").read_text()
    for name in GPL_VIDEOS:
        assert not (LOCAL_VIDEOS / name).exists(), f"{name} is GPL: do not ship it"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REAL_VIDEOS))
def test_real_video_count_and_test_mode_read(name: str) -> None:
    path = _real_path(name)
    reader = VideoReader(path)
    assert reader.num_frames == REAL_VIDEOS[name]
    ref = reference_decode(path)
    assert len(ref) == REAL_VIDEOS[name]
    indices = test_mode_indices(reader.num_frames)
    assert_read(reader, ref, indices)
    n = reader.num_frames
    sparse = [n - 1, n // 2, 1, n // 2 + 1, (3 * n) // 4]  # forced seeks where keyframes allow
    assert_read(reader, ref, sparse, "seek")
    if name == "small_movie.mp4":  # 12 packets, one repeats a pts and decodes to nothing
        assert reader.count_method == "decode" and reader.header_frames == 12


@pytest.mark.parametrize("name", ["3gp.3gp", "ogg.ogv", "balle1-vp9.avi", "alea.mpg"])
def test_real_video_seeks_between_keyframes(name: str) -> None:
    """Files with several keyframes: the seek path really seeks (or safely falls back) and is exact."""
    path = _real_path(name)
    reader = VideoReader(path)
    ref = reference_decode(path)
    n = reader.num_frames
    keys = reader._keys
    assert len(keys) >= 3
    indices = [keys[-1] + 1, keys[1], keys[2] + 2, n - 1]
    reader._cache = None  # a decode-counted file would serve the first read from its count pass
    assert_read(reader, ref, indices, "seek")
    assert reader._last_strategy in ("seek", "sequential")


# --------------------------------------------------------------------------- damaged inputs
@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("damaged")
    files: dict[str, Path] = {}
    for ext in (".mp4", ".mkv"):
        src = make_video(root / f"src{ext}", 90, 64, 48)
        data = src.read_bytes()
        half = len(data) // 2
        files[f"half{ext}"] = root / f"half{ext}"
        files[f"half{ext}"].write_bytes(data[:half])
        files[f"header{ext}"] = root / f"header{ext}"
        files[f"header{ext}"].write_bytes(data[:600] if ext == ".mkv" else data[:48])
        flipped = bytearray(data)
        flipped[half : half + 2000] = bytes(b ^ 0xFF for b in flipped[half : half + 2000])
        files[f"flip{ext}"] = root / f"flip{ext}"
        files[f"flip{ext}"].write_bytes(bytes(flipped))
    files["audio.mkv"] = make_audio_only(root / "audio.mkv")
    files["audio.wav"] = make_audio_only(root / "audio.wav", codec="pcm_s16le")
    files["empty.mp4"] = root / "empty.mp4"
    files["empty.mp4"].write_bytes(b"")
    files["text.mp4"] = root / "text.mp4"
    files["text.mp4"].write_text("this is not a video\n" * 50)
    files["missing.mp4"] = root / "missing.mp4"
    files["folder.mp4"] = root / "folder.mp4"
    files["folder.mp4"].mkdir()
    return files


@pytest.mark.parametrize(
    "key, cause",
    [
        ("half.mp4", "cannot open"),  # moov atom (written last) is gone
        ("header.mp4", "cannot open"),
        ("header.mkv", "no decodable video frame"),
        ("flip.mp4", "decode"),  # decoder error mid-stream: 90 listed, 45 decode
        # The decoder conceals the damage but flags the frame. The encoded bytes vary from run to
        # run here (x264 + muxer), and in about half of the runs the flipped range gives a
        # concealed, unflagged stream instead: a known flake, left to the hostile-input issue.
        pytest.param("flip.mkv", "corrupt", marks=pytest.mark.xfail(
            strict=False, reason="the damaged bytes differ between encodes; not always flagged")),
        ("audio.mkv", "no video stream"),
        ("audio.wav", "no video stream"),
        ("empty.mp4", "empty file"),
        ("text.mp4", "cannot open"),
        ("missing.mp4", "no such file"),
        ("folder.mp4", "not a regular file"),
    ],
)
def test_damaged_input_raises_quickly(damaged, key: str, cause: str) -> None:
    path = damaged[key]
    start = time.perf_counter()
    with pytest.raises(VideoDecodeError, match=cause) as info:
        reader = VideoReader(path)
        reader.read(range(reader.num_frames), strategy="sequential")
    assert path.name in str(info.value)
    assert time.perf_counter() - start < 3.0


def test_corrupt_middle_corrects_count(damaged) -> None:
    """The container lists 90 frames; a sequential decode stops at a decoder error: the error
    says so and num_frames becomes the decodable count, whose frames are then served.

    A seeking read jumps over the damage and serves later frames, identified by their pts:
    they equal the undamaged source's frames."""
    path = damaged["flip.mp4"]
    reader = VideoReader(path)
    assert reader.num_frames == 90  # the index cannot know
    clean = reference_decode(path.with_name("src.mp4"))
    np.testing.assert_array_equal(reader.read([89, 88], strategy="seek").numpy(), clean[[89, 88]])
    with pytest.raises(VideoDecodeError, match="sample the indices again"):
        reader.read([0, 89], strategy="sequential")
    n = reader.num_frames
    assert 0 < n < 90 and reader.count_method == "decode"
    assert reader.read([0, n - 1]).shape[0] == 2
    with pytest.raises(FrameIndexError):
        reader.read([n])


@pytest.mark.parametrize("key", ["half.mkv"])
def test_truncated_tail_serves_what_decodes(damaged, key: str) -> None:
    """Documented behaviour: frames that decode are served, num_frames counts them, beyond raises."""
    path = damaged[key]
    reader = VideoReader(path)
    ref = reference_decode(path)
    n = reader.num_frames
    assert 0 < n < 90 and n == len(ref)
    assert_read(reader, ref, list(range(n)))
    assert_read(reader, ref, test_mode_indices(n))
    with pytest.raises(FrameIndexError, match=path.name):
        reader.read([n])


# --------------------------------------------------------------------------- rawframes
def _write_frames(folder: Path, count: int, ext: str, height: int = 24, width: int = 40) -> np.ndarray:
    folder.mkdir(parents=True, exist_ok=True)
    frames = np.stack([frame_pattern(i, height, width) for i in range(count)])
    for i, frame in enumerate(frames):
        chw = torch.from_numpy(frame).permute(2, 0, 1).contiguous()
        data = encode_png(chw) if ext == "png" else encode_jpeg(chw, quality=95)
        (folder / f"img_{i + 1:05d}.{ext}").write_bytes(data.numpy().tobytes())
    return frames


def test_rawframes_png_exact(tmp_path: Path) -> None:
    frames = _write_frames(tmp_path / "vid", 7, "png")
    (tmp_path / "vid" / "x_00001.png").write_bytes(b"unrelated")  # other files are ignored
    reader = RawframeReader(tmp_path / "vid", filename_tmpl="img_{:05d}.png")
    assert reader.num_frames == 7 and reader.size == (24, 40) and reader.start_index == 1
    indices = [1, 7, 3, 3, 1]  # file numbers: start_index included
    out = reader.read(indices)
    assert out.dtype == torch.uint8 and out.shape == (5, 24, 40, 3)
    np.testing.assert_array_equal(out.numpy(), frames[np.array(indices) - 1])
    with pytest.raises(FrameIndexError):
        reader.read([0])
    with pytest.raises(FrameIndexError):
        reader.read([8])


def test_rawframes_jpeg_and_given_count(tmp_path: Path) -> None:
    frames = _write_frames(tmp_path / "vid", 4, "jpg")
    reader = RawframeReader(tmp_path / "vid", num_frames=4)
    out = reader.read([4, 2])
    assert out.shape == (2, 24, 40, 3)
    # JPEG is lossy: close to the source, and the frames stay told apart.
    assert np.abs(out.numpy().astype(int) - frames[[3, 1]].astype(int)).mean() < 4


def test_rawframes_errors(tmp_path: Path) -> None:
    _write_frames(tmp_path / "vid", 5, "png")
    (tmp_path / "vid" / "img_00003.png").unlink()
    reader = RawframeReader(tmp_path / "vid", filename_tmpl="img_{:05d}.png", num_frames=5)
    with pytest.raises(VideoDecodeError, match="img_00003.png"):
        reader.read([1, 3])
    # Counting stops at the first gap.
    assert RawframeReader(tmp_path / "vid", filename_tmpl="img_{:05d}.png").num_frames == 2
    (tmp_path / "vid" / "img_00004.png").write_bytes(b"garbage")
    with pytest.raises(VideoDecodeError, match="img_00004.png"):
        reader.read([4])
    with pytest.raises(VideoDecodeError, match="nowhere"):
        RawframeReader(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoDecodeError, match="img_00001.jpg"):
        RawframeReader(tmp_path / "empty")


# --------------------------------------------------------------- hostile rawframes (issue 22)
@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Fail instead of hanging (a FIFO opened for reading blocks until a writer comes)."""
    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _small_jpeg() -> bytes:
    chw = torch.from_numpy(frame_pattern(0, 24, 40)).permute(2, 0, 1).contiguous()
    return encode_jpeg(chw, quality=90).numpy().tobytes()


@pytest.mark.parametrize("kind", sorted(HOSTILE_FRAMES))
def test_hostile_frame_files_raise_naming_the_frame(tmp_path: Path, kind: str) -> None:
    """Each hostile frame is refused before decoding (no 768 MB picture, no endless /dev/zero,
    no FIFO wait), naming the file and what was found; the frames around it still read."""
    folder = tmp_path / "vid"
    frames = _write_frames(folder, 2, "png")
    bad = hostile_frame(folder / "img_00003.png", kind, _small_jpeg(), MAX_FRAME_FILE_BYTES)
    (folder / "img_00004.png").write_bytes((folder / "img_00001.png").read_bytes())
    with _deadline(10):
        reader = RawframeReader(folder, filename_tmpl="img_{:05d}.png")
        assert reader.num_frames == 4  # the count sees names only: the hostile one is there
        with pytest.raises(VideoDecodeError, match=HOSTILE_FRAMES[kind]) as info:
            reader.read([1, 3])
        np.testing.assert_array_equal(reader.read([2, 1]).numpy(), frames[[1, 0]])
        with pytest.raises(VideoDecodeError, match=HOSTILE_FRAMES[kind]):  # as the first frame too
            _ = RawframeReader(folder, filename_tmpl="img_{:05d}.png", start_index=3).size
    assert str(bad) in str(info.value) and "\n" not in str(info.value)


def test_fifo_swapped_in_after_the_check_does_not_hang(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stat says "regular file", then a FIFO is opened: O_NONBLOCK + fstat refuse it at once."""
    _write_frames(tmp_path / "vid", 1, "png")
    fifo = tmp_path / "vid" / "img_00002.png"
    os.mkfifo(fifo)
    regular = os.stat(tmp_path / "vid" / "img_00001.png")
    monkeypatch.setattr(rawframes, "file_problem", lambda path: (regular, None))
    reader = RawframeReader(tmp_path / "vid", filename_tmpl="img_{:05d}.png", num_frames=2)
    with _deadline(10), pytest.raises(VideoDecodeError, match="img_00002.png: not a regular file \\(a FIFO\\)"):
        reader.read([2])


def test_header_is_checked_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The 8K cap of videos applies to the header's claim; the decoder is never called."""
    from slowfast_zoo.data.decode import MAX_FRAME_PIXELS

    folder = tmp_path / "vid"
    folder.mkdir()
    (folder / "img_00001.png").write_bytes(png_claiming(7680, 4321))  # one row above 8K UHD
    import torchvision.io

    def no_decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded before the header check")

    monkeypatch.setattr(torchvision.io, "decode_image", no_decode)
    with pytest.raises(VideoDecodeError, match=f"7680x4321 is outside what is read \\(1 to {MAX_FRAME_PIXELS}"):
        _ = RawframeReader(folder, filename_tmpl="img_{:05d}.png").size


def test_jpeg_header_is_the_one_libjpeg_reads(tmp_path: Path) -> None:
    """Garbage and fill bytes before a marker are skipped, a huge thumbnail inside APP1 is not
    taken for the frame header: the frame reads, at the size of its real SOF."""
    import struct

    from hostile_files import jpeg_claiming

    jpeg = _small_jpeg()
    at = jpeg.index(b"\xff\xdb")  # first DQT, after APP0
    thumb = jpeg_claiming(jpeg, 60000, 50000)
    app1 = b"\xff\xe1" + struct.pack(">H", len(thumb) + 2) + thumb
    (tmp_path / "vid").mkdir()
    (tmp_path / "vid" / "img_00001.jpg").write_bytes(jpeg[:at] + app1 + b"junk\xff\x00\xff\xff" + jpeg[at:])
    reader = RawframeReader(tmp_path / "vid")
    assert reader.size == (24, 40) and reader.read([1]).shape == (1, 24, 40, 3)


def test_rawframe_links_16bit_png_and_bounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "vid"
    frames = _write_frames(folder, 3, "png")
    # A symlink to a regular frame file is a frame like any other.
    os.symlink(folder / "img_00001.png", folder / "img_00004.png")
    reader = RawframeReader(folder, filename_tmpl="img_{:05d}.png")
    assert reader.num_frames == 4
    np.testing.assert_array_equal(reader.read([4]).numpy()[0], frames[0])
    # A 16-bit PNG reads as its high byte (it used to wrap to the low byte).
    wide = (frames[1].astype(np.uint16) << 8) | 0xAB
    (folder / "img_00002.png").write_bytes(png16(wide))
    np.testing.assert_array_equal(reader.read([2]).numpy()[0], frames[1])
    # Counting stops with an error beyond MAX_RAWFRAMES; a claimed count beyond it is refused.
    monkeypatch.setattr(rawframes, "MAX_RAWFRAMES", 3)
    with pytest.raises(VideoDecodeError, match="more than 3 frame files"):
        RawframeReader(folder, filename_tmpl="img_{:05d}.png")
    with pytest.raises(VideoDecodeError, match=r"num_frames must be in \[1, 3\], got 4"):
        RawframeReader(folder, filename_tmpl="img_{:05d}.png", num_frames=4)
    with pytest.raises(UsageError, match="filename_tmpl"):
        RawframeReader(folder, filename_tmpl="img_{}_{}.png")


# ------------------------------------------------------------------------- hostile inputs (issue 13)
SMALL = dict(clip_len=8, frame_interval=2, num_clips=2, resize_short_side=64, crop_size=64, num_crops=3)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("hostile")
    items = list(crafted(root / "crafted"))
    items += [(p, "damaged") for p in damaged_variants(samples(), root / "damaged", DAMAGE[:4])]
    return items


def _read(path: Path, tf: TestTransform) -> str:
    try:
        reader = VideoReader(path)
        views = tf.load(path)
    except VideoDecodeError as e:
        assert str(path) in str(e), str(e)  # the path exactly as the caller gave it
        return "error"
    assert views.shape == tf.output_shape and torch.isfinite(views).all()
    assert reader.num_frames >= 1
    return "views"


@pytest.mark.slow
def test_damaged_and_crafted_videos_read_or_raise_our_error(hostile) -> None:
    tf = TestTransform(**SMALL)
    outcomes = {str(p): _read(p, tf) for p, _ in hostile}
    assert len(outcomes) >= 45
    # Both outcomes occur, and the crafted inputs end as expected.
    assert "views" in outcomes.values() and "error" in outcomes.values()
    what = {w: str(p) for p, w in hostile if w != "damaged"}
    for kind in ("extreme aspect ratio (wide)", "extreme aspect ratio (tall)", "one frame", "2x2 pixels",
                 "raw y4m, 3 frames"):
        assert outcomes[what[kind]] == "views", kind
    for kind in ("audio only", "text", "empty", "directory", "dangling link", "symlink loop",
                 "huge claimed size", "name too long", "missing"):
        assert outcomes[what[kind]] == "error", kind


@pytest.mark.parametrize("kind,needle", [("symlink loop", "symbolic link loop"),
                                         ("dangling link", "broken symbolic link"),
                                         ("directory", "is a directory"),
                                         ("audio only", "no video stream")])
def test_errors_say_what_is_wrong(hostile, kind: str, needle: str) -> None:
    path = next(p for p, w in hostile if w == kind)
    with pytest.raises(VideoDecodeError, match=needle):
        VideoReader(path)


def test_nul_in_a_path_is_our_error() -> None:
    with pytest.raises(VideoDecodeError, match="invalid path"):
        VideoReader("video\x00.mp4")


@pytest.mark.slow
def test_decoding_is_deterministic_on_damaged_files(tmp_path: Path) -> None:
    """The default single-threaded decode gives the same frames run after run, and equals an
    explicit num_threads=1; the count is what a full single-threaded decode yields."""
    import av

    paths = list(damaged_variants([s for s in samples() if s.suffix in (".webm", ".ogv", ".mov")],
                                  tmp_path, ("flip30", "zero50", "random_bytes")))
    checked = 0
    for path in paths:
        try:
            a = VideoReader(path)
            frames = a.read(np.arange(a.num_frames))
        except VideoDecodeError:
            continue
        b = VideoReader(path, num_threads=1)
        assert b.num_frames == a.num_frames and torch.equal(b.read(np.arange(b.num_frames)), frames)
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            s.thread_count = 1
            n = 0
            try:
                for _ in c.decode(s):
                    n += 1
            except av.FFmpegError:
                pass
        assert a.num_frames <= n
        checked += 1
    assert checked >= 4
