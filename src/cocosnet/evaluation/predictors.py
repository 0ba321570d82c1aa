"""Predictors: what `evaluate` runs over the data set, as one callable `batch -> {"output": images, ...}`.

`as_predictor` accepts a `Translator` (its device and dtype), a bare `CoCosNet` module (the training loop's,
used as it is: no mode or device change), a baseline name (`"mean_colour"`, `"paste"`, `"rerender"`, see
`cocosnet.evaluation.baselines`) or such a callable. Images are in [-1, 1]; "warped" is optional.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from cocosnet.evaluation.baselines import baseline_mean_colour, baseline_paste, rerender_answer_key
from cocosnet.sizing import working_size

BASELINES = ("mean_colour", "paste", "rerender")

Batch = Mapping[str, Any]
Predictor = Callable[[Batch], Mapping[str, Tensor]]


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
            if "oracle_scene" not in batch:
                raise ValueError("the rerender baseline repaints the answer key's scene: it needs the landscapes "
                                 "val or test split (--data landscapes)")
            size = tuple(batch["label"].shape[-2:])
            return {"output": torch.stack([rerender_answer_key(scene, size) for scene in batch["oracle_scene"]])}

        return rerender
    raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}")


def at_working_size(cfg: Any, work: tuple[int, int], semantic: Tensor, exemplar: Tensor,
                    exemplar_semantic: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
    """A batch resized to the networks' working size (`cocosnet.sizing`): semantic inputs as `translate` resizes
    them (`resize_semantic`), exemplars bicubic (as tensors: the data set already decoded them)."""
    from cocosnet.inference.preprocess import prepare_exemplar, resize_semantic

    def sem(t: Tensor) -> Tensor:
        return torch.stack([resize_semantic(x.cpu(), cfg, work) for x in t])

    ex = torch.stack([prepare_exemplar(x, work) for x in exemplar])
    return sem(semantic), ex, None if exemplar_semantic is None else sem(exemplar_semantic)


def model_predictor(model: Any) -> Predictor:
    """A `Translator` (its device and dtype) or a bare `CoCosNet` module (float32, on its own device)."""
    from cocosnet.inference import Translator, run_model

    if isinstance(model, Translator):
        def predict(batch: Batch) -> dict[str, Tensor]:
            ex_sem = batch["exemplar_label"] if model.cfg.needs_exemplar_label else None
            out_hw = tuple(batch["label"].shape[-2:])
            work = working_size(out_hw)
            if work == out_hw:
                out = model.forward_tensors(batch["label"], batch["exemplar"], ex_sem)
            else:  # `evaluate --size HxW` off the multiples of 32: run at the working size, resize back
                out = model.forward_tensors(*at_working_size(model.cfg, work, batch["label"], batch["exemplar"],
                                                             ex_sem)).resized(out_hw)
            return {"output": out.image, "warped": out.warped}

        return predict
    if isinstance(model, nn.Module) and hasattr(model, "encode"):
        def predict_module(batch: Batch) -> dict[str, Tensor]:
            device = next(model.parameters()).device
            ex_sem = batch["exemplar_label"].to(device) if model.cfg.needs_exemplar_label else None
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
