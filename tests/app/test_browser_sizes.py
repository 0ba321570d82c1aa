"""The painter on a non-square canvas in headless Chromium: pick a 3:2 canvas, paint past the square, translate
(the output is the canvas' size), save; Load a portrait label map (its aspect ratio kept) and undo back."""

import numpy as np
import pytest
from PIL import Image

from ..conftest import missing, require_module

require_module("fastapi")
require_module("playwright.sync_api")

from cocosnet.app import create_app, load_gallery  # noqa: E402
from cocosnet.inference import Translator  # noqa: E402
from cocosnet.label_resize import resize_label  # noqa: E402

from ..helpers.browser import choose, drag, served_page  # noqa: E402

SKY, GRASS, WATER = 6, 7, 3


@pytest.fixture(scope="module")
def page(tiny_checkpoint, gallery_dir):
    translator = Translator.from_pretrained(tiny_checkpoint, device="cpu")  # a 64² model
    with served_page(create_app(translator, load_gallery(gallery_dir, translator.cfg)), missing) as page:
        yield page


def painter_ids(page) -> np.ndarray:
    w, h, ids = page.evaluate("() => { const p = window.cocosnet.painter; return [p.width, p.height, "
                              "Array.from(p.ids)]; }")
    return np.array(ids, np.int64).reshape(h, w)


def natural_size(page, sel: str) -> list[int]:
    return page.evaluate(f"() => [document.querySelector('{sel}').naturalWidth, "
                         f"document.querySelector('{sel}').naturalHeight]")


def translate(page) -> None:
    page.locator("#translate").click()
    page.wait_for_selector("footer.done", timeout=30_000)


def test_painting_translating_and_loading_at_non_square_sizes(page, tmp_path):
    canvas = "#painter-canvas"
    square = painter_ids(page)
    assert square.shape == (64, 64)
    options = page.eval_on_selector_all("#painter-size option", "os => os.map(o => o.value)")
    assert options == ["64x64", "96x64", "64x96", "128x64", "64x128"]

    # a 3:2 canvas: the painting stretched (nearest: the horizon's rows stay), the frame 3:2 on the page
    page.select_option("#painter-size", "96x64")
    wide = painter_ids(page)
    assert wide.shape == (64, 96) and np.array_equal(wide[:, ::3], square[:, ::2])
    assert page.evaluate("() => [document.querySelector('#painter-canvas').width, "
                         "document.querySelector('#painter-canvas').height]") == [96, 64]
    box = page.locator(canvas).bounding_box()
    assert abs(box["width"] / box["height"] - 1.5) < 0.02

    # a stroke along the right part, past where a square canvas would end
    page.locator("#painter [data-brush]").fill("6")
    choose(page, "painter", "water")
    drag(page, canvas, [(0.75, 0.85), (0.95, 0.85)])
    painted = painter_ids(page)
    assert (painted[:, 64:] == WATER).sum() > 60 and painted[54, 80] == WATER and (painted[:, :60] != WATER).all()

    translate(page)  # no reference: the best retrieved gallery item
    assert natural_size(page, "#output") == [96, 64] and natural_size(page, "#warped") == [96, 64]
    assert "(96×64)" in page.locator("footer").inner_text()
    with page.expect_download() as download:
        page.locator("#painter [data-action=save]").click()
    download.value.save_as(tmp_path / "painting.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "painting.png")), painted)

    # Load a portrait label map (W 100 x H 250): the server gives it short side 64, 64x160; a new size option
    portrait = np.full((250, 100), GRASS, np.uint8)
    portrait[:120] = SKY
    portrait[200:, 30:70] = WATER
    Image.fromarray(portrait).save(tmp_path / "portrait.png")
    page.locator("#painter [data-load]").set_input_files(str(tmp_path / "portrait.png"))
    page.wait_for_selector("footer:not(.working)")
    assert page.locator("footer").inner_text() == "Loaded portrait.png."
    assert np.array_equal(painter_ids(page), resize_label(portrait, (160, 64)))
    assert page.locator("#painter-size").input_value() == "64x160"
    translate(page)
    assert natural_size(page, "#output") == [64, 160]

    # undo: back to the 3:2 painting, size and all
    page.locator("#painter [data-action=undo]").click()
    assert np.array_equal(painter_ids(page), painted) and page.locator("#painter-size").input_value() == "96x64"

    # the editor's Open photo + Open label keep the label map's aspect ratio too (the photo stretched under it)
    page.locator("#tab-editor").click()
    photo = np.random.default_rng(0).integers(0, 256, (250, 100, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    page.locator("#editor-photo-file").set_input_files(str(tmp_path / "photo.png"))
    page.wait_for_selector("footer:has-text('Now open the photo')")
    page.locator("#editor-label-file").set_input_files(str(tmp_path / "portrait.png"))
    page.wait_for_selector("footer:has-text('Photo and labels loaded')")
    assert page.evaluate("() => [window.cocosnet.editor.width, window.cocosnet.editor.height]") == [64, 160]
    box = page.locator("#editor-canvas").bounding_box()
    assert abs(box["width"] / box["height"] - 0.4) < 0.02
    assert not page.errors, page.errors
