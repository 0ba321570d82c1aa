"""`cocosnet translate`: inputs and options are checked before torch and the model load; no option is ignored."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from cocosnet.cli import main
from cocosnet.inference.default_model import default_checkpoint


@pytest.fixture
def inputs(tmp_path):
    Image.fromarray(np.full((32, 32), 3, np.uint8)).save(tmp_path / "label.png")
    Image.new("RGB", (32, 32), (120, 160, 200)).save(tmp_path / "photo.png")
    return tmp_path


def cocosnet_without_torch(*argv: str) -> subprocess.CompletedProcess:
    """`python -X importtime -m cocosnet ARGV` in a fresh interpreter (the import log goes to stderr)."""
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "cocosnet", *argv], capture_output=True,
                          text=True, timeout=120)


def torch_was_imported(stderr: str) -> bool:
    return any(line.rstrip().endswith("| torch") for line in stderr.splitlines())


def test_a_missing_input_is_reported_before_torch_loads(inputs):
    start = time.monotonic()
    done = cocosnet_without_torch("translate", "--input", "/nope.png", "--exemplar", str(inputs / "photo.png"),
                                  "--out", str(inputs / "out.png"))
    elapsed = time.monotonic() - start
    assert done.returncode == 2
    assert "cocosnet translate: error: --input: semantic input not found: /nope.png" in done.stderr
    assert "Traceback" not in done.stderr
    assert not torch_was_imported(done.stderr), "torch was imported before the input check"
    assert elapsed < 60  # generous: the point is that neither torch nor the model loaded (asserted above)
    assert not (inputs / "out.png").exists()


@pytest.mark.parametrize(("preset", "message"), [
    ("ade20k", "--preset ade20k needs the model's weights: --official DIR (the authors' latest_net_G.pth and "
               "latest_net_Corr.pth for ade20k) or --checkpoint DIR (a native folder whose config.json is the "
               "ade20k preset)"),
    ("nosuch", "unknown preset 'nosuch'; choose one of ade20k, "),
])
def test_a_preset_without_its_weights_is_refused_not_ignored(inputs, preset, message):
    done = cocosnet_without_torch("translate", "--preset", preset, "--input", str(inputs / "label.png"),
                                  "--exemplar", str(inputs / "photo.png"), "--exemplar-label",
                                  str(inputs / "label.png"), "--out", str(inputs / "out.png"))
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert not torch_was_imported(done.stderr)
    assert not (inputs / "out.png").exists()


def test_a_preset_must_match_the_checkpoint_config(inputs, capsys):
    rc = main(["translate", "--preset", "tiny", "--checkpoint", str(default_checkpoint()), "--input",
               str(inputs / "label.png"), "--exemplar", str(inputs / "photo.png"), "--exemplar-label",
               str(inputs / "label.png"), "--out", str(inputs / "out.png"), "--device", "cpu"])
    assert rc == 2
    assert "--preset tiny does not match" in capsys.readouterr().err
    assert not (inputs / "out.png").exists()


def test_a_picture_over_the_pixel_limit_is_a_clear_error(inputs, capsys):
    from tests.inference.test_preprocess import header_only_png

    bomb = header_only_png(inputs / "bomb.png", 20000, 20000)
    rc = main(["translate", "--input", str(inputs / "label.png"), "--exemplar", str(bomb), "--exemplar-label",
               str(inputs / "label.png"), "--out", str(inputs / "out.png"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 2 and f"{bomb}: refused from its header as a decompression bomb" in err
    assert not (inputs / "out.png").exists()


def test_a_colour_coded_label_map_gives_the_image_of_its_ids(inputs):
    from cocosnet.presets import get_model_config
    from cocosnet.viz import label_palette

    ids = np.zeros((32, 32), np.uint8)
    ids[:16] = 2
    Image.fromarray(ids).save(inputs / "ids.png")
    Image.fromarray(label_palette(get_model_config("landscapes"))[ids].astype(np.uint8)).save(inputs / "rgb.png")
    for name in ("ids", "rgb"):
        assert main(["translate", "--input", str(inputs / f"{name}.png"), "--exemplar", str(inputs / "photo.png"),
                     "--exemplar-label", str(inputs / "label.png"), "--out", str(inputs / f"out_{name}.png"),
                     "--device", "cpu"]) == 0
    out_ids, out_rgb = (np.asarray(Image.open(inputs / f"out_{name}.png")) for name in ("ids", "rgb"))
    assert np.array_equal(out_ids, out_rgb)
