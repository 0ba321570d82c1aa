"""The Makeup tab end to end in headless Chromium: open a reference portrait (the astronaut), paint (colour,
brush, opacity), undo / redo, erase, open an RGBA layer, open two targets, Transfer, compare, save."""

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from ..conftest import missing, require_module
from .conftest import FakeTranslator

require_module("fastapi")
require_module("mediapipe")
sync_api = require_module("playwright.sync_api")

from cocosnet.app import BackgroundServer, create_app  # noqa: E402
from cocosnet.presets import get_model_config  # noqa: E402

from ..helpers.browser import CHROMIUM, drag, launch, open_page  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    data = require_module("skimage.data")
    d = tmp_path_factory.mktemp("makeup_page")
    face = data.astronaut()[20:276, 96:352].copy()
    Image.fromarray(face).save(d / "reference.png")
    a = cv2.getRotationMatrix2D((128, 128), 10, 1.05)
    Image.fromarray(cv2.warpAffine(face, a, (256, 256), borderMode=cv2.BORDER_REFLECT)).save(d / "turned.png")
    layer = np.zeros((256, 256, 4), np.uint8)
    layer[115:135, 110:150] = (30, 160, 40, 255)  # a green band over the mouth
    Image.fromarray(layer).save(d / "layer.png")
    return d


@pytest.fixture(scope="module")
def page(files):
    if not Path(CHROMIUM).exists():
        missing("Debian's chromium is not installed (scripts/setup.sh installs it)")
    app = create_app(FakeTranslator(get_model_config("tiny")))
    with BackgroundServer(app) as url, sync_api.sync_playwright() as p:
        browser = launch(p)
        page = open_page(browser, url)
        yield page
        browser.close()


def layer_alpha(page) -> np.ndarray:
    rgba = page.evaluate("""() => {
        const c = document.getElementById("mk-layer");
        return Array.from(c.getContext("2d").getImageData(0, 0, c.width, c.height).data);
    }""")
    return np.array(rgba, np.uint8).reshape(256, 256, 4)


def test_paint_undo_erase_load_transfer_and_save(page, files):
    page.click("#tab-makeup")
    assert page.is_visible("#makeup") and not page.is_visible("#painter")
    assert page.is_disabled("#mk-transfer")
    page.set_input_files("#mk-ref-file", str(files / "reference.png"))
    page.wait_for_function("document.getElementById('mk-layer').width === 256")
    page.evaluate("() => { const c = document.getElementById('mk-colour'); c.value = '#0000ff'; }")
    page.fill("#mk-brush", "10")
    page.fill("#mk-alpha", "50")
    drag(page, "#mk-layer", [(0.2, 0.5), (0.8, 0.5)])  # a horizontal stroke across the middle row
    painted = layer_alpha(page)
    row = painted[128, 60:190]
    # one stroke, one alpha: 50% opacity everywhere along it (no darker overlaps), in the chosen colour
    assert (np.abs(row[:, 3].astype(int) - 128) <= 1).all() and (row[:, 2] == 255).all() and (row[:, :2] == 0).all()
    assert painted[100, :, 3].max() == 0
    page.keyboard.press("Control+z")
    assert layer_alpha(page)[..., 3].max() == 0
    page.click("#mk-redo")
    assert (layer_alpha(page) == painted).all()
    page.check("#mk-eraser")
    page.fill("#mk-alpha", "100")
    drag(page, "#mk-layer", [(0.5, 0.3), (0.5, 0.7)])  # a vertical eraser stroke through the middle
    erased = layer_alpha(page)
    assert erased[128, 124:132, 3].max() == 0 and erased[128, 70, 3] > 0
    page.uncheck("#mk-eraser")

    page.set_input_files("#mk-layer-file", str(files / "layer.png"))
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('Layer layer.png')")
    assert (layer_alpha(page) == np.asarray(Image.open(files / "layer.png"))).all()

    page.set_input_files("#mk-target-files", [str(files / "reference.png"), str(files / "turned.png")])
    page.wait_for_function("() => !document.getElementById('mk-transfer').disabled")
    assert page.locator("#mk-results .mk-result").count() == 2
    page.select_option("#mk-blend", "normal")
    page.click("#mk-transfer")
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('Done with')",
                           timeout=60_000)
    assert "MediaPipe Face Mesh landmarks + piecewise-affine warp" in page.text_content("#status")
    with page.expect_download() as info:
        page.locator("#mk-results .mk-result").nth(0).locator("[data-save]").click()
    saved = np.asarray(Image.open(io.BytesIO(Path(info.value.path()).read_bytes())).convert("RGB"))
    assert info.value.suggested_filename == "reference-makeup.png"
    # before / after: the after image is the reference with the green band painted where the face mesh covers it
    before = np.asarray(Image.open(files / "reference.png"))
    band = np.zeros((256, 256), bool)
    band[115:135, 110:150] = True
    changed = (saved != before).any(-1)
    assert changed[band].mean() > 0.9 and not changed[~band].any()
    assert (saved[band & changed] == (30, 160, 40)).all()
    page.wait_for_function("() => document.querySelectorAll('#mk-results [data-after][src]').length === 2")
    assert not page.errors, page.errors
    assert all(u.startswith((page.url_root, "blob:", "data:")) for u in page.requests)
    page.screenshot(path=str(files / "makeup_tab.png"))
