# The calibration run's keep-alive requests on reused connections, latency from the intended
# start, split three ways: the baseline, the deploy window while one of the new pods was
# starting (first watch event to Ready), the rest of the window. The table in README.md.
# Usage: python3 split.py RUN_DIR  (a `fleetsim live` run directory; records may be gzipped)
import gzip, json, os, sys

d = sys.argv[1]
def lines(name):
    p = os.path.join(d, name)
    return gzip.open(p + '.gz', 'rt') if not os.path.exists(p) else open(p)

s = json.load(open(os.path.join(d, 'summary.json')))
seen, ready = {}, {}
for l in open(os.path.join(d, 'pods.ndjson')):
    e = json.loads(l)
    seen.setdefault(e['name'], e['epoch_ns'])
    if e.get('ready'):
        ready.setdefault(e['name'], e['epoch_ns'])
origin, load_start, reqs = None, None, []
for l in lines('records-keepalive.ndjson'):
    r = json.loads(l)
    if r['t'] == 'h':
        origin = r['origin_epoch_ns']
    elif r['t'] == 'm' and 'load_start' in l and load_start is None:
        load_start = r['at']
    elif r['t'] == 'r' and r['o'] == 'ok' and r.get('ru'):
        reqs.append(r)
w0 = load_start + s['window_s'][0] * 1e9
w1 = load_start + s['window_s'][1] * 1e9
starting = [(seen[p] - origin, ready[p] - origin) for p in seen if p in ready and ready[p] > seen[p]]
groups = {'baseline': [], 'window, while a new pod started': [], 'window, the rest': []}
for r in reqs:
    lat = (r['e'] - r['is']) / 1e6
    if load_start <= r['is'] < w0:
        groups['baseline'].append(lat)
    elif w0 <= r['is'] < w1:
        key = 'window, while a new pod started' if any(a <= r['is'] < b for a, b in starting) else 'window, the rest'
        groups[key].append(lat)
for k, v in groups.items():
    v.sort()
    q = lambda x: v[min(len(v) - 1, int(len(v) * x))]
    print(f'{k}: {len(v)} requests, p50 {q(0.5):.1f} ms, p90 {q(0.9):.1f} ms, p99 {q(0.99):.1f} ms')
