"""The pages' Plotly charts: plain numbers in, one HTML ``<div>`` out.

Each function draws one kind of chart into a ``<div>`` with the id it is given
(the ``*_ID`` constants below are the ids the pages use, so a browser test can
find a chart). The figure's data travels inside the div's script; plotly.js
itself is loaded once by ``base.html``. A chart with nothing to draw is a div
with the same id holding a one-line note instead of an empty plot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from html import escape

import plotly.graph_objects as go

ROUND_SCORE_PATHS_ID = "chart-round-score-paths"
ROUND_REFERENCE_ID = "chart-round-reference"
MODEL_CUMULATIVE_ID = "chart-model-cumulative"
MODEL_DAILY_ID = "chart-model-daily"
MODEL_STAKE_ID = "chart-model-stake"
META_MODEL_ROUNDS_ID = "chart-meta-model-rounds"
META_MODEL_DAYS_ID = "chart-meta-model-days"

HEIGHT = "380px"
CONFIG = {"displaylogo": False, "responsive": True}
LAYOUT = {
    "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
    "hovermode": "closest",
    "template": "plotly_white",
    "legend": {"orientation": "v"},
}

#: A point of a path: (x, y); y None or NaN is a gap.
Point = tuple[float | int, float | None]


def _number(value: float | Decimal | None) -> float | None:
    """A plottable float; None (a gap) for missing or NaN values."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _html(figure: go.Figure, div_id: str) -> str:
    return figure.to_html(
        full_html=False, include_plotlyjs=False, div_id=div_id, config=CONFIG, default_height=HEIGHT
    )


def empty_chart(div_id: str, note: str) -> str:
    """The placeholder of a chart with nothing to draw yet (same id, a short note)."""
    return f'<div id="{escape(div_id)}" class="chart empty"><p>{escape(note)}</p></div>'


def score_paths(
    paths: Mapping[str, Sequence[Point]],
    *,
    div_id: str,
    title: str,
    x_title: str = "scoring day",
    y_title: str = "CORR",
    empty: str = "No scores yet.",
) -> str:
    """One line per named path (a model's CORR by scoring day, a round's meta-model CORR...)."""
    drawn = {name: points for name, points in paths.items() if points}
    if not drawn:
        return empty_chart(div_id, empty)
    figure = go.Figure()
    for name, points in drawn.items():
        figure.add_trace(
            go.Scatter(
                x=[x for x, _ in points],
                y=[_number(y) for _, y in points],
                mode="lines+markers",
                name=name,
                connectgaps=False,
            )
        )
    figure.update_layout(title=title, xaxis_title=x_title, yaxis_title=y_title, **LAYOUT)
    figure.update_xaxes(tickformat="d")
    return _html(figure, div_id)


def cumulative_scores(
    rounds: Sequence[int],
    scores: Mapping[str, Sequence[float | None]],
    *,
    div_id: str,
    title: str = "Cumulative final scores",
    empty: str = "No resolved rounds yet.",
) -> str:
    """Running sums of per-round scores (one line per metric) over ``rounds``; a missing
    score adds nothing."""
    if not rounds:
        return empty_chart(div_id, empty)
    figure = go.Figure()
    for name, values in scores.items():
        total, running = 0.0, []
        for value in values:
            number = _number(value)
            total += 0.0 if number is None else number
            running.append(total)
        figure.add_trace(go.Scatter(x=list(rounds), y=running, mode="lines+markers", name=name))
    figure.update_layout(title=title, xaxis_title="round", yaxis_title="cumulative score", **LAYOUT)
    figure.update_xaxes(tickformat="d")
    return _html(figure, div_id)


def stake_history(
    times: Sequence[datetime],
    stakes: Sequence[Decimal | float],
    *,
    div_id: str,
    title: str = "Stake",
    empty: str = "Never staked.",
) -> str:
    """The stake after each movement, as a step line over time."""
    if not times:
        return empty_chart(div_id, empty)
    figure = go.Figure(
        go.Scatter(
            x=list(times),
            y=[_number(s) for s in stakes],
            mode="lines+markers",
            line_shape="hv",
            name="stake",
        )
    )
    figure.update_layout(title=title, xaxis_title="time (UTC)", yaxis_title="stake", **LAYOUT)
    return _html(figure, div_id)


def round_bars(
    rounds: Sequence[int],
    series: Mapping[str, Sequence[float | None]],
    *,
    div_id: str,
    title: str,
    y_title: str = "CORR",
    empty: str = "No scored rounds yet.",
) -> str:
    """Grouped bars per round, one colour per named series (e.g. meta-model and benchmark)."""
    if not rounds:
        return empty_chart(div_id, empty)
    figure = go.Figure()
    for name, values in series.items():
        figure.add_trace(go.Bar(x=list(rounds), y=[_number(v) for v in values], name=name))
    figure.update_layout(
        title=title, xaxis_title="round", yaxis_title=y_title, barmode="group", **LAYOUT
    )
    figure.update_xaxes(tickformat="d")
    return _html(figure, div_id)


__all__ = [
    "META_MODEL_DAYS_ID",
    "META_MODEL_ROUNDS_ID",
    "MODEL_CUMULATIVE_ID",
    "MODEL_DAILY_ID",
    "MODEL_STAKE_ID",
    "ROUND_REFERENCE_ID",
    "ROUND_SCORE_PATHS_ID",
    "cumulative_scores",
    "empty_chart",
    "round_bars",
    "score_paths",
    "stake_history",
]
