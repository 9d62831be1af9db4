"""Width and height of a JPEG or PNG image from its header bytes, without decoding it.

:class:`~slowfast_zoo.data.RawframeReader` checks a frame's claimed size against
:data:`~slowfast_zoo.data.decode.MAX_FRAME_PIXELS` *before* handing the bytes to a decoder, which
would allocate whatever the header claims (a 248 KB PNG can claim 16000x16000 pixels, 768 MB of
RGB). Only the two formats rawframe folders hold are parsed (MMAction2 extracts ``.jpg`` frames;
``.png`` works the same); anything else is refused, so no decoder ever sees a header we have not
checked.

* PNG: the signature, then the ``IHDR`` chunk, which the format requires first (libpng refuses a
  file where it is not).
* JPEG: the segments after ``SOI`` up to the first start-of-frame marker (``SOF0`` to ``SOF15``
  but ``DHT``/``JPG``/``DAC``), whose size is what libjpeg allocates; thumbnails inside ``APPn``
  segments are skipped with their segment.
"""

from __future__ import annotations

from slowfast_zoo.errors import VideoDecodeError

__all__ = ["image_size"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Start-of-frame markers: 0xC0..0xCF except DHT (C4), JPG (C8) and DAC (CC), which share the range.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM, RST0..7 (SOI/EOI are handled where they may occur).
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


def image_size(data: bytes, shown: str) -> tuple[str, int, int]:
    """``(format, width, height)`` claimed by the header of the JPEG or PNG image ``data``.

    Args:
        data: the image file's bytes (the whole file, or at least up to the size field).
        shown: the file's name, for messages.

    Raises:
        VideoDecodeError: naming ``shown``: not a JPEG or PNG, or a header that ends early or
            is malformed.

    Example:
        >>> import struct, zlib
        >>> ihdr = struct.pack(">IIBBBBB", 16000, 16000, 8, 2, 0, 0, 0)
        >>> png = b"\\x89PNG\\r\\n\\x1a\\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
        >>> image_size(png, "img_00001.png")
        ('PNG', 16000, 16000)
        >>> image_size(b"GIF89a...", "img_00001.gif")
        Traceback (most recent call last):
        ...
        slowfast_zoo.errors.VideoDecodeError: img_00001.gif: not a JPEG or PNG image (starts with b'GIF89a..'); rawframes are read as JPEG or PNG
    """
    if data.startswith(_PNG_SIGNATURE):
        return ("PNG", *_png_size(data, shown))
    if data.startswith(b"\xff\xd8"):
        return ("JPEG", *_jpeg_size(data, shown))
    raise VideoDecodeError(f"{shown}: not a JPEG or PNG image (starts with {data[:8]!r}); "
                           f"rawframes are read as JPEG or PNG")


def _png_size(data: bytes, shown: str) -> tuple[int, int]:
    """Width and height from the ``IHDR`` chunk (bytes 8..24: length, type, width, height)."""
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise VideoDecodeError(f"{shown}: PNG without an IHDR chunk first (truncated or not a PNG)")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _jpeg_size(data: bytes, shown: str) -> tuple[int, int]:
    """Width and height from the first start-of-frame segment, found the way libjpeg walks the
    markers (``next_marker`` in jdmarker.c): bytes before a marker are skipped, as are ``0xFF``
    fill bytes and stuffed ``FF 00`` pairs, so we read the very header the decoder will use."""
    pos = 2  # after SOI
    # Every step advances pos: bounded by len(data).
    while pos + 1 < len(data):
        if data[pos] != 0xFF or data[pos + 1] in (0xFF, 0x00):
            pos += 2 if data[pos] == 0xFF and data[pos + 1] == 0x00 else 1
            continue
        marker = data[pos + 1]
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        if marker in (0xD8, 0xD9, 0xDA):  # SOI, EOI or SOS before any frame header
            break
        if pos + 4 > len(data):
            break
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if length < 2:
            raise VideoDecodeError(f"{shown}: malformed JPEG (segment length {length} at byte {pos})")
        if marker in _JPEG_SOF:
            # Segment: length(2) precision(1) height(2) width(2) components(1)...
            if length < 8 or pos + 9 > len(data):
                break
            height = int.from_bytes(data[pos + 5:pos + 7], "big")
            width = int.from_bytes(data[pos + 7:pos + 9], "big")
            return width, height
        pos += 2 + length
    raise VideoDecodeError(f"{shown}: JPEG without a frame header (SOF) before its image data "
                           f"(truncated or malformed)")
