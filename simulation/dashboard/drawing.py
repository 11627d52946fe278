"""What the dashboard draws, as plain matplotlib (no solara here, so the drawings can be
tested and saved on their own). Everything is drawn in aggregate: one disc per touchpoint,
one line per output, never one glyph per customer.

Each drawing is a figure built once per model whose static parts (axes, ticks, labels,
bands) are rendered once; a frame redraws only what changes (the lines, the discs, the
counts) over that background, which keeps the page live at 2,000 customers.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from PIL import Image

from .. import layout as L
from ..results import Results, step_bands
from .comparison import THESE_SETTINGS

DPI = 90
LIVE_COLOUR = "#d62728"
FAILURE_CMAP = "YlOrRd"

#: the live plots: (panel title, [(output column, legend label)], y-axis label, y limits;
#: None for an upper limit that grows with the data)
LIVE_PANELS = (
    ("Cohort retention", [("cohort_retention", "retention")],
     "share of week-0 cohort active", (0.0, 1.02)),
    ("Net promoter score", [("nps", "NPS")], "NPS (% promoters − % detractors)",
     (-100.0, 100.0)),
    ("Service desk", [("contacts", "contacts this week"), ("backlog", "backlog (waiting)")],
     "customers", (0.0, None)),
    ("Desk burnout", [("burnout", "burnout")], "burnout (0–1)", (0.0, 1.02)),
)
BAND_PANELS = (("cohort_retention", "Cohort retention", "share of week-0 cohort active"),
               ("nps", "Net promoter score", "NPS (% promoters − % detractors)"))


class LiveFigure:
    """A figure drawn in two layers: the static background once (again after
    ``invalidate``), the animated artists on every frame."""

    def __init__(self, width: float, height: float):
        self.fig = Figure(figsize=(width, height), dpi=DPI)
        self.canvas = FigureCanvasAgg(self.fig)
        self.animated = []
        self._background = None

    def animate(self, artist):
        artist.set_animated(True)
        self.animated.append(artist)
        return artist

    def invalidate(self) -> None:
        self._background = None

    def render(self) -> np.ndarray:
        """The frame as an RGBA array."""
        if self._background is None:
            self.canvas.draw()
            self._background = self.canvas.copy_from_bbox(self.fig.bbox)
        else:
            self.canvas.restore_region(self._background)
        for artist in self.animated:
            self.fig.draw_artist(artist)
        return np.asarray(self.canvas.buffer_rgba())

    def png(self) -> bytes:
        out = io.BytesIO()
        Image.fromarray(self.render()[..., :3]).save(out, format="png", compress_level=1)
        return out.getvalue()

    def save(self, path) -> None:
        Image.fromarray(self.render()[..., :3]).save(path)


def _grown(limit: float, needed: float) -> float:
    """An upper limit that covers ``needed``, doubled so it rarely has to grow again."""
    return limit if needed <= limit else 2.0 * needed


def journey_positions(scenario) -> dict[int, tuple[float, float]]:
    """Touchpoints in columns by stage (in the order stages first appear), spread in each."""
    stages = list(dict.fromkeys(t.stage for t in scenario.touchpoints))
    positions = {}
    for column, stage in enumerate(stages):
        members = [k for k, t in enumerate(scenario.touchpoints) if t.stage == stage]
        for row, k in enumerate(members):
            positions[k] = (float(column), (len(members) - 1) / 2.0 - row)
    return positions


class JourneyMapFigure(LiveFigure):
    """The journey map: each touchpoint's disc has an area proportional to the customers
    visiting it this week and a colour for the share of those visits that failed."""

    def __init__(self, scenario, width: float = 7.0, height: float = 3.6):
        super().__init__(width, height)
        self.names = [t.name for t in scenario.touchpoints]
        positions = journey_positions(scenario)
        self.xy = np.array([positions[k] for k in range(len(self.names))])
        fig = self.fig
        fig.subplots_adjust(left=0.02, right=0.85, bottom=0.15, top=0.9)
        ax = self.ax = fig.subplots()
        for src, row in scenario.journey.transitions.items():
            a = positions[self.names.index(src)]
            for dst, prob in row.items():
                if prob > 0 and src != dst:
                    ax.annotate("", xy=positions[self.names.index(dst)], xytext=a, arrowprops={
                        "arrowstyle": "->", "color": "0.65", "lw": 0.6 + 2.0 * prob,
                        "shrinkA": 16, "shrinkB": 16, "connectionstyle": "arc3,rad=0.12"})
        # colour: the share of this week's visits that failed, on a scale fixed per scenario
        # (up to twice the most failure-prone touchpoint's rate) so colours compare over time
        most = max(t.failure_rate for t in scenario.touchpoints)
        self.norm = Normalize(vmin=0.0, vmax=max(0.05, min(1.0, 2.0 * most)))
        self.discs = self.animate(ax.scatter(
            self.xy[:, 0], self.xy[:, 1], s=np.full(len(self.names), 80.0),
            c=np.zeros(len(self.names)), cmap=FAILURE_CMAP, norm=self.norm,
            edgecolors="0.25", linewidths=0.8, zorder=3))
        # the names sit below the largest disc; this week's counts are written beside the
        # map (redrawing eight labels a week would cost more than the rest of the frame)
        for k, name in enumerate(self.names):
            ax.annotate(name, self.xy[k], xytext=(0, -35), textcoords="offset points",
                        ha="center", va="top", fontsize=8, zorder=4)
        colourbar = fig.colorbar(self.discs, cax=fig.add_axes((0.88, 0.22, 0.018, 0.62)))
        colourbar.set_label("share of this week's visits that failed", fontsize=8)
        colourbar.ax.tick_params(labelsize=8)
        ax.set_xlim(self.xy[:, 0].min() - 0.6, self.xy[:, 0].max() + 0.6)
        ax.set_ylim(self.xy[:, 1].min() - 0.75, self.xy[:, 1].max() + 0.5)
        stages = list(dict.fromkeys(t.stage for t in scenario.touchpoints))
        ax.set_xticks(range(len(stages)), stages)
        ax.set_yticks([])
        ax.set_xlabel("journey stage (disc area ∝ customers at the touchpoint this week)")
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.set_title("Journey map: where the customers are this week, and what failed",
                     fontsize=10)

    def update(self, customers: np.ndarray, failures: np.ndarray) -> None:
        total = max(int(customers.sum()), 1)
        self.discs.set_sizes(80.0 + 4000.0 * customers / total)
        self.discs.set_array(failures / np.maximum(customers, 1))


class LivePanelsFigure(LiveFigure):
    """The live run's weekly outputs so far: retention, NPS, desk contacts and backlog,
    burnout."""

    def __init__(self, horizon: int, width: float = 7.0, height: float = 3.9):
        super().__init__(width, height)
        fig = self.fig
        fig.subplots_adjust(left=0.1, right=0.98, bottom=0.12, top=0.85, hspace=0.38,
                            wspace=0.3)
        self.axes = fig.subplots(2, 2, sharex=True).ravel()
        self.lines = []
        for ax, (panel, series, ylabel, (low, high)) in zip(self.axes, LIVE_PANELS):
            for column, label in series:
                line, = ax.plot([], [], label=label, lw=1.6)
                self.lines.append((column, self.animate(line)))
            ax.set_title(panel, fontsize=10)
            ax.set_ylabel(ylabel, fontsize=8)
            ax.set_xlim(0, horizon)
            ax.set_ylim(low, 10.0 if high is None else high)
            ax.tick_params(labelsize=8)
            ax.grid(alpha=0.3)
            if len(series) > 1:
                ax.legend(fontsize=7.5, loc="upper left")
        for ax in self.axes[2:]:
            ax.set_xlabel("week")
        self.title = self.animate(fig.suptitle("", fontsize=11))

    def update(self, frame: pd.DataFrame, title: str) -> None:
        for column, line in self.lines:  # a week's flows from week 1: row 0 is the start
            shown = frame[frame.index > 0] if column in L.WEEKLY_FLOW_COLUMNS else frame
            line.set_data(shown.index.to_numpy(), shown[column].to_numpy())
        for ax, (_, series, _, (low, high)) in zip(self.axes, LIVE_PANELS):
            if high is None:
                top = _grown(ax.get_ylim()[1], max(frame[c].max() for c, _ in series))
                if top != ax.get_ylim()[1]:
                    ax.set_ylim(low, top)
                    self.invalidate()
        self.title.set_text(title)


class BandsFigure(LiveFigure):
    """Each comparison variant's mean and 10–90% spread across seeds (the background), with
    the live run's weeks so far drawn over them."""

    def __init__(self, results: Results, width: float = 7.0, height: float = 3.4):
        super().__init__(width, height)
        fig = self.fig
        fig.subplots_adjust(left=0.1, right=0.98, bottom=0.15, top=0.84, wspace=0.3)
        axes = fig.subplots(1, 2)
        n_seeds = results.steps["seed"].nunique()
        self.lines = []
        for ax, (column, panel, ylabel) in zip(axes, BAND_PANELS):
            bands = step_bands(results.steps, column, kind="spread")
            for label in results.labels:
                b = bands[bands["variant"] == label]
                mine = label == THESE_SETTINGS
                line, = ax.plot(b["step"], b["mean"], color="0.15" if mine else None,
                                lw=2.0 if mine else 1.0,
                                label=f"{label}: mean, 10–90% of {n_seeds} seeds")
                ax.fill_between(b["step"], b["low"], b["high"], color=line.get_color(),
                                alpha=0.30 if mine else 0.12, lw=0)
            live, = ax.plot([], [], color=LIVE_COLOUR, lw=2.2, label="the live run")
            self.lines.append((column, self.animate(live)))
            ax.set_title(panel, fontsize=10)
            ax.set_xlabel("week")
            ax.set_ylabel(ylabel, fontsize=8)
            ax.tick_params(labelsize=8)
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=6.5, loc="lower left")
        fig.suptitle("The live run among many seeds of the batch engine "
                     "(these settings and the named strategies)", fontsize=10)

    def update(self, frame: pd.DataFrame) -> None:
        weeks = frame.index.to_numpy()
        for column, line in self.lines:
            line.set_data(weeks, frame[column].to_numpy())
