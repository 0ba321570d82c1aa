"""Images in and out of the HTTP API: base64 PNG (or JPEG, WebP, BMP, GIF, TIFF) with byte and pixel limits.

Every failure is an `InputError` carrying the HTTP status and a message that names the field: 413 for too many
bytes or pixels (decompression bombs are refused from the header, before any pixel is decoded), 422 for
undecodable data, unreadable images and label ids outside the checkpoint's classes.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re

import numpy as np
from PIL import Image, UnidentifiedImageError

from cocosnet.label_resize import resize_label
from cocosnet.presets import INPUT_IMAGE_FORMATS, MAX_INPUT_PIXELS, ModelConfig
from cocosnet.viz import ids_from_colours, label_palette

PHOTO_FORMATS = set(INPUT_IMAGE_FORMATS)  # the same set as the CLI's files
LABEL_MODES = {"L", "P", "I", "I;16"}  # single channel: the value is the class id
_FORMATS_TEXT = ", ".join(INPUT_IMAGE_FORMATS)
_DATA_URL = re.compile(r"^data:[\w/+.-]*;base64,", re.ASCII)


class InputError(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def decode_base64(text: str, what: str, max_bytes: int) -> bytes:
    """Raw base64 or a `data:...;base64,` URL -> bytes, refusing more than max_bytes before decoding."""
    text = _DATA_URL.sub("", text.strip(), count=1)
    if len(text) * 3 // 4 > max_bytes + 3:
        raise InputError(413, f"{what}: about {len(text) * 3 // 4} bytes, more than the limit of {max_bytes} bytes")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError(422, f"{what}: not valid base64 ({exc})") from exc
    if not data:
        raise InputError(422, f"{what}: empty")
    return data


def open_image(data: bytes, what: str, max_pixels: int = MAX_INPUT_PIXELS) -> Image.Image:
    """Bytes -> loaded PIL image; the pixel count is checked from the header before decoding."""
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise InputError(413, f"{what}: refused as a decompression bomb ({exc})") from exc
    except ValueError as exc:  # PIL's limits on metadata, e.g. a PNG text chunk over PngImagePlugin.MAX_TEXT_CHUNK
        raise InputError(413, f"{what}: metadata over the reader's limit ({exc})") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(422, f"{what}: not a readable image ({_FORMATS_TEXT} expected)") from exc
    if img.format not in PHOTO_FORMATS:
        raise InputError(422, f"{what}: {img.format} images are not accepted ({_FORMATS_TEXT})")
    w, h = img.size
    if w * h > max_pixels:
        raise InputError(413, f"{what}: {w}x{h} is {w * h} pixels, more than the limit of {max_pixels} pixels")
    if w < 1 or h < 1:
        raise InputError(422, f"{what}: empty image ({w}x{h})")
    try:
        img.load()
    except Image.DecompressionBombError as exc:
        raise InputError(413, f"{what}: refused as a decompression bomb ({exc})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(422, f"{what}: corrupt or truncated image ({exc})") from exc
    return img


def decode_photo(text: str, what: str, max_bytes: int, max_pixels: int) -> Image.Image:
    return open_image(decode_base64(text, what, max_bytes), what, max_pixels).convert("RGB")


def label_ids(img: Image.Image, cfg: ModelConfig, what: str) -> np.ndarray:
    """A label image -> HxW int64 class ids, checked against the checkpoint's classes.

    Single-channel images (L, P, I, I;16) carry ids; an RGB image is read as the CLI reads it
    (`cocosnet.viz.ids_from_colours`): a colour-coded map in the checkpoint's palette, or grey values as ids.
    """
    if img.mode in LABEL_MODES:
        ids = np.asarray(img).astype(np.int64)
    elif img.mode in ("RGB", "RGBA"):
        try:
            ids = ids_from_colours(np.asarray(img.convert("RGB")), label_palette(cfg))
        except ValueError as exc:
            raise InputError(422, f"{what}: {exc}") from exc
    else:
        raise InputError(422, f"{what}: mode {img.mode} is not a label map (single-channel PNG of class ids)")
    if cfg.dontcare_id >= 0:
        ids[ids == 255] = cfg.dontcare_id  # in place: ids is this function's own array
    bad = np.unique(ids[(ids < 0) | (ids >= cfg.label_nc)])
    if bad.size:
        raise InputError(422, f"{what}: label ids {bad[:10].tolist()} out of range: this checkpoint has "
                              f"{cfg.label_nc} classes (ids 0..{cfg.label_nc - 1})")
    return ids


def decode_label(text: str, cfg: ModelConfig, what: str, max_bytes: int, max_pixels: int) -> np.ndarray:
    return label_ids(open_image(decode_base64(text, what, max_bytes), what, max_pixels), cfg, what)


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def encode_png(img: Image.Image) -> str:
    return base64.b64encode(png_bytes(img)).decode("ascii")


def ids_image(ids: np.ndarray) -> Image.Image:
    """Class ids -> single-channel PNG-ready image (ids < 256)."""
    return Image.fromarray(ids.astype(np.uint8), mode="L")


def inpaint_blend(generated: Image.Image, original: Image.Image, label: np.ndarray, original_label: np.ndarray,
                  feather: float) -> tuple[Image.Image, Image.Image]:
    """Keep the original photo where the labels did not change; the generated image where they did, blended in
    over a feathered edge (the mask is grown by feather/2, then blurred with radius feather/2). Returns the
    blended image and the mask (L, 255 = generated)."""
    from PIL import ImageFilter

    size = generated.size[0]
    changed = resize_label(label, size) != resize_label(original_label, size)
    mask = Image.fromarray((changed * 255).astype(np.uint8), mode="L")
    if feather > 0 and changed.any():
        grow = 2 * math.ceil(feather / 2) + 1
        mask = mask.filter(ImageFilter.MaxFilter(grow)).filter(ImageFilter.GaussianBlur(feather / 2))
    original = original.convert("RGB").resize(generated.size, Image.BICUBIC)
    return Image.composite(generated, original, mask), mask
