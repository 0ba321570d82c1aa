"""Each block's memory-mapped weights unmapped once it has run (inference.weight_pages): the same images, pages
handed back, and only on the eager torch path."""

import os
import platform

import pytest
import torch

from cocosnet.inference import Translator
from cocosnet.memory import MappedFilePages
from cocosnet.presets import get_model_config


@pytest.fixture(scope="module")
def tiny_inputs():
    g = torch.Generator().manual_seed(5)
    s = get_model_config("tiny").image_size
    label_nc = get_model_config("tiny").label_nc
    return (torch.randint(0, label_nc, (1, 1, s, s), generator=g), torch.rand(1, 3, s, s, generator=g) * 2 - 1,
            torch.randint(0, label_nc, (1, 1, s, s), generator=g))


def test_unmapping_weights_leaves_every_image_unchanged(tiny_checkpoint, tiny_inputs, monkeypatch):
    if platform.system() != "Linux" or not os.access("/proc/self/pagemap", os.R_OK):
        pytest.skip("the page map is Linux's")
    unmapped = []
    real = MappedFilePages.unmap_clean
    monkeypatch.setattr(MappedFilePages, "unmap_clean", lambda self, spans: unmapped.append(real(self, spans))
                        or unmapped[-1])
    kept = Translator.from_pretrained(tiny_checkpoint, device="cpu", unmap_weights=False)
    paged = Translator.from_pretrained(tiny_checkpoint, device="cpu")
    assert kept._weight_unmappers == []
    # one hook per block holding a whole page of file-mapped weights (the safetensors file is memory-mapped)
    assert len(paged._weight_unmappers) >= 6
    for _ in range(2):  # the second call reads the pages the first unmapped, faulted back in from the file
        a, b = kept.forward_tensors(*tiny_inputs), paged.forward_tensors(*tiny_inputs)
        assert torch.equal(a.image, b.image) and torch.equal(a.warped, b.warped)
    assert len(unmapped) == 2 * len(paged._weight_unmappers) and sum(unmapped) > 0


def test_only_the_eager_cpu_network_unmaps_its_weights(tiny_checkpoint):
    # compiled: the graph holds its own constants (and a hook would be traced)
    assert Translator.from_pretrained(tiny_checkpoint, device="cpu", compile=True)._weight_unmappers == []


def test_unmap_weights_must_be_a_boolean():
    from cocosnet.runtime import RuntimeOptions

    with pytest.raises(ValueError, match="unmap_weights must be True or False, got 1"):
        RuntimeOptions(unmap_weights=1)
