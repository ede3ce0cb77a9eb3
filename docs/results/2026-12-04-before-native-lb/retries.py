# Per old pod of a `before-native-lb` run: the last request it answered after its deletion (the
# pinned upstream connections keep it until SIGKILL, 20 s after deletion), and the requests sent
# in the 120 ms before its SIGKILL that took more than 60 ms (the service works 50 ms) and were
# answered by another pod: a GET cut by the kill and sent again by Traefik's transport.
# Usage: python3 retries.py observed/run-N
import gzip, json, sys
run = sys.argv[1]
pods = {}
for l in open(f'{run}/pods.ndjson'):
    e = json.loads(l)
    p = pods.setdefault(e['name'], {})
    if (e['terminating'] or e['kind'] == 'DELETED') and 'del' not in p:
        p['del'] = e['epoch_ns']
reqs = []
for st in ['keepalive', 'new']:
    f = gzip.open(f'{run}/records-{st}.ndjson.gz', 'rt')
    o = json.loads(f.readline())['origin_epoch_ns']
    for l in f:
        if l.startswith('{"t":"r"'):
            d = json.loads(l)
            reqs.append((o + d['as'], (d['e'] - d['as']) / 1e6, d.get('p', '-')[-5:], d['o']))
last = {}
for t, lat, p, o in reqs:
    last[p] = max(last.get(p, 0), t)
print(f"{run}: {sum(1 for r in reqs if r[3] != 'ok')} failed of {len(reqs)}")
for n, p in pods.items():
    if 'del' not in p or last.get(n[-5:], 0) < p['del']:
        continue
    kill = p['del'] + 20e9
    slow = [(round((t - kill) / 1e6), round(lat, 1), pp) for t, lat, pp, o in reqs
            if -120e6 < t - kill < 30e6 and lat > 60 and pp != n[-5:]]
    print(f"  {n}: last request {(last[n[-5:]] - p['del']) / 1e9:.3f} s after deletion; "
          f"sent <= 120 ms before its SIGKILL, over 60 ms, answered elsewhere (ms to kill, ms, pod): {slow}")
