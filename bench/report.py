#!/usr/bin/python3
"""Turns the raw JSON of bench/harness.py into bench/results/<date>-<commit>.{md,json,png}:
medians with min–max spreads, the ratios hoplite/HAProxy and hoplite/nginx, the targets of the
benchmark issue marked met or missed, and a gnuplot chart.

    report.py RAW.json OUT_DIR [--stem NAME] [--before OLD.json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

SYSTEMS = ["direct", "hoplite", "nginx", "haproxy"]

# metric -> (label, unit, scale, higher is better, decimals)
METRICS = {
    "rps": ("requests/s", "req/s", 1, True, 0),
    "bytes_per_s": ("throughput", "MiB/s", 1 / 1048576, True, 1),
    "rate": ("rate", "/s", 1, True, 0),
    "p50_ms": ("p50 latency", "ms", 1, False, 3),
    "p99_ms": ("p99 latency", "ms", 1, False, 3),
    "cpu_s_per_100k": ("CPU (user+sys) per 100k requests", "s", 1, False, 2),
    "cpu_us_per_cycle": ("CPU (user+sys) per open + handshake + close", "µs", 1, False, 1),
    "kib_per_tunnel": ("RSS per idle tunnel", "KiB", 1, False, 2),
    "tunnels": ("tunnels asked for", "", 1, True, 0),
    "established": ("tunnels established", "", 1, True, 0),
    "rss_after_kib": ("RSS with the tunnels open", "MiB", 1 / 1024, False, 1),
    "errors": ("errors", "", 1, False, 0),
    "workers": ("hoplite worker processes", "", 1, True, 0),
    "kib_per_connection": ("RSS per idle keep-alive connection", "KiB", 1, False, 2),
    "open_connections": ("connections held open", "", 1, True, 0),
    "cpu_us_per_request": ("CPU (user+sys) per request", "µs", 1, False, 1),
    "faults_per_request": ("page faults per request", "", 1, False, 4),
    "max_over_min": ("tunnels on the busiest backend / on the idlest", "", 1, False, 3),
}

# Which metrics each scenario shows, in order.
SHOWN = {
    "s1": ["rps", "p50_ms", "p99_ms", "cpu_s_per_100k", "errors"],
    "s2": ["rps", "bytes_per_s", "p99_ms", "errors"],
    "s3": ["rps", "p99_ms", "errors"],
    "s4": ["rps", "p99_ms", "errors"],
    "s5": ["rate", "p50_ms", "p99_ms", "cpu_us_per_cycle", "errors"],
    "s6": ["rate", "p50_ms", "p99_ms", "errors"],
    "s7": ["bytes_per_s", "errors"],
    "s8_idle_50k": ["tunnels", "established", "rss_after_kib", "kib_per_tunnel", "workers"],
    "s8": ["kib_per_tunnel", "established"],
    "s10": ["kib_per_connection", "open_connections"],
    "s11_small": ["rps", "p50_ms", "p99_ms", "cpu_s_per_100k", "errors"],
    "s11_handshake": ["rate", "p50_ms", "p99_ms", "cpu_us_per_cycle", "errors"],
    "s12": ["rps", "p99_ms", "cpu_us_per_request", "faults_per_request", "errors"],
    "s13": ["rps", "p99_ms", "cpu_s_per_100k", "errors"],
    "s14": ["rps", "p50_ms", "p99_ms", "cpu_s_per_100k", "errors"],
    "s15": ["rps", "p50_ms", "p99_ms", "cpu_s_per_100k", "errors"],
    "s16": ["max_over_min", "established", "tunnels"],
}

CHART = [  # (scenario, metric, label) for the relative-throughput panel
    ("s1_small_c50", "rps", "small c50"), ("s1_small_c200", "rps", "small c200"),
    ("s2_16k", "rps", "16 KiB"), ("s2_1m", "rps", "1 MiB"), ("s3_close", "rps", "conn close"),
    ("s4_post64k", "rps", "POST 64K"), ("s5_handshake", "rate", "WS handshake"),
    ("s6_echo", "rate", "WS echo"), ("s7_bulk_1", "bytes_per_s", "WS bulk x1"),
    ("s7_bulk_100", "bytes_per_s", "WS bulk x100"),
    ("s11_small_c200", "rps", "all cores: small c200"),
    ("s11_handshake", "rate", "all cores: WS handshake"),
]


def shown_metrics(sid):
    for prefix in sorted(SHOWN, key=len, reverse=True):
        if sid.startswith(prefix):
            return SHOWN[prefix]
    return ["errors"]


def summarise(raw):
    """{scenario: {metric: {system: {median, min, max, n}}}}"""
    out = {}
    for sc in raw["scenarios"]:
        per = {}
        for metric in shown_metrics(sc["id"]):
            row = {}
            for system, runs in sc["runs"].items():
                values = [r[metric] for r in runs if isinstance(r.get(metric), (int, float))]
                if values:
                    row[system] = {"median": statistics.median(values), "min": min(values),
                                   "max": max(values), "n": len(values)}
            if row:
                per[metric] = row
        skipped = [r["skipped"] for runs in sc["runs"].values() for r in runs if "skipped" in r]
        if skipped:
            per["skipped"] = skipped[0]
        out[sc["id"]] = per
    return out


def median(summary, sid, metric, system):
    try:
        return summary[sid][metric][system]["median"]
    except KeyError:
        return None


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def targets(summary):
    """The issue's targets, each met / missed / not measured, with the figures."""
    rows = []

    def add(name, value, goal, met, detail):
        rows.append({"target": name, "value": value, "goal": goal,
                     "status": "not measured" if met is None else ("met" if met else "missed"),
                     "detail": detail})

    for sid in ["s1_small_c50", "s1_small_c200", "s2_16k", "s2_1m", "s3_close", "s4_post64k"]:
        h = median(summary, sid, "rps", "hoplite")
        d = median(summary, sid, "rps", "direct")
        for other, goal in (("haproxy", 1.25), ("nginx", 1.5)):
            x = median(summary, sid, "rps", other)
            r = ratio(h, x)
            detail = f"hoplite {fmt(h, 0)} vs {other} {fmt(x, 0)} req/s"
            # Where both proxies already reach the rate of the backend reached directly, the
            # backend rather than either proxy sets the pace: say so next to the figure.
            if d and h is not None and x is not None and min(h, x) >= 0.9 * d:
                detail += f"; both at least 0.9x direct ({fmt(d, 0)} req/s)"
            add(f"{sid} requests/s hoplite/{other}", r, f">= {goal}",
                None if r is None else r >= goal, detail)
    # Scenario 11 repeats scenario 1 with every proxy on all cores: the same goals apply, "at
    # equal worker count". Listed only when it was measured.
    if "s11_small_c200" in summary:
        sid = "s11_small_c200"
        h = median(summary, sid, "rps", "hoplite")
        for other, goal in (("haproxy", 1.25), ("nginx", 1.5)):
            x = median(summary, sid, "rps", other)
            r = ratio(h, x)
            add(f"{sid} (all cores) requests/s hoplite/{other}", r, f">= {goal}",
                None if r is None else r >= goal,
                f"hoplite {fmt(h, 0)} vs {other} {fmt(x, 0)} req/s")
    for sid in ["s1_small_c50", "s1_small_c200", "s11_small_c200"]:
        if sid not in summary:
            continue
        h = median(summary, sid, "p99_ms", "hoplite")
        x = median(summary, sid, "p99_ms", "haproxy")
        cores = " (all cores)" if sid.startswith("s11") else ""
        add(f"{sid}{cores} p99 hoplite vs haproxy", ratio(h, x), "<= 1.0 (ratio of p99s)",
            None if h is None or x is None else h <= x,
            f"hoplite {fmt(h, 3)} ms vs haproxy {fmt(x, 3)} ms")
    h = median(summary, "s5_handshake", "rate", "hoplite")
    x = median(summary, "s5_handshake", "rate", "haproxy")
    add("s5 handshakes/s hoplite/haproxy", ratio(h, x), ">= 1.0", None if ratio(h, x) is None
        else h >= x, f"hoplite {fmt(h, 0)} vs haproxy {fmt(x, 0)} /s")
    if "s11_handshake" in summary:
        h = median(summary, "s11_handshake", "rate", "hoplite")
        x = median(summary, "s11_handshake", "rate", "haproxy")
        add("s11 (all cores) handshakes/s hoplite/haproxy", ratio(h, x), ">= 1.0",
            None if ratio(h, x) is None else h >= x,
            f"hoplite {fmt(h, 0)} vs haproxy {fmt(x, 0)} /s")
    sweep_targets(summary, add)
    logging_targets(summary, add)
    metrics_targets(summary, add)
    balance_targets(summary, add)
    spread_targets(summary, add)
    for sid in ["s7_bulk_1", "s7_bulk_100"]:
        h = median(summary, sid, "bytes_per_s", "hoplite")
        d = median(summary, sid, "bytes_per_s", "direct")
        r = ratio(h, d)
        add(f"{sid} tunnel throughput hoplite/direct", r, ">= 0.9", None if r is None else r >= 0.9,
            f"hoplite {fmt_mib(h)} vs direct {fmt_mib(d)} MiB/s")
    for sid in sorted(s for s in summary if s.startswith("s8_idle_") and "50k" not in s):
        h = median(summary, sid, "kib_per_tunnel", "hoplite")
        n = median(summary, sid, "established", "hoplite")
        add(f"{sid} RSS per idle tunnel (hoplite)", h, "<= 2 KiB", None if h is None else h <= 2.0,
            f"{fmt(h, 2)} KiB per tunnel with {fmt(n, 0)} tunnels")
    big = summary.get("s8_idle_50k_hoplite", {})
    if "skipped" in big:
        add("50,000 idle tunnels held (hoplite)", None, "50000", None, big["skipped"])
    else:
        n = median(summary, "s8_idle_50k_hoplite", "established", "hoplite")
        workers = median(summary, "s8_idle_50k_hoplite", "workers", "hoplite")
        per = median(summary, "s8_idle_50k_hoplite", "kib_per_tunnel", "hoplite")
        asked = median(summary, "s8_idle_50k_hoplite", "tunnels", "hoplite")
        how = f" over {fmt(workers, 0)} workers" if workers and workers > 1 else ""
        # A run that asked for fewer (the quick mode's 20,000) says nothing about 50,000.
        measured = n is not None and (asked is None or asked >= 50000)
        add("50,000 idle tunnels held (hoplite)", n, "50000", n >= 50000 if measured else None,
            f"{fmt(n, 0)} of {fmt(asked, 0)} asked for established{how}; RSS "
            f"{fmt_mib(median(summary, 's8_idle_50k_hoplite', 'rss_after_kib', 'hoplite'), 1024)} "
            f"MiB, {fmt(per, 2)} KiB per tunnel")
    return rows


def sweep_ids(summary):
    """Scenario 12's keep-alive points, by connection count."""
    points = [(int(s.rsplit("_c", 1)[1]), s) for s in summary if s.startswith("s12_sweep_c")]
    return sorted(points)


def sweep_targets(summary, add):
    """The performance issue's targets on scenario 12 (nginx as the origin), and its handshake
    and all-cores rows; listed only when scenario 12 was measured."""
    points = sweep_ids(summary)
    if not points:
        return
    base = median(summary, points[0][1], "cpu_us_per_request", "hoplite")
    for conns, sid in points:
        h = median(summary, sid, "cpu_us_per_request", "hoplite")
        for other in ("nginx", "haproxy"):
            x = median(summary, sid, "cpu_us_per_request", other)
            r = ratio(h, x)
            add(f"{sid} CPU per request hoplite/{other}", r, "<= 0.85",
                None if r is None else r <= 0.85, f"hoplite {fmt(h, 1)} vs {other} {fmt(x, 1)} µs")
        if conns in (200, 1000):
            f = median(summary, sid, "faults_per_request", "hoplite")
            add(f"{sid} page faults per request (hoplite)", f, "< 0.01",
                None if f is None else f < 0.01, f"{fmt(f, 4)} per request")
            r = ratio(h, base)
            add(f"{sid} CPU per request against {points[0][0]} connections (hoplite)", r,
                "<= 1.10", None if r is None else r <= 1.10,
                f"{fmt(h, 1)} vs {fmt(base, 1)} µs")
        if conns == 200:
            for other in ("nginx", "haproxy"):
                h_rps = median(summary, sid, "rps", "hoplite")
                x_rps = median(summary, sid, "rps", other)
                r = ratio(h_rps, x_rps)
                add(f"{sid} requests/s hoplite/{other}", r, ">= 1.1",
                    None if r is None else r >= 1.1,
                    f"hoplite {fmt(h_rps, 0)} vs {other} {fmt(x_rps, 0)} req/s")
    h = median(summary, "s12_close", "cpu_us_per_request", "hoplite")
    x = median(summary, "s12_close", "cpu_us_per_request", "nginx")
    add("s12_close CPU per request hoplite/nginx", ratio(h, x), "<= 1.0",
        None if ratio(h, x) is None else h <= x, f"hoplite {fmt(h, 1)} vs nginx {fmt(x, 1)} µs")
    h = median(summary, "s5_handshake", "rate", "hoplite")
    x = median(summary, "s5_handshake", "rate", "haproxy")
    add("s5 handshakes/s hoplite/haproxy (performance issue)", ratio(h, x), ">= 1.05",
        None if ratio(h, x) is None else h >= 1.05 * x, f"hoplite {fmt(h, 0)} vs haproxy {fmt(x, 0)} /s")
    for other in ("nginx", "haproxy"):
        h = median(summary, "s11_small_c200", "rps", "hoplite")
        x = median(summary, "s11_small_c200", "rps", other)
        add(f"s11_small_c200 (all cores) requests/s hoplite/{other} (performance issue)",
            ratio(h, x), ">= 1.0", None if ratio(h, x) is None else h >= x,
            f"hoplite {fmt(h, 0)} vs {other} {fmt(x, 0)} req/s")


def logging_targets(summary, add):
    """The observability issue's cost targets: hoplite with its access log on keeps 0.97x of
    its own requests/s without (scenario 13 against scenario 1 of the same run), and does at
    least as well as the two peers with theirs on."""
    if "s13_logging_c50" not in summary:
        return
    on = median(summary, "s13_logging_c50", "rps", "hoplite")
    off = median(summary, "s1_small_c50", "rps", "hoplite")
    add("s13 requests/s, hoplite logging on / off (s1_small_c50)", ratio(on, off), ">= 0.97",
        None if ratio(on, off) is None else on >= 0.97 * off,
        f"hoplite {fmt(on, 0)} with the access log, {fmt(off, 0)} without")
    for other in ("nginx", "haproxy"):
        x = median(summary, "s13_logging_c50", "rps", other)
        add(f"s13 requests/s with logging, hoplite/{other}", ratio(on, x), ">= 1.0",
            None if ratio(on, x) is None else on >= x,
            f"hoplite {fmt(on, 0)} vs {other} {fmt(x, 0)} req/s")


def metrics_targets(summary, add):
    """The observability issue's metrics target: recording the metrics (and a scrape every
    second) costs at most 2% in scenario 1 at 50 connections, in requests/s and in CPU per
    request (scenario 14: the shipped build against one with the metrics compiled out)."""
    if "s14_metrics_on_c50" not in summary or "s14_metrics_off_c50" not in summary:
        return
    on = median(summary, "s14_metrics_on_c50", "rps", "hoplite")
    off = median(summary, "s14_metrics_off_c50", "rps", "hoplite")
    add("s14 requests/s, metrics on / compiled out", ratio(on, off), ">= 0.98",
        None if ratio(on, off) is None else on >= 0.98 * off,
        f"hoplite {fmt(on, 0)} with metrics, {fmt(off, 0)} without")
    con = median(summary, "s14_metrics_on_c50", "cpu_s_per_100k", "hoplite")
    coff = median(summary, "s14_metrics_off_c50", "cpu_s_per_100k", "hoplite")
    add("s14 CPU per request, metrics on / compiled out", ratio(con, coff), "<= 1.02",
        None if ratio(con, coff) is None else con <= 1.02 * coff,
        f"{fmt(con, 3)} vs {fmt(coff, 3)} CPU s per 100k requests")


def balance_targets(summary, add):
    """The upstreams issue's target: least_connections and hash cost at most 2% of round_robin's
    requests/s in scenario 1 at 50 connections (scenario 15, one hoplite per balance)."""
    rr = median(summary, "s15_round_robin_c50", "rps", "hoplite")
    for key, name in (("s15_least_connections_c50", "least_connections"), ("s15_hash_c50", "hash")):
        if key not in summary or rr is None:
            continue
        x = median(summary, key, "rps", "hoplite")
        add(f"s15 requests/s, {name} / round_robin", ratio(x, rr), ">= 0.98",
            None if ratio(x, rr) is None else x >= 0.98 * rr,
            f"hoplite {fmt(x, 0)} with {name}, {fmt(rr, 0)} round robin")


def spread_targets(summary, add):
    """The upstreams issue's tunnel spread: with least connections, the busiest of four backends
    holds at most 1.1 times the tunnels of the idlest, and hoplite's ratio is no worse than
    nginx's least_conn or HAProxy's leastconn (scenario 16)."""
    if "s16_spread" not in summary:
        return
    h = median(summary, "s16_spread", "max_over_min", "hoplite")
    add("s16 tunnel spread, busiest / idlest backend (hoplite)", h, "<= 1.1",
        None if h is None else h <= 1.1, f"hoplite {fmt(h, 3)}")
    for other in ("nginx", "haproxy"):
        x = median(summary, "s16_spread", "max_over_min", other)
        add(f"s16 tunnel spread hoplite vs {other}", ratio(h, x), "<= 1.0 (ratio of ratios)",
            None if ratio(h, x) is None else h <= x, f"hoplite {fmt(h, 3)} vs {other} {fmt(x, 3)}")


def sweep_chart(summary, out_png, title):
    """Scenario 12 as lines over the connection count: CPU per request and requests/s, one line
    per system, so that a cost growing with connections shows as a rising line."""
    points = sweep_ids(summary)
    if not points:
        return False
    base = os.path.splitext(out_png)[0]
    dat = base + ".sweep.dat"
    with open(dat, "w") as f:
        for conns, sid in points:
            row = [str(conns)]
            for metric in ("cpu_us_per_request", "rps"):
                for s in SYSTEMS:
                    v = median(summary, sid, metric, s)
                    row.append("NaN" if v is None else f"{v:.4f}")
            f.write("\t".join(row) + "\n")
    n = len(SYSTEMS)
    names = {"direct": "direct (origin)", "hoplite": "hoplite", "nginx": "nginx",
             "haproxy": "HAProxy"}
    # One line type per system, the same in both panels.
    cpu_plot = ", ".join(f"'{dat}' using 1:{2 + i} with linespoints lt {i + 1} lw 2 "
                         f"title '{names[s]}'" for i, s in enumerate(SYSTEMS) if s != "direct")
    rps_plot = ", ".join(f"'{dat}' using 1:{2 + n + i} with linespoints lt {i + 1} lw 2 "
                         f"title '{names[s]}'" for i, s in enumerate(SYSTEMS))
    script = f"""
set terminal pngcairo size 1400,800 font "sans,10"
set output '{out_png}'
set multiplot layout 1,2 title "{title}"
set logscale x
set xlabel "keep-alive connections"
set grid
set key top left
set yrange [0:*]
set ylabel "proxy CPU per request, µs (lower is better)"
plot {cpu_plot}
set ylabel "requests/s (higher is better)"
set key bottom left
plot {rps_plot}
unset multiplot
"""
    run_gnuplot(script, base + ".sweep.gp", [dat], "the sweep chart")
    return True


def fmt(value, decimals):
    if value is None:
        return "–"
    return f"{value:,.{decimals}f}"


def fmt_mib(value, scale=1048576):
    return fmt(None if value is None else value / scale, 1)


def cell(stat, metric):
    _, _, scale, _, dec = METRICS[metric]
    m = fmt(stat["median"] * scale, dec)
    if stat["n"] > 1 and stat["min"] != stat["max"]:
        return f"{m} ({fmt(stat['min'] * scale, dec)}–{fmt(stat['max'] * scale, dec)})"
    return m


def markdown(raw, summary, target_rows, chart_name, before=None, sweep_chart_name=None):
    meta = raw["meta"]
    mach = meta["machine"]
    lines = []
    busy = meta.get("foreign_cpu_share", 0)
    lines.append(f"# hoplite benchmark, {meta['date']}, commit {meta['commit']}"
                 f"{' (with uncommitted changes)' if meta.get('dirty') else ''}")
    lines.append("")
    if busy >= 0.05:
        lines.append(f"**Taken on a busy machine**: while this ran, other processes used "
                     f"{busy * 100:.0f}% of the machine's CPU time (load average "
                     f"{' '.join(meta.get('loadavg_start', []))} at the start). Ratios measured "
                     f"interleaved are more trustworthy than the absolute figures.")
        lines.append("")
    if meta.get("note"):
        lines.append(f"Note: {meta['note']}")
        lines.append("")
    lines.append(f"Mode **{meta['mode']}**: {meta['reps']} repetition(s) per scenario, interleaved "
                 f"(direct, hoplite, nginx, HAProxy, then again); HTTP runs {meta['http_seconds']} s, "
                 f"WebSocket runs {meta['ws_seconds']} s after {meta['ws_warmup_seconds']} s of "
                 f"warm-up. Cells are *median (min–max)*. Whole run: {meta.get('elapsed_seconds')} s.")
    lines.append("")
    lines.append("| machine | |")
    lines.append("|---|---|")
    for key in ["cpu", "cores", "memory_gib", "kernel", "nofile", "hoplite", "nginx", "haproxy",
                "wrk", "libuv", "compiler", "gnuplot"]:
        lines.append(f"| {key} | {mach.get(key)} |")
    lines.append("")
    lines.append("All proxies run one worker/thread, on loopback, in front of the same demo_backend "
                 "process; wrk runs one thread. Ratios are hoplite's median divided by the other's "
                 "(for latency, CPU and memory lower is better, so a ratio below 1 favours hoplite). "
                 f"There are two exceptions. Scenario 11 gives every proxy one worker per core "
                 f"({mach.get('cores')} here: hoplite `workers`, nginx `worker_processes`, HAProxy "
                 "`nbthread`), with the load generator and the backend on the same cores. "
                 "In hoplite's 50,000-tunnel run, where one process may not open "
                 "the 100,000 sockets it needs (the open-file limit), hoplite runs as many workers "
                 "as the limit requires, and its RSS is the sum over all its processes.")
    lines.append("")
    lines.append("## Targets")
    lines.append("")
    lines.append("| target | goal | figure | status |")
    lines.append("|---|---|---|---|")
    for t in target_rows:
        v = t["value"]
        v = "–" if v is None else (f"{v:,.0f}" if v >= 1000 else f"{v:.2f}")
        lines.append(f"| {t['target']} | {t['goal']} | {v} ({t['detail']}) | **{t['status']}** |")
    lines.append("")
    lines.append("## Figures")
    titles = {sc["id"]: sc["title"] for sc in raw["scenarios"]}
    for sid, per in summary.items():
        lines.append("")
        lines.append(f"### {titles.get(sid, sid)}")
        lines.append("")
        if "skipped" in per:
            lines.append(f"Not measured: {per['skipped']}.")
            continue
        present = [s for s in SYSTEMS if any(s in row for m, row in per.items())]
        lines.append("| metric | " + " | ".join(present) + " | hoplite/HAProxy | hoplite/nginx |")
        lines.append("|---|" + "---|" * (len(present) + 2))
        for metric, row in per.items():
            label, unit, scale, _, _ = METRICS[metric]
            cells = [cell(row[s], metric) if s in row else "–" for s in present]
            h = row.get("hoplite", {}).get("median")
            rh = ratio(h, row.get("haproxy", {}).get("median"))
            rn = ratio(h, row.get("nginx", {}).get("median"))
            name = f"{label} ({unit})" if unit else label
            lines.append(f"| {name} | " + " | ".join(cells) +
                         f" | {fmt(rh, 2)} | {fmt(rn, 2)} |")
        extra = [r for runs in next(sc for sc in raw["scenarios"] if sc["id"] == sid)["runs"].values()
                 for r in runs if "tunnels" in r and r.get("tunnels") != r.get("tunnels_wanted", r["tunnels"])]
        if extra:
            lines.append("")
            lines.append(f"Measured with {extra[0]['tunnels']} tunnels instead of "
                         f"{extra[0]['tunnels_wanted']}: a proxy holds two sockets per tunnel and "
                         f"this machine's open-file limit is {mach.get('nofile')}.")
    if before:
        lines.append("")
        lines.append("## Before / after (hoplite)")
        lines.append("")
        lines.append(f"Before: commit {before['meta']['commit']} ({before['meta']['date']}).")
        lines.append("")
        lines.append("| scenario | metric | before | after |")
        lines.append("|---|---|---|---|")
        bsum = summarise(before)
        for sid, per in summary.items():
            for metric in per:
                if metric in ("errors", "skipped"):
                    continue
                a = median(summary, sid, metric, "hoplite")
                b = median(bsum, sid, metric, "hoplite")
                if a is None or b is None:
                    continue
                _, unit, scale, _, dec = METRICS[metric]
                lines.append(f"| {sid} | {metric} | {fmt(b * scale, dec)} | {fmt(a * scale, dec)} |")
    lines.append("")
    lines.append(f"![main figures]({chart_name})")
    if sweep_chart_name:
        lines.append("")
        lines.append(f"![scenario 12: cost against connections]({sweep_chart_name})")
    lines.append("")
    lines.append("Raw per-run figures are in the JSON file next to this one.")
    return "\n".join(lines) + "\n"


def chart(summary, out_png, title):
    """Two panels: throughput relative to the direct connection, and RSS per idle tunnel."""
    base = os.path.splitext(out_png)[0]
    dat1 = base + ".rel.dat"
    with open(dat1, "w") as f:
        for sid, metric, label in CHART:
            d = median(summary, sid, metric, "direct")
            vals = []
            for s in SYSTEMS:
                r = ratio(median(summary, sid, metric, s), d)
                vals.append("0" if r is None else f"{r:.4f}")  # missing: an empty bar
            f.write(f"\"{label}\"\t" + "\t".join(vals) + "\n")
    dat2 = base + ".mem.dat"
    with open(dat2, "w") as f:
        for sid in sorted(s for s in summary if s.startswith("s8_idle_") and "50k" not in s):
            vals = [median(summary, sid, "kib_per_tunnel", s) for s in SYSTEMS]
            f.write(f"\"{sid.rsplit('_', 1)[1]} tunnels\"\t" +
                    "\t".join("0" if v is None else f"{v:.3f}" for v in vals) + "\n")
    script = f"""
set terminal pngcairo size 1400,900 font "sans,10"
set output '{out_png}'
set multiplot layout 2,1 title "{title}"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top right
set yrange [0:*]
set ylabel "relative to direct (higher is better)"
set xtics rotate by -20
set rmargin 12
plot '{dat1}' using 2:xtic(1) title 'direct', '' using 3 title 'hoplite', '' using 4 title 'nginx', '' using 5 title 'HAProxy'
set ylabel "KiB RSS per idle tunnel (lower is better)"
set xtics norotate
plot '{dat2}' using 2:xtic(1) title 'direct (backend)', '' using 3 title 'hoplite', '' using 4 title 'nginx', '' using 5 title 'HAProxy'
unset multiplot
"""
    run_gnuplot(script, base + ".gp", [dat1, dat2], "the main chart")


def run_gnuplot(script, gp, data_files, what):
    """Runs `script` (written to `gp`), says on stderr if gnuplot failed, and removes the script
    and its data files."""
    with open(gp, "w") as f:
        f.write(script)
    res = subprocess.run(["gnuplot", gp], capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        print(f"report: gnuplot failed on {what}: {res.stderr[:500]}", file=sys.stderr)
    for p in (*data_files, gp):
        os.remove(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("raw")
    ap.add_argument("out_dir")
    ap.add_argument("--stem")
    ap.add_argument("--before", help="an earlier results JSON to compare hoplite against")
    args = ap.parse_args()
    with open(args.raw) as f:
        raw = json.load(f)
    before = None
    if args.before:
        with open(args.before) as f:
            before = json.load(f)
            before = before.get("raw", before)
    meta = raw["meta"]
    stem = args.stem or f"{meta['date']}-{meta['commit']}"
    os.makedirs(args.out_dir, exist_ok=True)
    summary = summarise(raw)
    target_rows = targets(summary)
    png = os.path.join(args.out_dir, stem + ".png")
    chart(summary, png, f"hoplite vs nginx vs HAProxy, one worker each, all cores in scenario 11 ({meta['date']}, "
                        f"{meta['commit']}, {meta['mode']} mode)")
    sweep_png = os.path.join(args.out_dir, stem + "-sweep.png")
    swept = sweep_chart(summary, sweep_png, f"scenario 12, nginx as the origin, one worker each "
                                            f"({meta['date']}, {meta['commit']}, {meta['mode']} mode)")
    with open(os.path.join(args.out_dir, stem + ".md"), "w") as f:
        f.write(markdown(raw, summary, target_rows, stem + ".png", before,
                         stem + "-sweep.png" if swept else None))
    with open(os.path.join(args.out_dir, stem + ".json"), "w") as f:
        json.dump({"meta": meta, "summary": summary, "targets": target_rows, "raw": raw}, f,
                  indent=1)
    print(os.path.join(args.out_dir, stem + ".md"))


if __name__ == "__main__":
    main()
