"""Only the running block's memory-mapped weights resident during CPU inference.

A checkpoint loaded memory-mapped stays resident page by page as the forward reads it, so by the generator's last
blocks every weight of the correspondence and of the generator's wide first blocks is resident beside the feature
maps, though none is needed again before the next call. After each block of the correspondence and of the
generator has run (the residual blocks both domains share: once the correspondence has), the clean pages of its
weights are unmapped (`MappedFilePages.unmap_clean`): they stay in the kernel's page cache, and the next call faults
them back in. Weights a write has copied (the spectral norm folded in place) are private memory and stay. The
numbers are unchanged; only which pages are mapped while the network runs. ADE20k 256² float32: docs/model.md,
"Where the default's memory goes".
"""

from __future__ import annotations

import torch
from torch import nn

from cocosnet.memory import MappedFilePages, merge_spans


def unmap_weights_after_each_block_(model: nn.Module) -> list[torch.utils.hooks.RemovableHandle]:
    """Forward hooks that unmap the clean pages of each block's memory-mapped weights once it has run. Returns the
    hooks ([] when no weight is file-mapped); call after the weights are in their final place (loaded, folded,
    converted). Should a weight be replaced later, its old addresses are still safe to advise: the page map keeps
    any page holding data that is not in a file."""
    pages = MappedFilePages()
    handles = []
    for finished, blocks in _uses(model):
        spans = merge_spans(span for block in blocks for t in (*block.parameters(), *block.buffers())
                            if (span := pages.whole_pages(t)) is not None)
        if spans:
            handles.append(finished.register_forward_hook(_unmapper(pages, spans)))
    return handles


def _uses(model: nn.Module):
    """(module whose forward ends the use, the blocks it used): each generator block and each domain adaptor as
    it returns; the residual blocks both domains pass through (and the rest of the correspondence) once the
    correspondence returns, so a block is faulted in once per call."""
    corr = model.correspondence
    adaptors = (corr.adaptive_model_seg, corr.adaptive_model_img)
    yield from ((block, (block,)) for block in (*model.generator.children(), *adaptors))
    yield corr, tuple(child for child in corr.children() if all(child is not a for a in adaptors))


def _unmapper(pages: MappedFilePages, spans: list[tuple[int, int]]):
    def unmap(module: nn.Module, args, output) -> None:  # a forward hook's return value would replace the output
        if not torch.compiler.is_compiling():  # torch.compile / torch.export of the model trace no system calls
            pages.unmap_clean(spans)

    return unmap


__all__ = ["unmap_weights_after_each_block_"]
