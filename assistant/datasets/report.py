"""The evaluation report: metrics.json, report.md, precision-recall curves and AP by size as PNGs,
plus the ground truth and predictions in COCO form so anyone can re-run pycocotools on them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from ..errors import AssistantError
from ..process import outputs
from .evaluation import LARGE_FRACTION, OVERLAP_IOU, RECALL_SCORE, SIZES

RECALL_POINTS = np.linspace(0, 1, 101)  # COCOeval's recall thresholds


def _pct(value: float | None) -> str:
    return "n/a" if value is None or value < 0 else f"{value:.3f}"


def markdown(metrics: dict, title: str, plots: bool = False) -> str:
    """The report as Markdown: headline numbers, per class, by size, overlap and announcements."""
    a, o = metrics["announcements"], metrics["overlap"]
    lines = [
        f"# Evaluation: {title}",
        "",
        f"{metrics['images']} images evaluated, {metrics['skipped']} skipped (listed but missing).",
        f"Model `{metrics['model']}`, profile `{metrics['profile']}`.",
        "",
        "| mAP@[.5:.95] | AP50 | AP75 |",
        "|---|---|---|",
        f"| {_pct(metrics['map'])} | {_pct(metrics['ap50'])} | {_pct(metrics['ap75'])} |",
        "",
        "## AP per class",
        "",
        "| class | AP@[.5:.95] |",
        "|---|---|",
        *[f"| {name} | {_pct(ap)} |" for name, ap in sorted(metrics["per_class"].items(), key=lambda kv: -kv[1])],
        "",
        "## By object size (COCO area bands)",
        "",
        "| size | AP | recall (AR@100) |",
        "|---|---|---|",
        *[f"| {s} | {_pct(metrics['by_size'][s]['ap'])} | {_pct(metrics['by_size'][s]['recall'])} |" for s in SIZES],
        "",
        "## Overlapping objects",
        "",
        f"Recall at score {RECALL_SCORE} of objects overlapping another (IoU > {OVERLAP_IOU}): "
        f"{_pct(o['overlapping_recall'])} "
        f"({o['overlapping']} objects); of isolated objects: {_pct(o['isolated_recall'])} ({o['isolated']}).",
        "",
        "## What the assistant would say (profile thresholds)",
        "",
        f"Of {a['spoken']} spoken objects, {_pct(a['precision'])} are really there (precision). Recall "
        f"{_pct(a['recall'])}; of large objects, at least {LARGE_FRACTION:.0%} of the image tall, "
        f"{_pct(a['large_recall'])}. Direction accuracy {_pct(a['direction_accuracy'])}.",
        "",
        f"Counts: the number spoken equals the number of large true objects for {_pct(a['count_accuracy'])} of "
        f"{a['count_pairs']} image-class pairs spoken or present; mean absolute error "
        f"{'n/a' if a['count_mae'] is None else round(a['count_mae'], 2)}. Duplicate boxes removed: "
        f"{a['duplicates_removed']}, of which real neighbours: {a['neighbours_merged']}.",
        "",
        "Spoken objects per class:",
        "",
        "| class | right | wrong | missed |",
        "|---|---|---|---|",
        *[f"| {c} | {n['right']} | {n['wrong']} | {n['missed']} |" for c, n in sorted(a["per_class"].items())],
        *(["", "Plots: `pr_<class>.png` (precision-recall at IoU 0.5), `ap_by_size.png`."] if plots else []),
    ]
    return "\n".join(lines) + "\n"


def plots(evaluator, categories: dict[str, int], out: Path) -> list[Path]:
    """A precision-recall curve (IoU 0.5, all sizes) per class with ground truth, and AP by size as bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    precision = evaluator.eval["precision"]
    names = {i: n for n, i in categories.items()}
    for k, cat_id in enumerate(evaluator.params.catIds):
        curve = precision[0, :, k, 0, -1]
        if not (curve > -1).any():
            continue
        fig, ax = plt.subplots(figsize=(4, 3.2), dpi=100)
        ax.plot(RECALL_POINTS, np.where(curve > -1, curve, np.nan))
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision",
               title=f"{names[cat_id]}: AP50 {np.mean(curve[curve > -1]):.2f}")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = out / f"pr_{names[cat_id].replace(' ', '_')}.png"
        _save(fig, path)
        written.append(path)
    stats = evaluator.stats
    fig, ax = plt.subplots(figsize=(4, 3.2), dpi=100)
    values = [max(0.0, stats[3 + i]) for i in range(3)]
    ax.bar(SIZES, values, color=["#d95f02", "#7570b3", "#1b9e77"])
    ax.set(ylim=(0, 1), ylabel="AP@[.5:.95]", title="AP by object size")
    for i, v in enumerate(values):
        ax.text(i, v + 0.02, f"{v:.2f}", ha="center")
    fig.tight_layout()
    path = out / "ap_by_size.png"
    _save(fig, path)
    written.append(path)
    return written


def _save(fig, path: Path) -> None:
    """A matplotlib figure written as a PNG with outputs.replace."""
    import matplotlib.pyplot as plt

    data = io.BytesIO()
    fig.savefig(data, format="png")
    plt.close(fig)
    outputs.replace(path, data.getvalue())


def write(out: Path, metrics: dict, evaluator, categories: dict[str, int], ground_truth: dict,
          detections: list[dict], title: str) -> None:
    """Everything into `out`: metrics.json, report.md, the PNGs, ground_truth.json and predictions.json,
    each with outputs.replace; AssistantError in one sentence if one cannot be written."""
    texts = {"metrics.json": json.dumps(metrics, indent=2) + "\n", "report.md": markdown(metrics, title, plots=True),
             "ground_truth.json": json.dumps(ground_truth), "predictions.json": json.dumps(detections)}
    try:
        for name, text in texts.items():
            outputs.replace(out / name, text.encode("utf-8"))
        plots(evaluator, categories, out)
    except OSError as exc:
        raise AssistantError(f"Cannot write the report in {out}: {exc.strerror or exc}.") from None
