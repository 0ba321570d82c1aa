"""Screenshots of the painter (with its inspector overlay and Styles panel), the editor and the Makeup tab for docs/
(headless Debian Chromium through Playwright).

    PYTHONPATH=src python scripts/app_screenshots.py [--checkpoint DIR] [--url http://127.0.0.1:7860]
        [--out docs] [--only makeup]

Without --url it serves the checkpoint itself (the bundled landscapes model when none is given).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.helpers.browser


def shrink(png: bytes, path: Path) -> None:
    """A 256-colour PNG: a third of the size, no visible difference for a UI."""
    from PIL import Image

    Image.open(io.BytesIO(png)).convert("RGB").quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)


def take_makeup(page, out: Path) -> None:
    """The Makeup tab: the astronaut with a painted layer (scripts/makeup_example.py), a turned copy as the target,
    a stroke of extra lip colour painted by hand, transferred."""
    import tempfile

    from tests.helpers.browser import drag

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from makeup_example import main as write_example

    with tempfile.TemporaryDirectory() as tmp:
        argv, sys.argv = sys.argv, ["makeup_example.py", tmp]
        try:
            write_example()
        finally:
            sys.argv = argv
        page.locator("#tab-makeup").click()
        page.set_input_files("#mk-ref-file", str(Path(tmp) / "reference.png"))
        page.wait_for_function("document.getElementById('mk-layer').width === 512")
        page.set_input_files("#mk-layer-file", str(Path(tmp) / "layer.png"))
        page.wait_for_function("() => document.getElementById('status').textContent.startsWith('Layer')")
        page.locator("#mk-brush").fill("4")
        drag(page, "#mk-layer", [(0.41, 0.285), (0.455, 0.292)])
        page.set_input_files("#mk-target-files", [str(Path(tmp) / "target.png"), str(Path(tmp) / "reference.png")])
        page.wait_for_function("() => !document.getElementById('mk-transfer').disabled")
        page.locator("#mk-transfer").click()
        page.wait_for_selector("footer.done")
        page.wait_for_function("() => document.querySelectorAll('#mk-results [data-after][src]').length === 2")
        shrink(page.screenshot(), out / "makeup_tab.png")


def take(url: str, out: Path, only: str | None = None) -> None:
    from playwright.sync_api import sync_playwright
    from tests.helpers.browser import choose, click, drag, launch

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]")
        if only == "makeup":
            take_makeup(page, out)
            browser.close()
            return
        # painter: a mountain ridge (drawn, then filled below), a lake, trees; retrieve, translate
        choose(page, "painter", "mountain")
        page.locator("#painter [data-brush]").fill("6")
        drag(page, "#painter-canvas", [(0, 0.45), (0.2, 0.3), (0.35, 0.42), (0.55, 0.22), (0.8, 0.4), (1, 0.33)])
        page.locator("#painter [data-tool=fill]").click()
        click(page, "#painter-canvas", 0.5, 0.5)
        page.locator("#painter [data-tool=draw]").click()
        page.locator("#painter [data-brush]").fill("40")
        choose(page, "painter", "water")
        drag(page, "#painter-canvas", [(0.2, 0.78), (0.45, 0.8), (0.6, 0.76)])
        choose(page, "painter", "tree")
        for fx in (0.1, 0.8, 0.9):
            drag(page, "#painter-canvas", [(fx, 0.66), (fx, 0.72)])
        page.locator("#ref-retrieve").click()
        page.wait_for_selector("#ref-candidates .candidate")
        page.locator("#ref-candidates .candidate").first.click()
        page.locator("#translate").click()
        page.wait_for_selector("footer.done")
        shrink(page.screenshot(), out / "painter.png")
        # the inspector: a road the reference lacks, translated again, the confidence over the output
        choose(page, "painter", "road")
        page.locator("#painter [data-brush]").fill("12")
        drag(page, "#painter-canvas", [(0.3, 0.97), (0.4, 0.85), (0.45, 0.74)])
        page.locator("#translate").click()
        page.wait_for_selector("footer.done")
        page.locator("#inspector-mode").select_option("confidence")
        page.wait_for_selector("#inspector-overlay[data-shown=confidence]")
        shrink(page.screenshot(), out / "inspector.png")
        # editor: a gallery item, trees painted over its lake, inpainted
        page.locator("#tab-editor").click()
        page.wait_for_selector("#editor-candidates .candidate")
        page.locator("#editor-candidates .candidate").first.click()
        page.wait_for_selector("#editor-photo[src^='/api/gallery/']")
        choose(page, "editor", "tree")
        page.locator("#editor [data-brush]").fill("30")
        drag(page, "#editor-canvas", [(0.15, 0.8), (0.4, 0.85), (0.7, 0.8)])
        page.locator("#synthesis").click()
        page.wait_for_selector("footer.done")
        shrink(page.screenshot(), out / "editor.png")
        take_makeup(page, out)
        take_styles(page, out)
        browser.close()


def take_styles(page, out: Path) -> None:
    """The painter's Styles panel: the painting styled by two gallery references, the sky by the second."""
    from tests.helpers.browser import choose

    page.locator("#tab-painter").click()
    page.locator("#ref-gallery").click()
    page.wait_for_selector("#ref-candidates .candidate")
    for index in (0, 3):
        page.locator("#ref-candidates .candidate").nth(index).click()
        page.locator("#styles-add").click()
    choose(page, "painter", "sky")
    page.locator(".style-ref[data-index='1'] [data-action=class]").click()
    page.locator("#styles-translate").click()
    page.wait_for_selector("footer.done")
    page.set_viewport_size({"width": 1280, "height": 1400})
    page.evaluate("window.scrollTo(0, 0)")
    shrink(page.screenshot(), out / "painter_styles.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="native model folder (default: the bundled landscapes model)")
    ap.add_argument("--url", help="a running `cocosnet serve` instead of serving here")
    ap.add_argument("--out", default="docs")
    ap.add_argument("--only", choices=["makeup"], help="only the Makeup tab's screenshot")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.url:
        take(args.url, out, args.only)
        return
    from cocosnet.app import BackgroundServer, create_app
    from cocosnet.commands.serve import builtin_gallery
    from cocosnet.inference import Translator, default_checkpoint

    with contextlib.ExitStack() as stack:
        translator = Translator.from_pretrained(args.checkpoint or default_checkpoint(), device="cpu")
        app = create_app(translator, builtin_gallery(translator.cfg))
        take(stack.enter_context(BackgroundServer(app)), out, args.only)
    print(f"wrote {out / 'makeup_tab.png'}" if args.only else f"wrote {out / 'painter.png'}, {out / 'inspector.png'}, "
          f"{out / 'editor.png'}, {out / 'makeup_tab.png'} and {out / 'painter_styles.png'}")


if __name__ == "__main__":
    main()
