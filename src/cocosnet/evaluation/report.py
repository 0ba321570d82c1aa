"""The report of an evaluation: results.json, results.md, the grid.png of samples, and side-by-side comparisons."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import Tensor

from cocosnet.fileio import atomic_write
from cocosnet.viz import Palette, save_grid, semantic_cell

GRID_COLUMNS = ("input", "exemplar", "warped", "output", "ground truth / oracle")
GRID_PADDING = 2


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
    the union of metrics, in first-seen order), else a two-column ``metric | value`` table. A ``"run"``
    section (what was evaluated, how) comes first as its own ``run | value`` table."""
    run = results.get("run")
    if isinstance(run, Mapping) and len(results) > 1:
        rest = {key: value for key, value in results.items() if key != "run"}
        return _markdown_table(["run", "value"], list(flatten_results(run).items())) + "\n" + results_markdown(rest)
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
    if not path.is_file():
        raise FileNotFoundError(f"results file not found: {path}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not a results.json ({exc})") from exc


def compare_results(
    *results: str | os.PathLike | Mapping[str, Any],
    names: Sequence[str] | None = None,
) -> str:
    """Side-by-side markdown table of two or more results (paths to results.json / their folders, or dicts):
    ``metric | A | B | … | B − A | …`` over the union of (flattened) metrics; the differences are against
    the first."""
    if len(results) < 2:
        raise ValueError(f"compare_results needs at least two results, got {len(results)}")
    names = list(names) if names is not None else [chr(ord("A") + i) for i in range(len(results))]
    if len(names) != len(results):
        raise ValueError(f"{len(names)} names for {len(results)} results")
    flats = [flatten_results(_load(r)) for r in results]
    rows = []
    for key in dict.fromkeys(k for flat in flats for k in flat):
        values = [flat.get(key, "") for flat in flats]
        base = values[0]
        deltas = []
        for value in values[1:]:
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (base, value))
            deltas.append((value - base) if numeric else "")
        rows.append([key, *values, *deltas])
    header = ["metric", *names, *(f"{name} − {names[0]}" for name in names[1:])]
    return _markdown_table(header, rows)


def grid_row(label: Tensor, exemplar: Tensor, warped: Tensor | None, output: Tensor, reference: Tensor,
             palette: Palette) -> list[Tensor | None]:
    """One sample's row of the grid (`GRID_COLUMNS`): its semantic input coloured with `palette`, then the
    pictures ([3,H,W] in [-1,1]); no warped exemplar leaves a blank cell."""
    pictures = [exemplar, warped, output, reference]
    return [semantic_cell(label, palette), *(None if p is None else p.float().cpu() for p in pictures)]


def write_grid(rows: Sequence[Sequence[Tensor | None]], path: str | os.PathLike) -> Path:
    """The grid PNG: one `grid_row` per sample, cells resized to the first one's size. Written atomically."""
    return save_grid(rows, path, GRID_PADDING)


def write_evaluation(results: Mapping[str, Any], grid_rows: Sequence[Sequence[Tensor | None]],
                     out: str | os.PathLike) -> list[Path]:
    """results.json, results.md and grid.png (input | exemplar | warped | output | ground truth or oracle)."""
    paths = list(write_results(results, out))
    if grid_rows:
        paths.append(write_grid(grid_rows, Path(out) / "grid.png"))
    return paths
