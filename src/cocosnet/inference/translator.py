"""Translator: load a model (official checkpoints or native folder) and translate semantic inputs with exemplars.

Inference only: no training code is imported. Runs on CPU, CUDA or MPS; no `.cuda()` anywhere.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from cocosnet.data.transforms import tensor_to_image
from cocosnet.inference.fast_path import prepare_for_inference_, weight_conversion
from cocosnet.inference.inspection import inspect_features, missing_classes
from cocosnet.inference.preprocess import prepare_exemplar, prepare_semantic, resize_semantic
from cocosnet.inference.weight_pages import unmap_weights_after_each_block_
from cocosnet.label_resize import one_hot_map
from cocosnet.memory import (
    DEFAULT_INFERENCE_MMAP_THRESHOLD,
    low_memory_mmap_threshold,
    set_malloc_mmap_threshold,
    trim_heap,
)
from cocosnet.model import CoCosNet, checked_label_ids
from cocosnet.nn.spectral import fold_spectral_norm_, unfold_state_dict
from cocosnet.nn.winograd import use_winograd_
from cocosnet.presets import ModelConfig, get_model_config
from cocosnet.runtime import RUNTIME_FIELDS, RuntimeOptions, resolve_device, set_runtime, split_runtime_options
from cocosnet.sizing import output_size, working_size
from cocosnet.weights import (
    WEIGHTS_FILE,
    config_extra,
    load_native_state,
    load_official,
    load_strict,
    native_config,
    official_paths,
    read_native_config,
    save_native,
)


def encode_exemplar_semantic(model: CoCosNet, exemplar_semantic: torch.Tensor | None) -> torch.Tensor | None:
    """The exemplar's label map as the correspondence reads it (maskmix), encoded; None passes through."""
    cfg = model.cfg
    if exemplar_semantic is None:
        return None
    if cfg.label_nc and exemplar_semantic.dim() == 4 and cfg.feature_stride > 1:
        # the correspondence reads the exemplar's label map only nearest-resized to the feature size (maskmix;
        # no warped mask here): resizing the ids first gives the same one-hot map at 1/stride^2 of the memory
        ids = checked_label_ids(exemplar_semantic, cfg)[:, 0]  # range checks on the full map
        fh, fw = (n // cfg.feature_stride for n in ids.shape[-2:])
        return one_hot_map(ids, cfg.label_nc, (fh, fw))
    return model.encode(exemplar_semantic)


def run_model(model: CoCosNet, semantic: torch.Tensor, exemplar: torch.Tensor,
              exemplar_semantic: torch.Tensor | None = None, dtype: str = "float32", **corr_kwargs: Any):
    """One forward pass of `model` on un-encoded semantic maps (class ids or dense maps, as data sets give
    them), under autocast for bfloat16/float16. Returns the model's `TranslationOutput`. Tensors must already
    be on the model's device; no gradient mode is set here (the caller chooses). corr_kwargs: more outputs of the
    correspondence (`return_intermediates=True` for the inspector)."""
    cfg = model.cfg
    ex_sem = encode_exemplar_semantic(model, exemplar_semantic)
    # class ids let SPADE look up its first convolution over the one-hot map instead of computing it; the model
    # then encodes the one-hot map itself and drops it once the correspondence no longer needs it
    ids = checked_label_ids(semantic, cfg)[:, 0] if cfg.label_nc else None
    sem = None if ids is not None else model.encode(semantic)
    with torch.autocast(exemplar.device.type, dtype=getattr(torch, dtype), enabled=dtype != "float32"):
        return model(sem, exemplar, ex_sem, label_ids=ids, return_mask=False, **corr_kwargs)


@dataclass
class Translation:
    """Tensors in [-1,1], batched [B,3,H,W]; with `inspect=True` also the correspondence inspector's maps
    (`cocosnet.inference.inspection`, docs/inspector.md)."""

    image: torch.Tensor
    warped: torch.Tensor
    confidence: torch.Tensor | None = None  # [B,1,H,W]: the largest softmax weight of each pixel's match
    flow: torch.Tensor | None = None  # [B,2,H,W]: (dx, dy) pixels, softmax-weighted exemplar position - position
    flow_argmax: torch.Tensor | None = None  # [B,2,H,W]: the same for the best match alone
    missing_classes: list | None = None  # per item, the input's classes the exemplar lacks (MissingClass id, name)

    def images(self) -> list:
        return [tensor_to_image(t) for t in self.image]

    def warped_images(self) -> list:
        return [tensor_to_image(t) for t in self.warped]

    def resized(self, size: tuple[int, int]) -> Translation:
        """Both images bicubic-resized to size (H, W), as the working size rounded to multiples of 32 is undone."""
        def fit(t: torch.Tensor) -> torch.Tensor:
            return F.interpolate(t, size=size, mode="bicubic", align_corners=False).clamp(-1, 1)

        def fit_map(t: torch.Tensor | None, per_axis: torch.Tensor | None = None) -> torch.Tensor | None:
            if t is None:
                return None
            resized = F.interpolate(t, size=size, mode="bilinear", align_corners=False)
            return resized if per_axis is None else resized * per_axis.view(1, 2, 1, 1).to(resized)

        # the inspector's maps follow: confidence resized, flow resized and rescaled to the output's pixels (dx, dy)
        scale = torch.tensor([size[1] / self.image.shape[-1], size[0] / self.image.shape[-2]])
        return dataclasses.replace(self, image=fit(self.image), warped=fit(self.warped),
                                   confidence=fit_map(self.confidence), flow=fit_map(self.flow, scale),
                                   flow_argmax=fit_map(self.flow_argmax, scale))


def inspected_translation(model: CoCosNet, semantic: torch.Tensor, exemplar: torch.Tensor,
                          exemplar_semantic: torch.Tensor | None, dtype: str) -> Translation:
    """`run_model` keeping theta and phi, then the inspector's maps from them (the image is the same)."""
    out = run_model(model, semantic, exemplar, exemplar_semantic, dtype, return_intermediates=True)
    corr = out.correspondence
    found = inspect_features(model.correspondence, corr.theta, corr.phi)
    lacking = (missing_classes(semantic, exemplar_semantic, model.cfg)
               if model.cfg.label_nc and exemplar_semantic is not None else None)
    return Translation(image=out.image.float(), warped=out.warped.float(), confidence=found.confidence,
                       flow=found.flow, flow_argmax=found.flow_argmax, missing_classes=lacking)


def _is_batch(x: Any) -> bool:
    return isinstance(x, (list, tuple))


class Translator:
    """`Translator.from_official("ade20k", netG=..., netCorr=...)` or `Translator.from_pretrained(dir)`, then
    `translator.translate(semantic, exemplar, exemplar_semantic)`.

    How it runs is a `RuntimeOptions` (`runtime=`), or its fields as keyword arguments (`device="cpu"`,
    `dtype="bfloat16"`, `low_memory=True`, `band_rows=0`, ...), which replace those of `runtime`."""

    def __init__(self, model: CoCosNet, runtime: RuntimeOptions | None = None, extra: dict | None = None,
                 **options: Any):
        """low_memory (CPU, glibc): every freed feature map goes straight back to the system — a lower peak RSS,
        paid for in speed by re-faulting fresh pages (docs/model.md, "Speed and memory of inference")."""
        unknown = sorted(set(options) - RUNTIME_FIELDS)
        if unknown:
            raise TypeError(f"Translator got unexpected keyword arguments {unknown} (RuntimeOptions fields: "
                            f"{', '.join(sorted(RUNTIME_FIELDS))})")
        self.runtime, _ = split_runtime_options(runtime, options)
        self.device = resolve_device(self.runtime.device)
        if self.device.type == "cpu":  # process-wide (cocosnet.memory)
            set_malloc_mmap_threshold(low_memory_mmap_threshold() if self.runtime.low_memory
                                      else DEFAULT_INFERENCE_MMAP_THRESHOLD)
        if self.runtime.dtype == "float16" and self.device.type == "cpu":
            raise ValueError("float16 inference needs a GPU; use bfloat16 on the CPU")
        # float32 reproduces the official images; bf16/fp16 autocast trades exactness for speed
        self.dtype = self.runtime.dtype
        self.model = set_runtime(model, self.runtime).eval().requires_grad_(False).to(self.device)
        # the torch backend's layout and half-precision weights (an exported backend exports the float32 network),
        # made one tensor at a time, the folded weights as they are folded
        convert = weight_conversion(self.runtime) if self.runtime.backend == "torch" else None
        # the Translator owns the model: spectral norm is folded into the weights once (same images, one copy)
        self._folded_sn = fold_spectral_norm_(self.model, convert and convert.replace)
        self._weights_cast = prepare_for_inference_(self.model, convert)
        if self.runtime.conv_algorithm == "winograd":  # after the fold: the convolutions' weights are plain tensors
            use_winograd_(self.model)
        # eager CPU inference: only the running block's memory-mapped weights stay mapped (the compiled graph holds
        # its own constants; an exported backend runs its own copy)
        self._weight_unmappers = (
            unmap_weights_after_each_block_(self.model)
            if self.runtime.unmap_weights and self.device.type == "cpu" and self.runtime.backend == "torch"
            and not self.runtime.compile else [])
        self.cfg: ModelConfig = model.cfg
        self.extra = extra or {}
        # --compile: translations run the network compiled by torch.compile (the inspector and multi-exemplar
        # translation run it eagerly); nothing is traced until the first translation
        self._compiled = None
        if self.runtime.compile:
            from cocosnet.inference.compiled import CompiledNetwork

            self._compiled = CompiledNetwork(self.model, self.device)
        # --backend onnxruntime / openvino: the network runs exported (the preprocessing and checks stay ours)
        self._exported = None
        if self.runtime.backend != "torch":
            from cocosnet.inference.backends import load_backend

            self._exported = load_backend(self.model, self.runtime, self.device)

    # ----------------------------------------------------------------------------------------------- loading
    @classmethod
    def from_official(
        cls,
        preset: str,
        netG: str | Path | None = None,
        netCorr: str | Path | None = None,
        folder: str | Path | None = None,
        runtime: RuntimeOptions | None = None,
        **options: Any,
    ) -> Translator:
        """The authors' `latest_net_G.pth` + `latest_net_Corr.pth` (or a `folder` holding them), loaded strictly.

        options: RuntimeOptions fields (device=, dtype=, low_memory=, ...) and ModelConfig overrides (image_size=)."""
        runtime, overrides = split_runtime_options(runtime, options)
        if folder is not None:
            paths = official_paths(folder)
            netG, netCorr = netG or paths["G"], netCorr or paths["Corr"]
        if netG is None or netCorr is None:
            raise ValueError("give netG and netCorr (or folder=) for an official checkpoint")
        cfg = get_model_config(preset, **overrides)
        with torch.device("meta"):
            model = CoCosNet(cfg)
        load_official(model.generator, netG, "G")
        load_official(model.correspondence, netCorr, "Corr")
        return cls(model, runtime, extra={"source": "official", "preset": cfg.name})

    @classmethod
    def from_pretrained(cls, folder: str | Path, runtime: RuntimeOptions | None = None,
                        image_size: int | None = None, **options: Any) -> Translator:
        """A native folder: `config.json` + `model.safetensors` (from save_pretrained, training or convert).

        image_size: run at another resolution than the one trained (the networks are convolutional; quality is
        best at the trained size). options: RuntimeOptions fields (device=, dtype=, low_memory=, ...)."""
        config = read_native_config(folder)
        cfg = ModelConfig.from_dict({**config["model"], **({"image_size": image_size} if image_size else {})})
        with torch.device("meta"):
            model = CoCosNet(cfg)
        load_strict(model, load_native_state(folder), str(Path(folder) / WEIGHTS_FILE))
        return cls(model, runtime, extra=config_extra(config), **options)

    def save_pretrained(self, folder: str | Path, dtype: torch.dtype | None = None) -> Path:
        if self._weights_cast:
            raise ValueError(f"this Translator holds {self.dtype} weights (RuntimeOptions.cast_weights): load it "
                             "with dtype float32 (or cast_weights=False) to save the float32 weights")
        state = unfold_state_dict(self.model.state_dict(), self._folded_sn)  # the official key layout
        return save_native(folder, state, native_config(self.cfg, **self.extra), dtype)

    # ------------------------------------------------------------------------------------------- translation
    def prepare_semantic(self, source: Any, what: str = "label map", size: int | tuple[int, int] | None = None,
                         keep_size: bool = False) -> torch.Tensor:
        return prepare_semantic(source, self.cfg, what, size, keep_size)

    def prepare_exemplar(self, source: Any) -> torch.Tensor:
        return prepare_exemplar(source, self.cfg.image_size, "exemplar")

    def _batch(self, items: Any, fn, n: int | None = None) -> torch.Tensor:
        """One input or a list -> batched tensor on the device. A 4-D tensor is a batch whatever its size B (a
        [1,1,H,W] class-id map as well as a [1,C,H,W] dense map): it passes through per item."""
        return torch.stack(self._items(items, fn, n)).to(self.device)

    @staticmethod
    def _items(items: Any, fn, n: int | None = None) -> list[torch.Tensor]:
        if isinstance(items, torch.Tensor) and items.dim() == 4:
            items = list(items)
        if not _is_batch(items):
            items = [items]
        if n is not None and len(items) == 1 and n > 1:
            items = list(items) * n
        return [fn(x) for x in items]

    @torch.inference_mode()
    def translate(
        self,
        semantic: Any,
        exemplar: Any,
        exemplar_semantic: Any | None = None,
        inspect: bool = False,
        size: int | tuple[int, int] | None = None,
    ) -> Translation:
        """semantic: the input x_A (label PNG path / ids / dense map; a list for a batch); exemplar: photo y_B (path,
        PIL, uint8 array, or [3,H,W] tensor in [-1,1]; one exemplar is shared by a batch); exemplar_semantic: the
        exemplar's label map (needed by maskmix presets: ade20k, celebahq_*, landscapes). inspect: also the
        match confidence, the flow and the missing classes (the same image).

        size: the output size (`cocosnet.sizing`): None keeps the input's aspect ratio with its short
        side at the preset's image_size (a square input: exactly image_size²); N sets that short side; (H, W) the
        size outright. The networks run at it rounded to multiples of 32; the exemplar and its label map are
        resized to that working size (aspect not kept, as the official test path), the output back to `size`."""
        native = self._items(semantic, lambda x: self.prepare_semantic(x, "label map", keep_size=True))
        sizes = {output_size(tuple(t.shape[-2:]), self.cfg.image_size, size) for t in native}
        if len(sizes) > 1:
            raise ValueError(f"the semantic inputs of a batch give different output sizes {sorted(sizes)}: give "
                             f"them one aspect ratio, or size=(H, W)")
        out_hw = sizes.pop()
        work = working_size(out_hw)
        sem = torch.stack([resize_semantic(t, self.cfg, work) for t in native]).to(self.device)
        n = sem.shape[0]
        ex = self._batch(exemplar, lambda x: prepare_exemplar(x, work, "exemplar"), n)
        if ex.shape[0] != n:
            raise ValueError(f"{n} semantic inputs but {ex.shape[0]} exemplars")
        cfg = self.cfg
        if exemplar_semantic is None and cfg.needs_exemplar_label:
            raise ValueError(f"preset {cfg.name!r} needs the exemplar's label map (exemplar_semantic / "
                             f"--exemplar-label): its correspondence concatenates both label maps (maskmix)")
        ex_sem = None
        if exemplar_semantic is not None:
            ex_sem = self._batch(exemplar_semantic,
                                 lambda x: self.prepare_semantic(x, "exemplar label map", size=work), n)
        out = self.forward_tensors(sem, ex, ex_sem, inspect=inspect)
        return out if work == out_hw else out.resized(out_hw)

    @torch.inference_mode()
    def forward_tensors(
        self, semantic: torch.Tensor, exemplar: torch.Tensor, exemplar_semantic: torch.Tensor | None = None,
        inspect: bool = False,
    ) -> Translation:
        """Batched tensors as the data sets give them, already at the working size: semantic inputs (class ids
        long [B,1,H,W] or dense maps [B,C,H,W], not yet encoded), exemplars [B,3,H,W] in [-1,1]. Moved to the
        device here; the output is float32 on the device."""
        if self._exported is not None:
            if inspect:
                raise ValueError("the correspondence inspector reads the torch network's match vectors: use "
                                 "--backend torch (the default) with --confidence-out / --flow-out / inspect=True")
            image, warped = self._exported(semantic, exemplar, exemplar_semantic)
            return Translation(image=image.to(self.device), warped=warped.to(self.device))
        semantic, exemplar = semantic.to(self.device), exemplar.to(self.device)
        if exemplar_semantic is not None:
            exemplar_semantic = exemplar_semantic.to(self.device)
        if self.runtime.channels_last:
            exemplar = exemplar.contiguous(memory_format=torch.channels_last)
        if inspect:
            return inspected_translation(self.model, semantic, exemplar, exemplar_semantic, self.dtype)
        network = self.model if self._compiled is None else self._compiled
        if self.device.type == "cpu":
            trim_heap()  # the last call's freed feature maps: fragments that would add to this call's peak
        if self.runtime.streams > 1 and semantic.shape[0] > 1 and self.device.type == "cpu":
            return self._streamed(network, semantic, exemplar, exemplar_semantic)
        out = run_model(network, semantic, exemplar, exemplar_semantic, self.dtype)
        return Translation(image=out.image.float(), warped=out.warped.float())

    def _streamed(self, network, semantic: torch.Tensor, exemplar: torch.Tensor,
                  exemplar_semantic: torch.Tensor | None) -> Translation:
        """The batch as `runtime.streams` concurrent parts (cocosnet.inference.streams), concatenated."""
        from cocosnet.inference.streams import run_streams, split_batch

        def part(sem: torch.Tensor, ex: torch.Tensor, ex_sem: torch.Tensor | None):
            out = run_model(network, sem, ex, ex_sem, self.dtype)
            return out.image.float(), out.warped.float()

        outs = run_streams(part, split_batch(self.runtime.streams, semantic, exemplar, exemplar_semantic))
        return Translation(image=torch.cat([o[0] for o in outs]), warped=torch.cat([o[1] for o in outs]))

    def translate_multi(self, semantic: Any, exemplars: Any, exemplar_semantics: Any | None = None,
                        assign: Any | None = None, region_masks: Any | None = None):
        """Instance-level style control: each region of x_A takes its style from its own exemplar (K exemplars,
        numbered from 0). assign: {class name or id: exemplar index}, or "auto" (each class from the exemplar whose
        label map holds it most; explicit entries may be added as {"auto": True, "sky": 1}); region_masks: a list
        of (mask, index) pairs, a mask being an HxW picture/array of the layout's size, non-zero = region; they
        override class assignments, later masks earlier ones. Unassigned pixels take exemplar 0. Returns a
        `MultiTranslation` (a `Translation` + the per-pixel `assignment` and each exemplar's own warp).
        Semantics and where regions meet: docs/multi_exemplar.md."""
        from cocosnet.inference.multi_exemplar import translate_multi

        if self._exported is not None:
            raise ValueError("multi-exemplar translation composites the torch network's warps before its generator: "
                             "use --backend torch (the default) with several exemplars")
        return translate_multi(self, semantic, exemplars, exemplar_semantics, assign, region_masks)

    def __call__(self, *args, **kwargs) -> Translation:
        return self.translate(*args, **kwargs)

