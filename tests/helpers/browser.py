"""Driving the page in headless Chromium with Playwright: used by the end-to-end tests and the docs screenshots.

Debian's Chromium (`apt-get install chromium`) through `executable_path`; no browser is ever downloaded. The
flags keep it from opening connections of its own (they are refused on a closed network).
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def _at(page, canvas: str, fx: float, fy: float) -> tuple[float, float]:
    box = page.locator(canvas).bounding_box()
    return box["x"] + fx * box["width"], box["y"] + fy * box["height"]


def drag(page, canvas: str, points: list[tuple[float, float]]) -> None:
    """Press, move through the points (fractions of the canvas size), release: one brush stroke."""
    xy = [_at(page, canvas, fx, fy) for fx, fy in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=6)
    page.mouse.up()


def click(page, canvas: str, fx: float, fy: float) -> None:
    page.mouse.click(*_at(page, canvas, fx, fy))


def choose(page, workspace: str, class_name: str) -> None:
    """Select a class in the palette of the painter or the editor."""
    page.locator(f"#{workspace} .swatch", has_text=class_name).first.click()


def open_page(browser, url: str):
    """A 1280x800 page on `url`, ready (body[data-ready]); `page.requests` and `page.errors` record every request
    and every console / page error, `page.url_root` the server's address."""
    page = browser.new_page(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page.requests, page.errors = [], []
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    page.url_root = url
    return page


@contextmanager
def served_page(app, missing):
    """`app` served in the background and a ready page on it (`open_page`); `missing(reason)` when Debian's
    chromium is absent."""
    from playwright.sync_api import sync_playwright

    from cocosnet.app import BackgroundServer

    if not Path(CHROMIUM).exists():
        missing("Debian's chromium is not installed (scripts/setup.sh installs it)")
    with BackgroundServer(app) as url, sync_playwright() as p:
        browser = launch(p)
        try:
            yield open_page(browser, url)
        finally:
            browser.close()
