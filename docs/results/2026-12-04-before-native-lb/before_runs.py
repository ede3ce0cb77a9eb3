# Every `before` run through Traefik in the committed results (the default mode, then this
# folder's native mode): per run and generator, failed requests and the 5xx among them.
# Usage, from the repository root: python3 docs/results/2026-12-04-before-native-lb/before_runs.py
import glob, json

FOLDERS = ['2026-12-03-cluster-ingress', '2026-12-03-jobs-ladder', '2026-12-04-ladder-on-schedule',
           '2026-12-04-ladder-pod-starts', '2026-12-04-before-native-lb']
runs = 0
for folder in FOLDERS:
    pattern = 'observed/run-*' if folder.endswith('native-lb') else 'observed/**/before*/run-*'
    for run in sorted(glob.glob(f'docs/results/{folder}/{pattern}', recursive=True)):
        cells = []
        for style in ['keepalive', 'new']:
            s = json.load(open(f'{run}/{style}/summary.json'))
            r = s['requests']
            xx = sum(r.get(k, 0) for k in ['http_502', 'http_503', 'http_504', 'http_5xx_other'])
            cells.append(f'{style} failed {s["failed"]} (5xx {xx})')
        runs += 1
        print(f'{run}: ' + ', '.join(cells))
print(f'{runs} runs')
