# +pid1 with both generators together: per seed, the keep-alive prediction's failed plus the
# new-connection prediction's (the same seed), as the 2.5th-97.5th percentile over the seeds,
# against each live run's two styles added (this folder's three runs and the two of
# ../2026-12-04-ladder-pod-starts/observed/pid1). Usage, from this folder:
#   python3 totals.py [KEEPALIVE_PREDICTION NEW_PREDICTION]   (default: predicted/pid1-keepalive predicted/pid1-new)
import glob, json, os, sys

def quantile(v, q):
    v = sorted(v)
    x = q * (len(v) - 1)
    i = int(x)
    return v[i] if i + 1 >= len(v) else v[i] + (x - i) * (v[i + 1] - v[i])

ka, new = sys.argv[1:3] if len(sys.argv) == 3 else ('predicted/pid1-keepalive', 'predicted/pid1-new')
totals = []
for f in sorted(glob.glob(f'{ka}/seeds/*.json')):
    g = os.path.join(new, 'seeds', os.path.basename(f))
    totals.append(json.load(open(f))['failed'] + json.load(open(g))['failed'])
lo, hi = quantile(totals, 0.025), quantile(totals, 0.975)
print(f'predicted, both styles: mean {sum(totals) / len(totals):.1f} [{lo:.1f}, {hi:.1f}] over {len(totals)} seeds')
inside = 0
runs = sorted(glob.glob('observed/pid1/run-*')) + sorted(glob.glob('../2026-12-04-ladder-pod-starts/observed/pid1/run-*'))
for run in runs:
    t = sum(json.load(open(f'{run}/{s}/summary.json'))['failed'] for s in ['keepalive', 'new'])
    ok = lo <= t <= hi
    inside += ok
    print(f'  {run}: {t} ({"inside" if ok else "outside"})')
print(f'{inside} of {len(runs)} live totals inside')
