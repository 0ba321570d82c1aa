"""Translation network: SPADE/PONO residual blocks conditioned on cat(warped exemplar r_y->x, semantics x_A).

Names follow the official `SPADEGenerator` so `latest_net_G.pth` loads strictly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cocosnet.nn import SPADE, SelfAttention, SPADEResnetBlock, arithmetic, in_row_bands, recording_graph
from cocosnet.presets import ModelConfig
from cocosnet.runtime import RuntimeOptions

# Rows of context one output row of the full-resolution stage reads: conv_img 1 + conv_1 1 + conv_0 1 + the two
# 3x3 convolutions of a SPADE over the conditioning 2 = 5; rounded up to even, so a band starts on a row of the
# half-resolution input.
_BAND_HALO = 6


class Generator(nn.Module):
    def __init__(self, cfg: ModelConfig, runtime: RuntimeOptions | None = None):
        super().__init__()
        self.cfg = cfg
        self.runtime = runtime or RuntimeOptions()  # attention chunking, inference row bands (same numbers)
        nf, ic, hid = cfg.ngf, cfg.generator_cond_nc, cfg.spade_hidden
        oh = 3 if cfg.label_nc else None  # cond = cat(warped exemplar, one-hot): one-hot from channel 3
        self.sw = self.sh = cfg.image_size // 2**5
        self.fc = nn.Conv2d(ic, 16 * nf, 3, padding=1)
        self.head_0 = SPADEResnetBlock(16 * nf, 16 * nf, ic, hid, oh)
        self.G_middle_0 = SPADEResnetBlock(16 * nf, 16 * nf, ic, hid, oh)
        self.G_middle_1 = SPADEResnetBlock(16 * nf, 16 * nf, ic, hid, oh)
        self.up_0 = SPADEResnetBlock(16 * nf, 8 * nf, ic, hid, oh)
        self.up_1 = SPADEResnetBlock(8 * nf, 4 * nf, ic, hid, oh)
        if cfg.use_attention:
            self.attn = SelfAttention(4 * nf, self.runtime.attention_impl, self.runtime.attention_chunk)
        self.up_2 = SPADEResnetBlock(4 * nf, 2 * nf, ic, hid, oh)
        self.up_3 = SPADEResnetBlock(2 * nf, nf, ic, hid, oh)
        self.conv_img = nn.Conv2d(nf, 3, 3, padding=1)

    def checkpointable_modules(self) -> list[nn.Module]:
        """Modules training may recompute in backward instead of storing their activations: every residual block
        and the self-attention, and inside the blocks at image/2 and image resolution each SPADE layer as well
        (recomputing such a block whole would hold its three SPADE layers' full-resolution activations at once)."""
        blocks = [self.head_0, self.G_middle_0, self.G_middle_1, self.up_0, self.up_1, self.up_2, self.up_3]
        attention = [self.attn] if self.cfg.use_attention else []
        high_res_spades = [m for block in (self.up_2, self.up_3) for m in block.children() if isinstance(m, SPADE)]
        return blocks + attention + high_res_spades

    @staticmethod
    def up(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="nearest")

    def forward(self, cond: torch.Tensor, label_ids: torch.Tensor | None = None,
                fc_cond: torch.Tensor | None = None) -> torch.Tensor:
        """cond = cat(warped exemplar [B,3,H,W], semantics [B,semantic_nc,H,W]) -> image in [-1,1].

        label_ids: the class ids [B,H,W] behind a one-hot semantics, for the faster SPADE path (optional).
        fc_cond: the full conditioning already at 1/32 for the first layer; then, with label_ids, `cond` may hold
        the warped exemplar alone (SPADE reads the one-hot part through the ids), sparing a full-size copy."""
        ids = label_ids if self.cfg.label_nc else None
        h, w = cond.shape[-2:]
        if fc_cond is None:
            fc_cond = F.interpolate(cond, size=(h // 32, w // 32), mode="nearest")
        elif ids is None and cond.shape[1] != self.fc.in_channels:
            raise ValueError("a conditioning without its one-hot part needs label_ids")
        x = self.fc(fc_cond)
        x = self.head_0(x, cond, ids)
        x = self.up(x)
        x = self.G_middle_0(x, cond, ids)
        x = self.G_middle_1(x, cond, ids)
        x = self.up_0(self.up(x), cond, ids)
        x = self.up_1(self.up(x), cond, ids)
        x = self.up(x)
        if self.cfg.use_attention:
            x = self.attn(x)
        x = self.up_2(x, cond, ids)
        if self._can_tile(x, cond, ids):
            return self._last_stage_in_bands(x, cond, ids)
        return self._last_stage(self.up(x), cond, ids)

    def _last_stage(self, x: torch.Tensor, cond: torch.Tensor, ids: torch.Tensor | None) -> torch.Tensor:
        x = self.up_3(x, cond, ids)
        return torch.tanh(self.conv_img(arithmetic().leaky_relu(x, 0.2)))

    def _can_tile(self, x: torch.Tensor, cond: torch.Tensor, ids: torch.Tensor | None) -> bool:
        rows = self.runtime.band_rows
        h, w = 2 * x.shape[-2], 2 * x.shape[-1]
        # only when no graph is recorded: a backward would keep every band's activations, so banding saves nothing
        return (not recording_graph() and rows > 0 and h > rows + 2 * _BAND_HALO
                and tuple(cond.shape[-2:]) == (h, w) and (ids is None or tuple(ids.shape[-2:]) == (h, w)))

    def _last_stage_in_bands(self, x: torch.Tensor, cond: torch.Tensor, ids: torch.Tensor | None) -> torch.Tensor:
        """Inference: the full-resolution block + conv_img, one band of rows at a time.

        Everything after the self-attention is local: an output row depends on rows within _BAND_HALO of it (the
        3x3 convolutions of the two SPADE layers, the block's two convolutions and conv_img). Each band is computed
        with that many extra rows on each side, taken from the real neighbours (the image edge is padded as in the
        untiled pass), and the extra rows are dropped: the same numbers, while the biggest feature maps (the
        full-resolution SPADE's hidden, gamma and beta maps) exist for one band at a time.
        """
        def band(a: int, b: int) -> torch.Tensor:  # a, b even: the half-resolution rows a/2 .. b/2
            return self._last_stage(self.up(x[..., a // 2 : b // 2, :]), cond[..., a:b, :],
                                    None if ids is None else ids[..., a:b, :])

        rows = self.runtime.band_rows + self.runtime.band_rows % 2  # even, as the halo
        return in_row_bands(band, 2 * x.shape[-2], rows, _BAND_HALO)
