#!/usr/bin/env python3
"""Log-log plot of the fleet benchmark's scaling (wall, CPU, peak RSS against N) as SVG.

    python3 scripts/bench/plot-scaling.py target/bench-fleet/scaling.csv docs/img/scaling.svg

Reads the `scaling.csv` that `cargo bench --bench fleet` writes (n, first_wall_s,
wall_s, cpu_s, max_rss_mb; one row per fleet size, later rows for the same N win) and
writes one SVG: seconds on the left axis (wall, CPU), megabytes on the right (RSS), both
logarithmic, with a dashed "linear from the smallest N" guide per series, so growth
faster than linear shows as a line above its guide. Standard library only.
"""

import csv
import math
import sys

W, H = 640, 420
LEFT, RIGHT, TOP, BOTTOM = 70, 70, 40, 60
SERIES = [  # column, label, axis, colour
    ("wall_s", "re-audit wall (s)", "s", "#1f77b4"),
    ("cpu_s", "CPU user+sys (s)", "s", "#ff7f0e"),
    ("max_rss_mb", "peak RSS (MB)", "mb", "#2ca02c"),
]


def decades(lo, hi):
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    if a == b:
        b += 1
    return a, b


def main(src, dst):
    rows = {}
    with open(src) as f:
        for r in csv.DictReader(f):
            rows[int(r["n"])] = {k: float(v) for k, v in r.items()}
    ns = sorted(rows)
    if not ns:
        sys.exit(f"{src}: no rows")
    xa, xb = decades(min(ns), max(ns))
    axes = {}
    for axis in ("s", "mb"):
        vals = [rows[n][c] for n in ns for c, _, a, _ in SERIES if a == axis and rows[n][c] > 0]
        axes[axis] = decades(min(vals), max(vals))
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(n):
        return LEFT + (math.log10(n) - xa) / (xb - xa) * pw

    def y(v, axis):
        a, b = axes[axis]
        return TOP + ph - (math.log10(v) - a) / (b - a) * ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
        f'<title>driftwatch fleet scaling, log-log: {", ".join(map(str, ns))} targets</title>',
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>',
    ]
    for e in range(xa, xb + 1):
        px = x(10**e)
        out.append(f'<line x1="{px:.1f}" y1="{TOP}" x2="{px:.1f}" y2="{TOP + ph}" stroke="#ddd"/>')
        out.append(f'<text x="{px:.1f}" y="{TOP + ph + 18}" text-anchor="middle">{10**e:,}</text>')
    for axis, side in (("s", "left"), ("mb", "right")):
        a, b = axes[axis]
        for e in range(a, b + 1):
            py = y(10**e, axis)
            label = f"{10**e:g}"
            if side == "left":
                out.append(f'<line x1="{LEFT}" y1="{py:.1f}" x2="{LEFT + pw}" y2="{py:.1f}" stroke="#eee"/>')
                out.append(f'<text x="{LEFT - 6}" y="{py + 4:.1f}" text-anchor="end">{label}</text>')
            else:
                out.append(f'<text x="{LEFT + pw + 6}" y="{py + 4:.1f}">{label}</text>')
    out.append(f'<text x="{LEFT + pw / 2}" y="{H - 15}" text-anchor="middle">targets (N)</text>')
    out.append(f'<text x="15" y="{TOP + ph / 2}" transform="rotate(-90 15 {TOP + ph / 2})" text-anchor="middle">seconds</text>')
    out.append(f'<text x="{W - 12}" y="{TOP + ph / 2}" transform="rotate(90 {W - 12} {TOP + ph / 2})" text-anchor="middle">MB</text>')
    for i, (col, label, axis, colour) in enumerate(SERIES):
        pts = [(n, rows[n][col]) for n in ns if rows[n][col] > 0]
        if not pts:
            continue
        n0, v0 = pts[0]
        guide = " ".join(f"{x(n):.1f},{y(v0 * n / n0, axis):.1f}" for n, _ in pts
                         if axes[axis][0] <= math.log10(v0 * n / n0) <= axes[axis][1])
        if len(pts) > 1 and guide.count(",") > 1:
            out.append(f'<polyline points="{guide}" fill="none" stroke="{colour}" stroke-dasharray="4 4" opacity="0.6"/>')
        line = " ".join(f"{x(n):.1f},{y(v, axis):.1f}" for n, v in pts)
        out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for n, v in pts:
            out.append(f'<circle cx="{x(n):.1f}" cy="{y(v, axis):.1f}" r="3" fill="{colour}"><title>{label} at N = {n}: {v:g}</title></circle>')
        ly = TOP - 24 + i * 0  # legend in one row above the plot
        lx = LEFT + i * 190
        out.append(f'<line x1="{lx}" y1="{TOP - 14}" x2="{lx + 20}" y2="{TOP - 14}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{lx + 25}" y="{TOP - 10}">{label}</text>')
    out.append(f'<text x="{LEFT + pw}" y="{TOP + ph + 34}" text-anchor="end" fill="#666">dashed: linear from N = {ns[0]:,}</text>')
    out.append("</svg>")
    with open(dst, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
