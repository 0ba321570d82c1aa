"""The app with the fake translator, served in its own process for the flood test: `python flood_server.py SLOTS
WAITING DELAY` prints the server's URL, serves until its stdin closes. Each translation takes DELAY seconds."""

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cocosnet.app import AppSettings, BackgroundServer, create_app  # noqa: E402
from cocosnet.presets import get_model_config  # noqa: E402
from tests.app.conftest import FakeTranslator  # noqa: E402


class SlowTranslator(FakeTranslator):
    def __init__(self, cfg, delay: float):
        super().__init__(cfg)
        self.delay = delay

    def translate(self, label, exemplar, exemplar_label=None):
        time.sleep(self.delay)
        try:
            return super().translate(label, exemplar, exemplar_label)
        finally:
            self.calls.clear()  # keep no inputs beyond the request


def main() -> None:
    slots, waiting, delay = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    app = create_app(SlowTranslator(get_model_config("tiny"), delay), settings=AppSettings(slots=slots,
                                                                                           waiting=waiting))
    with BackgroundServer(app) as url:
        print(url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
