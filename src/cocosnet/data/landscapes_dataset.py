"""`LandscapesDataset`: procedural scenes as exemplar-translation samples with their answer key (`oracle`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from cocosnet.data.base import make_sample
from cocosnet.data.landscapes import (
    FAMILIES,
    NUM_CLASSES,
    SPLIT_SEED_SPAN,
    Layout,
    Style,
    label_histogram,
    make_layout,
    make_style,
    render,
    scene_seeds,
)
from cocosnet.data.transforms import (
    Augment,
    apply_augment,
    default_load_size,
    draw_augment,
    image_to_tensor,
    label_to_tensor,
)


class LandscapesDataset(Dataset):
    """Item i of a split is layout `scene_seeds(split, i)[0]` painted in style `scene_seeds(split, i)[1]`.

    * val/test: the exemplar is another layout of the same split (a fixed pseudo-random partner) in its
      own style, forced to another style family than the ground truth's;
      `oracle = render(layout, exemplar_style)`, `self_ref=0`. No augmentation.
    * train (official exemplar choice): with probability `hard_reference_probability` a "hard" retrieved
      exemplar, with `real_reference_probability - hard` an "easy" one (`self_ref=0`), otherwise a pseudo
      pair (the ground truth re-cropped/flipped with new random parameters, `self_ref=1`).
      Retrieval: `candidates` random other layouts of the training range are ranked by the similarity
      (Bhattacharyya coefficient) of their 32x32 label histograms to this layout; easy = the most similar,
      hard = the least similar of them. A retrieved exemplar keeps its own style; the oracle is this layout
      in that style, under the ground truth's crop/flip. Pictures are rendered at `load_size` (286 for 256)
      and cropped/flipped like the official `resize_and_crop`.
    * val/test at `size=(H, W)`: the same scenes rendered at H x W (the layouts are about the same at any size).

    Keys: `label` long [1,H,W] (ids 0..9), `image`, `exemplar`, `oracle` float [3,H,W] in [-1,1],
    `exemplar_label`, `self_ref`, `style_family` (the exemplar's = the oracle's family), `image_family`,
    `key`.
    """

    label_nc = NUM_CLASSES
    semantic_nc = NUM_CLASSES

    def __init__(
        self,
        split: str = "train",
        size: int | tuple[int, int] = 256,
        length: int = 1000,
        *,
        load_size: int | None = None,
        flip: bool = True,
        seed: int = 0,
        real_reference_probability: float = 0.7,
        hard_reference_probability: float = 0.2,
        candidates: int = 8,
        families: tuple[str, ...] | None = None,
    ):
        scene_seeds(split, 0)  # validates the split
        if not 1 <= length <= SPLIT_SEED_SPAN // 2:
            raise ValueError(f"length must be 1..{SPLIT_SEED_SPAN // 2}, got {length}")
        if families is not None:
            bad = [f for f in families if f not in FAMILIES]
            if bad:
                raise ValueError(f"unknown style families {bad}; choose from {', '.join(FAMILIES)}")
        self.split, self.length = split, int(length)
        self.train = split == "train"
        if isinstance(size, tuple):  # (H, W): val/test scenes rendered at that size (evaluate --size HxW)
            if self.train:
                raise ValueError(f"landscapes at a non-square size {size[0]}x{size[1]} are for val/test: "
                                 "training crops square, as the official preprocessing")
            size = (int(size[0]), int(size[1]))
        self.size = size if isinstance(size, tuple) else int(size)
        self.load_size = int(load_size) if load_size else default_load_size(self.size, self.train)
        self.flip = flip
        self.seed, self.epoch = int(seed), 0
        self.real_p, self.hard_p = float(real_reference_probability), float(hard_reference_probability)
        self.candidates = int(candidates)
        self.families = tuple(families) if families else None

    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def key(self, index: int) -> str:
        lay, sty = scene_seeds(self.split, index)
        return f"{self.split}:{lay}:{sty}"

    # ---- scene pieces
    def layout(self, index: int, size: int | None = None) -> Layout:
        return make_layout(scene_seeds(self.split, index)[0], size or self.size)

    def style(self, index: int) -> Style:
        seed = scene_seeds(self.split, index)[1]
        fam = None
        if self.families:
            fam = self.families[int(np.random.default_rng([seed, 3]).integers(len(self.families)))]
        return make_style(seed, fam)

    def partner(self, index: int) -> int:
        """The fixed exemplar partner of a val/test item (never the item itself)."""
        if self.length == 1:
            return index + 1
        j = int(np.random.default_rng([scene_seeds(self.split, index)[0], 11]).integers(self.length - 1))
        return j + 1 if j >= index else j

    def exemplar_style(self, index: int, partner: int) -> Style:
        """The partner's style, moved to another family when it drew the ground truth's."""
        mine, theirs = self.style(index), self.style(partner)
        if theirs.family != mine.family:
            return theirs
        pool = [f for f in (self.families or FAMILIES) if f != mine.family]
        if not pool:
            return theirs
        fam = pool[int(np.random.default_rng([theirs.seed, 5]).integers(len(pool)))]
        return make_style(theirs.seed, fam)

    def retrieve(self, index: int, rng: np.random.Generator) -> list[int]:
        """`candidates` other training layouts, most similar label histogram first."""
        n = min(self.candidates, self.length - 1)
        if n <= 0:
            return []
        pool = rng.choice(self.length - 1, size=n, replace=False)
        pool = [int(j) + 1 if j >= index else int(j) for j in pool]
        mine = np.sqrt(label_histogram(self.layout(index, 32).labels))
        sims = [float(mine @ np.sqrt(label_histogram(self.layout(j, 32).labels))) for j in pool]
        order = np.argsort(-np.asarray(sims), kind="stable")
        return [pool[o] for o in order]

    # ---- samples
    def _picture(self, lay: Layout, style: Style, aug: Augment, seed: int) -> torch.Tensor:
        img = render(lay, style, seed)
        return image_to_tensor(apply_augment(img, aug, "bicubic"))

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.length:
            raise IndexError(index)
        if not self.train:
            return self._test_item(index)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        lay = self.layout(index, self.load_size)
        style = self.style(index)
        aug = draw_augment(rng, self.load_size, self.size, self.flip)
        image = self._picture(lay, style, aug, lay.seed)
        label = label_to_tensor(apply_augment(lay.labels, aug, "nearest"))
        r = rng.random()
        refs = self.retrieve(index, rng) if r < self.real_p else []
        if refs:
            j = refs[-1] if r < self.hard_p else refs[0]
            ex_lay, ex_style = self.layout(j, self.load_size), self.style(j)
            ex_aug = draw_augment(rng, self.load_size, self.size, self.flip)
            exemplar = self._picture(ex_lay, ex_style, ex_aug, ex_lay.seed)
            ex_label = label_to_tensor(apply_augment(ex_lay.labels, ex_aug, "nearest"))
            oracle = self._picture(lay, ex_style, aug, lay.seed)
            self_ref = 0.0
        else:  # pseudo pair
            ex_style = style
            ex_aug = draw_augment(rng, self.load_size, self.size, self.flip)
            full = render(lay, style, lay.seed)
            exemplar = image_to_tensor(apply_augment(full, ex_aug, "bicubic"))
            ex_label = label_to_tensor(apply_augment(lay.labels, ex_aug, "nearest"))
            oracle = image.clone()
            self_ref = 1.0
        return make_sample(
            label,
            image,
            exemplar,
            ex_label,
            self_ref,
            self.key(index),
            oracle=oracle,
            style_family=ex_style.family,
            image_family=style.family,
        )

    def _test_item(self, index: int) -> dict[str, Any]:
        lay, style = self.layout(index), self.style(index)
        j = self.partner(index)
        ex_lay = make_layout(scene_seeds(self.split, j)[0], self.size)
        ex_style = self.exemplar_style(index, j)
        return make_sample(
            label_to_tensor(lay.labels),
            image_to_tensor(render(lay, style)),
            image_to_tensor(render(ex_lay, ex_style)),
            label_to_tensor(ex_lay.labels),
            0.0,
            self.key(index),
            oracle=image_to_tensor(render(lay, ex_style, lay.seed)),
            style_family=ex_style.family,
            image_family=style.family,
            oracle_scene=answer_key_scene(lay, ex_style),
        )


def answer_key_scene(layout: Layout, style: Style) -> torch.Tensor:
    """What the answer key paints, as int64 (layout seed, style seed, style family index): enough to paint it
    again (`cocosnet.evaluation.baselines.rerender_answer_key`)."""
    return torch.tensor([layout.seed, style.seed, FAMILIES.index(style.family)], dtype=torch.int64)
