"""`cocosnet makeup` on the astronaut: outputs, what it says on stdout, and exit 2 with named errors."""

import cv2
import numpy as np
import pytest
from PIL import Image

from cocosnet.cli import main
from tests.conftest import require_module


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    require_module("mediapipe")
    data = require_module("skimage.data")
    from cocosnet.data.mediapipe_tools import FaceParser, face_part_masks

    d = tmp_path_factory.mktemp("makeup")
    img = data.astronaut()
    Image.fromarray(img).save(d / "ref.png")
    a = cv2.getRotationMatrix2D((256, 256), 10, 1.05)
    Image.fromarray(cv2.warpAffine(img, a, (512, 512), borderMode=cv2.BORDER_REFLECT)).save(d / "turned.jpg")
    parser = FaceParser()
    parts = face_part_masks(parser.landmarks(img), 512, 512, parser.connections)
    parser.close()
    layer = np.zeros((512, 512, 4), np.uint8)
    layer[parts["u_lip"] | parts["l_lip"]] = (190, 30, 70, 200)
    Image.fromarray(layer).save(d / "layer.png")
    Image.fromarray(layer[:256, :256]).save(d / "small_layer.png")
    Image.fromarray(img).save(d / "rgb_layer.png")
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(d / "grey.png")
    Image.fromarray(cv2.resize(img, (192, 192), interpolation=cv2.INTER_AREA)).save(d / "tiny.png")
    return d


def test_makeup_writes_each_target_and_says_which_correspondence(files, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["makeup", "--reference", str(files / "ref.png"), "--layer", str(files / "layer.png"),
                 "--target", str(files / "turned.jpg"), "--target", str(files / "ref.png"), "--out", str(out),
                 "--blend", "soft-light", "--opacity", "0.8", "--save-layer"]) == 0
    said = capsys.readouterr().out
    assert said.startswith("correspondence: MediaPipe Face Mesh landmarks + piecewise-affine warp")
    assert f"wrote {out / 'turned.png'} and {out / 'turned_layer.png'}" in said
    made_up = np.asarray(Image.open(out / "ref.png"))
    assert made_up.shape == (512, 512, 3)
    warped = np.asarray(Image.open(out / "turned_layer.png"))
    assert warped.shape == (512, 512, 4) and warped[..., 3].max() >= 190
    lips = np.asarray(Image.open(files / "layer.png"))[..., 3] > 0
    before = np.asarray(Image.open(files / "ref.png"))
    assert (made_up[~lips] == before[~lips]).all() and (made_up[lips] != before[lips]).any()


@pytest.mark.parametrize("case,message", [
    (["--layer", "small_layer.png"], "small_layer.png: the layer is 256x256 but the reference portrait is 512x512"),
    (["--layer", "rgb_layer.png"], "rgb_layer.png: the makeup layer has no alpha channel (mode RGB)"),
    (["--target", "grey.png"], "grey.png: no face found"),
    (["--target", "tiny.png"], "tiny.png: the face is too small"),
    (["--reference", "grey.png", "--layer", "rgb_layer.png"], "rgb_layer.png: the makeup layer has no alpha"),
    (["--target", "missing.png"], "--target: not found:"),
    (["--opacity", "2"], "--opacity must be in [0, 1], got 2.0"),
    (["--official", "."], "--official needs --preset (celebahq_edge"),
    (["--preset", "celebahq_edge"], "--preset celebahq_edge needs --official DIR"),
    (["--official", ".", "--preset", "ade20k"], "--preset ade20k: makeup transfer needs a face checkpoint"),
])
def test_errors_exit_2_and_name_the_problem(files, tmp_path, capsys, case, message):
    args = {"--reference": "ref.png", "--layer": "layer.png", "--target": "turned.jpg"}
    extra = []
    for flag, value in zip(case[::2], case[1::2], strict=True):
        if flag in args:
            args[flag] = value
        else:
            extra += [flag, value]
    argv = ["makeup", *[x for f, v in args.items() for x in (f, str(files / v))], "--out", str(tmp_path / "o"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("cocosnet makeup: error: ") and message in err, err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
