"""RuntimeOptions: how to run reaches the modules, changes no image, and stays out of the saved model config."""

import json

import pytest
import torch

import cocosnet.correspondence as correspondence_module
from cocosnet.inference import Translator
from cocosnet.model import CoCosNet
from cocosnet.presets import MOVED_MODEL_FIELDS, ModelConfig, get_model_config, get_preset
from cocosnet.runtime import RuntimeOptions, resolve_device, set_runtime, split_runtime_options
from cocosnet.weights import native_config, save_native

# the fields older versions wrote into config.json's "model" section
LEGACY_MODEL_KEYS = {"warp_impl": "dense", "warp_chunk": 123, "attention_impl": "sdpa", "band_rows": 8,
                     "warp_mask": True}


def _inputs(cfg, n=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, cfg.label_nc, (n, 1, cfg.image_size, cfg.image_size), generator=g)
    ex_ids = torch.randint(0, cfg.label_nc, (n, 1, cfg.image_size, cfg.image_size), generator=g)
    ex = torch.rand(n, 3, cfg.image_size, cfg.image_size, generator=g) * 2 - 1
    return ids, ex, ex_ids


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return CoCosNet(get_model_config("tiny")).eval()


def test_chunking_and_banding_reach_the_modules_and_give_the_same_images(tiny_model, monkeypatch):
    cfg = tiny_model.cfg
    ids, ex, ex_ids = _inputs(cfg)
    dense = Translator(tiny_model, RuntimeOptions(device="cpu", warp_impl="dense", attention_impl="dense",
                                                  band_rows=0))
    want = dense.forward_tensors(ids, ex, ex_ids)

    fine = RuntimeOptions(device="cpu", warp_impl="chunked", warp_chunk=7, attention_chunk=5, band_rows=16)
    translator = Translator(tiny_model, fine)
    model = translator.model
    assert model.correspondence.runtime == fine and model.generator.runtime == fine
    assert (model.generator.attn.impl, model.generator.attn.chunk) == ("auto", 5)
    warps = []
    real = correspondence_module.softmax_attention
    monkeypatch.setattr(correspondence_module, "softmax_attention",
                        lambda q, k, v, scale, impl, chunk: warps.append((impl, chunk)) or real(q, k, v, scale,
                                                                                               impl, chunk))
    bands = []
    real_stage = type(model.generator)._last_stage
    monkeypatch.setattr(model.generator, "_last_stage",
                        lambda x, c, i: bands.append(x.shape[-2]) or real_stage(model.generator, x, c, i))
    got = translator.forward_tensors(ids, ex, ex_ids)
    assert warps == [("chunked", 7)] * 16  # one band per feature row (7 < 16 positions), split into blocks of 7
    assert len(bands) == 4 and max(bands) < cfg.image_size  # 64 rows in bands of 16
    # match vectors of one 16-position row: their per-column sums may round differently from the whole map's
    # (3.5e-7 on the warp on an AVX2 CPU); the warp keeps the chunked-vs-dense bound of 1e-5 (cosines off by
    # ~sqrt(144 terms) x 6e-8, times 1/temperature = 100 in the logits, on values in [-1, 1]). The tiny preset's
    # 2-channel PONO turns such a difference into ~1e-3 at pixels near a tie, so the image is compared below
    # with the warp's vectors made in one band
    assert torch.allclose(got.warped, want.warped, atol=1e-5), (got.warped - want.warped).abs().max()
    whole_rows = Translator(tiny_model, fine.replace(warp_chunk=256)).forward_tensors(ids, ex, ex_ids)
    assert torch.allclose(whole_rows.image, want.image, atol=1e-5), (whole_rows.image - want.image).abs().max()
    assert torch.allclose(whole_rows.warped, want.warped, atol=1e-5)


def test_attention_chunk_is_its_own_option_apart_from_the_warp_chunk():
    from cocosnet.discriminator import MultiscaleDiscriminator

    rt = RuntimeOptions(warp_chunk=11, attention_chunk=22, attention_impl="dense")
    cfg = get_model_config("tiny")
    model = CoCosNet(cfg, rt)
    d = MultiscaleDiscriminator(cfg, rt)
    assert model.correspondence.runtime.warp_chunk == 11
    assert (model.generator.attn.impl, model.generator.attn.chunk) == ("dense", 22)
    assert {(m.attn.impl, m.attn.chunk) for m in d.children()} == {("dense", 22)}
    set_runtime(d, RuntimeOptions(attention_chunk=33))
    assert {(m.attn.impl, m.attn.chunk) for m in d.children()} == {("auto", 33)}


def test_translator_keyword_arguments_build_the_runtime(tiny_model):
    t = Translator(tiny_model, device="cpu", band_rows=0, low_memory=False)
    assert t.runtime == RuntimeOptions(device="cpu", band_rows=0)
    assert t.device == torch.device("cpu") and t.dtype == "float32"
    t = Translator(tiny_model, RuntimeOptions(band_rows=8), device="cpu", dtype="bfloat16")  # keywords win
    assert (t.runtime.band_rows, t.runtime.dtype, t.dtype) == (8, "bfloat16", "bfloat16")
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['ngf'\]"):
        Translator(tiny_model, device="cpu", ngf=3)
    with pytest.raises(ValueError, match="float16 inference needs a GPU"):
        Translator(tiny_model, device="cpu", dtype="float16")


def test_split_runtime_options_separates_model_overrides():
    runtime, rest = split_runtime_options(RuntimeOptions(warp_chunk=9), {"device": "cpu", "image_size": 128,
                                                                        "band_rows": 0})
    assert runtime == RuntimeOptions(device="cpu", warp_chunk=9, band_rows=0)
    assert rest == {"image_size": 128}


def test_bad_runtime_options_are_refused():
    with pytest.raises(ValueError, match="band_rows must be >= 0"):
        RuntimeOptions(band_rows=-1)
    with pytest.raises(ValueError, match="warp_impl must be one of auto, dense, sdpa, chunked, got 'fast'"):
        RuntimeOptions(warp_impl="fast")
    with pytest.raises(ValueError, match="attention_chunk must be >= 1"):
        RuntimeOptions(attention_chunk=0)
    with pytest.raises(ValueError, match="dtype must be float32, bfloat16 or float16, got 'int8'"):
        RuntimeOptions(dtype="int8")


def test_resolve_device():
    import cocosnet
    import cocosnet.inference

    # one implementation, re-exported where the inference API and the package offer it
    assert cocosnet.inference.resolve_device is resolve_device and cocosnet.RuntimeOptions is RuntimeOptions
    assert cocosnet.Translator is cocosnet.inference.Translator is Translator
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto", mps=False).type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="--device cuda asked for, but PyTorch sees no CUDA device"):
            resolve_device("cuda")


def test_model_config_keeps_no_runtime_option():
    fields = set(ModelConfig.__dataclass_fields__)
    assert not fields & set(MOVED_MODEL_FIELDS)
    assert not fields & set(RuntimeOptions.__dataclass_fields__)


def test_old_config_keys_are_dropped_on_read(tiny_model, tmp_path):
    cfg = tiny_model.cfg
    assert ModelConfig.from_dict({**cfg.to_dict(), **LEGACY_MODEL_KEYS}) == cfg
    save_native(tmp_path, tiny_model.state_dict(), native_config(cfg))
    config = json.loads((tmp_path / "config.json").read_text())
    config["model"].update(LEGACY_MODEL_KEYS)  # a folder written by an older version
    (tmp_path / "config.json").write_text(json.dumps(config))
    t = Translator.from_pretrained(tmp_path, device="cpu")
    assert t.cfg == cfg and t.runtime == RuntimeOptions(device="cpu")  # the old run options are not applied
    with pytest.raises(ValueError, match="unknown ModelConfig fields: \\['bogus'\\]"):
        ModelConfig.from_dict({**cfg.to_dict(), "bogus": 1})


def test_moved_fields_are_named_with_their_new_home():
    with pytest.raises(ValueError, match="band_rows is no longer a ModelConfig field: use RuntimeOptions.band_rows"):
        get_preset("tiny", band_rows=0)
    with pytest.raises(ValueError, match="warp_mask is no longer a ModelConfig field: use LossConfig.warp_mask"):
        get_model_config("tiny", warp_mask=False)
    with pytest.raises(ValueError, match=r"unknown ModelConfig fields: \['bogus'\]"):
        get_model_config("tiny", bogus=1)


def test_bundled_config_holds_no_runtime_option():
    from cocosnet.inference import default_checkpoint

    config = json.loads((default_checkpoint() / "config.json").read_text())
    assert not set(config["model"]) & set(MOVED_MODEL_FIELDS)
    assert json.loads(ModelConfig.from_dict(config["model"]).to_json()) == config["model"]
    assert "real_reference_probability" not in config["loss"] and config["sampling"] == {
        "real_reference_probability": 0.7, "hard_reference_probability": 0.2}
