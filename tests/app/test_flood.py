"""A flood of maximum-size uploads: the server in its own process, N concurrent 4096x4096 PNGs (flat colours, a
few tens of KB each), N well above slots + waiting places. The extra requests get 503 at once, and the server's
peak RSS (VmHWM) grows by less than the bound docs/app.md states: (slots + waiting) x the largest decoded request."""

import base64
import io
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ..conftest import require_module

require_module("fastapi")
httpx = require_module("httpx")
from cocosnet.app.state import DECODED_BYTES_PER_PIXEL, AppSettings  # noqa: E402
from cocosnet.presets import get_model_config  # noqa: E402
from cocosnet.viz import label_palette  # noqa: E402

SERVER = Path(__file__).resolve().parents[1] / "helpers" / "flood_server.py"
SLOTS, WAITING, DELAY, N = 1, 1, 1.5, 12
ALLOWANCE = 160 * 2**20  # the answers being encoded, glibc arenas of the helper threads, allocator slack


def b64png(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def max_size_body(side: int) -> dict:
    """Three side x side pictures of flat colour regions: a label map and the exemplar's label map in the classes'
    colours (the costliest form to decode), and an exemplar photo."""
    palette = label_palette(get_model_config("tiny")).astype(np.uint8)
    ids = np.full((side, side), 6, np.uint8)
    ids[side // 2:] = 7
    rgb = np.zeros((side, side, 3), np.uint8)
    rgb[: side // 3] = (90, 140, 200)
    rgb[side // 3:] = (40, 120, 60)
    return {"label": b64png(Image.fromarray(palette[ids])), "exemplar": b64png(Image.fromarray(rgb)),
            "exemplar_label": b64png(Image.fromarray(palette[ids[::-1]])), "return_warped": False}


def vm(pid: int, key: str) -> int:
    """A /proc/<pid>/status value in bytes (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {key} in /proc/{pid}/status")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads peak RSS from /proc/<pid>/status")
def test_a_flood_of_max_size_uploads_stays_under_the_stated_bound():
    settings = AppSettings(slots=SLOTS, waiting=WAITING)
    side = int(settings.max_pixels ** 0.5)
    body = max_size_body(side)
    assert max(len(v) for v in body.values() if isinstance(v, str)) < 200_000  # small on the wire, huge decoded
    server = subprocess.Popen([sys.executable, str(SERVER), str(SLOTS), str(WAITING), str(DELAY)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        with httpx.Client(timeout=60) as client:  # warm up the code paths with a small request
            small = max_size_body(64)
            assert client.post(f"{url}/api/translate", json=small).status_code == 200
        idle = vm(server.pid, "VmHWM")

        answers: list[tuple[int, float, str]] = []

        ready = threading.Barrier(N)

        def post():
            with httpx.Client(timeout=120) as client:
                ready.wait(60)  # every client made (an SSL context each: slow) before the first request
                start = time.monotonic()
                r = client.post(f"{url}/api/translate", json=body)
            answers.append((r.status_code, time.monotonic() - start, r.text[:120]))

        threads = [threading.Thread(target=post) for _ in range(N)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        assert len(answers) == N, "a request got no answer"
        peak = vm(server.pid, "VmHWM")
    finally:
        server.stdin.close()
        server.wait(30)

    statuses = sorted(status for status, _, _ in answers)
    assert set(statuses) <= {200, 503}, answers
    busy = [seconds for status, seconds, _ in answers if status == 503]
    assert len(busy) >= N - 2 * (SLOTS + WAITING), statuses  # the ones past the queue; a few may find a freed place
    assert max(busy) < DELAY, busy  # refused at once, before any decoding or waiting
    bound = settings.worst_case_decoded_bytes
    assert bound == (SLOTS + WAITING) * settings.max_pixels * DECODED_BYTES_PER_PIXEL
    growth = peak - idle
    print(f"idle {idle / 2**20:.0f} MiB, peak {peak / 2**20:.0f} MiB, growth {growth / 2**20:.0f} MiB, "
          f"bound {bound / 2**20:.0f} MiB + {ALLOWANCE / 2**20:.0f} MiB, answers {statuses}")
    assert growth < bound + ALLOWANCE
