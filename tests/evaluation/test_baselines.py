"""The baselines: mean colour and paste by hand-computed values (the rerender baseline is checked against the
answer key in test_evaluate.py)."""

import pytest
import torch

from cocosnet.evaluation.baselines import baseline_mean_colour, baseline_paste


def test_baselines():
    layout = torch.tensor([[0, 1], [2, 2]]).view(1, 1, 2, 2)
    ex_label = torch.tensor([[0, 0, 1, 1]]).view(1, 1, 1, 4)
    exemplar = torch.tensor([[0.0, 0.2, 1.0, 0.6]]).view(1, 1, 1, 4).repeat(1, 3, 1, 1)
    exemplar[:, 2] = -exemplar[:, 2]
    base = baseline_mean_colour(layout, exemplar, ex_label)
    assert base.shape == (1, 3, 2, 2)
    # Class 0 -> mean(0, .2) = .1; class 1 -> mean(1, .6) = .8; class 2 absent -> global mean .45.
    assert base[0, 0].flatten().tolist() == pytest.approx([0.1, 0.8, 0.45, 0.45])
    assert base[0, 2].flatten().tolist() == pytest.approx([-0.1, -0.8, -0.45, -0.45])
    pasted = baseline_paste(exemplar)
    assert torch.equal(pasted, exemplar) and pasted.data_ptr() != exemplar.data_ptr()
