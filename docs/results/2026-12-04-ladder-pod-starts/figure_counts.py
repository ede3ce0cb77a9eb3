# Live runs inside their predicted interval, per figure, from `fleetsim validate`'s validation.json
# (runs left out of the score are not in it). Usage, from the repository root:
#   python3 docs/results/2026-12-04-ladder-pod-starts/figure_counts.py DIR/validation.json...
import json, sys

FIGURES = ['failed', 'requests.http_502', 'requests.timeout', 'latency_ms.window.p99',
           'longest_success_gap_ms']
for path in sys.argv[1:]:
    inside, runs = {}, {}
    for row in json.load(open(path)):
        f = row['figure']
        inside[f] = inside.get(f, 0) + row['inside']
        runs[f] = runs.get(f, 0) + len(row['observed'])
    print(path + ': ' + ', '.join(f'{f} {inside.get(f, 0)} of {runs.get(f, 0)}' for f in FIGURES))
