"""Random batches shaped like a data set's, for tests and timing (not for learning)."""

from __future__ import annotations

from typing import Any

import torch


def synthetic_batch(cfg: Any, n: int, seed: int = 0, self_ref: list[float] | None = None) -> dict[str, torch.Tensor]:
    """A random batch shaped like a data set's for `cfg` (blocky label maps or dense maps, images in [-1,1]);
    self_ref alternates 1, 0, ... unless given. For tests and timing, not for learning."""
    g = torch.Generator().manual_seed(seed)
    s = cfg.image_size
    refs = self_ref if self_ref is not None else [float(i % 2 == 0) for i in range(n)]

    def semantic() -> torch.Tensor:
        if cfg.label_nc:
            ids = torch.randint(0, cfg.label_nc, (n, 1, s // 8, s // 8), generator=g)
            return ids.repeat_interleave(8, -1).repeat_interleave(8, -2)
        return torch.rand(n, cfg.semantic_nc, s, s, generator=g)

    label, exemplar_label = semantic(), semantic()
    return {"label": label, "image": torch.rand(n, 3, s, s, generator=g) * 2 - 1,
            "exemplar": torch.rand(n, 3, s, s, generator=g) * 2 - 1, "exemplar_label": exemplar_label,
            "self_ref": torch.tensor(refs, dtype=torch.float32)}
