"""What every file-backed data set shares: the sample dict, augmentation draws, the official exemplar choice,
pair lists, and bad-data handling (`DataError`, or skip with a warning and a count under `skip_bad=True`)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from cocosnet.data.errors import BadSampleLog, DataError
from cocosnet.data.pairs import make_pairs, read_pairs
from cocosnet.data.transforms import Augment, default_load_size, draw_augment, resize_augment

SPLITS = ("train", "val", "test")


def make_sample(
    label: torch.Tensor,
    image: torch.Tensor,
    exemplar: torch.Tensor,
    exemplar_label: torch.Tensor,
    self_ref: float,
    key: str,
    **extra: Any,
) -> dict[str, Any]:
    """The sample dict every data set returns (the contract with the trainer, evaluator and model)."""
    return {
        "label": label,
        "image": image,
        "exemplar": exemplar,
        "exemplar_label": exemplar_label,
        "self_ref": torch.tensor(float(self_ref), dtype=torch.float32),
        "key": key,
        **extra,
    }


class PairedDataset(Dataset):
    """Base of the file-backed data sets. Subclasses set `name`, `label_nc` (class-id maps; 0 for dense
    encodings), `semantic_nc`, and implement `_scan()` and `_load(key, aug)`.

    Exemplar choice (official): in training, with probability `hard_reference_probability` the last (hardest)
    entry of the key's pair list, with `real_reference_probability - hard` the first (easiest), otherwise a
    pseudo pair: the ground truth re-transformed with new random crop/flip (`self_ref=1`). At val/test the
    first
    entry, `self_ref=0`. Pair lists: `pairs=` a path, a dict, or None to use the official file in `root` when
    present (`default_pair_files`), else a list computed from label histograms.
    """

    name = "base"
    label_nc = 0
    semantic_nc = 0
    default_flip = True

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        *,
        crop_size: int = 256,
        load_size: int | None = None,
        flip: bool | None = None,
        pairs: str | Path | dict[str, list[str]] | None = None,
        skip_bad: bool = False,
        seed: int = 0,
        real_reference_probability: float = 0.7,
        hard_reference_probability: float = 0.2,
        limit: int | None = None,
        max_bad_in_a_row: int = 20,
        out_hw: tuple[int, int] | None = None,
    ):
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"data set root of {self.name} not found", self.root)
        self.split = split
        self.train = split == "train"
        self.crop_size = int(crop_size)
        self.load_size = int(load_size) if load_size else default_load_size(self.crop_size, self.train)
        self.flip = self.default_flip if flip is None else bool(flip)
        # evaluation at a size of any aspect ratio: every picture resized to (H, W), no crop, no flip
        self.out_hw = None if out_hw is None else (int(out_hw[0]), int(out_hw[1]))
        self.skip_bad = skip_bad
        self.bad = BadSampleLog()
        self.seed = int(seed)
        self.epoch = 0
        self.real_p = float(real_reference_probability)
        self.hard_p = float(hard_reference_probability)
        self.max_bad = max_bad_in_a_row
        self.keys: list[str] = self._guard_scan()
        if limit is not None:
            self.keys = self.keys[:limit]
        if not self.keys:
            raise DataError(f"no {split} samples of {self.name} found", self.root)
        self._pairs_src = pairs
        self._pairs: dict[str, list[str]] | None = None

    # ---- subclass API
    def _scan(self) -> list[str]:
        raise NotImplementedError

    def _load(self, key: str, aug: Augment) -> tuple[torch.Tensor, torch.Tensor]:
        """(image [3,H,W] in [-1,1], semantic input) of `key` under `aug`; DataError on bad files."""
        raise NotImplementedError

    def default_pair_files(self) -> list[Path]:
        return [self.root / f"pairs_{self.split}.txt"]

    def resolve(self, name: str) -> str | None:
        """The key of a file named in a pair list (exact key, or the same base name), or None."""
        if not hasattr(self, "_by_name"):
            self._by_name: dict[str, str] = {}
            for k in self._all_keys():
                self._by_name.setdefault(k, k)
                self._by_name.setdefault(Path(k).name, k)
                self._by_name.setdefault(Path(k).stem, k)
        return (
            self._by_name.get(name)
            or self._by_name.get(Path(name).name)
            or self._by_name.get(Path(name).stem)
        )

    def _all_keys(self) -> list[str]:
        """Keys a pair list may name (default: this split's)."""
        return self.keys

    def candidate_keys(self) -> list[str]:
        """Where automatic pair lists look for exemplars: this split's keys in training, the training split's
        (as the official test lists do) at val/test when there is one, else this split's."""
        if self.train:
            return list(self.keys)
        train = [k for k in self._all_keys() if k not in set(self.keys)]
        return train or list(self.keys)

    # ---- helpers
    def _guard_scan(self) -> list[str]:
        keys = self._scan()
        return keys

    def _bad(self, exc: DataError) -> None:
        if not self.skip_bad:
            raise exc
        self.bad.record(exc)

    def test_augment(self) -> Augment:
        if self.out_hw is not None:
            return resize_augment(self.out_hw)
        return Augment(self.crop_size, self.crop_size, 0, 0, False)

    def load_semantic(self, key: str) -> torch.Tensor:
        return self._load(key, self.test_augment())[1]

    def load_photo(self, key: str) -> torch.Tensor:
        return self._load(key, self.test_augment())[0]

    def set_epoch(self, epoch: int) -> None:
        """Training draws (crops, flips, exemplar choice) depend on (seed, epoch, index)."""
        self.epoch = int(epoch)

    @property
    def pairs(self) -> dict[str, list[str]]:
        if self._pairs is None:
            self._pairs = self._build_pairs()
        return self._pairs

    def _build_pairs(self) -> dict[str, list[str]]:
        src = self._pairs_src
        source = "<dict>"
        if src is None:
            found = [p for p in self.default_pair_files() if p.is_file()]
            if found:
                src = found[0]
        if src is None:
            cands = self.candidate_keys()
            if len(cands) < 2:
                return {}
            if len(self.keys) > 5000:
                warnings.warn(
                    f"{self.name}: no pair list for {self.split}; computing one from label "
                    f"histograms for {len(self.keys)} images (write it once with `cocosnet make-pairs`)",
                    stacklevel=2,
                )
            return make_pairs(self, k=min(10, len(cands) - 1), candidate_keys=cands, progress=False)
        if not isinstance(src, dict):
            source = str(src)
            src = read_pairs(src)
        out: dict[str, list[str]] = {}
        for key, refs in src.items():
            k = self.resolve(key)
            if k is None:
                continue  # an entry for an image outside this split
            good = []
            for r in refs:
                rk = self.resolve(r)
                if rk is None:
                    self._bad(DataError(f"pair list entry {key!r} names a missing file {r!r}", source))
                    continue
                good.append(rk)
            out[k] = good
        return out

    def _choose(self, key: str, rng: np.random.Generator | None) -> tuple[str | None, float]:
        """(exemplar key, or None for a pseudo pair; self_ref)."""
        refs = self.pairs.get(key, [])
        if rng is None:
            if not refs:
                raise DataError(f"no exemplar for {key!r} in the pair list of {self.name}/{self.split}", key)
            return refs[0], 0.0
        r = rng.random()
        if refs and r < self.hard_p:
            return refs[-1], 0.0
        if refs and r < self.real_p:
            return refs[0], 0.0
        return None, 1.0

    def _rng(self, index: int) -> np.random.Generator | None:
        return np.random.default_rng([self.seed, self.epoch, index]) if self.train else None

    def _draw(self, rng: np.random.Generator | None) -> Augment:
        if self.out_hw is not None:
            return resize_augment(self.out_hw)
        return draw_augment(rng, self.load_size, self.crop_size, self.flip)

    def __len__(self) -> int:
        return len(self.keys)

    def _item(self, index: int) -> dict[str, Any]:
        key = self.keys[index]
        rng = self._rng(index)
        image, label = self._load(key, self._draw(rng))
        ex_key, self_ref = self._choose(key, rng)
        ex_image, ex_label = self._load(key if ex_key is None else ex_key, self._draw(rng))
        return make_sample(label, image, ex_image, ex_label, self_ref, key)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        for attempt in range(self.max_bad + 1):
            i = (index + attempt) % len(self)
            try:
                return self._item(i)
            except DataError as exc:
                self._bad(exc)
        raise DataError(
            f"{self.max_bad + 1} bad samples in a row from index {index}; {self.bad.count} bad files so far",
            self.root,
        )
