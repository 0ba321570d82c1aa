"""The painter's Styles panel in headless Chromium: two references, a class assigned to the second, a painted
region to the first, Translate with styles; the assignment map the page shows is the server's, and the
thumbnails say what each reference styles."""

import numpy as np

from ..conftest import require_module

require_module("fastapi")
require_module("playwright.sync_api")

from ..helpers.browser import choose, drag  # noqa: E402
from .test_browser import page  # noqa: E402, F401  (the served page, a fixture of this module too)

SKY = 6


def pick_and_add(tab, index: int) -> None:
    tab.locator(".candidate").nth(index).click()
    tab.locator("#styles-add").click()


def test_a_class_and_a_region_styled_by_their_own_references(page, tmp_path):  # noqa: F811
    page.wait_for_selector("#styles #styles-add")
    page.locator("#styles-translate").click()
    page.wait_for_selector("footer.error")
    assert "Add at least one reference" in page.locator("footer").inner_text()
    page.locator("#styles-add").click()
    assert "Pick a reference first" in page.locator("footer").inner_text()

    page.locator("#ref-gallery").click()
    page.wait_for_selector("#ref-candidates .candidate")
    pick_and_add(page, 0)
    pick_and_add(page, 1)
    assert page.locator(".style-ref").count() == 2
    refs = page.evaluate("() => window.cocosnet.styles.refs.map((r) => r.exemplar.id)")
    assert len(refs) == 2 and all(refs)

    choose(page, "painter", "sky")  # select a label, then pick a reference for it
    page.locator(".style-ref[data-index='1'] [data-action=class]").click()
    assert page.evaluate("() => window.cocosnet.styles.assign") == {"sky": 1}
    page.locator("#painter [data-brush]").fill("8")
    page.locator("#styles-region").scroll_into_view_if_needed()
    drag(page, "#styles-region", [(0.1, 0.1), (0.3, 0.1)])  # a painted region in the sky, to reference 0
    page.locator(".style-ref[data-index='0'] [data-action=region]").click()
    texts = page.locator(".style-ref .styles-what").all_inner_texts()
    assert texts == ["0: 1 region, everything else", "1: sky"]

    page.locator("#styles-translate").click()
    page.wait_for_selector("footer.done", timeout=30_000)
    ids = np.array(page.evaluate("() => Array.from(window.cocosnet.painter.ids)")).reshape(64, 64)
    region = np.array(page.evaluate("() => Array.from(window.cocosnet.styles.regions[0].mask)")).reshape(64, 64)
    shown = np.array(page.evaluate("() => Array.from(window.cocosnet.styles.assignment)")).reshape(64, 64)
    assert region.sum() > 20 and (ids[region > 0] == SKY).all()
    expected = (ids == SKY).astype(np.int64)
    expected[region > 0] = 0
    assert np.array_equal(shown, expected)
    assert page.evaluate("() => document.querySelector('#styles-assignment').naturalWidth") == 64
    assert page.evaluate("() => document.querySelector('#output').naturalWidth") == 64
    page.screenshot(path=str(tmp_path / "styles.png"), full_page=True)
    assert not page.errors
