"""`cocosnet export` and `--backend` on the command line: the golden check's report, a backend's image equal to
the torch backend's, options checked before the model loads, and the optional packages imported only when asked."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cocosnet.cli import main
from tests.conftest import require_module


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export_inputs")
    rng = np.random.default_rng(1)
    Image.fromarray(np.kron(rng.integers(0, 10, (8, 8)), np.ones((8, 8))).astype(np.uint8)).save(folder / "l.png")
    Image.fromarray((np.kron(rng.random((8, 8, 3)), np.ones((8, 8, 1))) * 255).astype(np.uint8)).save(
        folder / "e.png")
    return folder


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_translate_with_a_backend_writes_the_torch_backends_image(tiny_checkpoint, tiny_onnx, inputs, tmp_path,
                                                                  backend):
    images = {}
    for b in ("torch", backend):
        out = tmp_path / f"{b}.png"
        extra = ["--exported", str(tiny_onnx)] if b != "torch" else []
        assert main(["translate", "--checkpoint", str(tiny_checkpoint), "--input", str(inputs / "l.png"),
                     "--exemplar", str(inputs / "e.png"), "--exemplar-label", str(inputs / "l.png"),
                     "--out", str(out), "--backend", b, *extra]) == 0
        images[b] = np.asarray(Image.open(out)).astype(int)
    # 8-bit rounding, but for the few pixels where a near tie in the random network's warp softmax flips
    diff = np.abs(images["torch"] - images[backend])
    assert diff.max() <= 8 and (diff > 1).mean() <= 1e-3


def test_the_exported_file_records_the_models_config(tiny_onnx):
    # tiny_onnx ran `cocosnet export ... --dynamic-batch` (exit 0 asserted there); --exported checks this record
    onnx = require_module("onnx")
    props = {p.key: p.value for p in onnx.load(str(tiny_onnx), load_external_data=False).metadata_props}
    assert '"name": "tiny"' in props["cocosnet_config"]


@pytest.mark.parametrize("argv,message", [
    (["--format", "onnx", "--out", "m.pt2"], "a onnx export is written as a .onnx file"),
    (["--format", "onnx", "--dtype", "bfloat16", "--out", "m.onnx"], "ONNX Runtime's CPU kernels have no bfloat16"),
    (["--format", "openvino", "--out", "m.onnx"], "a openvino export is written as a .xml file"),
    (["--format", "onnx", "--preset", "ade20k", "--out", "m.onnx"], "--preset ade20k needs the model's weights"),
])
def test_export_options_are_checked_before_the_model_loads(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["export", *argv]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_missing_package_is_a_clear_error(tiny_checkpoint, inputs, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)
    assert main(["translate", "--checkpoint", str(tiny_checkpoint), "--input", str(inputs / "l.png"),
                 "--exemplar", str(inputs / "e.png"), "--exemplar-label", str(inputs / "l.png"),
                 "--out", str(tmp_path / "o.png"), "--backend", "openvino"]) == 2
    assert 'pip install "cocosnet[openvino]"' in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_help_and_import_do_not_import_the_optional_runtimes():
    code = ("import sys, cocosnet, cocosnet.cli as c; c.build_parser(); "
            "print([m for m in ('onnx', 'onnxruntime', 'openvino', 'onnxscript') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
