# The predicted-vs-live table of README.md (as ../predicted-with-connect-cost/table.py: the
# jitter-off run only, with both costs (runs/), the connect cost alone and no cost beside it): the deploy window's peak new
# connections per 10 ms, its total new connections (the reconnect curve: connections opened by
# requests plus eager reopens), failed requests and p99. Predicted: over the seeds in
# runs/<ov>/by-seed (peak and total: median and min-max over seeds; failed and p99: the mean and
# 95% interval of `fleetsim run`'s summary.json). Live: each run's keepalive/ files.
# Usage (from this folder, after predict.sh's runs): python3 table.py
import csv, json, os, statistics

def window_sum_peak(rows, w0, w1):
    win = [n for t, n in rows if w0 <= t < w1]
    return sum(win), max(win) if win else 0

def sim_curve(d):
    rows = [(int(r['t_ms']) / 1000, int(r['new_connections'])) for r in csv.DictReader(open(d + '/reconnects.csv'))]
    (one,) = os.listdir(d + '/seeds')  # the single seed's own summary
    return rows, json.load(open(f'{d}/seeds/{one}'))

def live_curve(d):
    rows = [(float(r['t_s']), int(r['new_connections'])) for r in csv.DictReader(open(d + '/keepalive/reconnects.csv'))]
    return rows, json.load(open(d + '/keepalive/summary.json'))

def stat(x, nd=1):
    return f"{x['mean']:.{nd}f} [{x['lo']:.{nd}f}, {x['hi']:.{nd}f}]"

print('| run | window (s) | peak new connections per 10 ms | new connections in the window | failed (keep-alive) | p99 (ms) |')
print('|---|---|---|---|---|---|')
for ov, live_runs in [('after-no-surge', ['run-1'])]:
  for label, runs in [('with connect and close cost', 'runs'), ('connect cost only', '../predicted-with-connect-cost/runs'), ('no cost (../predicted)', '../predicted/runs')]:
    base = f'{runs}/{ov}/by-seed'
    peaks, totals, windows = [], [], []
    for seed in sorted(os.listdir(base), key=int):
        rows, s = sim_curve(f'{base}/{seed}')
        w0, w1 = s['window_s']
        t, p = window_sum_peak(rows, w0, w1)
        peaks.append(p); totals.append(t); windows.append(w1 - w0)
    agg = json.load(open(f'{runs}/{ov}/summary.json'))
    n = len(peaks)
    print(f"| {ov}: predicted {label}, {n} seeds | {statistics.median(windows):.2f} long (median) "
          f"| {statistics.median(peaks):g} (min {min(peaks)}, max {max(peaks)}) "
          f"| {statistics.median(totals):g} (min {min(totals)}, max {max(totals)}) "
          f"| {stat(agg['failed'])} | {stat(agg['latency_ms']['window']['p99'])} |")
  for r in live_runs:
        rows, s = live_curve(f'../{ov}/{r}')
        w0, w1 = s['window_s']
        t, p = window_sum_peak(rows, w0, w1)
        valid = 'valid' if s['live']['valid'] else 'invalid'
        print(f"| {ov}: live {r} ({valid}) | {w0:.2f}-{w1:.2f} ({w1 - w0:.2f} long) | {p} | {t} "
              f"| {s['failed']} | {s['latency_ms']['window']['p99']:.1f} |")
