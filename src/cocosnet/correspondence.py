"""Cross-domain correspondence: domain adaptors F_A->S and F_B->S, shared refinement, correlation, warping.

Module and parameter names follow the official `NoVGGCorrespondence`, so its `latest_net_Corr.pth` loads strictly.
The warp softmax(theta·phiᵀ / temperature)·exemplar is attention, computed without the HW x HW matrix (by default
with the patch cosines summed from 1x1 products, `cocosnet.nn.patch_match`) unless the matrix itself is asked for
(cycle warp in training, `RuntimeOptions(warp_impl="dense")`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cocosnet.label_resize import one_hot_map
from cocosnet.nn import (
    ResidualBlock,
    SPADEResnetBlock,
    arithmetic,
    feature_normalize,
    softmax_attention,
)
from cocosnet.nn.attention import block_rows
from cocosnet.nn.normalization import EPS, l2_norm, onehot_conv3x3
from cocosnet.nn.patch_match import patch_softmax_warp
from cocosnet.nn.spectral import current_weight, sn_conv
from cocosnet.presets import ModelConfig
from cocosnet.runtime import RuntimeOptions


class DomainAdaptor(nn.Module):
    """Maps one domain (semantics or RGB exemplar) into the shared domain S: 5 convs then 3 SPADE blocks.

    The SPADE blocks are conditioned on the adaptor's own input (official `AdaptiveFeatureGenerator`).
    """

    def __init__(self, in_nc: int, cfg: ModelConfig, onehot: bool = False):
        super().__init__()
        nf = cfg.adaptor_nf
        self.in_nc, self.onehot = in_nc, onehot
        oh = 0 if onehot else None
        strided = {4: (2, 4), 2: (2,), 1: ()}[cfg.feature_stride]
        widths = [in_nc, nf, 2 * nf, 4 * nf, 8 * nf, 8 * nf]
        for i in range(1, 6):
            stride = 2 if i in strided else 1
            kernel = cfg.adaptor_kernel if stride == 2 else 3
            conv = sn_conv(widths[i - 1], widths[i], kernel, stride=stride, padding=1, bias=False)
            self.add_module(f"layer{i}", nn.Sequential(conv, nn.InstanceNorm2d(widths[i], affine=False)))
        self.head_0 = SPADEResnetBlock(8 * nf, 8 * nf, in_nc, cfg.spade_hidden, oh)
        self.G_middle_0 = SPADEResnetBlock(8 * nf, 8 * nf, in_nc, cfg.spade_hidden, oh)
        self.G_middle_1 = SPADEResnetBlock(8 * nf, 4 * nf, in_nc, cfg.spade_hidden, oh)

    def forward(self, x: torch.Tensor | None, ids: torch.Tensor | None = None) -> torch.Tensor:
        """ids: class ids [B,H,W] of a one-hot input, for the faster path (optional). With them the SPADE blocks
        read only the ids, so x may be None: the first convolution then looks its weights up too (no one-hot map
        is made; `_first_conv_of_ids`)."""
        lookup = self.onehot and ids is not None
        if x is None and not lookup:
            raise ValueError("the domain adaptor needs its input map (class ids alone only for a one-hot input)")
        cond = None if lookup else x
        if x is None:
            x = self.layer1[1](self._first_conv_of_ids(ids))
        else:
            x = self.layer1(x)
        ops = arithmetic()  # inference: the activation overwrites the normalised map
        for i in range(2, 6):
            x = getattr(self, f"layer{i}")(ops.leaky_relu(x, 0.2))
        x = self.head_0(x, cond, ids)
        x = self.G_middle_0(x, cond, ids)
        return self.G_middle_1(x, cond, ids)

    def _first_conv_of_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """The first convolution of the one-hot map of `ids`: for a 3x3, stride 1, zero-padded one (every preset's),
        nine table lookups per position (`onehot_conv3x3`) instead of 9·C·out multiply-adds — at ADE20k 256², 11
        GFLOP and a 40 MB one-hot map spared; the same sums of the same nine non-zero products (the other products
        are exact zeros). Otherwise the convolution of the one-hot map."""
        conv = self.layer1[0]
        if conv.stride == (1, 1) and conv.kernel_size == (3, 3) and conv.padding == (1, 1) and conv.bias is None:
            return onehot_conv3x3(ids, current_weight(conv), padding="zeros")
        return conv(one_hot_map(ids, self.in_nc))

    def checkpointable_modules(self) -> list[nn.Module]:
        """Modules training may recompute in backward instead of storing their activations: the SPADE blocks."""
        return [self.head_0, self.G_middle_0, self.G_middle_1]


@dataclass
class CorrespondenceOutput:
    """What the correspondence network produces; optional fields are None when not requested."""

    warp_out: torch.Tensor  # r_y->x at image resolution, [B,3,H,W]
    warp_out_lowres: torch.Tensor | None = None  # before upsampling (feature resolution), not for patch warps
    warp_mask: torch.Tensor | None = None  # the exemplar's label warped by the same softmax, [B,C,h,w]
    warp_cycle: torch.Tensor | None = None  # warped back to the exemplar (cycle-warping regulariser)
    adaptive_feature_seg: torch.Tensor | None = None  # F_A->S(x_A) before L2 normalisation
    adaptive_feature_img: torch.Tensor | None = None  # F_B->S(y_B)
    cont_features: torch.Tensor | None = None
    ref_features: torch.Tensor | None = None
    theta: torch.Tensor | None = None
    phi: torch.Tensor | None = None
    corr: torch.Tensor | None = None  # softmax(correlation / temperature), [B, hw_x, hw_y]; dense path only


class Correspondence(nn.Module):
    # Methods training may recompute in backward (training/grad_checkpoint.py replaces them on the instance): they
    # take and return tensors and read no parameters. Recomputing `correlate_and_warp` spares storing the unfolded
    # match vectors and the softmax blocks.
    checkpointable_methods: tuple[str, ...] = ("correlate_and_warp",)

    def __init__(self, cfg: ModelConfig, runtime: RuntimeOptions | None = None):
        super().__init__()
        self.cfg = cfg
        self.runtime = runtime or RuntimeOptions()  # how the warp is computed (same numbers either way)
        self.adaptive_model_seg = DomainAdaptor(cfg.semantic_nc, cfg, onehot=cfg.label_nc > 0)
        self.adaptive_model_img = DomainAdaptor(3, cfg)
        c = cfg.corr_in_channels
        self.layer = nn.Sequential(*[ResidualBlock(c) for _ in range(cfg.corr_blocks)])
        self.theta = nn.Conv2d(c, cfg.corr_channels, 1)
        self.phi = nn.Conv2d(c, cfg.corr_channels, 1)

    def checkpointable_modules(self) -> list[nn.Module]:
        """Modules training may recompute in backward: each whole domain adaptor (which offers its own SPADE blocks
        in turn, recomputed nested inside it) and the shared refinement blocks."""
        return [self.adaptive_model_seg, self.adaptive_model_img, *self.layer]

    def _match_vectors(self, feat: torch.Tensor, padded: bool = False) -> torch.Tensor:
        """3x3-unfolded (zero padding) vectors, centred over their own channels (PONO_C), L2-normalised: [B,N,D].

        padded: `feat` already carries its zero border (a band of rows of the padded map, `_warp_by_row_bands`)."""
        k = self.cfg.match_kernel
        v = F.unfold(feat, k, padding=0 if padded else k // 2)  # [B, C*k*k, N]
        ops = arithmetic()  # inference: one buffer instead of three
        v = ops.sub(v, v.mean(dim=1, keepdim=True))
        return ops.div(v, ops.add(l2_norm(v), EPS)).transpose(1, 2)

    def _exemplar_values(self, exemplar: torch.Tensor) -> torch.Tensor:
        """What is warped per exemplar position: the pooled RGB, or 4x4 patches for the patch warp: [B,M,E]."""
        s = self.cfg.feature_stride
        if self.cfg.warp == "patch":
            return F.unfold(exemplar, s, stride=s).transpose(1, 2)
        return F.avg_pool2d(exemplar, s).flatten(2).transpose(1, 2) if s > 1 else exemplar.flatten(2).transpose(1, 2)

    def adapt(self, semantic: torch.Tensor, exemplar: torch.Tensor,
              label_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Both domains in S: (F_A->S(x_A), F_B->S(y_B)), before normalisation (the domain-alignment loss uses them)."""
        ids = label_ids if self.cfg.label_nc else None
        return self.adaptive_model_seg(semantic, ids), self.adaptive_model_img(exemplar)

    def forward(
        self,
        semantic: torch.Tensor,
        exemplar: torch.Tensor,
        exemplar_semantic: torch.Tensor | None = None,
        *,
        return_cycle: bool = False,
        return_mask: bool | None = None,
        return_intermediates: bool = False,
        return_corr: bool = False,
        label_ids: torch.Tensor | None = None,
    ) -> CorrespondenceOutput:
        """semantic: encoded x_A [B,semantic_nc,H,W]; exemplar: y_B [B,3,H,W] in [-1,1]; exemplar_semantic: its
        encoded label map (required with maskmix and for the warped mask); label_ids: x_A's class ids [B,H,W]
        when `semantic` is their one-hot map (optional: a faster path with the same numbers; semantic=None with
        label_ids: the one-hot map is made from them where it is read, never kept whole). return_mask: warp the
        exemplar's label map too (default: for a label-map preset, when that map is given)."""
        cfg = self.cfg
        h, w = exemplar.shape[-2:]
        fh, fw = h // cfg.feature_stride, w // cfg.feature_stride
        if return_mask is None:
            return_mask = cfg.label_nc > 0 and exemplar_semantic is not None
        if (cfg.maskmix or return_mask) and exemplar_semantic is None:
            raise ValueError(
                f"preset {cfg.name!r} needs the exemplar's semantic map (exemplar_semantic / --exemplar-label)"
            )

        if semantic is None and (label_ids is None or not cfg.label_nc):
            raise ValueError("give the encoded semantic map, or label_ids for a label-map preset")
        kept = {}  # return_intermediates: the feature maps the inspector reads; otherwise each is dropped when used
        seg_feat, img_feat = self.adapt(semantic, exemplar, label_ids)
        if return_intermediates:
            kept.update(adaptive_feature_seg=seg_feat, adaptive_feature_img=img_feat)
        cont, ref = feature_normalize(seg_feat), feature_normalize(img_feat)
        del seg_feat, img_feat
        if cfg.maskmix:
            small_sem = (one_hot_map(label_ids, cfg.label_nc, (fh, fw)) if semantic is None
                         else F.interpolate(semantic, size=(fh, fw), mode="nearest"))
            cont = torch.cat([cont, small_sem], 1)
            ref = torch.cat([ref, F.interpolate(exemplar_semantic, size=(fh, fw), mode="nearest")], 1)
            del small_sem
        del semantic  # the caller's reference aside, nothing below reads x_A
        cont_features = self.layer(cont)
        del cont
        ref_features = self.layer(ref)
        del ref
        theta = self.theta(cont_features)
        phi = self.phi(ref_features)
        if return_intermediates:
            kept.update(cont_features=cont_features, ref_features=ref_features, theta=theta, phi=phi)
        del cont_features, ref_features
        with torch.autocast(exemplar.device.type, enabled=False):
            # the correlation is divided by a temperature of 0.01: half-precision rounding of the cosines would
            # move the softmax logits by ~0.4, so matching and warping always run in float32
            out = self.correlate_and_warp(
                theta.float(), phi.float(), exemplar.float(),
                None if exemplar_semantic is None else exemplar_semantic.float(),
                return_mask, return_cycle, return_corr,
            )
        for name, value in kept.items():
            setattr(out, name, value)
        return out

    def correlate_and_warp(
        self,
        theta: torch.Tensor,
        phi: torch.Tensor,
        exemplar: torch.Tensor,
        exemplar_semantic: torch.Tensor | None,
        return_mask: bool,
        return_cycle: bool,
        return_corr: bool,
    ) -> CorrespondenceOutput:
        """Match theta [B,C,h,w] against phi; warp the exemplar (its label map; back, for the cycle) by the softmax."""
        cfg = self.cfg
        b, _, h, w = exemplar.shape
        fh, fw = theta.shape[-2:]
        values = [self._exemplar_values(exemplar)]
        n_img = values[0].shape[-1]
        if return_mask:
            values.append(F.interpolate(exemplar_semantic, size=(fh, fw), mode="nearest").flatten(2).transpose(1, 2))
        v = torch.cat(values, -1) if len(values) > 1 else values[0]
        scale = 1.0 / cfg.temperature
        corr = q = None
        impl, chunk = self.runtime.warp_impl, self.runtime.warp_chunk
        dense = return_corr or return_cycle or impl == "dense"
        # auto: the patch products summed from the 1x1 ones (k² fewer multiplications, cocosnet.nn.patch_match)
        patch_sums = not dense and impl == "auto" and cfg.match_kernel > 1
        k = None if patch_sums else self._match_vectors(phi)
        if dense:
            q = self._match_vectors(theta)
            corr = torch.softmax(torch.matmul(q, k.transpose(1, 2)) * scale, dim=-1)
            y = torch.matmul(corr, v)
        elif impl == "sdpa":
            y = softmax_attention(self._match_vectors(theta), k, v, scale, impl, chunk)
        elif patch_sums:
            y = patch_softmax_warp(theta, phi, v, scale, cfg.match_kernel, chunk)
        else:
            y = self._warp_by_row_bands(theta, k, v, scale, chunk)

        out = CorrespondenceOutput(warp_out=exemplar)  # placeholder, set below
        y_img = y[..., :n_img]
        if cfg.warp == "patch":
            s = cfg.feature_stride
            out.warp_out = F.fold(y_img.transpose(1, 2), (h, w), s, stride=s)
        else:
            low = y_img.transpose(1, 2).reshape(b, 3, fh, fw)
            out.warp_out_lowres = low
            if cfg.feature_stride == 1:
                out.warp_out = low
            elif cfg.warp == "bilinear":
                out.warp_out = F.interpolate(low, scale_factor=cfg.feature_stride, mode="bilinear",
                                             align_corners=False)
            else:
                out.warp_out = F.interpolate(low, scale_factor=cfg.feature_stride, mode="nearest")
        if return_mask:
            out.warp_mask = y[..., n_img:].transpose(1, 2).reshape(b, -1, fh, fw)
        if return_cycle:
            # exemplar -> input softmax (over input positions) applied to the warped values: back to the exemplar
            corr_t = torch.softmax(torch.matmul(k, q.transpose(1, 2)) * scale, dim=-1)
            cyc = torch.matmul(corr_t, y_img)
            if cfg.warp == "patch":
                s = cfg.feature_stride
                out.warp_cycle = F.fold(cyc.transpose(1, 2), (h, w), s, stride=s)
            else:
                out.warp_cycle = cyc.transpose(1, 2).reshape(b, 3, fh, fw)
        if return_corr:
            out.corr = corr
        return out

    def _warp_by_row_bands(self, theta: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float,
                           chunk: int) -> torch.Tensor:
        """The chunked warp with x_A's match vectors made one band of feature rows at a time, from the zero-padded
        theta: each vector is centred and normalised over its own column, so they are the vectors
        `_match_vectors(theta)` gives (bit-equal at ADE20k 256²; for narrow bands the per-column sums may round
        differently, ~1e-7), but only one block of them exists (the whole set is 38 MB at 256²). A band
        holds as many query positions as a block of the chunked softmax."""
        b, _, fh, fw = theta.shape
        pad = self.cfg.match_kernel // 2
        rows = max(1, block_rows(chunk, k.shape[-2], b) // fw)
        padded = F.pad(theta, (pad, pad, pad, pad))
        out = theta.new_empty(b, fh * fw, v.shape[-1])
        for top in range(0, fh, rows):
            bottom = min(fh, top + rows)
            q = self._match_vectors(padded[..., top : bottom + 2 * pad, :], padded=True)
            out[:, top * fw : bottom * fw] = softmax_attention(q, k, v, scale, "chunked", chunk)
        return out


def correlation_bytes(cfg: ModelConfig, batch: int = 1, dtype_bytes: int = 4) -> int:
    """Bytes of the dense correlation matrix the memory-efficient path avoids (for docs and benchmarks)."""
    n = cfg.feature_size**2
    return batch * n * n * dtype_bytes


__all__ = ["Correspondence", "CorrespondenceOutput", "DomainAdaptor", "correlation_bytes"]
