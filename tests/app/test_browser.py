"""The painter and the editor end to end in headless Chromium (Debian's, driven by Playwright; no download).

Paint with two classes, flood-fill, undo / redo, save and load the painting, retrieve an exemplar, translate;
then edit a gallery photo's labels and resynthesise with inpainting. Screenshots go to the test's tmp dir.
"""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ..conftest import missing, require_module

require_module("fastapi")
sync_api = require_module("playwright.sync_api")

from cocosnet.app import BackgroundServer, create_app, load_gallery  # noqa: E402
from cocosnet.inference import Translator  # noqa: E402
from cocosnet.presets import LANDSCAPE_COLORS  # noqa: E402

from ..helpers.browser import CHROMIUM, choose, click, drag, launch, open_page  # noqa: E402

SKY, GRASS, WATER, TREE, MOUNTAIN = 6, 7, 3, 9, 8
PALETTE = np.array(LANDSCAPE_COLORS, np.int64)


@pytest.fixture(scope="module")
def page(tiny_checkpoint, gallery_dir):
    if not Path(CHROMIUM).exists():
        missing("Debian's chromium is not installed (scripts/setup.sh installs it)")
    translator = Translator.from_pretrained(tiny_checkpoint, device="cpu")
    app = create_app(translator, load_gallery(gallery_dir, translator.cfg))
    with BackgroundServer(app) as url, sync_api.sync_playwright() as p:
        browser = launch(p)
        page = open_page(browser, url)
        yield page
        browser.close()


def canvas_ids(page, canvas: str) -> np.ndarray:
    """Class ids read back from the canvas pixels, each snapped to the nearest palette colour."""
    rgba = page.evaluate("""(sel) => {
        const c = document.querySelector(sel);
        return Array.from(c.getContext("2d").getImageData(0, 0, c.width, c.height).data);
    }""", canvas)
    rgb = np.array(rgba, np.int64).reshape(-1, 4)[:, :3]
    ids = ((rgb[:, None, :] - PALETTE[None]) ** 2).sum(-1).argmin(1)
    return ids.reshape(64, 64)


def state_ids(page, which: str) -> np.ndarray:
    return np.array(page.evaluate(f"() => Array.from(window.cocosnet.{which}.ids)"), np.int64).reshape(64, 64)


def test_painter_end_to_end(page, tmp_path):
    canvas = "#painter-canvas"
    assert page.locator("#painter .swatch").count() == 10
    start = canvas_ids(page, canvas)
    assert set(np.unique(start)) == {SKY, GRASS} and (start[0] == SKY).all() and (start[-1] == GRASS).all()

    # two labels, drawn
    page.locator("#painter [data-brush]").fill("6")
    choose(page, "painter", "water")
    drag(page, canvas, [(0.1, 0.85), (0.5, 0.85), (0.9, 0.8)])
    after_water = canvas_ids(page, canvas)
    assert (after_water == WATER).sum() > 100 and after_water[54, 32] == WATER
    choose(page, "painter", "tree")
    drag(page, canvas, [(0.3, 0.25), (0.6, 0.25)])
    after_tree = canvas_ids(page, canvas)
    assert after_tree[16, 30] == TREE and (after_tree == TREE).sum() > 50 and (after_tree == SKY).sum() > 1000

    # a flood fill of the sky (the tree stays)
    choose(page, "painter", "mountain")
    page.locator("#painter [data-tool=fill]").click()
    click(page, canvas, 0.05, 0.05)
    filled = canvas_ids(page, canvas)
    assert (filled == SKY).sum() == 0 and (filled == MOUNTAIN).sum() == (after_tree == SKY).sum()
    assert np.array_equal(filled == TREE, after_tree == TREE)
    assert np.array_equal(state_ids(page, "painter"), filled)  # the canvas shows exactly the state

    # undo twice, redo twice
    page.locator("#painter [data-action=undo]").click()
    assert np.array_equal(canvas_ids(page, canvas), after_tree)
    page.keyboard.press("Control+z")
    assert np.array_equal(canvas_ids(page, canvas), after_water)
    page.locator("#painter [data-action=redo]").click()
    assert np.array_equal(canvas_ids(page, canvas), after_tree)
    page.locator("#painter [data-action=redo]").click()
    assert np.array_equal(canvas_ids(page, canvas), filled)
    assert page.locator("#painter [data-action=redo]").is_disabled()

    # save the painting (a single-channel PNG of ids), clean, load it back
    with page.expect_download() as download:
        page.locator("#painter [data-action=save]").click()
    saved = tmp_path / "painting.png"
    download.value.save_as(saved)
    img = Image.open(saved)
    assert img.mode == "L" and np.array_equal(np.asarray(img), filled)
    page.locator("#painter [data-action=clean]").click()
    assert (canvas_ids(page, canvas) == 0).all()
    page.locator("#painter [data-load]").set_input_files(str(saved))
    page.wait_for_selector("footer:not(.working)")
    assert page.locator("footer").inner_text() == "Loaded painting.png."
    assert np.array_equal(canvas_ids(page, canvas), filled)

    # retrieve an exemplar, pick the best, translate
    page.locator("#ref-retrieve").click()
    page.wait_for_selector("#ref-candidates .candidate")
    assert page.locator("#ref-candidates .candidate").count() == 5
    page.locator("#ref-candidates .candidate").first.click()
    assert page.evaluate("() => window.cocosnet.reference().id") is not None
    page.locator("#translate").click()
    page.wait_for_selector("footer.done", timeout=30_000)
    for sel in ("#output", "#warped"):
        assert page.evaluate(f"() => [document.querySelector('{sel}').naturalWidth, "
                             f"document.querySelector('{sel}').naturalHeight]") == [64, 64]
    assert page.locator("#output").bounding_box()["width"] > 100
    page.screenshot(path=str(tmp_path / "painter.png"))
    with page.expect_download() as download:
        page.locator("#save-output").click()
    download.value.save_as(tmp_path / "output.png")
    assert Image.open(tmp_path / "output.png").size == (64, 64)


def test_editor_end_to_end(page, tmp_path):
    page.locator("#tab-editor").click()
    assert page.locator("#painter").is_hidden() and page.locator("#editor").is_visible()
    page.wait_for_selector("#editor-candidates .candidate")
    page.locator("#editor-candidates .candidate[data-item-id=lake0]").click()
    page.wait_for_selector("#editor-photo[src='/api/gallery/lake0/image.png']")
    original = np.asarray(Image.open(io.BytesIO(
        page.request.get(f"{page.url_root}/api/gallery/lake0/label.png").body())))
    assert np.array_equal(canvas_ids(page, "#editor-canvas"), original)

    page.locator("#editor [data-brush]").fill("8")
    choose(page, "editor", "rock")
    drag(page, "#editor-canvas", [(0.4, 0.3), (0.6, 0.3)])
    edited = canvas_ids(page, "#editor-canvas")
    assert (edited != original).sum() > 20
    assert page.locator("#inpaint").is_checked()
    page.locator("#synthesis").click()
    page.wait_for_selector("footer.done", timeout=30_000)
    size = page.evaluate("() => [document.querySelector('#editor-output').naturalWidth, "
                         "document.querySelector('#editor-output').naturalHeight]")
    assert size == [64, 64]
    page.screenshot(path=str(tmp_path / "editor.png"))
    with page.expect_download() as download:
        page.locator("#editor-save").click()
    download.value.save_as(tmp_path / "edit.png")
    out = np.asarray(Image.open(tmp_path / "edit.png").convert("RGB")).astype(int)
    photo = np.asarray(Image.open(io.BytesIO(
        page.request.get(f"{page.url_root}/api/gallery/lake0/image.png").body())).convert("RGB")).astype(int)
    assert np.array_equal(out[-8:], photo[-8:])  # far from the edit: the original photo, untouched
    # Revert restores the original labels
    page.locator("#editor [data-action=clean]").click()
    assert np.array_equal(canvas_ids(page, "#editor-canvas"), original)


def test_nothing_left_the_machine_and_no_errors(page):
    outside = [u for u in page.requests if not u.startswith((page.url_root, "data:", "blob:"))]
    assert outside == []
    assert page.errors == []
