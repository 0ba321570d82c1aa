"""Multi-exemplar translation (the paper's instance-level style control): each region of x_A has its own exemplar.

Each of the K exemplars is matched by the correspondence against the whole input layout (so every warp keeps the
context of the full scene) and warped alone; the warped exemplar that conditions the generator is their composite,
pixel by pixel at the warp's (image) resolution: pixel p takes warp k where the assignment map says k. Nothing
is blended where regions meet: the boundary is the layout's (or the mask's) own pixel boundary, and the
generator's SPADE blocks smooth across it as they do across class boundaries. The assignment map comes from, in
increasing priority: exemplar 0 everywhere, "auto" (each class from the exemplar whose label map holds it most),
explicit class assignments, then region masks in order (a later mask wins). Masks are resized to the working size
as the layout is (PIL nearest, `label_resize.resize_label`), so a mask drawn on the layout stays on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from cocosnet.data.io import open_checked
from cocosnet.inference.translator import Translation, encode_exemplar_semantic
from cocosnet.label_resize import resize_label
from cocosnet.model import CoCosNet, checked_label_ids
from cocosnet.presets import ModelConfig

AUTO = "auto"


@dataclass(kw_only=True)
class MultiTranslation(Translation):
    """A `Translation` whose `warped` is the composite; `assignment` long [B,H,W]: the exemplar index of each pixel
    (at the working size); `warps` [K,B,3,H,W]: each exemplar's own warp r_{y_k->x} in [-1,1]."""

    assignment: torch.Tensor
    warps: torch.Tensor


def class_id(name: Any, cfg: ModelConfig) -> int:
    """A class given by name (the model's `class_names`, any case) or id (int or digits) -> its id."""
    if not cfg.label_nc:
        raise ValueError(f"preset {cfg.name!r} takes a dense semantic map, not class ids: assign regions with "
                         f"region masks instead of classes")
    text = str(name).strip()
    if isinstance(name, (int, np.integer)) or text.isdigit():
        cid = int(text)
        if not 0 <= cid < cfg.label_nc:
            raise ValueError(f"class id {cid} out of range: preset {cfg.name!r} has classes 0..{cfg.label_nc - 1}")
        return cid
    lowered = [c.lower() for c in cfg.class_names]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    known = ", ".join(cfg.class_names) if cfg.class_names else f"ids 0..{cfg.label_nc - 1} (no names)"
    raise ValueError(f"unknown class {text!r} for preset {cfg.name!r}; its classes: {known}")


def check_index(k: Any, n_exemplars: int, what: str) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"{what}: exemplar index must be an integer, got {k!r}")
    if not 0 <= int(k) < n_exemplars:
        raise ValueError(f"{what}: exemplar index {int(k)} out of range: {n_exemplars} exemplar"
                         f"{'s' if n_exemplars != 1 else ''} (0..{n_exemplars - 1})")
    return int(k)


def auto_table(exemplar_ids: Sequence[torch.Tensor], label_nc: int) -> torch.Tensor:
    """Class id -> the exemplar whose label map holds the most pixels of it (the lowest index on ties; exemplar 0
    for a class no exemplar holds). exemplar_ids: K class-id maps at one working size."""
    counts = torch.stack([torch.bincount(ids.flatten().long().cpu(), minlength=label_nc)[:label_nc]
                          for ids in exemplar_ids])  # [K, label_nc]
    return counts.argmax(0)  # argmax returns the first maximum: ties and all-zero columns go to the lowest index


def class_table(cfg: ModelConfig, assign: Any, n_exemplars: int,
                exemplar_ids: Sequence[torch.Tensor] | None) -> torch.Tensor | None:
    """Class id -> exemplar index [label_nc] for `assign` ("auto", {class: k} with an optional "auto": True), or
    None when no class is assigned."""
    if assign is None:
        return None
    if isinstance(assign, str):
        if assign.strip().lower() != AUTO:
            raise ValueError(f"assign must be a mapping {{class: exemplar index}} or {AUTO!r}, got {assign!r}")
        assign = {AUTO: True}
    if not isinstance(assign, Mapping):
        assign = dict(assign)
    entries = dict(assign)
    auto = bool(entries.pop(AUTO, False))
    if not cfg.label_nc:
        if auto or entries:
            class_id(next(iter(entries), AUTO), cfg)  # raises: a dense preset has no classes
        return None
    if auto:
        if exemplar_ids is None:
            raise ValueError(f"{AUTO!r} assignment needs each exemplar's label map (exemplar_semantics / "
                             f"--exemplar-label)")
        table = auto_table(exemplar_ids, cfg.label_nc)
    else:
        table = torch.zeros(cfg.label_nc, dtype=torch.long)
    for name, k in entries.items():
        table[class_id(name, cfg)] = check_index(k, n_exemplars, f"class {name!r}")
    return table


def source_size(source: Any) -> tuple[int, int] | None:
    """(H, W) of a layout before it is resized to the working size, read from its header where it is a file; None
    where it cannot be told (a dense map file: masks must then have the working size)."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.suffix.lower() in (".npy", ".npz", ".pt", ".pth"):
            return None
        with Image.open(path) as im:
            return im.height, im.width
    if isinstance(source, Image.Image):
        return source.height, source.width
    shape = tuple(source.shape)
    return shape[-2:] if len(shape) >= 2 else None


def read_mask(source: Any, what: str) -> np.ndarray:
    """A region mask -> bool HxW (non-zero = region; RGB: any channel; RGBA: any colour channel where opaque): a
    picture file, PIL image, array or tensor."""
    if isinstance(source, (str, Path)):
        if not Path(source).is_file():
            raise FileNotFoundError(f"{what} not found: {source}")
        source = open_checked(source, what, user_input=True)  # the CLI's formats and pixel limit
    if isinstance(source, Image.Image):
        arr = np.asarray(source.convert("RGBA") if source.mode == "LA" else source)
    elif isinstance(source, torch.Tensor):
        arr = source.detach().cpu().numpy()
    else:
        arr = np.asarray(source)
    arr = np.squeeze(arr)
    if arr.ndim == 3 and arr.shape[-1] == 4:  # RGBA: a coloured, opaque pixel (transparent = outside)
        arr = arr[..., :3].any(axis=-1) & (arr[..., 3] != 0)
    elif arr.ndim == 3:
        arr = arr.any(axis=-1) if arr.shape[-1] == 3 else arr.any(axis=0)
    if arr.ndim != 2:
        raise ValueError(f"{what}: a mask must be a 2-D picture, got shape {tuple(arr.shape)}")
    return arr != 0


def assignment_map(ids: torch.Tensor | None, shape: tuple[int, int, int], table: torch.Tensor | None,
                   masks: Sequence[tuple[np.ndarray, int]]) -> torch.Tensor:
    """Exemplar index per pixel, long [B,H,W]: 0, then the class table over the ids, then each mask (at the
    working size) in order."""
    out = torch.zeros(shape, dtype=torch.long)
    if table is not None and ids is not None:
        out = table[ids.cpu()]
    for mask, k in masks:
        out[:, torch.from_numpy(mask)] = k
    return out


def composite(warps: torch.Tensor, assignment: torch.Tensor) -> torch.Tensor:
    """[K,B,3,H,W] warps + [B,H,W] indices -> [B,3,H,W]: each pixel copied from the warp its index names."""
    index = assignment.to(warps.device)[None, :, None].expand(1, -1, warps.shape[2], -1, -1)
    return torch.gather(warps, 0, index)[0]


def run_model_multi(model: CoCosNet, semantic: torch.Tensor, exemplars: Sequence[torch.Tensor],
                    exemplar_semantics: Sequence[torch.Tensor | None], assignment: torch.Tensor,
                    dtype: str = "float32") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """K correspondence passes (each exemplar against the whole layout), their composite, one generator pass.
    Returns (image, composite, warps [K,...]). With every pixel on one exemplar this is `run_model` exactly."""
    cfg = model.cfg
    ids = checked_label_ids(semantic, cfg)[:, 0] if cfg.label_nc else None
    sem = None if ids is not None else model.encode(semantic)  # class ids: no full-size one-hot map kept
    with torch.autocast(semantic.device.type, dtype=getattr(torch, dtype), enabled=dtype != "float32"):
        warps = torch.stack([
            model.correspondence(sem, ex, encode_exemplar_semantic(model, ex_sem), label_ids=ids,
                                 return_mask=False).warp_out
            for ex, ex_sem in zip(exemplars, exemplar_semantics, strict=True)
        ])
        warped = composite(warps, assignment)
        g_in, g_kwargs = model.generator_inputs(warped, sem, ids)
        image = model.generator(g_in, ids, **g_kwargs)
    return image, warped, warps


def _as_list(items: Any) -> list:
    return list(items) if isinstance(items, (list, tuple)) else [items]


@torch.inference_mode()
def translate_multi(translator, semantic: Any, exemplars: Any, exemplar_semantics: Any | None = None,
                    assign: Any | None = None, region_masks: Any | None = None) -> MultiTranslation:
    """`Translator.translate_multi` (documented there)."""
    cfg = translator.cfg
    exemplars = _as_list(exemplars)
    n_ex = len(exemplars)
    if n_ex == 0:
        raise ValueError("give at least one exemplar")
    if exemplar_semantics is None:
        if cfg.needs_exemplar_label:
            raise ValueError(f"preset {cfg.name!r} needs each exemplar's label map (exemplar_semantics / "
                             f"--exemplar-label): its correspondence concatenates both label maps (maskmix)")
        exemplar_semantics = [None] * n_ex
    else:
        exemplar_semantics = _as_list(exemplar_semantics)
        if len(exemplar_semantics) != n_ex:
            raise ValueError(f"{n_ex} exemplars but {len(exemplar_semantics)} exemplar label maps: give one label "
                             f"map per exemplar, in the same order")
    # cheap checks first: the assignment and the masks are wrong before any network runs
    sources = _as_list(semantic) if not (isinstance(semantic, torch.Tensor) and semantic.dim() == 4) \
        else list(semantic)
    masks = []
    for i, entry in enumerate(region_masks or []):
        try:
            mask_source, k = entry
        except (TypeError, ValueError):
            raise ValueError(f"region mask {i}: give a (mask, exemplar index) pair") from None
        what = f"region mask {mask_source}" if isinstance(mask_source, (str, Path)) else f"region mask {i}"
        k = check_index(k, n_ex, what)
        mask = read_mask(mask_source, what)
        for src in sources:
            size = source_size(src) or (cfg.image_size, cfg.image_size)
            if mask.shape != tuple(size):
                raise ValueError(f"{what} is {mask.shape[1]}x{mask.shape[0]} (WxH) but the input layout is "
                                 f"{size[1]}x{size[0]}: draw the mask on the layout, at its size")
        masks.append((resize_label(mask.astype(np.uint8), cfg.image_size).astype(bool), k))

    sem = translator._batch(semantic, lambda x: translator.prepare_semantic(x, "label map"))
    n = sem.shape[0]
    ex_tensors = [translator._batch(ex, translator.prepare_exemplar, n) for ex in exemplars]
    ex_sems = [None if es is None else
               translator._batch(es, lambda x: translator.prepare_semantic(x, "exemplar label map"), n)
               for es in exemplar_semantics]
    exemplar_ids = None
    if cfg.label_nc and all(es is not None for es in ex_sems):
        exemplar_ids = [checked_label_ids(es[:1], cfg)[0, 0] for es in ex_sems]
    table = class_table(cfg, assign, n_ex, exemplar_ids)
    ids = checked_label_ids(sem, cfg)[:, 0] if cfg.label_nc else None
    assignment = assignment_map(ids, (n, *sem.shape[-2:]), table, masks)
    image, warped, warps = run_model_multi(translator.model, sem, ex_tensors, ex_sems, assignment,
                                           translator.dtype)
    return MultiTranslation(image=image.float(), warped=warped.float(), assignment=assignment, warps=warps.float())


__all__ = ["MultiTranslation", "assignment_map", "auto_table", "class_id", "class_table", "composite",
           "run_model_multi", "translate_multi"]
