"""Evaluation (`cocosnet evaluate`): run a model or a baseline over a data set split, feed the metrics, and
write results.json, results.md and an image grid.

* `predictors` / `baselines`: what is evaluated; `metrics/`: the measurements; `evaluator`: the metrics
  accumulated over batches; `loop`: `evaluate`; `report`: the files written and side-by-side comparisons.

```python
results = evaluate(translator, build_dataset("landscapes", split="test", size=256, length=200), out="eval/")
```

`predict` is anything `as_predictor` accepts: a `Translator`, a `CoCosNet` module (the training loop's, used
as it is: no mode or device change), a baseline name (`"mean_colour"`, `"paste"`, `"rerender"`) or a callable
`batch -> {"output": images, "warped": images}` (images in [-1, 1]; "warped" is optional).

Every evaluated image set (output, warped) is encoded to `fmt` and decoded again before any metric sees it, as
writing it to disk would; ground truths, exemplars and oracles are used as the data set loads them.

* `answer_key` (landscapes only: needs the oracle): ΔE and SWD against the oracle for every image set, overall
  and per style family (`AnswerKeyMetrics`).
* `fid` / `kid`, `swd`, `semantic`, `style`: the paper's metrics, for the `output` set only. FID/KID and SWD
  compare the outputs with the ground-truth images (`swd_gt_*`); semantic consistency compares output and
  ground truth region by region, style relevance output and exemplar. Dense semantic inputs (edges, pose)
  have no regions: the whole image is one region there.
"""

from cocosnet.evaluation.baselines import baseline_mean_colour, baseline_paste, rerender_answer_key
from cocosnet.evaluation.evaluator import (
    LANDSCAPES_METRICS,
    METRICS,
    REAL_DATA_METRICS,
    Evaluator,
    default_metrics,
    has_oracle,
    parse_metrics,
)
from cocosnet.evaluation.loop import evaluate
from cocosnet.evaluation.predictors import BASELINES, as_predictor, baseline_predictor, model_predictor
from cocosnet.evaluation.report import compare_results, grid_row, write_evaluation, write_grid, write_results

__all__ = [
    "BASELINES",
    "LANDSCAPES_METRICS",
    "METRICS",
    "REAL_DATA_METRICS",
    "Evaluator",
    "as_predictor",
    "baseline_mean_colour",
    "baseline_paste",
    "baseline_predictor",
    "compare_results",
    "default_metrics",
    "evaluate",
    "grid_row",
    "has_oracle",
    "model_predictor",
    "parse_metrics",
    "rerender_answer_key",
    "write_evaluation",
    "write_grid",
    "write_results",
]
