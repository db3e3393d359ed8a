#!/usr/bin/env python3
"""Collects the per-run JSON of idem-bench into bench/results.json, prints the
comparison table and draws the chart (PNG with matplotlib if it is installed,
otherwise an SVG written directly). Standard library only.

    python3 bench/report.py RUNS_DIR META_JSON RESULTS_JSON CHART_BASE

CHART_BASE has no extension: `.png` or `.svg` is added (and a stale chart of
the other format is removed).
"""

import json
import math
import os
import sys
from pathlib import Path

TARGETS = ["idem", "etcd", "redis"]
WORKLOADS = ["reserve", "reserve-complete", "replay"]
COLORS = {"idem": "#2b6cb0", "etcd": "#dd6b20", "redis": "#718096"}


def load_runs(runs_dir):
    runs = []
    for path in sorted(Path(runs_dir).glob("*.json")):
        with open(path) as f:
            runs.append(json.load(f))

    def order(run):
        workload = WORKLOADS.index(run["workload"]) if run["workload"] in WORKLOADS else 99
        target = TARGETS.index(run["target"]) if run["target"] in TARGETS else 99
        return (workload, run["connections"], target)

    return sorted(runs, key=order)


def ratio(numerator, denominator):
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 3)


def comparisons(runs):
    """idem against etcd (and Redis) for each workload and connection count."""
    by_key = {(r["workload"], r["connections"], r["target"]): r for r in runs}
    groups = sorted({(r["workload"], r["connections"]) for r in runs},
                    key=lambda g: (WORKLOADS.index(g[0]) if g[0] in WORKLOADS else 99, g[1]))
    out = []
    for workload, connections in groups:
        row = {"workload": workload, "connections": connections}
        idem = by_key.get((workload, connections, "idem"))
        for target in TARGETS:
            run = by_key.get((workload, connections, target))
            row[f"{target}_ops_per_s"] = run["throughput_ops_per_s"] if run else None
            row[f"{target}_p99_us"] = run["latency_us"]["p99"] if run else None
            row[f"{target}_p50_us"] = run["latency_us"]["p50"] if run else None
            row[f"{target}_p50_over_floor"] = run.get("p50_over_floor") if run else None
            cpu = (run or {}).get("node_cpu") or {}
            row[f"{target}_node_cpu_us_per_op"] = round(cpu["us_per_op"], 1) if cpu else None
        floors = [r["floor"]["floor_us"] for r in runs
                  if (r["workload"], r["connections"]) == (workload, connections) and r.get("floor")]
        row["floor_us"] = sorted(floors)[len(floors) // 2] if floors else None
        for other in ("etcd", "redis"):
            run = by_key.get((workload, connections, other))
            if idem and run:
                row[f"throughput_ratio_idem_over_{other}"] = ratio(idem["throughput_ops_per_s"], run["throughput_ops_per_s"])
                row[f"p99_ratio_{other}_over_idem"] = ratio(run["latency_us"]["p99"], idem["latency_us"]["p99"])
        out.append(row)
    return out


def ms(us):
    return f"{us / 1000:.2f}"


def print_table(runs, comparison):
    by_group = {(c["workload"], c["connections"]): c for c in comparison}
    header = (f"{'target':<6} {'workload':<17} {'conns':>5} {'ops/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'p99.9 ms':>9} {'conflicts':>9} {'errors':>7} {'p50/floor':>9} {'cpu us/op':>9}"
              f"   {'idem/etcd ops/s':>15} {'etcd/idem p99':>13}")
    print(header)
    print("-" * len(header))
    previous = None
    for run in runs:
        group = (run["workload"], run["connections"])
        if previous is not None and group != previous:
            print()
        previous = group
        latency = run["latency_us"]
        errors = run["counts"]["error"] + run["counts"].get("unsent", 0)
        thr_ratio = p99_ratio = ""
        if run["target"] == "idem":
            c = by_group.get(group, {})
            if c.get("throughput_ratio_idem_over_etcd") is not None:
                thr_ratio = f"{c['throughput_ratio_idem_over_etcd']:.2f}x"
            if c.get("p99_ratio_etcd_over_idem") is not None:
                p99_ratio = f"{c['p99_ratio_etcd_over_idem']:.2f}x"
        over_floor = f"{run['p50_over_floor']:.2f}x" if run.get("p50_over_floor") else ""
        cpu = f"{run['node_cpu']['us_per_op']:.0f}" if run.get("node_cpu") else ""
        print(f"{run['target']:<6} {run['workload']:<17} {run['connections']:>5} "
              f"{run['throughput_ops_per_s']:>10.1f} {ms(latency['p50']):>8} {ms(latency['p99']):>8} "
              f"{ms(latency['p999']):>9} {run['counts']['conflict']:>9} {errors:>7} {over_floor:>9} {cpu:>9}"
              f"   {thr_ratio:>15} {p99_ratio:>13}")
    print()
    print("ops/s counts answered operations (ok + conflict); errors include open-loop operations never sent.")
    print("idem/etcd ops/s > 1: idem serves more; etcd/idem p99 > 1: idem's p99 is lower.")
    floors = sorted(r["floor"]["floor_us"] for r in runs if r.get("floor"))
    if floors:
        print(f"p50/floor: p50 over the floor measured just before the run (median floor {ms(floors[len(floors) // 2])} ms:"
              " concurrent fdatasyncs in the three data directories + a loopback round trip);"
              " cpu us/op: the servers' CPU in the measured window per answered operation.")


# --- chart -------------------------------------------------------------------

def chart_groups(runs):
    groups = []
    for run in runs:
        group = (run["workload"], run["connections"])
        if group not in groups:
            groups.append(group)
    by_key = {(r["workload"], r["connections"], r["target"]): r for r in runs}
    targets = [t for t in TARGETS if any(r["target"] == t for r in runs)]
    return groups, targets, by_key


def panels():
    return [
        ("Throughput (ops/s, higher is better)", lambda r: r["throughput_ops_per_s"], lambda v: f"{v:.0f}"),
        ("p99 latency (ms, lower is better)", lambda r: r["latency_us"]["p99"] / 1000, lambda v: f"{v:.1f}"),
    ]


def axis_top(runs, value):
    """The panel's top: fits idem and etcd. Redis, often ten times faster,
    would flatten them, so its bars are cut at the top and keep their value
    as a label."""
    compared = [value(r) for r in runs if r["target"] != "redis"] or [value(r) for r in runs] or [1]
    every = [value(r) for r in runs] or [1]
    if max(every) <= 1.5 * max(compared):
        return nice_ceiling(max(every) * 1.1)
    return nice_ceiling(max(compared) * 1.25)


def draw_png(runs, meta, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups, targets, by_key = chart_groups(runs)
    fig, axes = plt.subplots(2, 1, figsize=(max(8, 1.6 * len(groups) + 2), 8))
    width = 0.8 / max(1, len(targets))
    for ax, (title, value, label) in zip(axes, panels()):
        for i, target in enumerate(targets):
            xs, ys = [], []
            for g, (workload, connections) in enumerate(groups):
                run = by_key.get((workload, connections, target))
                if run:
                    xs.append(g + (i - (len(targets) - 1) / 2) * width)
                    ys.append(value(run))
            top = axis_top(runs, value)
            shown = [min(y, top) for y in ys]
            bars = ax.bar(xs, shown, width, label=target, color=COLORS.get(target))
            ax.bar_label(bars, labels=[label(y) + (" (cut)" if y > top else "") for y in ys], fontsize=7)
            ax.set_ylim(0, top * 1.08)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels([f"{w}\n{c} conns" for w, c in groups])
        ax.set_title(title)
        ax.legend()
    fig.suptitle("idem, etcd and Redis, measured by the same client\n" + subtitle(meta), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def nice_ceiling(value):
    """A round axis top at or above value whose quarters are round too."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 1.2, 1.6, 2, 2.4, 4, 6, 8, 10):
        if step * power >= value * (1 - 1e-9):
            return step * power
    return 10 * power


def esc(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def draw_svg(runs, meta, path):
    groups, targets, by_key = chart_groups(runs)
    left, right, top = 70, 20, 100
    panel_height, gap = 230, 90
    group_width = max(150, (600 - left - right) / max(1, len(groups)))
    width = left + right + group_width * max(1, len(groups))
    height = top + 2 * panel_height + 2 * gap
    bar = min(60, (group_width - 30) / max(1, len(targets)))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="10" y="20" font-size="14" font-weight="bold">idem, etcd and Redis, measured by the same client</text>',
    ]
    for line_number, line in enumerate(subtitle(meta).split("\n")):
        parts.append(f'<text x="10" y="{34 + 12 * line_number}" font-size="10">{esc(line)}</text>')
    for i, target in enumerate(targets):
        x = left + i * 90
        parts.append(f'<rect x="{x}" y="60" width="12" height="12" fill="{COLORS.get(target, "#999")}"/>')
        parts.append(f'<text x="{x + 16}" y="70">{esc(target)}</text>')
    for p, (title, value, label) in enumerate(panels()):
        y0 = top + p * (panel_height + gap) + 20
        base = y0 + panel_height
        top_value = axis_top(runs, value)
        # The axis ends at top_value; the space above holds cut bars and labels.
        scale_top = top_value * 1.1
        parts.append(f'<text x="{left}" y="{y0 - 22}" font-size="12" font-weight="bold">{esc(title)}</text>')
        if any(value(r) > top_value for r in runs):
            parts.append(f'<text x="{width - right}" y="{y0 - 22}" text-anchor="end" font-size="10">'
                         f'bars with a zigzag are cut; the label is their value</text>')
        parts.append(f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" stroke="black"/>')
        parts.append(f'<line x1="{left}" y1="{base - panel_height / 1.1}" x2="{left}" y2="{base}" stroke="black"/>')
        for tick in range(5):
            v = top_value * tick / 4
            y = base - panel_height * v / scale_top
            parts.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end">{esc(label(v))}</text>')
            parts.append(f'<line x1="{left}" y1="{y}" x2="{width - right}" y2="{y}" stroke="#ddd"/>')
        for g, (workload, connections) in enumerate(groups):
            gx = left + g * group_width + (group_width - bar * len(targets)) / 2
            for i, target in enumerate(targets):
                run = by_key.get((workload, connections, target))
                if not run:
                    continue
                v = value(run)
                cut = v > top_value
                h = panel_height * (scale_top if cut else v) / scale_top
                x = gx + i * bar
                parts.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar - 4:.1f}" height="{h:.1f}" '
                             f'fill="{COLORS.get(target, "#999")}"><title>{esc(target)}: {esc(label(v))}</title></rect>')
                if cut:
                    # A white zigzag across the bar marks that it is cut.
                    zy = base - h + 14
                    parts.append(f'<polyline points="{x:.1f},{zy} {x + (bar - 4) / 3:.1f},{zy - 5} '
                                 f'{x + 2 * (bar - 4) / 3:.1f},{zy + 3} {x + bar - 4:.1f},{zy - 2}" '
                                 f'fill="none" stroke="white" stroke-width="3"/>')
                parts.append(f'<text x="{x + (bar - 4) / 2:.1f}" y="{base - h - 3:.1f}" text-anchor="middle" '
                             f'font-size="9">{esc(label(v))}</text>')
            cx = left + g * group_width + group_width / 2
            parts.append(f'<text x="{cx}" y="{base + 15}" text-anchor="middle">{esc(workload)}</text>')
            parts.append(f'<text x="{cx}" y="{base + 28}" text-anchor="middle">{connections} conns</text>')
    parts.append("</svg>")
    Path(path).write_text("\n".join(parts) + "\n")


def subtitle(meta):
    return (f"{meta.get('seconds_per_run', '?')} s per run after warm-up, closed loop; 3-node idem and etcd, "
            f"1-node Redis (appendfsync always)\n{meta.get('cpus', '?')} CPUs shared by all servers and the client, "
            f"loopback; {meta.get('date_utc', '')}, idem {meta.get('idem_commit', '?')}")


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    runs_dir, meta_path, results_path, chart_base = sys.argv[1:]
    runs = load_runs(runs_dir)
    if not runs:
        print(f"no runs found in {runs_dir}", file=sys.stderr)
        return 1
    meta = {}
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
    comparison = comparisons(runs)
    print_table(runs, comparison)

    try:
        import matplotlib  # noqa: F401
        chart, stale = chart_base + ".png", chart_base + ".svg"
    except ImportError:
        chart, stale = chart_base + ".svg", chart_base + ".png"
    if chart.endswith(".png"):
        draw_png(runs, meta, chart)
    else:
        draw_svg(runs, meta, chart)
    if os.path.exists(stale):
        os.remove(stale)

    with open(results_path, "w") as f:
        json.dump({"meta": meta, "comparisons": comparison, "runs": runs}, f, indent=2)
        f.write("\n")
    print(f"\nwrote {results_path} and {chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
