"""Draw a saved benchmark (benchmarks/results/*.json) as one PNG.

    python benchmarks/plot.py benchmarks/results/latest.json docs/performance.png

Left: the headline figures of each stack as ratios to the websockets relay
(wsa = 1.0; the median over runs of ratios taken within one run, as in the
table). Right, when the JSON holds a ``--scale`` sweep:
fan-out deliveries/s by group size (measured, and per second of server CPU,
which is steadier on a shared machine), and KB per idle connection by
connection count.
Needs matplotlib (not a dependency of the server).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after choosing the backend

LABELS = {"chattrio": "chat-trio", "before": "chat-trio (before)", "wsa": "websockets",
          "node": "Node ws"}
HEADLINES = [  # (scenario, key, label, higher is better)
    ("fanout", "max_sustained_deliv_s", "fan-out deliv/s", True),
    ("pairs", "msgs_per_s", "1:1 msgs/s", True),
    ("idle", "handshakes_s", "handshakes/s", True),
    ("idle", "kb_per_conn", "KB/idle conn\n(lower is better)", False),
]


def same_run_ratio(
    results: dict[str, dict[str, list[dict[str, Any]]]], stack: str, scenario: str, key: str
) -> float:
    """The median over runs of stack / wsa, each ratio from one run (as summarize.py)."""
    base = {r.get("run"): r.get(key) for r in results.get("wsa", {}).get(scenario, [])}
    ratios = [
        r[key] / base[r.get("run")]
        for r in results.get(stack, {}).get(scenario, [])
        if r.get(key) and base.get(r.get("run"))
    ]
    return statistics.median(ratios) if ratios else 0.0


def per_cpu_second(result: dict[str, Any]) -> float:
    """Deliveries per second of server CPU at the highest passing step."""
    at_max = result.get("at_max") or {}
    cpu = at_max.get("server_cpu_pct") or 0
    return float(at_max.get("deliveries_s", 0)) / (cpu / 100) if cpu else 0.0


def main(source: str, target: str) -> None:
    saved = json.loads(Path(source).read_text())
    results = saved["results"]
    scale = saved.get("scale") or []
    fig, axes = plt.subplots(1, 3 if scale else 1, figsize=(15 if scale else 6, 4.5))
    ax = axes[0] if scale else axes
    stacks = [s for s in saved["stacks"] if s in results]
    width = 0.8 / max(len(stacks), 1)
    for i, stack in enumerate(stacks):
        ratios = []
        for scenario, key, _, _ in HEADLINES:
            ratios.append(same_run_ratio(results, stack, scenario, key))
        ax.bar([j + i * width for j in range(len(HEADLINES))], ratios, width,
               label=LABELS.get(stack, stack))
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xticks([j + width * (len(stacks) - 1) / 2 for j in range(len(HEADLINES))])
    ax.set_xticklabels([h[2] for h in HEADLINES], fontsize=8)
    ax.set_ylabel("ratio to websockets relay\n(median over runs of same-run ratios)")
    ax.set_title(f"{saved['runs']} run(s), {saved['when'][:10]}")
    ax.legend(fontsize=8)
    if scale:
        for stack in sorted({p["stack"] for p in scale}):
            fan = [p for p in scale if p["stack"] == stack and p["scenario"] == "fanout"]
            idle = [p for p in scale if p["stack"] == stack and p["scenario"] == "idle"]
            label = LABELS.get(stack, stack)
            line = axes[1].plot([p["receivers"] for p in fan],
                                [per_cpu_second(p["result"]) for p in fan],
                                marker="o", label=f"{label}, per server-CPU-s")
            axes[1].plot([p["receivers"] for p in fan],
                         [p["result"].get("max_sustained_deliv_s", 0) for p in fan],
                         marker="x", linestyle="--", color=line[0].get_color(),
                         label=f"{label}, measured")
            axes[2].plot([p["conns"] for p in idle],
                         [p["result"].get("kb_per_conn", 0) for p in idle], marker="o", label=label)
        axes[1].set(xlabel="group members (receivers)",
                    ylabel="deliveries/s at the max passing rate",
                    title="fan-out by group size")
        axes[2].set(xlabel="idle connections", ylabel="server RSS growth, KB per connection",
                    title="memory by connection count")
        axes[2].set_ylim(bottom=0)
        for a in axes[1:]:
            a.legend(fontsize=8)
            a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(target, dpi=90)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
