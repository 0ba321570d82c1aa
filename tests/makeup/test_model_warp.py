"""The CoCosNet correspondence as the makeup warp, with official-layout weights (the vectors' recipe) at 128²."""

import json

import numpy as np
import pytest
import torch

from cocosnet.makeup import CorrespondenceWarp, MakeupError, MakeupTransfer
from cocosnet.makeup.model_warp import face_frame


@pytest.fixture(scope="module")
def corr_state(official_dir, recipe):
    """celebahq_edge's netCorr in the official layout, with the reference vectors' recipe weights."""
    return recipe(json.loads((official_dir / "celebahqedge_netCorr.json").read_text()), 11)


@pytest.fixture(scope="module")
def corr_warp(corr_state, finder):
    from cocosnet.correspondence import Correspondence
    from cocosnet.presets import get_model_config

    corr = Correspondence(get_model_config("celebahq_edge", image_size=128))
    corr.load_state_dict(corr_state)
    return CorrespondenceWarp(corr, finder.connections, "cpu")


def test_the_reference_rgb_as_a_layer_is_the_models_warped_exemplar(corr_warp, astronaut, warped_targets, finder):
    target, _, _ = warped_targets["rotation+scale"]
    ref_in = corr_warp.face_inputs(astronaut.image, astronaut.face)
    tgt_in = corr_warp.face_inputs(target, finder(target, "target"))
    assert ref_in.photo.shape == (1, 3, 128, 128) and ref_in.edges.shape == (1, 15, 128, 128)
    rgb01 = (ref_in.photo + 1) / 2
    layer = torch.cat([rgb01, torch.ones_like(rgb01[:, :1])], 1)  # RGBA, opaque
    warped, exemplar_warp = corr_warp.warp_tensor(layer, tgt_in, ref_in)
    assert warped.shape == (1, 4, 128, 128)
    # the same softmax: warp(rgb in [0,1]) = (warp(rgb in [-1,1]) + 1) / 2 up to float32 rounding of a convex sum
    assert (warped[:, :3] - (exemplar_warp + 1) / 2).abs().max() < 1e-5
    assert (warped[:, 3] - 1).abs().max() < 1e-5  # softmax rows sum to 1: an opaque layer stays opaque


@pytest.fixture(scope="module")
def self_transfer(corr_warp, astronaut, finder):
    """The astronaut's layer transferred onto the astronaut by the CoCosNet correspondence."""
    transfer = MakeupTransfer(corr_warp, finder)
    assert transfer.correspondence == "CoCosNet correspondence (celebahq_edge, 128x128)"
    return transfer.transfer(astronaut.image, astronaut.layer, [astronaut.image])[0]


def test_transfer_with_the_correspondence_keeps_sizes_and_alpha(self_transfer, astronaut):
    result = self_transfer
    assert result.image.shape == astronaut.image.shape and result.warped_layer.shape == (512, 512, 4)
    alpha = result.warped_layer[..., 3]
    assert alpha.min() >= 0 and alpha.max() <= 1 + 1e-5
    # outside the target's face frame nothing is painted (the crop's square mapped back)
    x0, y0 = (-face_frame(astronaut.face, 128)[:, 2] / face_frame(astronaut.face, 128)[0, 0]).astype(int)
    assert alpha[: max(y0 - 2, 0)].max() == 0 and alpha[:, : max(x0 - 2, 0)].max() == 0
    # the painted fraction of the layer is kept on average (each warped pixel is a convex mix of layer pixels)
    assert alpha.sum() > 0
    assert (result.image[alpha == 0] == astronaut.image[alpha == 0]).all()


def test_a_non_face_checkpoint_is_refused(finder):
    from cocosnet.correspondence import Correspondence
    from cocosnet.presets import get_model_config

    with torch.device("meta"):
        corr = Correspondence(get_model_config("tiny"))
    with pytest.raises(MakeupError, match="needs a face checkpoint \\(celebahq_edge\\); preset 'tiny' does not"):
        CorrespondenceWarp(corr, finder.connections)
    with pytest.raises(MakeupError, match="--preset ade20k: makeup transfer needs a face checkpoint"):
        CorrespondenceWarp.from_official("unused", "ade20k", finder.connections)



def test_the_cli_uses_the_official_correspondence(corr_state, self_transfer, astronaut, tmp_path, capsys):
    """`cocosnet makeup --official DIR --preset celebahq_edge` loads latest_net_Corr.pth (only) and gives the
    same warped layer as the module built from the same weights."""
    from PIL import Image

    from cocosnet.cli import main

    ckpt = tmp_path / "celebahq_edge"
    ckpt.mkdir()
    torch.save(corr_state, ckpt / "latest_net_Corr.pth")
    (ckpt / "latest_net_G.pth").write_bytes(b"")  # the folder's layout; the generator is never read
    Image.fromarray(astronaut.image).save(tmp_path / "ref.png")
    Image.fromarray(astronaut.layer).save(tmp_path / "layer.png")
    out = tmp_path / "out"
    assert main(["makeup", "--reference", str(tmp_path / "ref.png"), "--layer", str(tmp_path / "layer.png"),
                 "--target", str(tmp_path / "ref.png"), "--out", str(out), "--official", str(ckpt),
                 "--preset", "celebahq_edge", "--image-size", "128", "--device", "cpu", "--save-layer"]) == 0
    assert capsys.readouterr().out.startswith("correspondence: CoCosNet correspondence (celebahq_edge, 128x128)")
    got = np.asarray(Image.open(out / "ref_layer.png"))
    assert np.abs(got.astype(int) - self_transfer.warped_rgba()).max() <= 1  # the same float layer, rounded
