"""The TensorBoard health panel (Scalars filtered to health/) of a short run, for docs/training.md (headless
Debian Chromium through Playwright; TensorBoard serves its page itself, nothing is fetched from the network).

    PYTHONPATH=src python scripts/health_panel_screenshot.py [--run DIR] [--out docs/health_panel.png]

Without --run it first trains the tiny preset on the landscapes for 5 steps with `--health-every 1` into a
temporary folder (about a minute on a CPU).
"""

from __future__ import annotations

import argparse
import io
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.helpers.browser


def short_run(out: Path) -> None:
    from cocosnet.cli import main

    code = main(["train", "--preset", "tiny", "--data", "landscapes", "--vgg", "random", "--length", "8",
                 "--batch-size", "2", "--max-steps", "5", "--health-every", "1", "--health-batch", "2",
                 "--no-progress", "--out", str(out)])
    if code != 0:
        raise SystemExit(f"the short training run failed (exit {code})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_tensorboard(logdir: Path, port: int) -> subprocess.Popen:
    """TensorBoard on 127.0.0.1:port, returned once it answers."""
    tb = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
                           "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugins_listing", timeout=1)
            return tb
        except OSError:
            if tb.poll() is not None:
                raise SystemExit(f"tensorboard exited with status {tb.returncode}") from None
            time.sleep(0.5)
    tb.terminate()
    raise SystemExit("tensorboard did not answer within a minute")


def screenshot(url: str, path: Path) -> None:
    from PIL import Image
    from playwright.sync_api import sync_playwright
    from tests.helpers.browser import launch

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1080, "height": 1600})
        page.goto(f"{url}/#scalars&tagFilter=health&_smoothingWeight=0")
        page.wait_for_selector("text=health/match_entropy", timeout=60_000)
        page.get_by_text("Ignore outliers in chart scaling").click()  # show every point of a 5-step run
        page.wait_for_timeout(3000)  # the charts redraw
        png = page.screenshot()
        browser.close()
    im = Image.open(io.BytesIO(png)).convert("RGB")
    im = im.resize((im.width * 3 // 4, im.height * 3 // 4), Image.LANCZOS)
    im.quantize(128, dither=Image.Dither.NONE).save(path, optimize=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="a training run folder with health/ scalars (default: train one)")
    ap.add_argument("--out", type=Path, default=Path("docs/health_panel.png"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = args.run
        if run is None:
            run = Path(tmp) / "run"
            short_run(run)
        port = free_port()
        tb = serve_tensorboard(run, port)
        try:
            screenshot(f"http://127.0.0.1:{port}", args.out)
        finally:
            tb.terminate()
            tb.wait(timeout=30)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
