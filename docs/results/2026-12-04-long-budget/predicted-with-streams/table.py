# Predicted with the 200 streams (runs/<overlay>-<style>/summary.json: mean and 95% interval over
# the seeds) beside live (../<run>/<style>/summary.json, and the drops in ../<run>/sse.csv):
# the deploy window and its requests, then the streams. Usage (from this folder, after
# predict.sh): python3 table.py
import csv, json
from collections import Counter

def stat(x, f='.1f'):
    return f"{x['mean']:{f}} [{x['lo']:{f}}, {x['hi']:{f}}]"

def inside(v, x):
    return 'inside' if x['lo'] - 1e-9 <= v <= x['hi'] + 1e-9 else 'outside'

live = {'after': '../after/run-1', 'after-long-budget': '../rerun/after-long-budget/run-1'}
print('Requests in the deploy window (verdict: live inside the predicted 95% interval or not)')
print()
print('| overlay, generator | | window (s) | sent | ok | reset | shed |')
print('|---|---|---|---|---|---|---|')
for ov in ['after', 'after-long-budget']:
    for st in ['keepalive', 'new']:
        p = json.load(open(f'runs/{ov}-{st}/summary.json'))
        r = p['requests']
        w = p['window_s']
        print(f"| {ov}, {st} | predicted, {p['seeds']} seeds | {stat(w[0])} - {stat(w[1])} "
              f"| {stat(r['sent'])} | {stat(r['ok'])} | {stat(r['reset'])} | {stat(r['shed'])} |")
        l = json.load(open(f'{live[ov]}/{st}/summary.json'))
        lr = l['requests']
        lw = l['window_s']
        print(f"| {ov}, {st} | live | {lw[0]:.1f} - {lw[1]:.1f} ({inside(lw[1], w[1])}) | "
              + ' | '.join(f"{lr[k]} ({inside(lr[k], r[k])})" for k in ['sent', 'ok', 'reset', 'shed'])
              + ' |')
print()
print('Streams (the keep-alive generator\'s 200; over the whole run; drops in 100 ms buckets from the origin)')
print()
print('| overlay | | drops | eof | reset | failed attempts | never back | first drop (s) | last drop (s) | peak drops per 100 ms | reconnect p50 / max (ms) |')
print('|---|---|---|---|---|---|---|---|---|---|---|')
for ov in ['after', 'after-long-budget']:
    p = json.load(open(f'runs/{ov}-keepalive/summary.json'))['streams']
    d = p['drop_times']
    print(f"| {ov} | predicted | {stat(p['drops'])} | {stat(p['drops_by_reason']['eof'])} "
          f"| {stat(p['drops_by_reason']['reset'])} | {stat(p['failed_attempts'])} "
          f"| {stat(p['never_reconnected'])} | {stat(d['first_s'], '.2f')} | {stat(d['last_s'], '.2f')} "
          f"| {stat(d['peak_per_100ms'])} | {stat(p['reconnect_ms_p50'])} / {stat(p['reconnect_ms_max'])} |")
    l = json.load(open(f'{live[ov]}/keepalive/summary.json'))['live']['sse']
    rows = [r for r in csv.DictReader(open(f'{live[ov]}/sse.csv')) if r['event'] == 'drop']
    t = [float(r['at_s']) for r in rows]
    peak = max(Counter(int(x * 10) for x in t).values()) if t else 0
    byr = l['drops_by_reason']
    checks = [(l['drops'], p['drops']), (byr.get('eof', 0), p['drops_by_reason']['eof']),
              (byr.get('reset', 0), p['drops_by_reason']['reset']),
              (l['failed_attempts'], p['failed_attempts']), (l['never_reconnected'], p['never_reconnected']),
              (min(t), d['first_s']), (max(t), d['last_s']), (peak, d['peak_per_100ms'])]
    cells = [f"{v:.2f} ({inside(v, x)})" if isinstance(v, float) else f"{v} ({inside(v, x)})" for v, x in checks]
    print(f"| {ov} | live | " + ' | '.join(cells)
          + f" | {l['reconnect_ms_p50']:.1f} / {l['reconnect_ms_max']:.1f} |")
