"""Per-file image validation: formats, size limits, decompression bombs, corrupt files."""

import io
import struct
import zlib

import pytest
from PIL import Image

from studyapp.image_checks import InvalidImage, browser_ready_bytes, inspect_image
from tests.factories import png_bytes

LIMITS = {"max_bytes": 1_000_000, "max_pixels": 1_000_000}


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge size (a decompression bomb's calling card)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "TIFF", "WEBP", "PPM"])
def test_allowed_formats_are_described(fmt):
    image = Image.new("L" if fmt == "PPM" else "RGB", (40, 30), 128)
    info = inspect_image(encode(image, fmt), **LIMITS)
    assert (info.width, info.height) == (40, 30)
    assert info.format == fmt
    assert len(info.sha256) == 64


def test_non_web_formats_are_stored_as_png_and_web_formats_as_they_are():
    pgm = encode(Image.new("L", (20, 10), 77), "PPM")
    stored = browser_ready_bytes(pgm, inspect_image(pgm, **LIMITS))
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "PNG"
        assert image.getpixel((3, 3)) == 77
    png = png_bytes(3)
    assert browser_ready_bytes(png, inspect_image(png, **LIMITS)) == png


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not an image at all", "not an image"),
        (png_bytes(1)[:60], "corrupt or truncated"),
        (png_header_only(5000, 5000), "pixels; the limit"),
        (png_header_only(60000, 60000), "pixels"),
        (encode(Image.new("RGB", (8, 8)), "ICO"), "not allowed"),
        (b"\0" * 1_000_001, "bytes; the limit"),
    ],
    ids=["garbage", "truncated", "too-many-pixels", "bomb", "ico-format", "too-large-file"],
)
def test_bad_files_are_rejected_with_the_reason(data, message):
    with pytest.raises(InvalidImage, match=message):
        inspect_image(data, **LIMITS)


def test_corrupt_pixel_data_is_caught_by_the_full_decode():
    data = bytearray(encode(Image.new("RGB", (64, 64), (10, 200, 30)), "JPEG"))
    data[300:340] = b"\xff" * 40  # damage the entropy-coded data after the headers
    with pytest.raises(InvalidImage):
        inspect_image(bytes(data[:-200]), **LIMITS)


def test_animated_gif_is_rejected():
    frames = [Image.new("RGB", (10, 10), (80 * i, 0, 0)) for i in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    with pytest.raises(InvalidImage, match="animated"):
        inspect_image(buffer.getvalue(), **LIMITS)
