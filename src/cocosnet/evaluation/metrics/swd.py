"""Sliced Wasserstein distance between two image sets, following the Progressive GAN protocol.

Protocol (Karras et al., ICLR 2018, appendix D): each image is decomposed into a Laplacian pyramid whose
levels run from the image size down to 16 pixels (256² → 256, 128, 64, 32, 16; 64² → 64, 32, 16; the coarsest
level is the Gaussian residual). From every level of every image, 128 neighbourhoods of 7×7 pixels are drawn
at random (fully inside the image); each neighbourhood is a 3·7·7 = 147-d descriptor. The descriptors of a set
are normalised per colour channel (mean and standard deviation over all descriptors of that set and level).
The distance per level is the sliced Wasserstein distance over 4 repeats of 128 random unit directions
(project, sort, mean absolute difference), times 1e3; ``swd_avg`` is the mean over levels.

Determinism: the positions of the i-th image of a set come from a generator seeded with (``seed``, i), so they
do not depend on how the set is split into batches and the i-th images of both sets share positions
(identical sets score exactly 0); the directions come from a generator seeded with ``seed`` at compute.
Sets with different sizes are compared on a seeded random subset of the larger one's descriptors.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
GAUSSIAN_5x5 = torch.outer(_BINOMIAL, _BINOMIAL) / 256.0


def _blur(x: Tensor, gain: float = 1.0) -> Tensor:
    """5×5 binomial filter per channel with mirror (reflect) borders."""
    c = x.shape[1]
    kernel = (GAUSSIAN_5x5 * gain).to(x).expand(c, 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), kernel, groups=c)


def pyr_down(x: Tensor) -> Tensor:
    """Blur, then keep every second row and column."""
    return _blur(x)[:, :, ::2, ::2]


def pyr_up(x: Tensor, size: tuple[int, int] | None = None) -> Tensor:
    """Insert zeros between pixels, blur with 4× gain; crop to ``size`` (for odd sizes)."""
    b, c, h, w = x.shape
    up = x.new_zeros(b, c, 2 * h, 2 * w)
    up[:, :, ::2, ::2] = x
    up = _blur(up, gain=4.0)
    if size is not None:
        up = up[:, :, : size[0], : size[1]]
    return up


def pyramid_sizes(height: int, width: int, min_res: int = 16) -> list[tuple[int, int]]:
    """Sizes of the Laplacian levels: halve while the smaller side stays >= ``min_res``."""
    if min(height, width) < min_res:
        raise ValueError(f"SWD needs images of at least {min_res}x{min_res}; got {height}x{width}")
    sizes = [(height, width)]
    while min(sizes[-1]) // 2 >= min_res:
        h, w = sizes[-1]
        sizes.append(((h + 1) // 2, (w + 1) // 2))
    return sizes


def laplacian_pyramid(x: Tensor, levels: int) -> list[Tensor]:
    """Band-pass levels, finest first; the last level is the Gaussian residual."""
    gaussians = [x.float()]
    for _ in range(1, levels):
        gaussians.append(pyr_down(gaussians[-1]))
    bands = [g - pyr_up(n, g.shape[-2:]) for g, n in zip(gaussians[:-1], gaussians[1:], strict=True)]
    return [*bands, gaussians[-1]]


def sample_patches(level: Tensor, count: int, size: int, generator: torch.Generator) -> Tensor:
    """``count`` random ``size``×``size`` neighbourhoods per image, fully inside it.

    Returns (B·count, C, size, size), the ``count`` patches of image 0 first."""
    b, c, h, w = level.shape
    half = size // 2
    if h < size or w < size:
        raise ValueError(f"level {h}x{w} is smaller than the {size}x{size} neighbourhood")
    cy = torch.randint(half, h - half, (b, count), generator=generator)
    cx = torch.randint(half, w - half, (b, count), generator=generator)
    offsets = torch.arange(size) - half
    ys = (cy[..., None] + offsets).view(b, count, size, 1)
    xs = (cx[..., None] + offsets).view(b, count, 1, size)
    bi = torch.arange(b).view(b, 1, 1, 1)
    patches = level.permute(0, 2, 3, 1)[bi, ys, xs]  # (B, count, size, size, C)
    return patches.reshape(b * count, size, size, c).permute(0, 3, 1, 2)


def normalize_descriptors(desc: Tensor) -> Tensor:
    """Per-channel standardisation over all descriptors (N, C, k, k), flattened to (N, C·k·k)."""
    mean = desc.mean(dim=(0, 2, 3), keepdim=True)
    std = desc.std(dim=(0, 2, 3), keepdim=True, unbiased=False).clamp_min(1e-8)
    return ((desc - mean) / std).flatten(1)


def sliced_wasserstein(
    a: Tensor,
    b: Tensor,
    dir_repeats: int = 4,
    dirs_per_repeat: int = 128,
    generator: torch.Generator | None = None,
) -> float:
    """Mean over ``dir_repeats`` × ``dirs_per_repeat`` random unit directions of the 1-D Wasserstein-1
    distance between the projected sets (sorted projections, mean absolute difference)."""
    if a.shape != b.shape:
        raise ValueError(f"descriptor sets differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    results = []
    for _ in range(dir_repeats):
        dirs = torch.randn(a.shape[1], dirs_per_repeat, generator=generator, dtype=torch.float64)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)
        proj_a = torch.sort(a.double() @ dirs, dim=0).values
        proj_b = torch.sort(b.double() @ dirs, dim=0).values
        results.append((proj_a - proj_b).abs().mean())
    return float(torch.stack(results).mean())


class SlicedWassersteinDistance:
    """Accumulates two image sets (RGB in [-1, 1], any range works: descriptors are standardised) and
    returns ``{"swd_<res>": …, "swd_avg": …}`` (×1e3), one entry per pyramid level."""

    def __init__(
        self,
        seed: int = 0,
        min_res: int = 16,
        patches_per_image: int = 128,
        patch_size: int = 7,
        dir_repeats: int = 4,
        dirs_per_repeat: int = 128,
    ) -> None:
        self.seed = seed
        self.min_res = min_res
        self.patches_per_image = patches_per_image
        self.patch_size = patch_size
        self.dir_repeats = dir_repeats
        self.dirs_per_repeat = dirs_per_repeat
        self.reset()

    def reset(self) -> None:
        self.sizes: list[tuple[int, int]] | None = None
        self._desc: dict[bool, list[list[Tensor]]] = {True: [], False: []}
        self._count = {True: 0, False: 0}

    def _image_generator(self, index: int) -> torch.Generator:
        """Positions of image ``index`` of either set: independent of batching, paired across the sets."""
        return torch.Generator().manual_seed((self.seed * 1_000_003 + index) % 2**62)

    def update(self, images: Tensor, real: bool) -> None:
        if images.dim() != 4:
            raise ValueError(f"expected images shaped (B, C, H, W); got {tuple(images.shape)}")
        sizes = pyramid_sizes(images.shape[-2], images.shape[-1], self.min_res)
        if self.sizes is None:
            self.sizes = sizes
        elif sizes != self.sizes:
            raise ValueError(f"all images must share one size; got {sizes[0]} after {self.sizes[0]}")
        pyramid = laplacian_pyramid(images.detach().cpu(), len(sizes))
        per_level: list[list[Tensor]] = [[] for _ in sizes]
        for j in range(images.shape[0]):
            gen = self._image_generator(self._count[real] + j)
            for level, band in enumerate(pyramid):
                per_level[level].append(
                    sample_patches(band[j : j + 1], self.patches_per_image, self.patch_size, gen)
                )
        self._count[real] += images.shape[0]
        self._desc[real].append([torch.cat(patches) for patches in per_level])

    def compute(self) -> dict[str, float]:
        if not self._desc[True] or not self._desc[False] or self.sizes is None:
            raise RuntimeError("SWD needs images in both sets (update(..., real=True) and real=False)")
        gen = torch.Generator().manual_seed(self.seed)
        out: dict[str, float] = {}
        for level, (h, w) in enumerate(self.sizes):
            a = normalize_descriptors(torch.cat([batch[level] for batch in self._desc[True]]))
            b = normalize_descriptors(torch.cat([batch[level] for batch in self._desc[False]]))
            if len(a) != len(b):
                n = min(len(a), len(b))
                a = a[torch.randperm(len(a), generator=gen)[:n]] if len(a) > n else a
                b = b[torch.randperm(len(b), generator=gen)[:n]] if len(b) > n else b
            dist = sliced_wasserstein(a, b, self.dir_repeats, self.dirs_per_repeat, generator=gen)
            out[f"swd_{h}" if h == w else f"swd_{h}x{w}"] = dist * 1e3
        out["swd_avg"] = sum(out.values()) / len(self.sizes)
        return out


def compute_swd(a: Tensor, b: Tensor, seed: int = 0, **options) -> dict[str, float]:
    """SWD between two image batches (one call; see ``SlicedWassersteinDistance`` for the options)."""
    metric = SlicedWassersteinDistance(seed=seed, **options)
    metric.update(a, real=True)
    metric.update(b, real=False)
    return metric.compute()
