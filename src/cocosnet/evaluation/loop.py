"""The evaluation loop: a predictor over a data set, batch by batch, into an `Evaluator`; the report written."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from cocosnet.evaluation.evaluator import Evaluator, parse_metrics
from cocosnet.evaluation.predictors import as_predictor
from cocosnet.evaluation.report import write_evaluation
from cocosnet.viz import default_palette


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
