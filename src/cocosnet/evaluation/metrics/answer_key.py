"""Metrics against a known answer (the synthetic landscapes' oracle images), with no pretrained weights.

The landscapes generator knows, for every sample, the image the model *should* produce: the input layout
painted in the exemplar's style (the "oracle"). ``AnswerKeyMetrics`` compares any number of named image sets
(the model output, the warped exemplar, the baselines below…) with the oracles:

* ``delta_e``: per-class mean-colour error, CIELAB ΔE*ab (CIE76). For each class present in the layout, every
  pixel of that class is converted sRGB → Lab (D65) in both images, the Lab values are averaged over the
  class's pixels, and the Euclidean distance of the two means is the class's error. A sample's value is the
  mean over its classes (each class counts once, however small); the set's value the mean over samples.
  ``delta_e_class_<k>`` is the mean over samples containing class k.
* ``swd_*``: the Progressive-GAN sliced Wasserstein distance between the set and the oracles (``swd.py``).
* Every number again per style family (``<set>@<family>`` rows).

The baselines it is usually run against are in ``cocosnet.evaluation.baselines``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from cocosnet.evaluation.metrics.swd import SlicedWassersteinDistance
from cocosnet.viz import to_unit

# sRGB (linear) -> CIE XYZ, D65 white (IEC 61966-2-1).
SRGB_TO_XYZ = torch.tensor(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
D65_WHITE = (0.95047, 1.0, 1.08883)


def srgb_to_lab(rgb: Tensor) -> Tensor:
    """sRGB in [0, 1] (…, 3, H, W) to CIELAB (L in [0, 100]) under D65, channels L, a, b."""
    rgb = rgb.double().clamp(0, 1)
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = torch.einsum("ij,...jhw->...ihw", SRGB_TO_XYZ.to(linear), linear)
    white = torch.tensor(D65_WHITE, dtype=torch.float64, device=rgb.device).view(3, 1, 1)
    t = xyz / white
    delta = 6.0 / 29.0
    f = torch.where(t > delta**3, t.clamp_min(1e-12) ** (1.0 / 3.0), t / (3 * delta**2) + 4.0 / 29.0)
    fx, fy, fz = f.unbind(dim=-3)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-3)


def delta_e76(lab1: Tensor, lab2: Tensor, dim: int = -1) -> Tensor:
    """CIE76 colour difference: Euclidean distance in Lab."""
    return (lab1 - lab2).norm(dim=dim)


def class_mean_colours(images: Tensor, label: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    """Per-class mean of (B, C, H, W) over ``label`` (B, 1, H, W): (means (B, K, C), pixel counts (B, K))."""
    b, c, h, w = images.shape
    if label.shape != (b, 1, h, w):
        raise ValueError(f"label map {tuple(label.shape)} does not match images {tuple(images.shape)}")
    onehot = F.one_hot(label.view(b, h * w).long(), num_classes).to(images.dtype)
    counts = onehot.sum(dim=1)
    sums = torch.einsum("bch,bhk->bkc", images.reshape(b, c, h * w), onehot)
    return sums / counts.clamp_min(1).unsqueeze(-1), counts


def per_class_delta_e(output: Tensor, oracle: Tensor, label: Tensor) -> tuple[Tensor, Tensor]:
    """ΔE76 between per-class mean Lab colours of ``output`` and ``oracle`` (both RGB in [-1, 1]).

    Returns (errors (B, K), present (B, K) bool), K = max label + 1.
    """
    num_classes = int(label.max()) + 1
    lab_out, counts = class_mean_colours(srgb_to_lab(to_unit(output)), label, num_classes)
    lab_ref, _ = class_mean_colours(srgb_to_lab(to_unit(oracle)), label, num_classes)
    return delta_e76(lab_out, lab_ref), counts > 0


class _SetStats:
    """Running sums for one image set (or one set within one family)."""

    def __init__(self, swd_options: Mapping) -> None:
        self.delta_e_sum = 0.0
        self.samples = 0
        self.class_sum: dict[int, float] = defaultdict(float)
        self.class_count: dict[int, int] = defaultdict(int)
        self.swd = SlicedWassersteinDistance(**swd_options)

    def add(self, images: Tensor, oracle: Tensor, errors: Tensor, present: Tensor) -> None:
        per_sample = (errors * present).sum(dim=1) / present.sum(dim=1).clamp_min(1)
        self.delta_e_sum += float(per_sample.sum())
        self.samples += len(per_sample)
        for k in present.any(dim=0).nonzero().flatten().tolist():
            self.class_sum[k] += float(errors[present[:, k], k].sum())
            self.class_count[k] += int(present[:, k].sum())
        self.swd.update(oracle, real=True)
        self.swd.update(images, real=False)

    def result(self) -> dict[str, float]:
        out: dict[str, float] = {"samples": self.samples, "delta_e": self.delta_e_sum / self.samples}
        out.update(self.swd.compute())
        for k in sorted(self.class_sum):
            out[f"delta_e_class_{k}"] = self.class_sum[k] / self.class_count[k]
        return out


class AnswerKeyMetrics:
    """Accumulates (images, oracle, layout_label, family) batches for any number of named image sets.

    ``update({"output": out, "warped": warped, "baseline_mean_colour": base}, oracle, layout, families)``;
    ``compute()`` returns ``{set_name: {metric: value}, f"{set_name}@{family}": {...}, …}``.
    """

    def __init__(self, swd_seed: int = 0, **swd_options) -> None:
        self.swd_options = {"seed": swd_seed, **swd_options}
        self.reset()

    def reset(self) -> None:
        self._stats: dict[str, _SetStats] = {}

    def _stats_for(self, key: str) -> _SetStats:
        if key not in self._stats:
            self._stats[key] = _SetStats(self.swd_options)
        return self._stats[key]

    @torch.no_grad()
    def update(
        self,
        images: Mapping[str, Tensor] | Tensor,
        oracle: Tensor,
        layout_label: Tensor,
        families: Sequence[str] | None = None,
    ) -> None:
        if isinstance(images, Tensor):
            images = {"output": images}
        b = oracle.shape[0]
        if families is None:
            families = ["all"] * b
        if len(families) != b:
            raise ValueError(f"{len(families)} family names for a batch of {b}")
        for name, batch in images.items():
            if "@" in name:
                raise ValueError(f"set names may not contain '@': {name!r}")
            if batch.shape != oracle.shape:
                raise ValueError(f"set {name!r}: images {tuple(batch.shape)} vs oracle {tuple(oracle.shape)}")
            errors, present = per_class_delta_e(batch, oracle, layout_label)
            self._stats_for(name).add(batch, oracle, errors, present)
            for family in dict.fromkeys(families):
                rows = torch.tensor([f == family for f in families])
                self._stats_for(f"{name}@{family}").add(
                    batch[rows], oracle[rows], errors[rows], present[rows]
                )

    def compute(self) -> dict[str, dict[str, float]]:
        if not self._stats:
            raise RuntimeError("AnswerKeyMetrics.compute() before any update()")
        return {key: stats.result() for key, stats in self._stats.items()}
