"""`cocosnet serve`: its flags, the app it hands to uvicorn, and the built-in gallery it builds for the app."""

import numpy as np
import pytest

from ..conftest import require_module

require_module("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from cocosnet.commands.serve import builtin_gallery  # noqa: E402
from cocosnet.presets import get_model_config  # noqa: E402


def test_serve_command(monkeypatch, tiny_checkpoint, gallery_dir, capsys):
    import uvicorn

    from cocosnet.cli import build_parser, main

    args = build_parser().parse_args(["serve", "--checkpoint", str(tiny_checkpoint)])
    assert (args.host, args.port, args.gallery) == ("127.0.0.1", 7860, None)
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **kw: seen.update(app=app, host=host, port=port))
    assert main(["serve", "--checkpoint", str(tiny_checkpoint), "--gallery", str(gallery_dir), "--port", "9999",
                 "--device", "cpu"]) == 0
    assert seen["host"] == "127.0.0.1" and seen["port"] == 9999
    with TestClient(seen["app"]) as c:
        assert c.get("/api/health").json()["gallery_items"] == 5
    assert "5 gallery items" in capsys.readouterr().out
    # the built-in gallery when none is given
    assert main(["serve", "--checkpoint", str(tiny_checkpoint), "--no-warmup", "--device", "cpu"]) == 0
    with TestClient(seen["app"]) as c:
        assert c.get("/api/health").json()["gallery_items"] == 14  # the built-in gallery: 2 scenes of each style family


def test_builtin_gallery_is_the_validation_landscapes_in_every_style_family():
    cfg = get_model_config("tiny")
    gallery = builtin_gallery(cfg, n=8)
    assert list(gallery.items) == [f"scene-{i:02d}" for i in range(8)]
    first, last = gallery.get("scene-00"), gallery.get("scene-07")
    assert (first.name, last.name) == ("coast, day", "lake, day")  # 7 families, 6 scene kinds
    assert first.image.size == (64, 64) and first.label.shape == (64, 64) and first.label.dtype == np.int64
    assert 0 < first.label.min() and first.label.max() < cfg.label_nc  # class 0 (unlabeled) is never drawn
    assert gallery.retrieve(last.label, 1)[0] == (last, 1.0)


def test_builtin_gallery_is_empty_for_other_classes():
    assert len(builtin_gallery(get_model_config("celebahq_mask"))) == 0


@pytest.mark.parametrize("port", ["80000", "-1", "http"])
def test_a_port_out_of_range_is_an_argparse_error(port, capsys):
    from cocosnet.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["serve", "--port", port])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "cocosnet serve: error: argument --port: " in err and "Traceback" not in err
    assert ("is out of range: a TCP port is 0..65535" if port != "http" else "not a port number: 'http'") in err
