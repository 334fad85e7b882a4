"""Product pictures: an uploaded JPEG, PNG, WebP or GIF becomes WebP files of a few widths under the
media directory, named by the content's hash (so they never change and are cached for a year).

Nothing of the upload survives but its pixels: EXIF (camera, GPS position, …), ICC and XMP data are
dropped; the EXIF orientation is applied first, so a phone's portrait photo stays upright.
Decompression bombs (a small file that decodes to a huge picture) are refused before decoding.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from liveshop.domain.picture_names import DIRECTORY, MAIN_WIDTH, WIDTHS, picture_path, picture_url

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # e.g. 8000 × 5000; a phone's 50 MP mode is refused
MIN_SIDE = 16
FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")


class BadPicture(ValueError):
    """The upload is not a picture liveshop accepts; the message says why, for the seller."""


@dataclass(frozen=True)
class StoredPicture:
    key: str  # the content hash: the files are products/{key}-{width}.webp

    def path(self, width: int) -> str:
        """The file's path below the media directory."""
        return picture_path(self.key, width)

    @property
    def url(self) -> str:
        """The product's ``imageUrl``: the middle size."""
        return picture_url(self.key, MAIN_WIDTH)


def _decode(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise BadPicture("not a picture: send a JPEG, PNG, WebP or GIF file") from None
        except (OSError, SyntaxError, ValueError) as exc:  # a header cut short or corrupt
            raise BadPicture(f"the picture cannot be read: {exc}") from None
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise BadPicture(
                f"the picture has too many pixels; at most {MAX_PIXELS // 1_000_000} megapixels "
                "are accepted"
            ) from None
        if image.format not in FORMATS:
            raise BadPicture(
                f"{image.format} pictures are not accepted: send JPEG, PNG, WebP or GIF"
            )
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise BadPicture(
                f"the picture is {width}×{height} pixels; at most {MAX_PIXELS // 1_000_000} "
                "megapixels are accepted"
            )
        if min(width, height) < MIN_SIDE:
            raise BadPicture(
                f"the picture is too small ({width}×{height}); at least {MIN_SIDE} px a side"
            )
        try:
            image.load()
            upright = ImageOps.exif_transpose(image)
            has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
            return upright.convert("RGBA" if has_alpha else "RGB")
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
            raise BadPicture(f"the picture cannot be decoded: {exc}") from None


def store(data: bytes, media_dir: Path) -> StoredPicture:
    """Decode ``data`` and write its sizes (never wider than the original) as WebP under
    ``media_dir``; return where. Raises :class:`BadPicture` for anything but a JPEG, PNG, WebP or
    GIF of at most :data:`MAX_BYTES` and :data:`MAX_PIXELS`. The same picture uploaded twice gives
    the same files (written once)."""
    if len(data) > MAX_BYTES:
        raise BadPicture(f"the file is over {MAX_BYTES // (1024 * 1024)} MB")
    image = _decode(data)
    key = hashlib.sha256(data).hexdigest()[:32]
    picture = StoredPicture(key)
    directory = media_dir / DIRECTORY
    directory.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        target = media_dir / picture.path(width)
        if target.exists():
            continue
        scaled = image
        if image.width > width:
            scaled = image.resize(
                (width, max(1, round(image.height * width / image.width))), Image.Resampling.LANCZOS
            )
        tmp = target.with_name(f"{target.name}.{secrets.token_hex(4)}.tmp")  # concurrent uploads
        scaled.save(tmp, "WEBP", quality=82, method=4)  # no exif=, icc_profile=: nothing kept
        tmp.replace(target)
    return picture
