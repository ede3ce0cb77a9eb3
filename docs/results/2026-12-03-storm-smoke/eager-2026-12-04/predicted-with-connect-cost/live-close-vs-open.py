# Is the live storm's height set by the opener or by the closes? Per storm of
# ../after-no-surge/run-1 (closes `eof` grouped by gaps > 300 ms): how long the k-th eager open
# follows the k-th close (a backlogged opener would make this grow through the storm) and the
# peak closes and eager opens per 10 ms. From this folder:
#   zcat ../after-no-surge/run-1/records-keepalive.ndjson.gz | python3 live-close-vs-open.py
import collections, json, sys

closes, opens = [], []
for l in sys.stdin:
    if not l.startswith('{"t":"c"'):
        continue
    r = json.loads(l)
    if r["ev"] == "close" and r.get("why") == "eof":
        closes.append(r["at"])
    if r["ev"] == "open" and r.get("why") == "eager":
        opens.append(r["at"])
closes.sort(); opens.sort()
groups = [[closes[0]]]
for t in closes[1:]:
    if t - groups[-1][-1] > 300e6:
        groups.append([t])
    else:
        groups[-1].append(t)
for gc in groups:
    if len(gc) < 50:
        continue
    go = [t for t in opens if gc[0] <= t <= gc[-1] + 500e6]
    n = min(len(gc), len(go))
    lags = sorted(go[k] - gc[k] for k in range(n))
    po = max(collections.Counter(int(t // 1e7) for t in go).values())
    pc = max(collections.Counter(int(t // 1e7) for t in gc).values())
    print(f"storm at {gc[0] / 1e9:.3f} s: {len(gc)} closes over {(gc[-1] - gc[0]) / 1e6:.1f} ms, "
          f"{len(go)} eager opens over {(go[-1] - go[0]) / 1e6:.1f} ms; k-th open after k-th close: "
          f"median {lags[n // 2] / 1e6:.3f} ms, p90 {lags[n * 9 // 10] / 1e6:.3f} ms, max {lags[-1] / 1e6:.3f} ms; "
          f"peak per 10 ms: closes {pc}, eager opens {po}")
