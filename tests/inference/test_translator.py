"""Translator: loading (official / native), inputs of every kind, batches, errors, and the CLI."""

import numpy as np
import pytest
import torch
from PIL import Image

from cocosnet.cli import main
from cocosnet.inference import Translator
from cocosnet.model import CoCosNet
from cocosnet.presets import get_model_config
from cocosnet.weights import load_native_state


@pytest.fixture(scope="module")
def official_tiny(tmp_path_factory):
    """A tiny model saved in the official two-file layout, with converged spectral-norm vectors."""
    torch.manual_seed(0)
    cfg = get_model_config("tiny")
    model = CoCosNet(cfg)
    lab = torch.randint(0, 10, (2, 1, 64, 64))
    for _ in range(5):
        model(model.encode(lab), torch.rand(2, 3, 64, 64) * 2 - 1, model.encode(lab))
    model.eval()
    folder = tmp_path_factory.mktemp("official")
    torch.save(model.generator.state_dict(), folder / "latest_net_G.pth")
    torch.save(model.correspondence.state_dict(), folder / "latest_net_Corr.pth")
    return model, folder


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    label = np.zeros((80, 80), np.uint8)
    label[:40] = 6
    label[40:] = 7
    label[60:, :30] = 3
    Image.fromarray(label).save(d / "label.png")
    Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(d / "photo.jpg")
    Image.fromarray(label).save(d / "exemplar_label.png")
    return d


def test_official_load_matches_the_module(official_tiny):
    model, folder = official_tiny
    t = Translator.from_official("tiny", folder=folder, device="cpu")
    lab = torch.randint(0, 10, (1, 64, 64))
    ex = torch.rand(3, 64, 64) * 2 - 1
    out = t.translate(lab, ex, lab)
    with torch.no_grad():
        want = model(model.encode(lab[None]), ex[None], model.encode(lab[None]), label_ids=lab)
        dense = model(model.encode(lab[None]), ex[None], model.encode(lab[None]))
    assert torch.allclose(out.image, want.image, atol=1e-4)
    assert torch.allclose(out.warped, want.warped, atol=1e-5)
    # the one-hot lookup path vs convolving the one-hot map: float rounding, amplified by the tiny random model
    assert torch.allclose(out.image, dense.image, atol=2e-3)
    assert out.image.shape == (1, 3, 64, 64) and out.image.abs().max() <= 1


def test_native_round_trip_and_fp16(official_tiny, tmp_path, files):
    _, folder = official_tiny
    t = Translator.from_official("tiny", folder=folder, device="cpu")
    ref = t.translate(files / "label.png", files / "photo.jpg", files / "exemplar_label.png")
    t.save_pretrained(tmp_path / "fp32")
    t2 = Translator.from_pretrained(tmp_path / "fp32", device="cpu")
    assert t2.cfg == t.cfg
    sd1, sd2 = t.model.state_dict(), t2.model.state_dict()
    # spectral norm is folded into the loaded weights; written back as weight_orig = weight·sigma, re-folded on load
    assert sd1.keys() == sd2.keys() and all(torch.allclose(sd1[k], sd2[k], rtol=1e-6, atol=0) for k in sd1)
    assert any(k.endswith("weight_u") for k in load_native_state(tmp_path / "fp32"))  # official key layout
    # same weights; the tiny random model amplifies float rounding of differently aligned buffers
    again = t2.translate(files / "label.png", files / "photo.jpg", files / "exemplar_label.png").image
    assert torch.allclose(again, ref.image, atol=2e-3)
    t.save_pretrained(tmp_path / "fp16", dtype=torch.float16)
    size16 = (tmp_path / "fp16" / "model.safetensors").stat().st_size
    size32 = (tmp_path / "fp32" / "model.safetensors").stat().st_size
    assert size16 < 0.6 * size32
    t3 = Translator.from_pretrained(tmp_path / "fp16", device="cpu")
    out16 = t3.translate(files / "label.png", files / "photo.jpg", files / "exemplar_label.png")
    assert (out16.image - ref.image).abs().mean() < 0.01


def test_inputs_of_every_kind_give_the_same_image(official_tiny, files):
    _, folder = official_tiny
    t = Translator.from_official("tiny", folder=folder, device="cpu")
    label_arr = np.asarray(Image.open(files / "label.png"))
    photo = Image.open(files / "photo.jpg")
    by_path = t.translate(files / "label.png", files / "photo.jpg", files / "exemplar_label.png").image
    by_obj = t.translate(label_arr, photo, label_arr).image
    by_arr = t.translate(str(files / "label.png"), np.asarray(photo), label_arr).image
    assert torch.equal(by_path, by_obj) and torch.equal(by_path, by_arr)
    batch = t.translate([label_arr, label_arr], photo, label_arr)
    assert batch.image.shape == (2, 3, 64, 64)
    assert torch.allclose(batch.image[1], by_path[0], atol=2e-3)  # batch-size rounding, sharp softmax
    assert batch.images()[0].size == (64, 64)


def test_bad_inputs_name_the_problem(official_tiny, files, tmp_path):
    _, folder = official_tiny
    t = Translator.from_official("tiny", folder=folder, device="cpu")
    bad = np.full((64, 64), 12, np.uint8)
    with pytest.raises(ValueError, match=r"label ids out of range 0..9: found 12"):
        t.translate(bad, files / "photo.jpg", bad)
    with pytest.raises(ValueError, match="needs the exemplar's label map"):
        t.translate(files / "label.png", files / "photo.jpg")
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        t.translate(files / "label.png", tmp_path / "missing.jpg", files / "label.png")
    (tmp_path / "corrupt.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="unreadable image.*corrupt.png"):
        t.translate(files / "label.png", tmp_path / "corrupt.png", files / "label.png")
    Image.new("RGB", (8, 8), (200, 30, 10)).save(tmp_path / "rgb_label.png")  # colour-coded, not ids
    with pytest.raises(ValueError, match="single-channel PNG of class ids"):
        t.translate(tmp_path / "rgb_label.png", files / "photo.jpg", files / "label.png")


def test_wrong_preset_or_missing_checkpoint_is_explained(official_tiny, tmp_path):
    _, folder = official_tiny
    with pytest.raises(ValueError, match="does not fit this model"):
        Translator.from_official("tiny", folder=folder, device="cpu", semantic_nc=12, label_nc=12)
    with pytest.raises(FileNotFoundError, match="latest_net_G.pth is missing"):
        Translator.from_official("tiny", folder=tmp_path, device="cpu")
    with pytest.raises(FileNotFoundError, match="config.json not found"):
        Translator.from_pretrained(tmp_path, device="cpu")


def test_cli_translate_and_convert(official_tiny, files, tmp_path, capsys):
    _, folder = official_tiny
    out, warp = tmp_path / "out.png", tmp_path / "sub" / "warp.png"
    rc = main(["translate", "--preset", "tiny", "--official", str(folder), "--input", str(files / "label.png"),
               "--exemplar", str(files / "photo.jpg"), "--exemplar-label", str(files / "exemplar_label.png"),
               "--out", str(out), "--warp-out", str(warp), "--device", "cpu"])
    assert rc == 0
    assert Image.open(out).size == (64, 64) and Image.open(warp).size == (64, 64)
    assert main(["convert", "--preset", "tiny", "--official", str(folder), "--out", str(tmp_path / "native")]) == 0
    rc = main(["translate", "--checkpoint", str(tmp_path / "native"), "--input", str(files / "label.png"),
               "--exemplar", str(files / "photo.jpg"), "--exemplar-label", str(files / "exemplar_label.png"),
               "--out", str(tmp_path / "out2.png")])
    assert rc == 0
    diff = np.abs(np.asarray(Image.open(out), np.int16) - np.asarray(Image.open(tmp_path / "out2.png"), np.int16))
    assert diff.max() <= 1
    rc = main(["translate", "--preset", "tiny", "--official", str(folder), "--input", str(files / "label.png"),
               "--exemplar", str(tmp_path / "nope.jpg"), "--exemplar-label", str(files / "label.png"),
               "--out", str(tmp_path / "x.png")])
    assert rc == 2 and "nope.jpg" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_cpu_inference_pins_the_allocator_and_trims_the_heap_before_each_forward(official_tiny, monkeypatch):
    """The default pins glibc's mmap threshold at the 32 MB its own growth reaches (the trim threshold then stays
    at 128 KB); low_memory pins it at 128 KB, or 4 MB with tensors on huge pages. Each forward first hands the
    last one's freed pages back."""
    import cocosnet.inference.translator as inference

    calls, trims = [], []
    monkeypatch.setattr(inference, "set_malloc_mmap_threshold", lambda n: calls.append(n) or True)
    monkeypatch.setattr(inference, "trim_heap", lambda: trims.append(1) or True)
    _, folder = official_tiny
    t = Translator.from_official("tiny", folder=folder, device="cpu")
    assert calls == [inference.DEFAULT_INFERENCE_MMAP_THRESHOLD] == [32 * 2**20]
    monkeypatch.delenv("THP_MEM_ALLOC_ENABLE", raising=False)
    Translator.from_official("tiny", folder=folder, device="cpu", low_memory=True)
    monkeypatch.setenv("THP_MEM_ALLOC_ENABLE", "1")  # tensors on huge pages: fresh mappings are cheap enough
    Translator.from_official("tiny", folder=folder, device="cpu", low_memory=True)
    assert calls[1:] == [128 * 1024, 4 * 2**20]
    ids = torch.randint(0, t.cfg.label_nc, (1, 1, 64, 64))
    t.forward_tensors(ids, torch.zeros(1, 3, 64, 64), ids)
    t.forward_tensors(ids, torch.zeros(1, 3, 64, 64), ids)
    assert len(trims) == 2


def test_a_batched_tensor_of_any_size_is_a_batch(official_tiny, files):
    _, folder = official_tiny
    t = Translator.from_official("tiny", folder=folder, device="cpu")
    ids = torch.from_numpy(np.asarray(Image.open(files / "label.png"), np.int64))  # H x W class ids
    one = t.translate(ids, files / "photo.jpg", ids).image
    batched = t.translate(ids[None, None], files / "photo.jpg", ids[None, None]).image  # [1,1,H,W]: B = 1
    assert batched.shape == (1, 3, 64, 64) and torch.equal(batched, one)
    two = t.translate(ids[None, None].expand(2, 1, -1, -1), files / "photo.jpg", ids[None]).image
    assert two.shape == (2, 3, 64, 64) and torch.allclose(two[0], one[0], atol=2e-3)  # as the batch test above
