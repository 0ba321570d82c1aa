"""The memory-efficient softmax attention and self-attention equal the dense (official) computation, in both modes."""

import pytest
import torch

from cocosnet.nn import SelfAttention, softmax_attention
from cocosnet.nn import attention as attention_module

from ..helpers.grad_modes import assert_same_in_both_modes


def _qkv(n: int = 300, m: int = 200, d: int = 8, e: int = 5, grad: bool = False) -> tuple[torch.Tensor, ...]:
    torch.manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(2, n, d), dim=-1)
    k = torch.nn.functional.normalize(torch.randn(2, m, d), dim=-1)
    return q.requires_grad_(grad), k.requires_grad_(grad), torch.randn(2, m, e, requires_grad=grad)


@pytest.mark.parametrize("impl", ["chunked", "sdpa"])
@pytest.mark.parametrize("d,e", [(72, 3), (8, 32), (16, 16)])
def test_softmax_attention_equals_dense(impl, d, e):
    q, k, v = _qkv(d=d, e=e)
    dense = softmax_attention(q, k, v, 100.0, "dense")  # temperature 0.01: a sharp softmax
    out = softmax_attention(q, k, v, 100.0, impl, chunk=64)
    assert out.shape == (2, 300, e)
    assert torch.allclose(out, dense, atol=2e-6)


def test_chunked_gradients_equal_dense():
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 130, 12, requires_grad=True) for _ in range(3))
    grads = []
    for impl in ("dense", "chunked"):
        (softmax_attention(q, k, v, 3.0, impl, chunk=32) ** 2).sum().backward()
        grads.append([t.grad.clone() for t in (q, k, v)])
        for t in (q, k, v):
            t.grad = None
    for a, b in zip(*grads, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("grad", [True, False])
def test_auto_picks_chunked_with_and_without_grad_and_rejects_unknown(grad, monkeypatch):
    """auto = the chunked path, in training too (SDPA's CPU backward can stall): the scores exist one block of
    `chunk` query rows at a time, never as the whole N x M matrix, and the result is the dense one."""
    blocks, real_dense = [], attention_module._dense
    monkeypatch.setattr(attention_module, "_sdpa", lambda *a: pytest.fail("auto took the SDPA path"))
    monkeypatch.setattr(attention_module, "_dense", lambda q, k, v, s: blocks.append(
        (q.shape[0], q.shape[1], k.shape[1])) or real_dense(q, k, v, s))
    q, k, v = _qkv(grad=grad)
    with torch.set_grad_enabled(grad):
        out = softmax_attention(q, k, v, 3.0, "auto", chunk=64)
        want = softmax_attention(q, k, v, 3.0, "dense")
    assert blocks[:-1] == [(2, 64, 200)] * 4 + [(2, 44, 200)]  # 300 rows in blocks of 64; then the dense check
    assert blocks[-1] == (2, 300, 200)
    assert out.requires_grad == grad
    torch.testing.assert_close(out, want, rtol=0, atol=2e-6)
    with pytest.raises(ValueError, match="unknown attention implementation"):
        softmax_attention(torch.zeros(1, 2, 2), torch.zeros(1, 2, 2), torch.zeros(1, 2, 2), impl="fast")


def test_chunk_size_is_capped_at_the_block_budget(monkeypatch):
    """A requested chunk larger than MAX_BLOCK_ELEMENTS scores per block is cut to fit the budget."""
    blocks, real_dense = [], attention_module._dense
    monkeypatch.setattr(attention_module, "MAX_BLOCK_ELEMENTS", 2 * 200 * 50)  # batch 2 x 200 keys x 50 rows
    monkeypatch.setattr(attention_module, "_dense",
                        lambda q, k, v, s: blocks.append(q.shape[-2]) or real_dense(q, k, v, s))
    with torch.no_grad():
        softmax_attention(*_qkv(), 3.0, "chunked", chunk=4096)
    assert blocks == [50] * 6


@pytest.mark.parametrize("impl", ["dense", "chunked"])
def test_softmax_attention_is_the_same_in_both_modes(impl):
    """The scores are scaled in place without a graph; chunked writes each block into one result in both modes."""
    assert_same_in_both_modes(lambda q, k, v: softmax_attention(q, k, v, 3.0, impl, chunk=64), *_qkv())


@pytest.mark.parametrize("impl", ["chunked", "sdpa"])
def test_self_attention_equals_dense(impl):
    torch.manual_seed(0)
    dense = SelfAttention(16, "dense")
    dense.gamma.data.fill_(0.7)
    x = torch.randn(2, 16, 12, 12)
    for _ in range(10):  # training forwards converge the spectral-norm u, v
        dense(x)
    other = SelfAttention(16, impl, chunk=20)
    other.load_state_dict(dense.state_dict())
    dense.eval(), other.eval()
    with torch.no_grad():
        assert torch.allclose(other(x), dense(x), rtol=1e-5, atol=1e-5)


def test_self_attention_starts_as_the_identity_and_is_the_same_in_both_modes():
    torch.manual_seed(0)
    attn = SelfAttention(16, chunk=20).eval()
    x = torch.randn(2, 16, 12, 12)
    with torch.no_grad():
        assert torch.equal(attn(x), x)  # gamma = 0: the residual alone, as the official initialisation
        attn.gamma.fill_(0.7)
    assert_same_in_both_modes(attn, x)
