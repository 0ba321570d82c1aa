"""The two-mode check: a computation gives the same numbers while autograd records a graph and while it does not.

cocosnet/nn/inplace.py writes each formula once; without a graph it overwrites its own intermediates. The same float
operations run in the same order in both modes, so the outputs must agree bit for bit unless a test derives a bound.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch


def output_tensors(out: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """Every tensor in a module's output (a tensor, nested lists, a dataclass), keyed by its path; None skipped."""
    if isinstance(out, torch.Tensor):
        return {prefix or "out": out}
    if dataclasses.is_dataclass(out):
        items = [(f.name, getattr(out, f.name)) for f in dataclasses.fields(out)]
    elif isinstance(out, (list, tuple)):
        items = list(enumerate(out))
    else:
        assert out is None, f"unexpected output {type(out)}"
        return {}
    found: dict[str, torch.Tensor] = {}
    for key, value in items:
        found.update(output_tensors(value, f"{prefix}/{key}"))
    return found


def assert_same_in_both_modes(fn: Callable[..., Any], *args: Any, atol: float = 0.0) -> dict[str, torch.Tensor]:
    """fn(*args) with a graph recorded (float tensor arguments requiring grad) equals fn(*args) under `no_grad` and
    `inference_mode`: bit for bit when atol is 0. The recorded graph must also run backward: an intermediate the
    no-graph mode overwrites in place would make autograd refuse it. Returns the recorded outputs."""
    leaves = [a.detach().requires_grad_() if isinstance(a, torch.Tensor) and a.is_floating_point() else a
              for a in args]
    with torch.enable_grad():
        recorded = output_tensors(fn(*leaves))
    graph = [t for t in recorded.values() if t.requires_grad]
    assert graph, "nothing was recorded"
    sum(t.square().sum() for t in graph).backward()
    for mode in (torch.no_grad, torch.inference_mode):
        with mode():
            plain = output_tensors(fn(*args))
        assert plain.keys() == recorded.keys(), mode.__name__
        for key, want in recorded.items():
            got = plain[key]
            assert got.shape == want.shape, key
            if atol == 0:
                assert torch.equal(got, want.detach()), f"{mode.__name__} {key}: {(got - want).abs().max():.3g}"
            else:
                torch.testing.assert_close(got, want.detach(), rtol=0, atol=atol, msg=f"{mode.__name__} {key}")
    return {k: v.detach() for k, v in recorded.items()}
