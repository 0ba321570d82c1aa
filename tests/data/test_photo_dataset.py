"""The split and the resumable record of `cocosnet.data.photo_dataset` (prepare-dataset's data layer)."""

from __future__ import annotations

import hashlib
import json

import pytest

from cocosnet.data.errors import DataError
from cocosnet.data.photo_dataset import LOG, MANIFEST, DatasetManifest, PhotoRecord, split_photos

NAMES = [f"p{i:02d}.jpg" for i in range(20)]
SETTINGS = {"task": "face", "size": 128, "min_size": 64, "val_fraction": 0.2, "seed": 3}


def test_split_takes_the_smallest_hashes_whatever_the_order():
    split = split_photos(NAMES, 0.2, 3)
    ranked = sorted(NAMES, key=lambda n: hashlib.sha256(f"3:{n}".encode()).hexdigest())
    assert {n for n, s in split.items() if s == "val"} == set(ranked[:4])  # round(0.2 * 20) = 4
    assert split_photos(NAMES[::-1], 0.2, 3) == split
    assert split_photos(NAMES, 0.2, 4) != split
    assert list(split_photos(["a", "b"], 0.1, 0).values()).count("val") == 1  # at least one held out
    assert set(split_photos(["a"], 0.5, 0).values()) == {"train"}  # ... but never the only photo
    assert set(split_photos(NAMES, 0, 0).values()) == {"train"}
    with pytest.raises(ValueError, match=r"--val-fraction must be in \[0, 1\), got 1"):
        split_photos(NAMES, 1, 0)


def test_manifest_keeps_ids_and_splits_and_ignores_a_torn_log_line(tmp_path):
    m = DatasetManifest(tmp_path, SETTINGS, NAMES[:10], 0.2, 3)
    assert [m.ids[n] for n in NAMES[:10]] == list(range(10))
    (tmp_path / "a.png").write_bytes(b"x")
    m.record(PhotoRecord(NAMES[0], 0, m.splits[NAMES[0]], ("a.png",)))
    m.record(PhotoRecord(NAMES[1], 1, m.splits[NAMES[1]], skipped="no face found"))
    m.record(PhotoRecord(NAMES[2], 2, m.splits[NAMES[2]], ("gone.png",)))  # its file is missing: redone
    with open(tmp_path / LOG, "a") as f:
        f.write('{"photo": "p03.jpg", "id": 3, "spl')  # a run killed while writing this line
    again = DatasetManifest(tmp_path, SETTINGS, NAMES[:12], 0.2, 3)
    assert sorted(again.done) == NAMES[:2]
    assert again.done[NAMES[1]].skipped == "no face found"
    assert again.splits == {**m.splits, **{n: s for n, s in again.splits.items() if n not in m.splits}}
    assert again.ids[NAMES[11]] == 11 and json.loads((tmp_path / MANIFEST).read_text())["ids"] == again.ids
    with pytest.raises(ValueError, match="was prepared with other settings .*seed 3"):
        DatasetManifest(tmp_path, {**SETTINGS, "seed": 4}, NAMES, 0.2, 4)
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(DataError, match="unreadable manifest of an earlier run"):
        DatasetManifest(tmp_path, SETTINGS, NAMES, 0.2, 3)
