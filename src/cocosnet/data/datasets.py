"""The real data sets in their published layouts, with the official preprocessing (see docs/data.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from cocosnet.data.base import PairedDataset
from cocosnet.data.encoders import (
    CELEBA_PARTS,
    celeba_edge_encoding,
    keypoints_to_openpose,
    pose_encoding,
    read_openpose_txt,
)
from cocosnet.data.errors import DataError
from cocosnet.data.io import IMAGE_EXTENSIONS, load_pair, read_image, read_label_array
from cocosnet.data.transforms import Augment, apply_augment, image_to_tensor, label_to_tensor, maps_to_tensor

# ADE20k (ADEChallengeData2016) class ids used by the outdoor subset and the painter-class mapping.
ADE20K_SKY, ADE20K_FLOOR, ADE20K_CEILING = 3, 4, 6
ADE20K_OUTDOOR_CLASSES: dict[int, str] = {
    2: "building",
    3: "sky",
    5: "tree",
    7: "road",
    10: "grass",
    12: "sidewalk",
    14: "earth",
    17: "mountain",
    18: "plant",
    22: "water",
    27: "sea",
    30: "field",
    35: "rock",
    47: "sand",
    53: "path",
    61: "river",
    69: "hill",
    73: "palm",
    92: "dirt track",
    95: "land",
    114: "waterfall",
    129: "lake",
}
# ADE20k id -> painter class id (cocosnet.presets.LANDSCAPE_CLASSES); everything else -> 0 (unlabeled).
ADE20K_TO_LANDSCAPE: dict[int, int] = {
    7: 1,
    12: 1,
    53: 1,
    92: 1,  # road, sidewalk, path, dirt track -> road
    35: 2,  # rock
    22: 3,
    61: 3,
    129: 3,
    114: 3,  # water, river, lake, waterfall -> water
    47: 4,
    14: 4,  # sand, earth -> sand
    27: 5,  # sea
    3: 6,  # sky
    10: 7,
    30: 7,
    95: 7,  # grass, field, land -> grass
    17: 8,
    69: 8,  # mountain, hill
    5: 9,
    18: 9,
    73: 9,  # tree, plant, palm
}


def _images_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def _read_list(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def _holdout(keys: list[str], split: str, fraction: float = 0.1) -> list[str]:
    """Without a split list: the last `fraction` (at least one) of the sorted keys are val/test."""
    keys = sorted(keys)
    n_test = max(1, int(round(len(keys) * fraction))) if len(keys) > 1 else 0
    return keys[len(keys) - n_test :] if split != "train" else keys[: len(keys) - n_test]


class ADE20kDataset(PairedDataset):
    """ADEChallengeData2016: `images/{training,validation}/*.jpg`, `annotations/{...}/*.png` (ids 0..150,
    0 = other; 255 -> don't-care = 150). Keys are paths relative to the root. Pair lists: `ade20k_ref.txt`
    (train) and `ade20k_ref_test.txt` (val/test, may name training images)."""

    name = "ade20k"
    label_nc = 151
    semantic_nc = 151
    _dirs = {"train": "training", "val": "validation", "test": "validation"}

    def _split_keys(self, split: str) -> list[str]:
        d = self._dirs[split]
        return [f"images/{d}/{p.name}" for p in _images_in(self.root / "images" / d)]

    def _scan(self) -> list[str]:
        keys = []
        for k in self._split_keys(self.split):
            lp = self.label_path(k)
            if not lp.is_file():
                self._bad(DataError(f"no annotation for {k}", lp))
                continue
            keys.append(k)
        return keys

    def _all_keys(self) -> list[str]:
        return self.keys if self.train else self.keys + self._split_keys("train")

    def label_path(self, key: str) -> Path:
        p = Path(key)
        return self.root / "annotations" / p.parent.name / f"{p.stem}.png"

    def default_pair_files(self) -> list[Path]:
        name = "ade20k_ref.txt" if self.train else "ade20k_ref_test.txt"
        return [self.root / name, self.root / f"pairs_{self.split}.txt"]

    def _load(self, key: str, aug: Augment) -> tuple[torch.Tensor, torch.Tensor]:
        return load_pair(self.root / key, self.label_path(key), aug, self.label_nc)


class ADE20kOutdoorDataset(ADE20kDataset):
    """The outdoor subset of ADE20k: images whose annotation contains sky (id 3) and neither floor (4) nor
    ceiling (6). The selection is computed from the annotations (once per instance) unless `outdoor_list`
    names a file of image names. `landscape_classes=True` maps ids to the 10 painter classes
    (ADE20K_TO_LANDSCAPE; label_nc 10)."""

    name = "ade20k_outdoor"

    def __init__(
        self,
        root,
        split="train",
        *,
        outdoor_list: str | Path | None = None,
        landscape_classes: bool = False,
        **kw,
    ):
        self.outdoor_list = outdoor_list
        self.landscape_classes = landscape_classes
        if landscape_classes:
            self.label_nc = self.semantic_nc = 10
        super().__init__(root, split, **kw)

    def _scan(self) -> list[str]:
        keys = super()._scan()
        if self.outdoor_list is not None:
            wanted = {Path(n).stem for n in _read_list(Path(self.outdoor_list))}
            return [k for k in keys if Path(k).stem in wanted]
        return [
            k
            for k in tqdm(keys, desc="outdoor filter", unit="img", disable=len(keys) < 500)
            if self._is_outdoor(k)
        ]

    def _is_outdoor(self, key: str) -> bool:
        try:
            lab = read_label_array(self.label_path(key))
        except DataError as exc:
            self._bad(exc)
            return False
        present = np.bincount(lab.ravel(), minlength=256)
        return bool(present[ADE20K_SKY] and not present[ADE20K_FLOOR] and not present[ADE20K_CEILING])

    def _load(self, key: str, aug: Augment) -> tuple[torch.Tensor, torch.Tensor]:
        img, lab = load_pair(self.root / key, self.label_path(key), aug, 151)
        if self.landscape_classes:
            lut = torch.zeros(151, dtype=torch.long)
            for a, b in ADE20K_TO_LANDSCAPE.items():
                lut[a] = b
            lab = lut[lab]
        return img, lab


class _CelebAHQBase(PairedDataset):
    """CelebAMask-HQ: `CelebA-HQ-img/<id>.jpg`, `CelebAMask-HQ-mask-anno/<k>/<id:05d>_<part>.png`.
    Split: `<split>.txt` in the root (image names or ids, one a line; `test` falls back to `val.txt`), else
    the last 10% of the ids are val/test."""

    def _scan(self) -> list[str]:
        img_dir = self.root / "CelebA-HQ-img"
        imgs = {p.stem: p for p in _images_in(img_dir)}
        if not imgs:
            raise DataError("no images in CelebA-HQ-img/", img_dir)
        self._masks: dict[tuple[int, str], Path] = {}
        anno = self.root / "CelebAMask-HQ-mask-anno"
        for p in anno.rglob("*.png") if anno.is_dir() else []:
            stem, _, part = p.stem.partition("_")
            if stem.isdigit():
                self._masks[(int(stem), part)] = p
        lists = [self.root / f"{self.split}.txt"] + ([self.root / "val.txt"] if self.split == "test" else [])
        found = [p for p in lists if p.is_file()]
        if found:
            keys = [
                f"CelebA-HQ-img/{imgs[Path(n).stem].name}"
                for n in _read_list(found[0])
                if Path(n).stem in imgs
            ]
        else:
            keys = [f"CelebA-HQ-img/{imgs[s].name}" for s in _holdout(list(imgs), self.split)]
        self._all = sorted(f"CelebA-HQ-img/{p.name}" for p in imgs.values())
        return sorted(keys, key=lambda k: int(Path(k).stem) if Path(k).stem.isdigit() else k)

    def _all_keys(self) -> list[str]:
        return getattr(self, "_all", self.keys)

    def default_pair_files(self) -> list[Path]:
        name = "celebahq_ref.txt" if self.train else "celebahq_ref_test.txt"
        return [self.root / name, self.root / f"pairs_{self.split}.txt"]

    def _mask(self, key: str, part: str, size: tuple[int, int]) -> tuple[np.ndarray | None, Path | None]:
        stem = Path(key).stem
        p = self._masks.get((int(stem), part)) if stem.isdigit() else None
        if p is None:
            return None, None
        lab = read_label_array(p)
        m = Image.fromarray(((lab > 0) * 255).astype(np.uint8)).resize(size[::-1], Image.NEAREST)
        return np.asarray(m) > 0, p


class CelebAHQEdgeDataset(_CelebAHQBase):
    """CelebA-HQ edge -> face: 15 float channels in [0,1]: `[edges_all, 13 part distance maps, parsing
    edges]`."""

    name = "celebahq_edge"
    label_nc = 0
    semantic_nc = 15

    def _load(self, key: str, aug: Augment) -> tuple[torch.Tensor, torch.Tensor]:
        H, W = aug.resize_hw
        img = np.asarray(read_image(self.root / key).resize((W, H), Image.BILINEAR))
        parts, shapes = {}, {}
        for name in CELEBA_PARTS:
            m, p = self._mask(key, name, (H, W))
            parts[name] = m
            if p is not None:
                shapes[p] = Image.open(p).size
        if len(set(shapes.values())) > 1:
            first = next(iter(shapes.values()))
            bad = next(p for p, s in shapes.items() if s != first)
            raise DataError(
                f"part mask size {shapes[bad]} differs from the other masks of {key} ({first})", bad
            )
        binary, dists = celeba_edge_encoding(img, parts)
        binary = apply_augment(binary * 255, aug, "nearest")
        dists = np.stack([apply_augment(dists[..., i], aug, "bilinear") for i in range(dists.shape[-1])], -1)
        enc = np.concatenate([binary[..., :1], dists, binary[..., 1:]], -1)
        return image_to_tensor(apply_augment(img, aug, "bicubic")), maps_to_tensor(enc)


class CelebAHQMaskDataset(_CelebAHQBase):
    """CelebA-HQ mask -> face: `all_parts_except_glasses/<id>.png` (ids 0..18, 16 = eye_g empty) with the
    `eye_g` part mask written as id 16 (the official model adds it as an extra one-hot channel 16)."""

    name = "celebahq_mask"
    label_nc = 19
    semantic_nc = 19

    def _load(self, key: str, aug: Augment) -> tuple[torch.Tensor, torch.Tensor]:
        stem = Path(key).stem
        lp = self.root / "all_parts_except_glasses" / f"{stem}.png"
        img = read_image(self.root / key)
        lab = read_label_array(lp)
        from cocosnet.data.io import check_label_ids

        lab = check_label_ids(lab, self.label_nc, lp)
        glasses, _ = self._mask(key, "eye_g", lab.shape[:2])
        if glasses is not None and glasses.shape == lab.shape:
            lab = np.where(glasses, 16, lab)
        img_t = image_to_tensor(apply_augment(img, aug, "bicubic"))
        return img_t, label_to_tensor(apply_augment(lab.astype(np.int32), aug, "nearest"))


class DeepFashionDataset(PairedDataset):
    """DeepFashion In-shop: `img/<...>/<id>/<nn>_<v>_<view>.jpg`; keypoints in `pose/<same path>` as OpenPose
    `_candidate.txt` + `_subset.txt`, or COCO-18 JSON (`.json`/`_keypoints.json`: {"keypoints": 18 x [x,y,s]}
    or OpenPose's {"people": [{"pose_keypoints_2d": [...]}]}). Split lists `train.txt` / `val.txt`
    (`test.txt`); pairs `deepfashion_self_pair.txt` / `deepfashion_ref.txt` (train),
    `deepfashion_ref_test.txt` (val/test). No flip (official `--no_flip`)."""

    name = "deepfashion"
    label_nc = 0
    semantic_nc = 20
    default_flip = False

    def __init__(self, root, split="train", *, real_reference_probability: float = 0.0, **kw):
        super().__init__(root, split, real_reference_probability=real_reference_probability, **kw)

    def _scan(self) -> list[str]:
        img_dir = self.root / "img"
        all_keys = sorted(
            str(p.relative_to(self.root)) for p in img_dir.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS
        )
        if not all_keys:
            raise DataError("no images under img/", img_dir)
        self._all = all_keys
        names = {"train": ["train.txt"], "val": ["val.txt", "test.txt"], "test": ["test.txt", "val.txt"]}
        found = [self.root / n for n in names[self.split] if (self.root / n).is_file()]
        if found:
            keys = []
            for n in _read_list(found[0]):
                k = self.resolve(n)
                if k is None:
                    self._bad(DataError(f"split list names a missing image {n!r}", found[0]))
                    continue
                keys.append(k)
            return keys
        return _holdout(all_keys, self.split)

    def _all_keys(self) -> list[str]:
        return getattr(self, "_all", [])

    def default_pair_files(self) -> list[Path]:
        if self.train:
            return [
                self.root / "deepfashion_self_pair.txt",
                self.root / "deepfashion_ref.txt",
                self.root / "pairs_train.txt",
            ]
        return [self.root / "deepfashion_ref_test.txt", self.root / f"pairs_{self.split}.txt"]

    @staticmethod
    def outfit(key: str) -> tuple[str, str]:
        """(folder, clothing index): two views of one outfit share both."""
        p = Path(key)
        return str(p.parent), p.name.split("_")[0]

    def _build_pairs(self) -> dict[str, list[str]]:
        if self.train and self._pairs_src is None and not any(p.is_file() for p in self.default_pair_files()):
            groups: dict[tuple[str, str], list[str]] = {}
            for k in self.keys:
                groups.setdefault(self.outfit(k), []).append(k)
            return {k: [o for o in groups[self.outfit(k)] if o != k] for k in self.keys}
        return super()._build_pairs()

    def _choose(self, key, rng):
        if rng is None:
            return super()._choose(key, rng)
        same = [r for r in self.pairs.get(key, []) if r != key and self.outfit(r) == self.outfit(key)]
        if rng.random() < self.real_p:  # 0 for the official configuration
            return super()._choose(key, rng)
        return (same[0] if same else None), 1.0

    def pose_paths(self, key: str) -> list[Path]:
        rel = Path(key).relative_to("img") if Path(key).parts[0] == "img" else Path(key)
        base = self.root / "pose" / rel.parent / rel.stem
        return [
            base.parent / f"{base.name}_candidate.txt",
            base.parent / f"{base.name}_subset.txt",
            base.parent / f"{base.name}.json",
            base.parent / f"{base.name}_keypoints.json",
        ]

    def read_pose(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        cand, sub, js, js2 = self.pose_paths(key)
        try:
            if cand.is_file() and sub.is_file():
                return read_openpose_txt(cand, sub)
            for p in (js, js2):
                if p.is_file():
                    return keypoints_to_openpose(read_keypoints_json(p))
        except (ValueError, OSError) as exc:
            raise DataError(f"bad keypoint file ({exc})", cand if cand.is_file() else js) from exc
        raise DataError(f"no keypoints for {key} (looked for {cand.name}/{sub.name} or {js.name})", cand)

    def _load(self, key: str, aug: Augment) -> tuple[torch.Tensor, torch.Tensor]:
        img = read_image(self.root / key)
        cand, sub = self.read_pose(key)
        if len(cand):
            w, h = img.size
            out = (cand[:, 0] < -1) | (cand[:, 1] < -1) | (cand[:, 0] > w + 1) | (cand[:, 1] > h + 1)
            if out.any():
                raise DataError(f"keypoints outside the {w}x{h} image of {key}", self.pose_paths(key)[0])
        rgb, dists = pose_encoding(cand, sub, img.height, img.width)
        rgb = apply_augment(rgb, aug, "nearest")
        dists = np.stack([apply_augment(dists[..., i], aug, "bilinear") for i in range(dists.shape[-1])], -1)
        enc = maps_to_tensor(np.concatenate([rgb, dists], -1))
        return image_to_tensor(apply_augment(img, aug, "bicubic")), enc


def read_keypoints_json(path: str | Path) -> np.ndarray:
    """COCO-18 keypoints (18 x 3) from our JSON ({"keypoints": ...}) or OpenPose's ({"people": [...]})."""
    import json

    d = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(d, dict) and "people" in d:
        if not d["people"]:
            return np.full((18, 3), -1.0)
        kp = d["people"][0].get("pose_keypoints_2d", [])
    elif isinstance(d, dict):
        kp = d.get("keypoints", [])
    else:
        kp = d
    arr = np.asarray(kp, np.float64).reshape(-1, 3)
    if arr.shape[0] != 18:
        raise ValueError(f"{path}: expected 18 COCO keypoints, got {arr.shape[0]}")
    return arr


class FolderDataset(PairedDataset):
    """Your own data: `images/` (optionally `images/{train,val,test}/`) with, per image of the same stem,
    `labels/<stem>.png` (class ids 0..label_nc-1, 255 -> don't-care) or `labels/<stem>.npz` (a dense
    encoding under the key `label`, [C,H,W] float or uint8 0..255) — or no labels at all and `edges='canny'`
    or `edges='hed'` (a [1,H,W] edge map computed from the photo)."""

    name = "folder"

    def __init__(self, root, split="train", *, label_nc: int = 0, edges: str | None = None, **kw):
        if edges not in (None, "canny", "hed"):
            raise ValueError(f"edges must be None, 'canny' or 'hed', got {edges!r}")
        self.label_nc = int(label_nc)
        self.edges = edges
        self.semantic_nc = 1 if edges else self.label_nc
        self._hed = None
        super().__init__(root, split, **kw)

    def _scan(self) -> list[str]:
        base = self.root / "images"
        sub = base / self.split
        if not sub.is_dir() and self.split == "test" and (base / "val").is_dir():
            sub = base / "val"
        imgs = _images_in(sub) if sub.is_dir() else _images_in(base)
        if not imgs:
            raise DataError("no images found (expected images/ or images/<split>/)", base)
        keys = []
        for p in imgs:
            k = str(p.relative_to(self.root))
            if not self.edges and self.label_file(k) is None:
                self._bad(DataError(f"no label for {k} (labels/{p.stem}.png or .npz)", self.root / "labels"))
                continue
            keys.append(k)
        return keys

    def label_file(self, key: str) -> Path | None:
        stem = Path(key).stem
        rel = Path(key).parent.relative_to("images")
        for d in (self.root / "labels" / rel, self.root / "labels"):
            for ext in (".png", ".npz"):
                if (d / f"{stem}{ext}").is_file():
                    return d / f"{stem}{ext}"
        return None

    def _load(self, key: str, aug: Augment) -> tuple[torch.Tensor, torch.Tensor]:
        if self.edges:
            img = read_image(self.root / key)
            arr = np.asarray(img.resize(aug.resize_hw[::-1], Image.BICUBIC))
            if self.edges == "canny":
                from cocosnet.data.encoders import canny_edges

                e = canny_edges(arr).astype(np.uint8) * 255
                e = apply_augment(e, aug, "nearest")
            else:
                from cocosnet.data.hed import HED

                if self._hed is None:
                    self._hed = HED.from_package()
                e = (self._hed.detect(arr) * 255 + 0.5).astype(np.uint8)
                e = apply_augment(e, aug, "bilinear")
            return image_to_tensor(apply_augment(arr, aug, "bicubic")), maps_to_tensor(e)
        lp = self.label_file(key)
        if lp is None:
            raise DataError(f"no label for {key}", self.root / "labels")
        if lp.suffix == ".png":
            if not self.label_nc:
                raise DataError("label PNGs need label_nc (the number of classes incl. don't-care)", lp)
            return load_pair(self.root / key, lp, aug, self.label_nc)
        img = read_image(self.root / key)
        try:
            with np.load(lp) as z:
                enc = np.asarray(z["label"])
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"unreadable encoding ({exc})", lp) from exc
        if enc.ndim != 3:
            raise DataError(f"an encoding must be [C,H,W], got {enc.shape}", lp)
        if enc.shape[1:] != (img.height, img.width):
            raise DataError(
                f"encoding size {enc.shape[2]}x{enc.shape[1]} does not match the image "
                f"({img.width}x{img.height})",
                lp,
            )
        enc = np.moveaxis(enc, 0, -1)
        if enc.dtype != np.uint8:
            enc = enc.astype(np.float32)
        maps = np.stack([apply_augment(enc[..., c], aug, "bilinear") for c in range(enc.shape[-1])], -1)
        return image_to_tensor(apply_augment(img, aug, "bicubic")), maps_to_tensor(maps)
