"""Collapse and health alarms: measured every `health_every` steps on a fixed held-out batch, logged under health/.

Alarms (thresholds in `Thresholds`; docs/training.md "Health panel" says what each means and what to do):
* uniform_match: the match softmax is near uniform (mean entropy near log N): the warped exemplar is its mean colour.
* constant_match: most input positions take their style from one exemplar position (argmax spread collapsed).
* identity_copy: the output copies the warped exemplar (generator ignores the semantic input).
* d_wins: the discriminator's held-out hinge loss is near 0 (it wins outright).
* loss_spike / non_finite: the generator loss far above its running median; steps skipped as non-finite.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass

import torch

from cocosnet import losses as L

COLLAPSES = ("uniform_match", "constant_match", "identity_copy", "non_finite")  # what --stop-on-collapse acts on


@dataclass(frozen=True)
class Thresholds:
    uniform_entropy: float = 0.9  # mean entropy / log(N) above this: uniform (healthy bundled model: 0.06-0.23)
    constant_share: float = 0.5  # share of queries on the most common argmax position (healthy: <= 0.12)
    copy_l1: float = 0.02  # mean |output - warped| on [-1, 1] below this (healthy: 0.09-0.15)
    d_hinge: float = 0.05  # held-out D hinge loss (real + fake) below this
    spike_factor: float = 5.0  # G loss above this times the running median
    window: int = 100  # steps of the running median and of the skipped share
    skipped_share: float = 0.25  # share of the window's steps skipped as non-finite


def match_statistics(corr: torch.Tensor) -> dict[str, float]:
    """corr: softmax match matrix [B, N_input, N_exemplar] -> entropy / log N, mean max, argmax mode share."""
    p = corr.float()
    n = p.shape[-1]
    entropy = -(p * p.clamp_min(1e-30).log()).sum(-1).mean() / math.log(n)
    arg = p.argmax(-1)
    share = torch.stack([torch.bincount(a, minlength=n).max() for a in arg]).float().mean() / arg.shape[-1]
    return {"match_entropy": float(entropy), "match_confidence": float(p.amax(-1).mean()),
            "argmax_mode_share": float(share)}


@torch.no_grad()
def measure(model, discriminator, b: dict) -> dict[str, float]:
    """Health numbers of `model` (+ `discriminator`, may be None) on a prepared batch (Trainer.prepare), one
    sample at a time in eval mode (no spectral-norm power iteration: the run is left exactly as it was)."""
    modes = [(m, m.training) for net in (model, discriminator) if net is not None for m in net.modules()]
    model.eval()
    if discriminator is not None:
        discriminator.eval()
    stats, copies, hinge, real_logit, fake_logit = [], [], [], [], []
    try:
        for i in range(b["semantic"].shape[0]):
            ex_sem = b["exemplar_semantic"][i:i + 1] if b["exemplar_semantic"] is not None else None
            out = model(b["semantic"][i:i + 1], b["exemplar"][i:i + 1], ex_sem, return_corr=True)
            stats.append(match_statistics(out.correspondence.corr))
            if float(b["self_ref"][i]) == 0:  # pseudo pairs: output ~ warped ~ ground truth is right
                copies.append(float((out.image - out.warped).abs().mean()))
            if discriminator is not None:
                sem = b["semantic"][i:i + 1]
                pred = discriminator(torch.cat([torch.cat([sem, out.image], 1),
                                                torch.cat([sem, b["real"][i:i + 1]], 1)], 0))
                pf, pr = L.split_discriminator_output(pred)
                hinge.append(float(L.hinge_discriminator_loss(pf, real=False) + L.hinge_discriminator_loss(pr, True)))
                real_logit.append(float(sum(s[-1].mean() for s in pr) / len(pr)))
                fake_logit.append(float(sum(s[-1].mean() for s in pf) / len(pf)))
    finally:
        for m, flag in modes:
            m.train(flag)
    res = {k: statistics.fmean(s[k] for s in stats) for k in stats[0]}
    if copies:
        res["output_vs_warped_l1"] = statistics.fmean(copies)
    if hinge:
        res.update(d_hinge=statistics.fmean(hinge), d_real_logit=statistics.fmean(real_logit),
                   d_fake_logit=statistics.fmean(fake_logit))
    return res


def diagnose(m: dict[str, float], step: int, th: Thresholds = Thresholds()) -> dict[str, str]:
    """{alarm name: warning line naming the likely cause and what to do} for the numbers of `measure`."""
    out = {}
    if m["match_entropy"] > th.uniform_entropy:
        out["uniform_match"] = (
            f"correspondence collapsed to a uniform match at step {step} (entropy {m['match_entropy']:.2f} of the "
            "maximum): every input position averages the whole exemplar. Likely the domain adaptors' features went "
            "constant (correspondence lr too high, or domain_align off). Resume an earlier checkpoint with a lower "
            "--lr-corr (a tenth), keep --set loss.domain_align on, or --freeze correspondence when fine-tuning")
    elif m["argmax_mode_share"] > th.constant_share:
        out["constant_match"] = (
            f"correspondence collapsed to a constant match at step {step}: {m['argmax_mode_share']:.0%} of the input "
            "positions take their style from one exemplar position. Lower the correspondence's lr (--lr-corr), keep "
            "the cycle-warp regulariser on (--set loss.warp_cycle, when the preset has it), resume an earlier "
            "checkpoint, or --freeze correspondence when fine-tuning")
    if m.get("output_vs_warped_l1", 1.0) < th.copy_l1:
        out["identity_copy"] = (
            f"the output copies the warped exemplar at step {step} (mean |output - warped| "
            f"{m['output_vs_warped_l1']:.3f}): the generator ignores the semantic input. Likely too many pseudo "
            "exemplar pairs: raise --set sampling.real_reference_probability, lower --set loss.warp_self, resume an "
            "earlier checkpoint")
    if m.get("d_hinge", 1.0) < th.d_hinge:
        out["d_wins"] = (
            f"the discriminator wins outright at step {step} (held-out hinge loss {m['d_hinge']:.3f}; real "
            f"{m['d_real_logit']:.2f}, fake {m['d_fake_logit']:.2f}). Lower --lr-d (default 2*lr, 4x the generator's) "
            "or raise --set loss.gan_feat")
    return out


class LossWatch:
    """Every step: spikes of the total generator loss vs its running median, and the share of skipped steps."""

    def __init__(self, th: Thresholds = Thresholds()):
        self.th = th
        self.losses: deque[float] = deque(maxlen=th.window)
        self.skips: deque[bool] = deque(maxlen=th.window)
        self.spikes = 0
        self.ratio = 1.0

    def update(self, values: dict[str, float], step: int) -> dict[str, str]:
        skipped = "_skipped_g" in values
        self.skips.append(skipped)
        g = sum(v for k, v in values.items() if not k.startswith(("_", "d_")))
        out = {}
        if not skipped and math.isfinite(g):
            if len(self.losses) >= 20 and (med := statistics.median(self.losses)) > 0:
                self.ratio = g / med
                if self.ratio > self.th.spike_factor:
                    self.spikes += 1
                    out["loss_spike"] = (f"generator loss spiked at step {step}: {self.ratio:.1f}x the running median "
                                         f"of the last {len(self.losses)} steps; if it repeats, lower --lr or resume "
                                         "the checkpoint before")
            self.losses.append(g)
        share = sum(self.skips) / len(self.skips)
        if skipped and len(self.skips) >= 4 and share > self.th.skipped_share:
            out["non_finite"] = (f"{sum(self.skips)} of the last {len(self.skips)} steps were skipped (non-finite loss "
                                 f"or gradients) at step {step}: the run is diverging. Use --amp bf16 or off instead "
                                 "of fp16, lower --lr, resume the last good checkpoint")
        return out

    def scalars(self) -> dict[str, float]:
        return {"loss_spike_ratio": self.ratio, "loss_spikes": float(self.spikes),
                "skipped_share": sum(self.skips) / max(1, len(self.skips))}


__all__ = ["COLLAPSES", "LossWatch", "Thresholds", "diagnose", "match_statistics", "measure"]
