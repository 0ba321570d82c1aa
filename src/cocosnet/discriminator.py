"""Multi-scale PatchGAN discriminator (official `MultiscaleDiscriminator`, names kept for `latest_net_D.pth`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cocosnet.nn import SelfAttention
from cocosnet.nn.spectral import sn_conv
from cocosnet.presets import ModelConfig
from cocosnet.runtime import RuntimeOptions


def _sn_in(cin: int, cout: int, kernel: int, stride: int, padding: int) -> nn.Sequential:
    """Spectral-normed conv without bias followed by InstanceNorm (the official 'spectralinstance')."""
    return nn.Sequential(sn_conv(cin, cout, kernel, stride, padding, bias=False), nn.InstanceNorm2d(cout))


class NLayerDiscriminator(nn.Module):
    """k=4, padding 1 PatchGAN; self-attention before the last strided-1 layer; returns every layer's output.

    `dec`, a segmentation head the official code builds but never calls, is kept so official state dicts load.
    """

    def __init__(self, cfg: ModelConfig, runtime: RuntimeOptions | None = None):
        super().__init__()
        self.cfg = cfg
        runtime = runtime or RuntimeOptions()
        kw, padw = 4, 1
        nf = cfg.ndf
        in_nc = cfg.semantic_nc + 3
        self.model0 = nn.Sequential(nn.Conv2d(in_nc, nf, kw, stride=2, padding=padw), nn.LeakyReLU(0.2))
        n_layers = cfg.n_layers_D
        for n in range(1, n_layers):
            nf_prev, nf = nf, min(nf * 2, 512)
            stride = 1 if n == n_layers - 1 else 2
            if n == n_layers - 1:
                if cfg.d_attention:
                    self.attn = SelfAttention(nf_prev, runtime.attention_impl, runtime.attention_chunk)
                dec: list[nn.Module] = []
                nc = nf_prev
                for _ in range(n_layers - 1):
                    dec += [nn.Upsample(scale_factor=2), _sn_in(nc, nc // 2, 3, 1, 1), nn.LeakyReLU(0.2)]
                    nc //= 2
                dec.append(nn.Conv2d(nc, cfg.semantic_nc, 3, padding=1))
                self.dec = nn.Sequential(*dec)
            self.add_module(f"model{n}", nn.Sequential(_sn_in(nf_prev, nf, kw, stride, padw), nn.LeakyReLU(0.2)))
        self.add_module(f"model{n_layers}", nn.Sequential(nn.Conv2d(nf, 1, kw, stride=1, padding=padw)))

    def checkpointable_modules(self) -> list[nn.Module]:
        """Modules training may recompute in backward instead of storing their activations: the self-attention."""
        return [self.attn] if self.cfg.d_attention else []

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        n_layers = self.cfg.n_layers_D
        for n in range(n_layers + 1):
            if n == n_layers - 1 and self.cfg.d_attention:
                x = self.attn(x)
            x = getattr(self, f"model{n}")(x)
            feats.append(x)
        return feats


class MultiscaleDiscriminator(nn.Module):
    """`num_D` discriminators; each next one sees the input average-pooled (3x3, stride 2, padding excluded)."""

    def __init__(self, cfg: ModelConfig, runtime: RuntimeOptions | None = None):
        super().__init__()
        for i in range(cfg.num_D):
            self.add_module(f"discriminator_{i}", NLayerDiscriminator(cfg, runtime))

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        """x = cat(semantics, image) -> per scale, the list of every layer's output (last = patch logits)."""
        results = []
        for d in self.children():
            results.append(d(x))
            x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
        return results
