"""The run report's charts: matplotlib figures (Agg backend) embedded as base64 PNG ``<img>``
tags, so the report is one self-contained file. Each takes a few dozen aggregate rows."""
from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

from segrec_spark.propensity.model import feature_label


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return ("<img alt='chart' src='data:image/png;base64,"
            + base64.b64encode(buf.getvalue()).decode() + "'>")


def gains_figure(gains: Sequence[dict[str, Any]], products: Sequence[str]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for product in products:
        pts = sorted((r["decile"], r["capture"], r["lift"]) for r in gains
                     if r["product_code"] == product and r["capture"] is not None)
        if not pts:
            continue
        x = [0] + [d * 10 for d, _, _ in pts]
        ax1.plot(x, [0] + [c for _, c, _ in pts], marker="o", label=product)
        ax2.plot([d * 10 for d, _, _ in pts], [lift for _, _, lift in pts], marker="o",
                 label=product)
    ax1.plot([0, 100], [0, 1], "k--", label="random")
    ax1.set(title="Cumulative gains", xlabel="% of eligible clients contacted",
            ylabel="share of buyers captured")
    ax2.axhline(1.0, color="k", linestyle="--")
    ax2.set(title="Cumulative lift", xlabel="% of eligible clients contacted",
            ylabel="lift over random")
    ax1.legend(fontsize=7)
    html_img = _png(fig)
    plt.close(fig)
    return html_img


def profit_figure(plan: Sequence[dict[str, Any]], products: Sequence[str]) -> str:
    """Expected profit against audience size (% of the ranked clients), one line per product,
    its best size (the break-even audience when there is one) drawn as a star."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4))
    drawn = 0
    for product in products:
        pts = sorted((r["audience_share"] * 100, r["expected_profit"]) for r in plan
                     if r["product_code"] == product and r["expected_profit"] is not None)
        if pts:
            line, = ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o", label=product)
            drawn += 1
            for r in plan:
                if r["product_code"] == product and r.get("best_size"):
                    ax.plot([r["audience_share"] * 100], [r["expected_profit"]], marker="*",
                            markersize=14, color=line.get_color())
    ax.axhline(0.0, color="k", linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    ax.set(title="Expected profit by audience size (star: the best size)",
           xlabel="% of ranked clients contacted (log)",
           ylabel="expected profit")
    if drawn:
        ax.legend(fontsize=7, ncol=2)
    html_img = _png(fig)
    plt.close(fig)
    return html_img


def importance_figure(importances: dict[str, list[dict[str, Any]]], top: int = 10) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    products = [p for p, rows in importances.items() if rows]
    if not products:
        return "<p><em>no feature importances logged</em></p>"
    cols = 2
    rows_n = (len(products) + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(11, 2.6 * rows_n), squeeze=False)
    for ax, product in zip(axes.flat, products, strict=False):
        items = importances[product][:top][::-1]
        ax.barh([feature_label(i["feature"]) for i in items], [i["importance"] for i in items])
        ax.set_title(product, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(products):]:
        ax.axis("off")
    fig.tight_layout()
    html_img = _png(fig)
    plt.close(fig)
    return html_img
