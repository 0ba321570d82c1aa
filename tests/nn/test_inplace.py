"""One formula, two memory modes: the mode follows autograd, and both modes compute the same bits."""

import pytest
import torch

from cocosnet.nn import Arithmetic, arithmetic, recording_graph


def test_the_mode_follows_whether_autograd_records():
    with torch.enable_grad():
        assert recording_graph() and arithmetic() == Arithmetic(inplace=False)
    with torch.no_grad():
        assert not recording_graph() and arithmetic().inplace
    with torch.inference_mode():
        assert arithmetic().inplace


@pytest.mark.parametrize("op,other", [("add", 0.3), ("sub", "tensor"), ("mul", 2.5), ("div", "tensor"),
                                      ("sqrt", None), ("relu", None), ("leaky_relu", 0.2), ("softmax", -1)])
def test_each_op_gives_the_same_bits_in_place_and_writes_into_the_scratch_tensor(op, other):
    torch.manual_seed(0)
    x = torch.rand(3, 4, 5) + 0.1 if op == "sqrt" else torch.randn(3, 4, 5)
    args = () if other is None else (torch.rand(4, 1) + 0.5 if other == "tensor" else other,)
    fresh = getattr(Arithmetic(inplace=False), op)(x, *args)
    scratch = x.clone()
    in_place = getattr(Arithmetic(inplace=True), op)(scratch, *args)
    assert torch.equal(in_place, fresh)
    assert in_place.data_ptr() == scratch.data_ptr() and torch.equal(scratch, fresh)  # no second buffer
    assert not torch.equal(x, fresh)  # the out-of-place form left its operand alone


@pytest.mark.parametrize("shape", [(1, 1024, 4096), (2, 37, 200), (3, 5, 1)])
def test_softmax_in_place_gives_the_bits_of_torch_softmax_on_score_blocks(shape):
    """The warp's score blocks (a temperature of 0.01: logits up to ~100 apart), odd widths, a single column."""
    torch.manual_seed(0)
    scores = torch.randn(*shape) * 100
    want = torch.softmax(scores, dim=-1)
    got = Arithmetic(inplace=True).softmax(scores, -1)
    assert got.data_ptr() == scores.data_ptr() and torch.equal(got, want)


def test_softmax_of_a_non_contiguous_block_is_computed_out_of_place():
    x = torch.randn(6, 8).t()
    want = torch.softmax(x, dim=-1)
    got = Arithmetic(inplace=True).softmax(x, -1)
    assert got.data_ptr() != x.data_ptr() and torch.equal(got, want)


def test_out_of_place_ops_keep_what_backward_reads():
    """The recorded mode must leave autograd's saved tensors intact: x / sqrt(v) differentiates to the formula."""
    x, v = torch.tensor([3.0], requires_grad=True), torch.tensor([4.0], requires_grad=True)
    ops = Arithmetic(inplace=False)
    ops.div(x * 1, ops.sqrt(v * 1)).backward()
    assert x.grad.item() == pytest.approx(0.5) and v.grad.item() == pytest.approx(-3 / 16)  # -x / (2 v^1.5)
