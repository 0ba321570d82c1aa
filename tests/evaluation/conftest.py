"""Shared by the evaluation tests: a few landscapes test pairs at 64x64, one thread (`one_thread`, for the modules
that run whole evaluations), and the answer-key numbers computed directly."""

import pytest
import torch

from cocosnet.data import build_dataset
from cocosnet.evaluation.metrics.answer_key import AnswerKeyMetrics, per_class_delta_e

SIZE, NUM = 64, 6


@pytest.fixture
def one_thread():
    """These tensors are tiny: on the shared 2-core machine, two OpenMP threads waiting on each other made
    one evaluation of 4 pairs take 16 s instead of 0.4 s with one thread (measured under load ~3.5)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def landscapes_pairs(num=NUM):
    ds = build_dataset("landscapes", split="test", size=SIZE, length=num)
    return torch.utils.data.default_collate([ds[i] for i in range(num)])


def direct_answer_key(images, batch):
    """Mean over samples of the per-sample mean over present classes, computed here from per_class_delta_e;
    SWD from AnswerKeyMetrics on the same pairs."""
    errors, present = per_class_delta_e(images, batch["oracle"], batch["label"])
    per_sample = (errors * present).sum(1) / present.sum(1)
    metrics = AnswerKeyMetrics(swd_seed=0)
    metrics.update(images, batch["oracle"], batch["label"], batch["style_family"])
    return float(per_sample.mean()), metrics.compute()["output"]
