"""Writing, comparing and illustrating evaluation results (for ``cocosnet evaluate``)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from cocosnet.fileio import atomic_write

GRID_COLUMNS = ("input", "exemplar", "warped", "output", "ground truth / oracle")


def flatten_results(results: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a/b": 1}``; leaves other values as they are."""
    flat: dict[str, Any] = {}
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_results(value, f"{name}/"))
        else:
            flat[name] = value
    return flat


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.4e}"
    return str(value).replace("|", "\\|")


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def results_markdown(results: Mapping[str, Any]) -> str:
    """A markdown table: one row per set when every value is a ``{metric: value}`` dict (the columns are
    the union of metrics, in first-seen order), else a two-column ``metric | value`` table."""
    if results and all(
        isinstance(v, Mapping) and not any(isinstance(x, Mapping) for x in v.values())
        for v in results.values()
    ):
        columns = list(dict.fromkeys(k for v in results.values() for k in v))
        rows = [[name, *(v.get(c, "") for c in columns)] for name, v in results.items()]
        return _markdown_table(["set", *columns], rows)
    return _markdown_table(["metric", "value"], list(flatten_results(results).items()))


def _json_default(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_results(results: Mapping[str, Any], out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``results.json`` and ``results.md`` (a markdown table) into ``out_dir``, each atomically."""
    out_dir = Path(out_dir)
    text = json.dumps(results, indent=2, default=_json_default, allow_nan=True) + "\n"
    json_path = atomic_write(out_dir / "results.json", lambda f: f.write(text.encode()))
    md = "# Evaluation results\n\n" + results_markdown(json.loads(text))
    md_path = atomic_write(out_dir / "results.md", lambda f: f.write(md.encode()))
    return json_path, md_path


def _load(path_or_results: str | os.PathLike | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(path_or_results, Mapping):
        return path_or_results
    path = Path(path_or_results)
    if path.is_dir():
        path = path / "results.json"
    return json.loads(path.read_text())


def compare_results(
    a_json: str | os.PathLike | Mapping[str, Any],
    b_json: str | os.PathLike | Mapping[str, Any],
    names: tuple[str, str] = ("A", "B"),
) -> str:
    """Side-by-side markdown table of two results (paths to results.json / their folders, or dicts):
    ``metric | A | B | B − A`` over the union of (flattened) metrics."""
    a, b = flatten_results(_load(a_json)), flatten_results(_load(b_json))
    rows = []
    for key in dict.fromkeys([*a, *b]):
        va, vb = a.get(key, ""), b.get(key, "")
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (va, vb))
        rows.append([key, va, vb, (vb - va) if numeric else ""])
    return _markdown_table(["metric", names[0], names[1], f"{names[1]} − {names[0]}"], rows)


def _cell(image: Tensor | None, size: tuple[int, int]) -> Tensor:
    """(3, H, W) float in [0, 1] at ``size``; ``image`` is (C, H, W) with C in {1, 3}: float in [-1, 1],
    or uint8. None gives a white cell."""
    if image is None:
        return torch.ones(3, *size)
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"grid cells must be (1 or 3, H, W); got {tuple(image.shape)}")
    x = image.detach().cpu()
    x = x.float() / 255 if x.dtype == torch.uint8 else (x.float().clamp(-1, 1) + 1) / 2
    x = x.expand(3, -1, -1)
    if tuple(x.shape[-2:]) != size:
        x = F.interpolate(x[None], size=size, mode="bilinear", align_corners=False, antialias=True)[0]
    return x.clamp(0, 1)


def make_grid(rows: Sequence[Sequence[Tensor | None]], path: str | os.PathLike, padding: int = 2) -> Path:
    """A PNG grid, one row per sample (typically input | exemplar | warped | output | gt-or-oracle).

    Cells are (C, H, W) tensors (RGB or grey; float in [-1, 1] or uint8) or None (blank); all are resized to
    the first cell's size. Written atomically.
    """
    if not rows or not rows[0]:
        raise ValueError("make_grid needs at least one row with one cell")
    first = next((c for row in rows for c in row if c is not None), None)
    if first is None:
        raise ValueError("make_grid needs at least one image")
    size = (int(first.shape[-2]), int(first.shape[-1]))
    ncols = max(len(row) for row in rows)
    h, w = size
    canvas = torch.ones(3, len(rows) * (h + padding) + padding, ncols * (w + padding) + padding)
    for r, row in enumerate(rows):
        for c in range(ncols):
            cell = _cell(row[c] if c < len(row) else None, size)
            top, left = padding + r * (h + padding), padding + c * (w + padding)
            canvas[:, top : top + h, left : left + w] = cell
    array = (canvas * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return atomic_write(path, lambda f: Image.fromarray(array).save(f, format="PNG"))
