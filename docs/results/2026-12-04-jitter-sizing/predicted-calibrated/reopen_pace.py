# The pace of the eager reopens in every burst of at least 100 (reopens closer than 10 ms together,
# as `fleetsim calibrate` groups them), per run: reopens per second over each burst's middle 80%,
# and the busiest 10 ms of the burst against its mean pace. The 0 s runs' drain storms are the
# bursts after 20 s; the calibration run's one burst before its rollout is what calibrate reports.
# Usage, from this folder: python3 reopen_pace.py > reopen_pace.txt
import gzip, json

RUNS = ['../jitter-0s/run-1', '../round-2/jitter-0s/run-1', '../round-3/jitter-0s/run-1',
        'calibration-run/run-1']
for run in RUNS:
    ts = []
    for l in gzip.open(f'{run}/records-keepalive.ndjson.gz', 'rt'):
        if '"why":"eager"' in l:
            d = json.loads(l)
            if not d.get('warm'):
                ts.append(d['at'])
    ts.sort()
    bursts, cur = [], [ts[0]]
    for t in ts[1:]:
        if t - cur[-1] > 10_000_000:
            bursts.append(cur)
            cur = [t]
        else:
            cur.append(t)
    bursts.append(cur)
    print(run)
    for b in bursts:
        n = len(b)
        if n < 100:
            continue
        lo, hi = b[n // 10], b[n * 9 // 10]
        pace = (n * 9 // 10 - n // 10) / ((hi - lo) / 1e9)
        buckets = {}
        for t in b:
            buckets[t // 10_000_000] = buckets.get(t // 10_000_000, 0) + 1
        peak = max(buckets.values())
        print(f'  burst at {b[0] / 1e9:7.3f} s: {n} reopens, {pace:,.0f}/s over its middle 80%, '
              f'busiest 10 ms {peak} = {peak / (pace / 100):.2f} x the mean pace')
