"""Throughput streams: a batch split over concurrent streams gives each part's images run alone with its threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from cocosnet.inference import Translator
from cocosnet.inference.streams import run_streams, split_batch, threads_per_stream
from cocosnet.runtime import RuntimeOptions


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _scene(n: int):
    rng = np.random.default_rng(4)
    labels = [np.kron(rng.integers(0, 10, (8, 8)), np.ones((8, 8), np.int64)) for _ in range(n)]
    photos = [(np.kron(rng.random((8, 8, 3)), np.ones((8, 8, 1))) * 255).astype(np.uint8) for _ in range(n)]
    return labels, photos


def test_streamed_batch_equals_each_part_run_alone_with_its_threads(tiny_checkpoint, two_threads):
    labels, photos = _scene(5)
    streamed = Translator.from_pretrained(tiny_checkpoint, device="cpu", streams=2)
    plain = Translator.from_pretrained(tiny_checkpoint, device="cpu")
    got = streamed.translate(labels, photos, labels)
    assert torch.get_num_threads() == 2  # the caller's count is restored
    torch.set_num_threads(1)  # 2 threads / 2 streams: each part ran on one thread
    parts = [plain.translate(labels[a:b], photos[a:b], labels[a:b]) for a, b in ((0, 3), (3, 5))]
    torch.set_num_threads(2)
    assert torch.equal(got.image, torch.cat([p.image for p in parts]))
    assert torch.equal(got.warped, torch.cat([p.warped for p in parts]))
    # and within float32 rounding of the one 2-thread forward over the batch: the warp everywhere; the image on
    # average (the tiny preset's 2-channel PONO turns roundings near ties into flips, see test_backends.py)
    whole = plain.translate(labels, photos, labels)
    assert float((got.warped - whole.warped).abs().max()) <= 1e-4
    assert float((got.image - whole.image).abs().mean()) <= 1e-5


def test_a_single_item_or_one_stream_is_the_plain_forward(tiny_checkpoint, two_threads):
    labels, photos = _scene(1)
    plain = Translator.from_pretrained(tiny_checkpoint, device="cpu").translate(labels, photos, labels)
    streamed = Translator.from_pretrained(tiny_checkpoint, device="cpu", streams=4).translate(labels, photos, labels)
    assert torch.equal(plain.image, streamed.image)


def test_run_streams_runs_concurrently_in_inference_mode_with_its_share_of_threads(two_threads):
    seen, barrier = [], threading.Barrier(2, timeout=10)

    def work(x):
        barrier.wait()  # both streams are alive at once, or this times out
        seen.append((torch.get_num_threads(), torch.is_inference_mode_enabled()))
        return x * 2

    assert run_streams(work, [(1,), (2,)]) == [2, 4]
    assert seen == [(1, True), (1, True)]
    assert threads_per_stream(3, 8) == 2 and threads_per_stream(4, 2) == 1


def test_a_streams_exception_reaches_the_caller_and_threads_are_restored(two_threads):
    def fail(x):
        raise ValueError(f"bad part {x}")

    with pytest.raises(ValueError, match="bad part"):
        run_streams(fail, [(1,), (2,)])
    assert torch.get_num_threads() == 2


def test_split_batch_cuts_near_equal_parts_and_keeps_none():
    a, b = torch.arange(5)[:, None], torch.arange(5)[:, None] * 10
    parts = split_batch(2, a, None, b)
    assert [p[0].flatten().tolist() for p in parts] == [[0, 1, 2], [3, 4]]
    assert all(p[1] is None for p in parts) and parts[1][2].flatten().tolist() == [30, 40]
    assert len(split_batch(8, a)) == 5  # never more parts than items


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_streams_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="streams must be an integer >= 1"):
        RuntimeOptions(streams=bad)
