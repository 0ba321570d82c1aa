"""training/checkpoint.py: a failed write (disk full) leaves the previous checkpoint valid and says so."""

from __future__ import annotations

import errno
import os

import pytest
import torch

import cocosnet.fileio as fileio
from cocosnet.presets import get_model_config
from cocosnet.training import checkpoint as ckpt
from cocosnet.weights import native_config


def write(out, step):
    state = {"w": torch.full((4,), float(step))}
    config = native_config(get_model_config("tiny"))
    return ckpt.write_checkpoint(out, step, state, config, {"step": step})


def test_disk_full_during_a_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    first = write(tmp_path, 10)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(fileio.os, "fsync", full)  # every file write of the next checkpoint fails: disk full
    with pytest.raises(ckpt.CheckpointWriteError) as caught:
        write(tmp_path, 20)
    assert str(caught.value) == (
        f"could not write the checkpoint of step 20 in {tmp_path / 'checkpoints'}: No space left on device; the "
        f"partial write was removed and the previous checkpoint {first} is intact and valid (resume from it with "
        f"--resume)")
    assert isinstance(caught.value, RuntimeError)  # the CLI answers it with exit 2 and the message
    monkeypatch.undo()
    assert ckpt.list_checkpoints(tmp_path) == [first]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [first.name]  # no temporary folder left
    assert ckpt.read_training_state(first)["step"] == 10


def test_disk_full_on_the_first_checkpoint_says_there_is_none(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space")))
    with pytest.raises(ckpt.CheckpointWriteError, match="no earlier checkpoint exists in this run"):
        write(tmp_path, 1)
