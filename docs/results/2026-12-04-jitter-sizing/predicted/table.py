# Jitter window against the bound stated in ../README.md before the runs (keep-alive style: 0
# failed requests in the deploy window, and the window's p99 at most 10% above the baseline's):
# predicted (runs/<scenario>: mean and 95% interval over the seeds; per seed in
# runs/<scenario>/peaks.csv: whether it meets the bound, and its peak of new connections per 10 ms
# in the window: median and min-max over the seeds)
# beside live (../jitter-<W>/run-*/keepalive, ../round-2/..., ../round-3/...). Usage (from this folder, after predict.sh):
# python3 table.py
import csv, glob, json, os, statistics

WINDOWS = ['0s', '250ms', '500ms', '1s', '2s', '3s']

def peak(rows, w0, w1):
    return max((n for t, n in rows if w0 <= t < w1), default=0)

def stat(x, nd=1):
    return f"{x['mean']:.{nd}f} [{x['lo']:.{nd}f}, {x['hi']:.{nd}f}]"

def within(p99, base):
    return p99 <= 1.1 * base

print('| jitter window | | runs | failed (keep-alive) | p99 window / baseline (ms) | within the bound | peak new connections per 10 ms | late sends in the window (keep-alive; new) |')
print('|---|---|---|---|---|---|---|---|')
for w in WINDOWS:
    d = f'runs/after-jitter-{w}'
    if os.path.exists(d):
        s = json.load(open(f'{d}/summary.json'))
        seeds = list(csv.DictReader(open(f'{d}/peaks.csv')))
        peaks = [int(r['peak_new_connections_per_10ms']) for r in seeds]
        # Per seed, as a live run is judged: 0 failed and p99 within 10% of its baseline.
        meet = sum(1 for r in seeds if int(r['failed']) == 0
                   and within(float(r['p99_window_ms']), float(r['p99_baseline_ms'])))
        lat = s['latency_ms']
        print(f"| {w} | predicted | {s['seeds']} seeds | {stat(s['failed'])} | {stat(lat['window']['p99'])} / "
              f"{stat(lat['baseline']['p99'])} | {meet} of {len(seeds)} seeds | {statistics.median(peaks):.0f} "
              f"[{min(peaks)}, {max(peaks)}] | - |")
    for run in sorted(glob.glob(f'../jitter-{w}/run-*')) + sorted(glob.glob(f'../round-2/jitter-{w}/run-*')) + sorted(glob.glob(f'../round-3/jitter-{w}/run-*')):
        k = json.load(open(f'{run}/keepalive/summary.json'))
        n = json.load(open(f'{run}/new/summary.json'))
        rows = [(float(r['t_s']), int(r['new_connections'])) for r in csv.DictReader(open(f'{run}/keepalive/reconnects.csv'))]
        lat = k['latency_ms']
        ok = k['failed'] == 0 and within(lat['window']['p99'], lat['baseline']['p99'])
        late = f"{k['live']['late_sends']['window']}; {n['live']['late_sends']['window']}" + ('' if n['live']['valid'] else ' (new: not valid)')
        valid = k['live']['valid']  # the bound is on the keep-alive style
        print(f"| {w} | live{'' if valid else ' (not valid)'} | {'round 3 (quiet)' if 'round-3' in run else 'round 2' if 'round-2' in run else 'round 1'} | {k['failed']} "
              f"| {lat['window']['p99']:.1f} / {lat['baseline']['p99']:.1f} | {'yes' if ok else 'no'} "
              f"| {peak(rows, *k['window_s'])} | {late} |")

# The rows of the plot (../jitter-sizing.svg, drawn by predict.sh with the plots crate's
# predicted_observed_rows example): per window, the peak of new connections per 10 ms (predicted:
# median and min-max over the seeds), the keep-alive failures and the window's p99 over the
# baseline's (predicted: mean and 95% interval), each live run as a point.
with open('plot-rows.csv', 'w') as out:
    out.write('scenario,figure,mean,lo,hi,observed\n')
    for w in WINDOWS:
        d = f'runs/after-jitter-{w}'
        seeds = list(csv.DictReader(open(f'{d}/peaks.csv')))
        s = json.load(open(f'{d}/summary.json'))
        runs = sorted(glob.glob(f'../jitter-{w}/run-*')) + sorted(glob.glob(f'../round-2/jitter-{w}/run-*')) + sorted(glob.glob(f'../round-3/jitter-{w}/run-*'))
        live = [json.load(open(f'{r}/keepalive/summary.json')) for r in runs]
        live_peaks = []
        for r, k in zip(runs, live):
            rows = [(float(x['t_s']), int(x['new_connections'])) for x in csv.DictReader(open(f'{r}/keepalive/reconnects.csv'))]
            live_peaks.append(peak(rows, *k['window_s']))
        peaks = [int(r['peak_new_connections_per_10ms']) for r in seeds]
        ratios = [float(r['p99_window_ms']) / float(r['p99_baseline_ms']) for r in seeds]
        obs = lambda xs: ';'.join(f'{x:g}' for x in xs)
        out.write(f"jitter {w},peak new connections per 10 ms,{statistics.median(peaks)},{min(peaks)},{max(peaks)},{obs(live_peaks)}\n")
        f = s['failed']
        out.write(f"jitter {w},failed keep-alive requests,{f['mean']},{f['lo']},{f['hi']},{obs(k['failed'] for k in live)}\n")
        out.write(f"jitter {w},p99 window / baseline (bound 1.1),{statistics.mean(ratios)},{min(ratios)},{max(ratios)},"
                  f"{obs(k['latency_ms']['window']['p99'] / k['latency_ms']['baseline']['p99'] for k in live)}\n")
