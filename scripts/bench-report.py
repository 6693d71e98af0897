#!/usr/bin/env python3
"""Reads criterion's results (target/criterion) after `cargo bench` (the
engine, ffi and threads benchmarks), prints the medians as a Markdown table, and draws
docs/perf-scaling.svg: check and record_failure latency against the number
of authenticators, for authlock and governor. Standard library only."""
import json
import math
import os
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..")
CRIT = os.path.join(ROOT, "target", "criterion")


def median_ns(group, bench, param=None):
    parts = [CRIT, group, bench] + ([str(param)] if param is not None else []) + ["new", "estimates.json"]
    path = os.path.join(*parts)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]


def fmt(ns):
    if ns is None:
        return "n/a"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


SIZES = [1000, 10000, 100000, 1000000]


def table():
    rows = [("check, one hot authenticator", median_ns("check_hot", "authlock"), median_ns("check_hot", "governor"))]
    for n in SIZES:
        rows.append((f"check, random over {n:,}", median_ns("check_random", "authlock", n), median_ns("check_random", "governor", n)))
    for n in SIZES:
        rows.append((f"one dependent read over {n:,} records (144 B) / buckets (16 B)", median_ns("dependent_read", "records_144B", n), median_ns("dependent_read", "buckets_16B", n)))
    rows.append(("record_failure, hot (history on)", median_ns("record_failure", "hot", 1), None))
    for n in SIZES:
        rows.append((f"record_failure, random over {n:,}", median_ns("record_failure", "random", n), None))
    for b in ["record_success_after_failures", "lock", "unlock"]:
        rows.append((b.replace("_", " "), median_ns("actions", b), None))
    for b in ["1-thread", "2-threads-disjoint", "2-threads-shared"]:
        rows.append((f"check per op, {b}", median_ns("threads_check", b), None))
    rows.append(("2 threads, failures+successes on one authenticator, per op", median_ns("threads_shared_writes", "2-threads-failure-success"), None))
    for b in ["rust", "c_abi", "c_abi_id"]:
        rows.append((f"check through {b}", median_ns("check_c_abi", b), None))
    for b in ["1-thread", "2-threads"]:
        rows.append((f"control (registers only) per op, {b}", median_ns("threads_control", b), None))
    for b in ["sync", "batched-5ms-256", "none"]:
        rows.append((f"record_failure, store durability {b}", median_ns("record_failure_durability", b), None))
    print("| operation | authlock | governor | ratio |")
    print("| --- | --- | --- | --- |")
    for name, a, g in rows:
        ratio = f"{a / g:.2f}" if a and g else ""
        print(f"| {name} | {fmt(a)} | {fmt(g)} | {ratio} |")
    one = median_ns("threads_check", "1-thread")
    two = median_ns("threads_check", "2-threads-disjoint")
    if one and two:
        print(f"\n2-thread disjoint throughput: {one / two:.2f}x one thread")
    c1 = median_ns("threads_control", "1-thread")
    c2 = median_ns("threads_control", "2-threads")
    if c1 and c2:
        print(f"2-thread control throughput: {c1 / c2:.2f}x one thread")


def svg():
    series = [
        ("check authlock", "#1f77b4", [median_ns("check_random", "authlock", n) for n in SIZES]),
        ("check governor", "#ff7f0e", [median_ns("check_random", "governor", n) for n in SIZES]),
        ("record_failure authlock", "#2ca02c", [median_ns("record_failure", "random", n) for n in SIZES]),
    ]
    values = [v for _, _, vs in series for v in vs if v]
    if not values:
        print("no results: run `cargo bench --bench engine` first", file=sys.stderr)
        return
    W, H, L, B, T, R = 640, 400, 70, 50, 30, 200
    top = max(values) * 1.15
    x = lambda i: L + i * (W - L - R) / (len(SIZES) - 1)
    y = lambda v: H - B - v / top * (H - B - T)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{L}" y="18" font-size="14">Latency (median) against the number of authenticators</text>',
           f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>']
    for i, n in enumerate(SIZES):
        out.append(f'<text x="{x(i)}" y="{H - B + 18}" text-anchor="middle">{n:,}</text>')
    step = 10 ** math.floor(math.log10(top / 4))
    tick = step * math.ceil(top / 4 / step)
    v = 0.0
    while v <= top:
        out.append(f'<text x="{L - 6}" y="{y(v) + 4}" text-anchor="end">{v:g} ns</text>')
        out.append(f'<line x1="{L}" y1="{y(v)}" x2="{W - R}" y2="{y(v)}" stroke="#ddd"/>')
        v += tick
    for k, (name, color, vs) in enumerate(series):
        pts = [(x(i), y(v)) for i, v in enumerate(vs) if v]
        out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (color, " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)))
        for a, b in pts:
            out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{color}"/>')
        out.append(f'<rect x="{W - R + 15}" y="{T + 20 * k}" width="12" height="12" fill="{color}"/>')
        out.append(f'<text x="{W - R + 32}" y="{T + 20 * k + 11}">{name}</text>')
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">authenticators (uniform random access)</text>')
    out.append("</svg>")
    with open(os.path.join(ROOT, "docs", "perf-scaling.svg"), "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    table()
    svg()
