"""One formula, two memory modes: in place when no autograd graph is being recorded.

Inference may overwrite the intermediates a formula has just made, so the largest feature maps exist once instead
of two or three times; training must keep them, because the backward reads them. Each such formula is written once
against `Arithmetic`, and `recording_graph` is the one place that says which mode runs. Both modes perform the same
float operations in the same order, so they give the same bits (the two-mode tests beside each module check it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def recording_graph() -> bool:
    """True while autograd records a graph (training, gradient checks): intermediates must be kept for backward."""
    return torch.is_grad_enabled()


@dataclass(frozen=True)
class Arithmetic:
    """Elementwise ops whose first operand is scratch: a tensor the caller has just made and will not read again.

    inplace=True writes the result into it (`scratch.add_(other)`), inplace=False returns a new tensor
    (`scratch + other`): the same arithmetic either way.
    """

    inplace: bool

    def add(self, scratch: torch.Tensor, other: torch.Tensor | float) -> torch.Tensor:
        return scratch.add_(other) if self.inplace else scratch + other

    def sub(self, scratch: torch.Tensor, other: torch.Tensor | float) -> torch.Tensor:
        return scratch.sub_(other) if self.inplace else scratch - other

    def mul(self, scratch: torch.Tensor, other: torch.Tensor | float) -> torch.Tensor:
        return scratch.mul_(other) if self.inplace else scratch * other

    def div(self, scratch: torch.Tensor, other: torch.Tensor | float) -> torch.Tensor:
        return scratch.div_(other) if self.inplace else scratch / other

    def sqrt(self, scratch: torch.Tensor) -> torch.Tensor:
        return scratch.sqrt_() if self.inplace else scratch.sqrt()

    def relu(self, scratch: torch.Tensor) -> torch.Tensor:
        return F.relu(scratch, inplace=self.inplace)

    def leaky_relu(self, scratch: torch.Tensor, slope: float) -> torch.Tensor:
        return F.leaky_relu(scratch, slope, inplace=self.inplace)

    def softmax(self, scratch: torch.Tensor, dim: int) -> torch.Tensor:
        """softmax over `dim`; in place through the `out=` form of the same kernel, which reads each element
        before it writes it (the max pass, then exp(x - max) into the output and its sum, then the scaling)."""
        if self.inplace and scratch.is_contiguous() and scratch.dtype in (torch.float32, torch.float64):
            return torch.ops.aten._softmax.out(scratch, dim, False, out=scratch)
        return torch.softmax(scratch, dim=dim)


def arithmetic() -> Arithmetic:
    """The arithmetic of the current mode: in place exactly when no graph is being recorded."""
    return Arithmetic(inplace=not recording_graph())
