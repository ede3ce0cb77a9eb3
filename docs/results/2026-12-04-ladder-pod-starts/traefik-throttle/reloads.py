# Traefik's reloads during a roll, reconstructed from a live run through it: every request
# record names the pod that answered it (x-fleetsim-pod), so the set of pods Traefik routes to
# changes only at a reload. For each pod: its first and last request (by actual send); for each
# EndpointSlice change of the roll (slices.ndjson): when it was first reflected (the first
# request to a newly ready pod, or the last request to a removed one, bracketed by the next
# request to any other pod). Prints the first reload's delay after the roll's first slice change
# (a reload no earlier one throttled: the baseline had no change in the 2 s before it) and the
# gaps between the reloads. Usage: python3 reloads.py RUN_DIR
import gzip, json, os, sys

run = sys.argv[1]
def opener(p):
    return gzip.open(p + '.gz', 'rt') if os.path.exists(p + '.gz') else open(p)
reqs = []
for style in ['keepalive', 'new']:
    p = f'{run}/records-{style}.ndjson'
    if not (os.path.exists(p) or os.path.exists(p + '.gz')):
        continue
    f = opener(p)
    o = json.loads(f.readline())['origin_epoch_ns']
    for l in f:
        if l.startswith('{"t":"r"'):
            d = json.loads(l)
            if 'p' in d:
                reqs.append((o + d['as'], d['p']))
reqs.sort()
slices = [json.loads(l) for l in open(f'{run}/slices.ndjson')]
pods = {}
for l in open(f'{run}/pods.ndjson'):
    e = json.loads(l)
    pods.setdefault(e['name'], {})
    if e['ready'] and 'ready' not in pods[e['name']]:
        pods[e['name']]['ready'] = e['epoch_ns']
first, last = {}, {}
for t, p in reqs:
    first.setdefault(p, t)
    last[p] = t
# The roll's first slice change: the first MODIFIED after the baseline's ADDED.
roll = [s['epoch_ns'] for s in slices if s['kind'] == 'MODIFIED']
t0 = roll[0]
# Reload instants: a pod's first request (it was added) and, for a pod that stopped being
# routed to, the first request to another pod after its last one (it was removed).
marks = []
for p in first:
    if first[p] > t0 - 1e9:
        marks.append((first[p], f'+{p[-5:]}'))
    if last[p] < reqs[-1][0] - 5e9:
        nxt = next(t for t, q in reqs if t > last[p])
        marks.append((nxt, f'-{p[-5:]} (last {(last[p]-t0)/1e6:.0f} ms)'))
marks.sort()
# Group marks closer than 100 ms (one reload seen through 10 ms request spacing).
groups = []
for t, m in marks:
    if groups and t - groups[-1][0] < 100e6:
        groups[-1][1].append(m)
    else:
        groups.append((t, [m]))
print(f'{run}: {len(reqs)} requests naming their pod; roll\'s first slice change at 0 ms')
prev = None
for t, ms in groups:
    gap = '' if prev is None else f', {(t-prev)/1e6:.0f} ms after the previous'
    print(f'  reload seen at {(t-t0)/1e6:7.0f} ms{gap}: {" ".join(ms)}')
    prev = t
