# Predicted (runs/<style>/summary.json: mean and 95% interval over the seeds) beside live
# (../after-long-budget-streams-3min/run-1: each style's summary.json, the drops in sse.csv) for
# the streams held three minutes before a 600 s budget's roll. Usage (from this folder, after
# predict.sh): python3 table.py
import csv, json
from collections import Counter

def stat(x, f='.1f'):
    return f"{x['mean']:{f}} [{x['lo']:{f}}, {x['hi']:{f}}]"

def inside(v, x):
    return 'inside' if x['lo'] - 1e-9 <= v <= x['hi'] + 1e-9 else 'outside'

live = '../after-long-budget-streams-3min/run-1'
print('| generator | | window (s) | sent | ok | reset | shed |')
print('|---|---|---|---|---|---|---|')
for st in ['keepalive', 'new']:
    p = json.load(open(f'runs/{st}/summary.json'))
    r, w = p['requests'], p['window_s']
    print(f"| {st} | predicted, {p['seeds']} seeds | {stat(w[0])} - {stat(w[1])} | {stat(r['sent'])} "
          f"| {stat(r['ok'])} | {stat(r['reset'])} | {stat(r['shed'])} |")
    l = json.load(open(f'{live}/{st}/summary.json'))
    lr, lw = l['requests'], l['window_s']
    print(f"| {st} | live | {lw[0]:.1f} - {lw[1]:.1f} ({inside(lw[1], w[1])}) | "
          + ' | '.join(f"{lr[k]} ({inside(lr[k], r[k])})" for k in ['sent', 'ok', 'reset', 'shed']) + ' |')
print()
p = json.load(open('runs/keepalive/summary.json'))['streams']
d = p['drop_times']
l = json.load(open(f'{live}/keepalive/summary.json'))['live']['sse']
rows = [r for r in csv.DictReader(open(f'{live}/sse.csv')) if r['event'] == 'drop']
t = [float(r['at_s']) for r in rows]
peak = max(Counter(int(x * 10) for x in t).values()) if t else 0
byr = l['drops_by_reason']
print('| streams | drops | eof | reset | failed attempts | never back | first drop (s) | last drop (s) | peak drops per 100 ms |')
print('|---|---|---|---|---|---|---|---|---|')
print(f"| predicted | {stat(p['drops'])} | {stat(p['drops_by_reason']['eof'])} | {stat(p['drops_by_reason']['reset'])} "
      f"| {stat(p['failed_attempts'])} | {stat(p['never_reconnected'])} | {stat(d['first_s'], '.2f')} "
      f"| {stat(d['last_s'], '.2f')} | {stat(d['peak_per_100ms'])} |")
checks = [(l['drops'], p['drops']), (byr.get('eof', 0), p['drops_by_reason']['eof']),
          (byr.get('reset', 0), p['drops_by_reason']['reset']), (l['failed_attempts'], p['failed_attempts']),
          (l['never_reconnected'], p['never_reconnected']), (min(t), d['first_s']), (max(t), d['last_s']),
          (peak, d['peak_per_100ms'])]
print('| live | ' + ' | '.join(f"{v:.2f} ({inside(v, x)})" if isinstance(v, float) else f"{v} ({inside(v, x)})"
                          for v, x in checks) + ' |')
