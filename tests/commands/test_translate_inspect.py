"""`cocosnet translate --confidence-out / --flow-out`: the inspector's pictures, the missing classes printed, and
bad output paths refused before torch loads."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from cocosnet.cli import main
from cocosnet.inference import Translator
from cocosnet.viz import confidence_image, flow_image

from .test_translate import cocosnet_without_torch, torch_was_imported


@pytest.fixture
def scene(tmp_path):
    label = np.full((64, 64), 6, np.uint8)
    label[40:] = 7
    label[50:, :20] = 3  # water: not in the exemplar
    exemplar_label = np.full((64, 64), 6, np.uint8)
    exemplar_label[30:] = 7
    Image.fromarray(label).save(tmp_path / "label.png")
    Image.fromarray(exemplar_label).save(tmp_path / "exemplar_label.png")
    photo = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    return tmp_path


def args(folder, *extra: str) -> list[str]:
    return ["translate", "--input", str(folder / "label.png"), "--exemplar", str(folder / "photo.png"),
            "--exemplar-label", str(folder / "exemplar_label.png"), "--out", str(folder / "out.png"), *extra]


def test_confidence_and_flow_pictures_and_the_missing_classes(scene, tiny_checkpoint, capsys):
    rc = main(args(scene, "--checkpoint", str(tiny_checkpoint), "--device", "cpu",
                   "--confidence-out", str(scene / "conf.png"), "--flow-out", str(scene / "flow.png")))
    printed = capsys.readouterr().out
    assert rc == 0
    assert "the exemplar lacks the input's classes: water (3)" in printed
    assert f"wrote {scene / 'conf.png'}" in printed and f"wrote {scene / 'flow.png'}" in printed
    conf, flow = Image.open(scene / "conf.png"), Image.open(scene / "flow.png")
    assert (conf.mode, conf.size, flow.mode, flow.size) == ("L", (64, 64), "RGB", (64, 64))
    # the pictures are the API's maps, drawn by cocosnet.viz
    want = Translator.from_pretrained(tiny_checkpoint, device="cpu").translate(
        str(scene / "label.png"), str(scene / "photo.png"), str(scene / "exemplar_label.png"), inspect=True)
    assert np.array_equal(np.asarray(conf), np.asarray(confidence_image(want.confidence[0])))
    assert np.array_equal(np.asarray(flow), np.asarray(flow_image(want.flow[0])[0]))
    main(args(scene, "--checkpoint", str(tiny_checkpoint), "--device", "cpu", "--flow-out",
              str(scene / "best.png"), "--flow-argmax"))
    assert np.array_equal(np.asarray(Image.open(scene / "best.png")), np.asarray(flow_image(want.flow_argmax[0])[0]))


def test_the_flow_colour_wheel():
    flow = torch.tensor([[4.0, 0, -4, 0, 0, 2], [0, 4, 0, -4, 0, 0]]).reshape(2, 1, 6)
    picture, scale = flow_image(flow)
    assert scale == 4.0
    right, down, left, up, still, half = np.asarray(picture)[0].astype(int).tolist()
    assert right == [255, 0, 0] and still == [255, 255, 255]
    assert half[0] == 255 and half[1] == half[2] and abs(half[1] - 127.5) <= 1  # half the length: pale red
    assert down[1] == 255 and down[2] == 0 and 100 < down[0] < 150  # yellow-green
    assert left[0] == 0 and left[1] > 245 and left[2] == 255  # cyan
    assert up[1] == 0 and up[2] == 255 and 100 < up[0] < 150  # violet
    assert np.asarray(confidence_image(torch.tensor([[0.0, 0.5, 1.0]]))).tolist() == [[0, 128, 255]]


@pytest.mark.parametrize(("extra", "message"), [
    (["--flow-out", "{d}/out.png"], "it is the same file as --out"),
    (["--confidence-out", "{d}/c.png", "--flow-out", "{d}/c.png"], "it is the same file as --confidence-out"),
    (["--confidence-out", "{d}"], "a directory"),
    (["--flow-argmax"], "--flow-argmax needs --flow-out"),
])
def test_bad_inspector_outputs_are_refused_before_torch_loads(scene, extra, message):
    done = cocosnet_without_torch(*args(scene, *[e.format(d=scene) for e in extra]))
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert not torch_was_imported(done.stderr)
    assert not (scene / "out.png").exists()
