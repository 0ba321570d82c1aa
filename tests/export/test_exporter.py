"""Export: each format passes its golden check, a departing graph fails it and leaves nothing behind, a dynamic
batch runs any batch, and an official-shape network exports within 1e-4 of the official code's image."""

from __future__ import annotations

import json

import pytest
import torch

from cocosnet.export import GOLDEN_BOUND, ExportGraph, GoldenCheckError, export_network, load_runner, reference_inputs
from cocosnet.export import exporter as exporter_module
from cocosnet.export.exporter import golden_check, write_openvino
from cocosnet.inference import Translator
from tests.conftest import require_module

# On inputs other than the golden check's, float32 runtimes agree to ~1e-4..1e-3: the warp's softmax at temperature
# 0.01 multiplies a cosine correlation's rounding (~1e-6, summed in another order) by 100 before the exp, and a
# random tiny network has near ties among the candidates (docs/export.md, "The golden check")
ANY_INPUT = 2e-3


@pytest.fixture(scope="module")
def tiny_model(tiny_checkpoint):
    return Translator.from_pretrained(tiny_checkpoint, device="cpu").model


def _torch_outputs(model, inputs):
    with torch.inference_mode():
        return ExportGraph(model)(*inputs)


def test_onnx_export_passes_its_golden_check_and_runs_batches_of_1_and_3(tiny_model, tiny_onnx):
    runner = load_runner(tiny_onnx)
    assert runner.batch is None  # --dynamic-batch
    for batch in (1, 3):
        inputs = reference_inputs(tiny_model.cfg, batch=batch, seed=0 if batch == 1 else 5)
        want, got = _torch_outputs(tiny_model, inputs), runner(inputs)
        for w, g in zip(want, got, strict=True):
            assert g.shape == w.shape == (batch, 3, 64, 64)
            assert float((g - w).abs().max()) <= (GOLDEN_BOUND["float32"] if batch == 1 else ANY_INPUT)
    # the items of a batch are independent: item 2 of a batch of 3 is that item run alone
    inputs = reference_inputs(tiny_model.cfg, batch=3, seed=5)
    alone = runner([x[2:3] for x in inputs])
    assert float((runner(inputs)[0][2:3] - alone[0]).abs().max()) <= 1e-5


def test_openvino_ir_passes_the_golden_check_in_f32_and_bf16(tiny_model, tiny_onnx, tmp_path):
    require_module("openvino")
    cfg_json = json.dumps(tiny_model.cfg.to_dict())
    for dtype in ("float32", "bfloat16"):
        xml = tmp_path / f"tiny_{dtype}.xml"
        write_openvino(tiny_onnx, xml, cfg_json, dtype)
        assert xml.with_suffix(".bin").is_file()
        assert load_runner(xml).precision == {"float32": "f32", "bfloat16": "bf16"}[dtype]
        diff = golden_check(tiny_model, xml, dtype)
        assert max(diff.values()) <= GOLDEN_BOUND[dtype], (dtype, diff)
        if dtype == "float32":
            assert max(diff.values()) <= 1e-4


def test_torch_export_with_a_dynamic_batch(tiny_model, tmp_path):
    result = export_network(tiny_model, "torch-export", tmp_path / "tiny.pt2", dynamic_batch=True)
    assert result.max_abs == {"image": 0.0, "warped": 0.0}  # the same kernels as eager PyTorch
    runner = load_runner(result.path)
    assert runner.batch is None
    inputs = reference_inputs(tiny_model.cfg, batch=3, seed=2)
    for w, g in zip(_torch_outputs(tiny_model, inputs), runner(inputs), strict=True):
        assert float((g - w).abs().max()) <= 1e-6
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.pt2"]  # no temporary folder left


def test_a_departing_export_fails_its_golden_check_and_writes_nothing(tiny_model, tiny_onnx, tmp_path,
                                                                     monkeypatch):
    onnx = require_module("onnx")
    from onnx import numpy_helper

    proto = onnx.load(str(tiny_onnx))
    convs = {n.input[1] for n in proto.graph.node if n.op_type == "Conv"}
    for init in proto.graph.initializer:  # every convolution's weight 1% off
        if init.name in convs:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 1.01, init.name))
    perturbed = tmp_path / "perturbed.onnx"
    onnx.save(proto, str(perturbed))
    assert max(golden_check(tiny_model, perturbed, "float32").values()) > 1e-4

    def write_perturbed(program, path, cfg_json, names):
        path.write_bytes(perturbed.read_bytes())

    monkeypatch.setattr(exporter_module, "write_onnx", write_perturbed)
    monkeypatch.setattr(exporter_module, "export_program", lambda *a, **k: None)
    out = tmp_path / "out" / "tiny.onnx"
    out.parent.mkdir()
    (out.parent / "keep.txt").write_text("x")
    with pytest.raises(GoldenCheckError, match=r"golden check failed: the onnx export departs .* bound for "
                                               r"float32: 0.0001\); nothing was written"):
        export_network(tiny_model, "onnx", out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["keep.txt"]


def test_export_arguments_are_checked_first(tiny_model, tmp_path):
    with pytest.raises(ValueError, match=r"a onnx export is written as a .onnx file"):
        export_network(tiny_model, "onnx", tmp_path / "x.xml")
    with pytest.raises(ValueError, match=r"ONNX Runtime's CPU kernels have no bfloat16 convolution"):
        export_network(tiny_model, "onnx", tmp_path / "x.onnx", "bfloat16")
    with pytest.raises(ValueError, match=r"--format must be one of onnx, openvino, torch-export"):
        export_network(tiny_model, "tflite", tmp_path / "x.tflite")
    assert not list(tmp_path.iterdir())


def test_an_official_shape_network_exports_within_1e4_of_the_official_image(official_dir, recipe, tmp_path):
    """ADE20k at full widths, 128², recipe weights: the ONNX graph (one-hot lookups as gathers) run by ONNX Runtime
    and OpenVINO gives the official implementation's image and warp within 1e-4."""
    require_module("onnxruntime"), require_module("openvino")
    from cocosnet.model import CoCosNet
    from cocosnet.presets import get_model_config

    cfg = get_model_config("ade20k", image_size=128)
    model = CoCosNet(cfg).eval()
    model.generator.load_state_dict(recipe(json.loads((official_dir / "ade20k_netG.json").read_text()), 11))
    model.correspondence.load_state_dict(recipe(json.loads((official_dir / "ade20k_netCorr.json").read_text()), 11))
    model = Translator(model, device="cpu").model  # folded as the Translator folds it
    result = export_network(model, "onnx", tmp_path / "ade20k.onnx")
    assert max(result.max_abs.values()) <= 1e-4
    inputs = torch.load(official_dir / "vectors" / "ade20k" / "inputs.pt", weights_only=True)
    expected = torch.load(official_dir / "vectors" / "ade20k" / "expected.pt", weights_only=True)
    graph_inputs = [inputs["label"].long(), inputs["ref"], inputs["label_ref"].long()]
    for backend in ("onnxruntime", "openvino"):
        image, warped = load_runner(result.path, backend)(graph_inputs)
        assert float((image - expected["fake_image"]).abs().max()) <= 1e-4, backend
        assert float((warped - expected["warp_out"]).abs().max()) <= 1e-4, backend
