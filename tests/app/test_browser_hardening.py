"""The painter and editor under the conditions that broke them: shortcuts after a slider or checkbox, narrow and
middle-sized windows, a busy server, empty image slots, a text file offered as a photo; and the brush preview.

Headless Debian Chromium driven by Playwright, as in test_app_browser.py. The server has one inference slot and no
waiting place, and its translator waits at a gate the busy test closes, so a second request gets the real 503.
"""

import base64
import io
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ..conftest import missing, require_module

require_module("fastapi")
httpx = require_module("httpx")
sync_api = require_module("playwright.sync_api")

from cocosnet.app import AppSettings, BackgroundServer, create_app, load_gallery  # noqa: E402
from cocosnet.inference import Translator  # noqa: E402

from ..helpers.browser import CHROMIUM, choose, drag, launch  # noqa: E402

WIDTHS = (390, 1001, 1100, 1230, 1400)


class GatedTranslator:
    """The real translator, held at a gate while a test keeps the only inference slot busy."""

    def __init__(self, translator):
        self.inner, self.cfg, self.device = translator, translator.cfg, translator.device
        self.gate = threading.Event()
        self.gate.set()

    def translate(self, *args, **kwargs):
        self.gate.wait(30)
        return self.inner.translate(*args, **kwargs)


@pytest.fixture(scope="module")
def served(tiny_checkpoint, gallery_dir):
    if not Path(CHROMIUM).exists():
        missing("Debian's chromium is not installed (scripts/setup.sh installs it)")
    translator = GatedTranslator(Translator.from_pretrained(tiny_checkpoint, device="cpu"))
    app = create_app(translator, load_gallery(gallery_dir, translator.cfg), AppSettings(slots=1, waiting=0))
    with BackgroundServer(app) as url, sync_api.sync_playwright() as p:
        browser = launch(p)
        yield browser, url, translator
        browser.close()


@pytest.fixture
def page(served):
    """A fresh page per test (1280 px wide), with the page's uncaught errors collected."""
    browser, url, _ = served
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    page.url_root = url
    yield page
    page.close()
    assert errors == []


def pixels(page, canvas: str) -> np.ndarray:
    """The canvas as the user sees it: its RGBA bytes."""
    return np.array(page.evaluate("""(sel) => {
        const c = document.querySelector(sel);
        return Array.from(c.getContext("2d").getImageData(0, 0, c.width, c.height).data);
    }""", canvas), np.uint8)


def footer(page, kind: str) -> str:
    page.wait_for_selector(f"footer.{kind}", timeout=30_000)
    return page.locator("footer").inner_text()


def png_bytes(mode="RGB", colour=(40, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (64, 64), colour).save(buffer, format="PNG")
    return buffer.getvalue()


TEXT_FILE = {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a picture\n"}
TEXT_AS_PNG = {"name": "notes.png", "mimeType": "image/png", "buffer": b"not a picture either\n"}


# ------------------------------------------------------------------------------------------- shortcuts
@pytest.mark.parametrize("workspace, control", [("painter", "#painter [data-brush]"), ("editor", "#inpaint"),
                                                ("editor", "#editor-opacity"), ("editor", "#feather")])
def test_undo_and_redo_keys_work_after_a_slider_or_checkbox(page, workspace, control):
    canvas = f"#{workspace}-canvas"
    if workspace == "editor":
        page.locator("#tab-editor").click()
        page.locator("#editor-candidates .candidate[data-item-id=lake0]").click()
        page.wait_for_selector("#editor-photo[src]")
    choose(page, workspace, "road")
    page.locator(control).click()
    assert page.evaluate("(sel) => document.activeElement === document.querySelector(sel)", control)
    before = pixels(page, canvas)
    drag(page, canvas, [(0.2, 0.5), (0.8, 0.5)])  # the canvas is now the last thing touched
    painted = pixels(page, canvas)
    assert (painted != before).sum() > 40
    page.keyboard.press("Control+z")
    assert np.array_equal(pixels(page, canvas), before)
    page.keyboard.press("Control+y")
    assert np.array_equal(pixels(page, canvas), painted)
    page.locator(control).focus()  # a shortcut pressed while the control still has the focus works too
    page.keyboard.press("Control+z")
    assert np.array_equal(pixels(page, canvas), before)
    page.keyboard.press("Control+Shift+z")
    assert np.array_equal(pixels(page, canvas), painted)


# ----------------------------------------------------------------------------------------------- layout
def test_no_horizontal_overflow_from_phone_to_desktop(page, tmp_path):
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        for workspace in ("painter", "editor"):
            page.locator(f"#tab-{workspace}").click()
            scroll, client = page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert scroll <= client, f"{workspace} at {width} px: {scroll} px wide content in {client} px"
            canvas = page.locator(f"#{workspace}-canvas").bounding_box()
            assert canvas["width"] >= min(0.8 * width, 300) and abs(canvas["width"] - canvas["height"]) < 1
            if width in (390, 1100):
                page.screenshot(path=str(tmp_path / f"{workspace}_{width}.png"), full_page=True)


# --------------------------------------------------------------------------------------------- busy server
def test_the_busy_message_says_when_to_retry_once(page, served):
    _, url, translator = served
    label = base64.b64encode(png_bytes(mode="L", colour=6)).decode()
    translator.gate.clear()
    holder = threading.Thread(target=lambda: httpx.post(f"{url}/api/translate", timeout=60,
                                                        json={"label": label, "exemplar_id": "lake0"}))
    try:
        holder.start()
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/api/health").json()["queue"]["pending"] < 1:  # the only slot is taken
            assert time.monotonic() < deadline, "the holding request never reached the queue"
            time.sleep(0.05)
        page.locator("#translate").click()
        message = footer(page, "error")
    finally:
        translator.gate.set()
        holder.join(60)
    assert message.startswith("the server is busy (all inference slots and waiting places are taken); retry in ")
    assert message.count("retry in") == 1 and message.endswith(" s")
    assert page.locator("#translate").is_enabled()
    page.locator("#translate").click()  # free again: the retry works
    assert footer(page, "done").startswith("Translated in")


# ------------------------------------------------------------------------------------------- image slots
BROKEN = """() => Array.from(document.querySelectorAll("img")).filter((img) =>
    (img.getAttribute("src") === "" || (img.complete && img.naturalWidth === 0))
    && img.getClientRects().length && getComputedStyle(img).visibility !== "hidden").map((img) => img.id || img.alt)"""


def test_empty_and_failed_image_slots_show_no_broken_image(page):
    assert page.evaluate(BROKEN) == []
    page.locator("#ref-gallery").click()
    page.locator("#ref-candidates .candidate").first.click()
    page.wait_for_function("() => document.querySelector('#ref-image').naturalWidth > 0")
    page.locator("#ref-clean").click()  # emptied slots
    assert page.evaluate(BROKEN) == [] and page.locator("#ref-image").get_attribute("src") is None
    page.evaluate("() => { document.querySelector('#output').src = '/static/missing.png'; }")  # a failed load
    page.wait_for_function("() => !document.querySelector('#output').hasAttribute('src')")
    page.locator("#tab-editor").click()
    page.locator("#editor-candidates .candidate").nth(1).click()
    page.wait_for_selector("#editor-photo[src]")
    assert page.evaluate(BROKEN) == []
    assert page.locator("#editor-output").is_hidden() and page.locator("#editor-original").is_visible()


# ----------------------------------------------------------------------------------------- photo uploads
@pytest.mark.parametrize("bad", [TEXT_FILE, TEXT_AS_PNG], ids=["txt", "txt-named-png"])
def test_a_text_file_is_refused_as_a_photo_at_once(page, bad):
    page.locator("#ref-photo-file").set_input_files(bad)
    assert footer(page, "error") == f"{bad['name']} is not an image this browser can read (PNG, JPEG, WebP, ...)."
    assert page.evaluate("() => window.cocosnet.reference()") is None
    assert page.locator("#ref-image").get_attribute("src") is None

    page.locator("#tab-editor").click()
    page.locator("#editor-photo-file").set_input_files(bad)
    assert footer(page, "error").startswith(f"{bad['name']} is not an image")
    page.locator("#editor-label-file").set_input_files({"name": "l.png", "mimeType": "image/png",
                                                        "buffer": png_bytes()})
    assert footer(page, "error") == "Open the photo first."  # the refused photo was not kept

    page.locator("#tab-painter").click()
    page.locator("#ref-photo-file").set_input_files({"name": "ok.png", "mimeType": "image/png",
                                                     "buffer": png_bytes()})
    page.wait_for_function("() => window.cocosnet.reference() !== null")
    assert page.locator("footer").inner_text().startswith(("Reference photo set.", "Now open the photo's label"))


# ------------------------------------------------------------------------------------------ brush preview
def test_the_brush_preview_follows_the_cursor_with_the_brush_diameter(page):
    canvas = page.locator("#painter-canvas")
    preview = page.locator("#painter .brush-preview")
    size = page.evaluate("() => window.cocosnet.info.image_size")
    assert preview.is_hidden()
    for brush, (fx, fy) in ((10, (0.3, 0.4)), (3, (0.7, 0.2)), (16, (0.5, 0.9))):
        page.locator("#painter [data-brush]").fill(str(brush))
        box = canvas.bounding_box()
        x, y = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
        page.mouse.move(x, y, steps=3)
        shown = preview.bounding_box()
        assert preview.is_visible()
        assert abs(shown["x"] + shown["width"] / 2 - x) < 1 and abs(shown["y"] + shown["height"] / 2 - y) < 1
        diameter = brush * box["width"] / size
        assert abs(shown["width"] - diameter) < 1 and abs(shown["height"] - diameter) < 1
    page.mouse.move(box["x"] - 20, box["y"] - 20)  # off the canvas
    assert preview.is_hidden()
    page.locator("#painter [data-tool=fill]").click()  # the fill tool has no footprint
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert preview.is_hidden()
