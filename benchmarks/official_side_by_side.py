"""The authors' implementation, it exported to ONNX Runtime / OpenVINO, and our paths: side by side, in one run.

    python benchmarks/official_side_by_side.py --official-code PATH/TO/CoCosNet [--preset ade20k] [--size 256]
        [--repeats 5] [--threads 2] [--rows official,official-onnxruntime,...] [--json OUT]

PATH is a checkout of microsoft/CoCosNet (de0c1bbd), run from where it lies (scripts/official_code.py), never
copied. Every row gets the same weights (the shared reference-vector recipe, seed 11, official keys, written once as
latest_net_G.pth / latest_net_Corr.pth) and the same input: `cocosnet.export.graph.reference_inputs` at --size²,
batch 1 (class ids in 8x8 blocks, a smooth exemplar, the exemplar's own label map). Each row runs in a fresh
process (peak RSS = its own VmHWM) with --threads threads (torch.set_num_threads; OpenVINO INFERENCE_NUM_THREADS;
ONNX Runtime intra_op_num_threads): load, a first call (reported, and the warm-up), then the median of --repeats
(with --rounds N, every row N times in interleaved order, the median over all its timed calls). Exports happen
before, in processes of their own, and are not timed as s/image.

What one timed call is, per row (the input is always class ids [1,1,H,W] and the exemplar [1,3,H,W]):
  official               Pix2PixModel(opt) as test.py builds it (its util.load_network reads the weights), then
                         `model(data, mode="inference")`: its preprocess_input (one-hot scatter of both label maps)
                         and inference() (netCorr, then netG on cat(warp_out, input_semantics)) under its
                         torch.no_grad, fp32, NCHW. On the CPU that path needs one thing given its way: the
                         exemplar's label map as int64 (preprocess_input casts it only on a GPU, and scatter_ refuses
                         a float index). Dense-map presets (celebahq_edge, deepfashion) call model.inference() on the
                         maps directly: their preprocess_input calls .cuda() unconditionally.
  official-onnxruntime   the official inference() (netCorr + netG, one graph, inputs the one-hot maps and the
  official-openvino-*    exemplar as Open Model Zoo's cocosnet takes them) exported by torch.onnx.export (dynamo,
                         opset 18), run by ONNX Runtime (fp32) or OpenVINO (INFERENCE_PRECISION_HINT f32 / bf16);
                         the one-hot scatter (preprocess_input's ops, torch) is inside the timed call. The
                         official graph exports as it is; the only workaround is outside it (the stand-in
                         torchvision is dropped from sys.modules after the import, see scripts/official_code.py).
  ours-fp32[-cl]         Translator.from_official(preset, folder=..., device="cpu", channels_last=...) then
  ours-bf16-cl           translator.forward_tensors(ids, exemplar, exemplar_ids): input checks, the one-hot /
  ours-fp32-compile[-winograd], ours-fp32-winograd, ours-bf16-cl-compile[-winograd], ours-bf16-cl-winograd
                         class-id lookups, correspondence + generator under inference_mode (bf16: weights cast once;
                         compile: RuntimeOptions(compile=True), its first call is the compile (bf16-cl-compile:
                         with the bf16 channels-last weights); winograd:
                         conv_algorithm="winograd", cocosnet.nn.winograd: F(4x4, 3x3) in fp32,
                         F(2x2, 3x3) in bf16).
  ours-onnxruntime       the same Translator with backend onnxruntime / openvino and `exported` = our exporter's
  ours-openvino-*        float32 ONNX (`cocosnet.export.export_network`, the golden-checked graph); forward_tensors
                         then runs our Python input checks and the graph (one-hot inside it).
Outputs: every row's image and warped exemplar are compared with the official row's (max abs difference, and the
image's PSNR over the [-1,1] range, i.e. peak 2). Ratios: s/image over the official row's, and over
official-openvino-f32 (fp32 rows) or official-openvino-bf16 (bf16 rows). The machine is named, with whether its
CPU has AVX-512 BF16 / AMX (without them, OpenVINO's bf16 hint runs f32: the effective precision it reports is
printed under the table). A shared machine makes every time noisy: compare ratios from one run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from _util import ROOT, machine, median, peak_rss_mb, print_table, run_case  # noqa: E402

SHARED = ROOT.parent / "shared" / "reference" / "official_cocosnet"
PRESETS = ("ade20k", "celebahq_edge", "deepfashion")
# row: (kind, dtype, backend, channels_last / compile / winograd / OpenVINO precision)
ROWS = {
    "official": ("official", "float32", "torch", None),
    "official-onnxruntime": ("official-exported", "float32", "onnxruntime", None),
    "official-openvino-f32": ("official-exported", "float32", "openvino", "f32"),
    "official-openvino-bf16": ("official-exported", "bfloat16", "openvino", "bf16"),
    "ours-fp32": ("ours", "float32", "torch", False),
    "ours-fp32-cl": ("ours", "float32", "torch", True),
    "ours-bf16-cl": ("ours", "bfloat16", "torch", True),
    "ours-fp32-compile": ("ours", "float32", "torch", "compile"),
    "ours-fp32-winograd": ("ours", "float32", "torch", "winograd"),
    "ours-fp32-compile-winograd": ("ours", "float32", "torch", "compile-winograd"),
    "ours-bf16-cl-compile": ("ours", "bfloat16", "torch", "compile-cl"),
    "ours-bf16-cl-winograd": ("ours", "bfloat16", "torch", "cl-winograd"),
    "ours-bf16-cl-compile-winograd": ("ours", "bfloat16", "torch", "compile-cl-winograd"),
    "ours-onnxruntime": ("ours", "float32", "onnxruntime", None),
    "ours-openvino-f32": ("ours", "float32", "openvino", None),
    "ours-openvino-bf16": ("ours", "bfloat16", "openvino", None),
}
OUTPUT_NAMES = ("fake_image", "warp_out")


# --------------------------------------------------------------------------------------------- in a case process
def _inputs(spec: dict) -> dict:
    return torch.load(Path(spec["tmp"]) / "inputs.pt", weights_only=True)


def _official_opt(spec: dict, run_code: bool = True):
    """The official test options; run_code: also import the official code (chdir into it)."""
    from official_code import import_official, official_options

    if run_code:
        import_official(spec["official_code"])
    return official_options(Path(spec["reference"]), spec["preset"], spec["size"])


def _one_hot(ids, nc: int):
    """preprocess_input's one-hot: FloatTensor(bs, nc, h, w).zero_().scatter_(1, label.long(), 1.0)."""
    bs, _, h, w = ids.shape
    return torch.zeros(bs, nc, h, w).scatter_(1, ids.long(), 1.0)


def _nc(opt) -> int:
    return opt.label_nc + 1 if opt.contain_dontcare_label else opt.label_nc


def build_official(spec: dict):
    """The official row: its test path on the prepared tensors."""
    from official_code import official_model

    opt = _official_opt(spec)
    model = official_model(opt, Path(spec["tmp"]) / "weights")
    x = _inputs(spec)
    if opt.dataset_mode in ("celebahqedge", "deepfashion"):  # its preprocess_input .cuda()s these unconditionally
        def forward():
            with torch.no_grad():
                out = model.inference(x["semantic"], ref_semantics=x["exemplar_semantic"], ref_image=x["exemplar"])
            return out["fake_image"], out["warp_out"]
        return forward

    # label_ref as int64: preprocess_input makes it so only on a GPU (`if self.use_gpu(): ... .long()`), and its
    # scatter_ needs an integer index; the label map stays float as its data set gives it
    data = {"label": x["semantic"].float(), "label_ref": x["exemplar_semantic"].long(), "image": x["exemplar"],
            "ref": x["exemplar"], "self_ref": torch.ones(1)}

    def forward():
        out = model(dict(data), mode="inference")  # a copy: preprocess_input replaces the dict's entries
        return out["fake_image"], out["warp_out"]
    return forward


class OfficialGraph(torch.nn.Module):
    """The official inference() (netCorr, then netG on cat(warp_out, input_semantics)) as one module to export."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_semantics, ref_image, ref_semantics):
        out = self.model.inference(input_semantics, ref_semantics=ref_semantics, ref_image=ref_image)
        return out["fake_image"], out["warp_out"]


def _official_graph_inputs(x: dict, opt) -> list:
    if opt.dataset_mode in ("celebahqedge", "deepfashion"):
        return [x["semantic"], x["exemplar"], x["exemplar_semantic"]]
    nc = _nc(opt)
    return [_one_hot(x["semantic"], nc), x["exemplar"], _one_hot(x["exemplar_semantic"], nc)]


def export_official(spec: dict) -> dict:
    """torch.onnx.export of the official inference() graph; the golden check runs it in ONNX Runtime."""
    import logging
    import warnings

    from official_code import official_model

    from cocosnet.export.runtimes import OnnxRuntimeRunner

    opt = _official_opt(spec)
    graph = OfficialGraph(official_model(opt, Path(spec["tmp"]) / "weights")).eval()
    inputs = _official_graph_inputs(_inputs(spec), opt)
    with torch.no_grad():
        reference = graph(*inputs)
    path = Path(spec["tmp"]) / "official.onnx"
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        with torch.no_grad():
            program = torch.onnx.export(graph, tuple(inputs), dynamo=True, opset_version=18, verbose=False,
                                        input_names=["input_semantics", "ref_image", "ref_semantics"],
                                        output_names=list(OUTPUT_NAMES))
    program.save(str(path))
    seconds = time.perf_counter() - start
    got = OnnxRuntimeRunner(path)(inputs)
    max_abs = {n: float((a - b).abs().max()) for n, a, b in zip(OUTPUT_NAMES, got, reference, strict=True)}
    return {"export_s": seconds, "max_abs": max_abs, "path": str(path)}


def build_official_exported(spec: dict, backend: str, precision: str | None):
    from cocosnet.export.runtimes import OnnxRuntimeRunner, OpenVinoRunner

    opt = _official_opt(spec, run_code=False)  # the runtime alone runs the graph
    path, threads = Path(spec["tmp"]) / "official.onnx", spec["threads"]
    runner = (OnnxRuntimeRunner(path, threads) if backend == "onnxruntime"
              else OpenVinoRunner(path, precision=precision, threads=threads))
    x = _inputs(spec)
    return (lambda: runner(_official_graph_inputs(x, opt))), _effective(runner)


def _effective(runner) -> str | None:
    """The precision OpenVINO compiled for (its bf16 hint falls back to f32 on CPUs without bf16 instructions)."""
    compiled = getattr(runner, "compiled", None)
    return None if compiled is None else compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()


def _translator(spec: dict, **options):
    from cocosnet.inference import Translator

    return Translator.from_official(spec["preset"], folder=Path(spec["tmp"]) / "weights", device="cpu",
                                    image_size=spec["size"], **options)


def build_ours(spec: dict, dtype: str, backend: str, channels_last: bool | None):
    import functools

    from cocosnet.inference import backends

    if backend != "torch":  # the Translator's runners, told the thread count (RuntimeOptions has none)
        backends.OnnxRuntimeRunner = functools.partial(backends.OnnxRuntimeRunner, threads=spec["threads"])
        backends.OpenVinoRunner = functools.partial(backends.OpenVinoRunner, threads=spec["threads"])
        tr = _translator(spec, dtype=dtype, backend=backend, exported=str(Path(spec["tmp"]) / "ours.onnx"))
    elif channels_last in ("compile", "compile-winograd", "compile-cl", "compile-cl-winograd"):  # first call: compile
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(Path(spec["tmp"]) / f"inductor-{channels_last}")  # its own cache
        tr = _translator(spec, dtype=dtype, compile=True, channels_last="-cl" in channels_last,
                         conv_algorithm="winograd" if channels_last.endswith("winograd") else "direct")
    elif channels_last in ("winograd", "cl-winograd"):  # --conv-algorithm winograd (cocosnet.nn.winograd)
        tr = _translator(spec, dtype=dtype, conv_algorithm="winograd", channels_last=channels_last == "cl-winograd")
    else:
        tr = _translator(spec, dtype=dtype, channels_last=bool(channels_last))
    x = _inputs(spec)

    def forward():
        out = tr.forward_tensors(x["semantic"], x["exemplar"], x.get("exemplar_semantic"))
        return out.image, out.warped
    runner = getattr(tr._exported, "runner", None)
    return forward, None if runner is None else _effective(runner)


def export_ours(spec: dict) -> dict:
    from cocosnet.export import export_network

    result = export_network(_translator(spec).model, "onnx", Path(spec["tmp"]) / "ours.onnx", "float32")
    return {"export_s": result.export_seconds, "max_abs": result.max_abs, "path": str(result.path)}


def case(spec: dict) -> dict:
    """One row in this process: load, the first call, the median of `repeats`, peak RSS; its output saved."""

    torch.set_num_threads(spec["threads"])
    if spec["row"] == "export-official":
        return export_official(spec)
    if spec["row"] == "export-ours":
        return export_ours(spec)
    kind, dtype, backend, option = ROWS[spec["row"]]
    start = time.perf_counter()
    precision = None
    if kind == "official":
        forward = build_official(spec)
    elif kind == "official-exported":
        forward, precision = build_official_exported(spec, backend, option)
    else:
        forward, precision = build_ours(spec, dtype, backend, option)
    load_s = time.perf_counter() - start

    def timed():
        t = time.perf_counter()
        out = forward()
        return time.perf_counter() - t, out

    first_s, _ = timed()  # also the warm-up: oneDNN primitives / OpenVINO kernels, first touch of every buffer
    times, out = [], None
    for _ in range(spec["repeats"]):
        s, out = timed()
        times.append(s)
    peak = peak_rss_mb() / 1024
    image, warped = (t.detach().float().cpu().contiguous() for t in out)
    torch.save({"image": image, "warped": warped}, Path(spec["tmp"]) / f"out_{spec['row']}.pt")
    return {"seconds": median(times), "times": times, "first_s": first_s, "load_s": load_s, "peak_gb": peak,
            "precision": precision}


# ----------------------------------------------------------------------------------------------------- parent
def write_inputs_and_weights(preset: str, size: int, tmp: Path) -> None:
    from official_code import recipe_state_dicts

    from cocosnet.export.graph import reference_inputs
    from cocosnet.presets import get_model_config

    cfg = get_model_config(preset, image_size=size)
    tensors = reference_inputs(cfg, batch=1, seed=0)
    inputs = {"semantic": tensors[0], "exemplar": tensors[1],
              "exemplar_semantic": tensors[2] if len(tensors) > 2 else tensors[0]}
    torch.save(inputs, tmp / "inputs.pt")
    (tmp / "weights").mkdir()
    for name, state in recipe_state_dicts(SHARED, preset).items():
        torch.save(state, tmp / "weights" / f"latest_net_{name}.pth")


def cpu_summary() -> str:
    """lscpu's model name and whether the CPU has AVX-512 / AVX-512 BF16 / AMX (what bf16 needs to be fast)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "lscpu unavailable"
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    flags = set(fields.get("Flags", "").split())
    have = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in flags]
    missing = [f for f in ("avx512_bf16", "amx_bf16") if f not in flags]
    return (f"{fields.get('Model name', '?').strip()}, {fields.get('CPU(s)', '?').strip()} CPUs; flags: "
            f"{' '.join(have) or 'none of avx2/avx512'}" + (f"; no {' / '.join(missing)}" if missing else ""))


def _compare(tmp: Path, row: str) -> dict:

    ref = torch.load(tmp / "out_official.pt", weights_only=True)
    got = torch.load(tmp / f"out_{row}.pt", weights_only=True)
    mse = float(((got["image"] - ref["image"]) ** 2).mean())
    return {"max_abs_image": float((got["image"] - ref["image"]).abs().max()),
            "max_abs_warped": float((got["warped"] - ref["warped"]).abs().max()),
            "psnr": math.inf if mse == 0 else 10 * math.log10(4 / mse)}


def combine(runs: list[dict]) -> dict:
    """One row's rounds: the median of every timed call, of the first calls and loads; the highest peak RSS."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    times = [t for r in ok for t in r["times"]]
    return {"seconds": median(times), "times": times, "first_s": median([r["first_s"] for r in ok]),
            "load_s": median([r["load_s"] for r in ok]), "peak_gb": max(r["peak_gb"] for r in ok),
            "precision": ok[0]["precision"], "failed_rounds": len(runs) - len(ok)}


def _fmt(x: float | None, spec: str) -> str:
    return "" if x is None else format(x, spec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--official-code", type=Path, help="a checkout of microsoft/CoCosNet (run, never copied)")
    ap.add_argument("--preset", default="ade20k", choices=PRESETS)
    ap.add_argument("--size", type=int, default=256, help="resolution, a multiple of 32 (deepfashion: 256 only)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=1, help="run every row this many times, interleaved")
    ap.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, from: {', '.join(ROWS)}")
    ap.add_argument("--json", type=Path, help="write the raw numbers here")
    args = ap.parse_args()
    if args.case:
        print(json.dumps(case(json.loads(args.case))))
        return
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        ap.error(f"--rows: unknown {', '.join(unknown)} (choose from {', '.join(ROWS)})")
    if args.official_code is None or not (args.official_code / "models" / "pix2pix_model.py").is_file():
        ap.error("--official-code must name a checkout of microsoft/CoCosNet (with models/pix2pix_model.py)")
    if not (SHARED / "vectors" / "recipe_weights.py").is_file():
        ap.error(f"the shared reference folder is needed for the weights recipe: {SHARED}")
    if args.size % 32 or (args.preset == "deepfashion" and args.size != 256):
        ap.error("--size must be a multiple of 32 (deepfashion: 256, its official patch warp folds to 256²)")
    if "official" in rows:
        rows = ["official"] + [r for r in rows if r != "official"]  # its output is every other row's reference

    results: dict = {"machine": machine(), "cpu": cpu_summary(), "preset": args.preset, "size": args.size,
                     "repeats": args.repeats, "rounds": args.rounds, "threads": args.threads,
                     "load_average_before": os.getloadavg(), "exports": {}, "rows": {}}
    with tempfile.TemporaryDirectory(prefix="cocosnet-side-by-side-") as name:
        tmp = Path(name)
        write_inputs_and_weights(args.preset, args.size, tmp)
        common = {"tmp": str(tmp), "preset": args.preset, "size": args.size, "repeats": args.repeats,
                  "threads": args.threads, "official_code": str(args.official_code.resolve()),
                  "reference": str(SHARED)}
        needed = {"export-official": any(ROWS[r][0] == "official-exported" for r in rows),
                  "export-ours": any(ROWS[r][0] == "ours" and ROWS[r][2] != "torch" for r in rows)}
        for export, need in needed.items():
            if need:
                results["exports"][export] = run_case(Path(__file__), [json.dumps({**common, "row": export})])
                print(f"{export}: {results['exports'][export]}", file=sys.stderr)
        runs: dict[str, list[dict]] = {r: [] for r in rows}
        for rnd in range(args.rounds):  # rounds interleave the rows (A B C, C B A, ...): load drifts hit all alike
            for row in rows if rnd % 2 == 0 else rows[::-1]:
                exp = "export-official" if ROWS[row][0] == "official-exported" else "export-ours"
                if ROWS[row][2] != "torch" and "error" in results["exports"].get(exp, {}):
                    runs[row].append({"error": f"{exp} failed: {results['exports'][exp]['error']}"})
                    continue
                runs[row].append(run_case(Path(__file__), [json.dumps({**common, "row": row})]))
                print(f"round {rnd + 1} {row}: {runs[row][-1]}", file=sys.stderr)
        for row, done in runs.items():
            results["rows"][row] = r = combine(done)
            if "error" not in r and (tmp / "out_official.pt").is_file():
                r.update(_compare(tmp, row))
    results["load_average_after"] = os.getloadavg()

    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def report(results: dict) -> None:
    rows = results["rows"]

    def seconds(name: str) -> float | None:
        return rows.get(name, {}).get("seconds")

    official = seconds("official")
    table = []
    for name, r in rows.items():
        if "error" in r:
            table.append([name, "error: " + r["error"][:90], *[""] * 7])
            continue
        bf16 = ROWS[name][1] == "bfloat16"
        ov = seconds("official-openvino-bf16" if bf16 else "official-openvino-f32")
        diff = r.get("max_abs_image")
        table.append([name, f"{r['seconds']:.2f}", f"{r['first_s']:.2f}", f"{r['load_s']:.1f}", f"{r['peak_gb']:.2f}",
                      "" if diff is None else f"{diff:.2g} / {r['max_abs_warped']:.2g}",
                      "" if diff is None else ("inf" if math.isinf(r["psnr"]) else f"{r['psnr']:.1f}"),
                      _fmt(official and r["seconds"] / official, ".2f"), _fmt(ov and r["seconds"] / ov, ".2f")])
    print(f"machine: {results['machine']}")
    print(f"cpu: {results['cpu']}")
    rounds = f" x {results['rounds']} interleaved rounds" if results["rounds"] > 1 else ""
    print(f"{results['preset']} {results['size']}², batch 1, {results['threads']} threads, median of "
          f"{results['repeats']}{rounds} after a warm-up (the first call); each row in a fresh process; load average "
          f"{results['load_average_before'][0]:.1f} before, {results['load_average_after'][0]:.1f} after")
    for name, e in results["exports"].items():
        if "error" in e:
            print(f"{name}: error {e['error']}")
        else:
            print(f"{name}: {e['export_s']:.1f} s, max |diff| from its PyTorch graph in ONNX Runtime "
                  + ", ".join(f"{k} {v:.2g}" for k, v in e["max_abs"].items()))
    print_table(["row", "s / image", "first call s", "load s", "peak RSS GB", "max abs vs official (image / warp)",
                 "PSNR vs official fp32 dB", "x official", "x official-openvino (same dtype)"], table)
    precisions = {n: r["precision"] for n, r in rows.items() if r.get("precision")}
    if precisions:
        print("OpenVINO's effective inference precision: " + ", ".join(f"{n} {p}" for n, p in precisions.items()))


if __name__ == "__main__":
    main()
