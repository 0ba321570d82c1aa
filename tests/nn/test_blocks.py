"""The SPADE residual block and the correspondence's shared block: their conventions and both modes."""

import pytest
import torch
import torch.nn.functional as F

from cocosnet.nn import ResidualBlock, SPADEResnetBlock

from ..helpers.grad_modes import assert_same_in_both_modes


def _onehot_cond(ids: torch.Tensor, classes: int, dense: int) -> torch.Tensor:
    return torch.cat([torch.randn(ids.shape[0], dense, *ids.shape[1:]),
                      F.one_hot(ids, classes).permute(0, 3, 1, 2).float()], 1)


def test_spade_block_with_class_ids_equals_the_one_hot_path():
    torch.manual_seed(0)
    block = SPADEResnetBlock(8, 4, cond_nc=3 + 6, hidden=5, onehot_start=3).eval()
    ids = torch.randint(0, 6, (1, 16, 16))
    cond = _onehot_cond(ids, 6, 3)
    x = torch.randn(1, 8, 8, 8)
    with torch.no_grad():
        assert torch.allclose(block(x, cond, ids), block(x, cond), atol=1e-5)


@pytest.mark.parametrize("fin,fout", [(8, 4), (6, 6)])  # learned shortcut; identity shortcut
@pytest.mark.parametrize("with_ids", [False, True])
def test_spade_block_is_the_same_in_both_modes(fin, fout, with_ids):
    torch.manual_seed(0)
    block = SPADEResnetBlock(fin, fout, cond_nc=3 + 6, hidden=5, onehot_start=3).eval()
    ids = torch.randint(0, 6, (2, 16, 16))
    args = (torch.randn(2, fin, 8, 8), _onehot_cond(ids, 6, 3)) + ((ids,) if with_ids else ())
    out = assert_same_in_both_modes(block, *args)
    assert out["out"].shape == (2, fout, 8, 8)


def test_residual_block_with_zero_convolutions_is_the_prelu_of_its_input():
    """conv -> 0, instance norm of 0 is 0, so out = prelu(0 + x): x where positive, 0.25 x (the PReLU's initial
    slope, shared by both of its uses) where negative."""
    block = ResidualBlock(4)
    with torch.no_grad():
        for conv in (block.conv1, block.conv2):
            conv.weight.zero_()
            conv.bias.zero_()
    x = torch.randn(2, 4, 5, 5)
    assert torch.equal(block(x), torch.where(x > 0, x, 0.25 * x))


def test_residual_block_is_the_same_in_both_modes():
    torch.manual_seed(0)
    assert_same_in_both_modes(ResidualBlock(4).eval(), torch.randn(2, 4, 6, 6))
