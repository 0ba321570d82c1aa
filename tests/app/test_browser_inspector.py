"""The inspector overlay in the painter, in headless Chromium: paint a class the reference lacks, translate, see
the warning name it, and the confidence / flow overlays show the API's maps over the output."""

from pathlib import Path

import numpy as np
import pytest

from ..conftest import missing, require_module

require_module("fastapi")
sync_api = require_module("playwright.sync_api")

from cocosnet.app import BackgroundServer, create_app, load_gallery  # noqa: E402
from cocosnet.inference import Translator  # noqa: E402
from cocosnet.viz import confidence_image, flow_image  # noqa: E402

from ..helpers.browser import CHROMIUM, choose, drag, launch  # noqa: E402


@pytest.fixture(scope="module")
def served(tiny_checkpoint, gallery_dir):
    if not Path(CHROMIUM).exists():
        missing("Debian's chromium is not installed (scripts/setup.sh installs it)")
    translator = Translator.from_pretrained(tiny_checkpoint, device="cpu")
    gallery = load_gallery(gallery_dir, translator.cfg)
    with BackgroundServer(create_app(translator, gallery)) as url, sync_api.sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        yield page, translator, gallery
        browser.close()


def overlay_rgba(page) -> np.ndarray:
    return np.array(page.evaluate("""() => {
        const c = document.getElementById("inspector-overlay");
        return Array.from(c.getContext("2d").getImageData(0, 0, c.width, c.height).data);
    }"""), np.int64).reshape(64, 64, 4)


def test_the_overlay_and_the_missing_class_warning(served):
    page, translator, gallery = served
    choose(page, "painter", "road")
    page.locator("#painter [data-brush]").fill("8")
    drag(page, "#painter-canvas", [(0.1, 0.8), (0.9, 0.8)])
    page.locator("#ref-gallery").click()
    page.locator("#ref-candidates .candidate[data-item-id=lake0]").click()
    assert page.locator("#missing-classes").is_hidden() and page.locator("#inspector-overlay").is_hidden()
    page.locator("#translate").click()
    page.wait_for_selector("footer.done", timeout=30_000)
    warning = page.locator("#missing-classes")
    assert warning.is_visible() and "The reference has no road" in warning.inner_text()

    ids = np.array(page.evaluate("() => Array.from(window.cocosnet.painter.ids)"), np.int64).reshape(64, 64)
    item = gallery.get("lake0")
    want = translator.translate(ids, item.image, item.label, inspect=True)
    assert [c.name for c in want.missing_classes[0]] == ["road"]

    page.locator("#inspector-mode").select_option("confidence")
    page.wait_for_selector("#inspector-overlay[data-shown=confidence]")
    rgba = overlay_rgba(page)
    unsure = 255 - np.asarray(confidence_image(want.confidence[0])).astype(np.int64)
    assert np.abs(rgba[..., 3] - np.round(unsure * 0.85)).max() <= 1  # red, as opaque as the match is unsure
    assert (rgba[..., 0][rgba[..., 3] > 40] > 200).all()
    out, over = page.locator("#output").bounding_box(), page.locator("#inspector-overlay").bounding_box()
    assert all(abs(out[k] - over[k]) < 2 for k in ("x", "y", "width", "height"))  # stacked on the output
    assert "low confidence" in page.locator("#inspector-legend").inner_text()

    page.locator("#inspector-mode").select_option("flow")
    page.wait_for_selector("#inspector-overlay[data-shown=flow]")
    wheel = np.asarray(flow_image(want.flow[0])[0]).astype(np.int64)
    assert np.abs(overlay_rgba(page)[..., :3] - wheel).max() <= 2
    assert "full colour" in page.locator("#inspector-legend").inner_text()

    page.locator("#inspector-mode").select_option("off")
    assert page.locator("#inspector-overlay").is_hidden()
    assert not page.errors
