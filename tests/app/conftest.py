"""A stand-in for `Translator` with the interface the app uses (`cfg`, `device`, `translate`), and no model."""

import base64
import io
import threading

import numpy as np
import pytest
from PIL import Image


class FakeOutput:
    def __init__(self, image: Image.Image, warped: Image.Image):
        self.image, self.warped = image, warped

    def images(self) -> list[Image.Image]:
        return [self.image]

    def warped_images(self) -> list[Image.Image]:
        return [self.warped]


class FakeTranslator:
    """Answers with the exemplar at the model's size (and its mirror image as the warp); `gate`, when given,
    holds every call until it is set, and `started` is set when a call begins."""

    def __init__(self, cfg, gate: threading.Event | None = None):
        self.cfg, self.device = cfg, "cpu"
        self.gate, self.started = gate, threading.Event()
        self.calls: list[tuple] = []

    def translate(self, label, exemplar, exemplar_label=None):
        self.started.set()
        self.calls.append((label, exemplar, exemplar_label))
        if self.gate is not None and not self.gate.wait(30):
            raise RuntimeError("the test never opened the gate")
        if np.asarray(label).max() == 0:
            raise ValueError("nothing painted")
        size = self.cfg.image_size
        image = exemplar.convert("RGB").resize((size, size))
        return FakeOutput(image, image.transpose(Image.FLIP_LEFT_RIGHT))


@pytest.fixture
def tiny_cfg():
    from cocosnet.presets import get_model_config

    return get_model_config("tiny")


@pytest.fixture
def fake_translator(tiny_cfg):
    return FakeTranslator(tiny_cfg)


def scene(top: int, bottom: int, size: int = 64, horizon: int = 32) -> np.ndarray:
    """A label map: class `top` above the horizon row, `bottom` below it."""
    ids = np.full((size, size), top, np.int64)
    ids[horizon:] = bottom
    return ids


def photo(size: int = 64, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


def b64png(img: Image.Image) -> str:
    """A picture as the API takes it: base64 PNG."""
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def ids_b64(ids: np.ndarray) -> str:
    """A label map of class ids as the API takes it: a single-channel base64 PNG."""
    return b64png(Image.fromarray(ids.astype(np.uint8)))
