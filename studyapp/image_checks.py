"""Validate one uploaded image: size limits, allowed format, Pillow verify, full decode."""

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

# Pillow format names; PGM/PPM files report "PPM".
ALLOWED_FORMATS = {"PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM"}
# Browsers show these as they are; the others are stored converted to PNG.
WEB_FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}
IMAGE_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".bmp",
    ".tif",
    ".tiff",
    ".webp",
    ".pgm",
    ".ppm",
    ".pnm",
}


class InvalidImage(ValueError):
    """The file is not an acceptable image; the message says why."""


@dataclass(frozen=True)
class ImageInfo:
    sha256: str
    format: str
    width: int
    height: int
    mode: str

    @property
    def stored_suffix(self) -> str:
        return {"JPEG": ".jpg", "GIF": ".gif", "WEBP": ".webp"}.get(self.format, ".png")


def inspect_image(data: bytes, *, max_bytes: int, max_pixels: int) -> ImageInfo:
    """Check an image file's bytes and describe it, or raise InvalidImage with the reason."""
    if len(data) > max_bytes:
        raise InvalidImage(f"the file has {len(data):,} bytes; the limit is {max_bytes:,}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image_format, (width, height), mode = image.format, image.size, image.mode
                frames = getattr(image, "n_frames", 1)
                if image_format not in ALLOWED_FORMATS:
                    raise InvalidImage(
                        f"format {image_format} is not allowed (allowed: "
                        f"{', '.join(sorted(ALLOWED_FORMATS))})"
                    )
                if width * height > max_pixels:
                    raise InvalidImage(
                        f"{width}×{height} = {width * height:,} pixels; the limit is {max_pixels:,}"
                    )
                if frames > 1:
                    raise InvalidImage(f"animated images are not allowed ({frames} frames)")
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
    except InvalidImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise InvalidImage(f"too many pixels ({error})") from error
    except UnidentifiedImageError as error:
        raise InvalidImage("not an image file that can be read") from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise InvalidImage(f"the image data is corrupt or truncated ({error})") from error
    return ImageInfo(hashlib.sha256(data).hexdigest(), image_format, width, height, mode)


def browser_ready_bytes(data: bytes, info: ImageInfo) -> bytes:
    """The bytes to store: the original for web formats, a lossless PNG otherwise."""
    if info.format in WEB_FORMATS:
        return data
    with Image.open(io.BytesIO(data)) as image:
        converted = image if image.mode in {"L", "RGB", "RGBA", "LA"} else image.convert("RGB")
        buffer = io.BytesIO()
        converted.save(buffer, format="PNG")
    return buffer.getvalue()
