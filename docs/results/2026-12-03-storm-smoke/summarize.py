# Summarizes one keep-alive generator run of `fleetsim live` for the storm smoke: new connections
# opened in the deploy window (per 10 ms bucket, its peak) and per new pod (the first request on each
# connection names its pod). Usage: python3 summarize.py RUN_DIR
import json,sys,gzip,collections
run=sys.argv[1]
op=gzip.open if run.endswith('.gz') else open
f=run+'/records-keepalive.ndjson'
import os
if not os.path.exists(f): f+='.gz'; op=gzip.open
s=json.load(open(run+'/keepalive/summary.json'))
w0,w1=s['window_s']
conn_open={}; first_pod={}; reconnect_times=[]
for l in op(f,'rt'):
    r=json.loads(l)
    if r.get('t')=='c' and r.get('ev')=='open': conn_open[r['c']]=r['at']/1e9
    if r.get('t')=='r' and r['c'] not in first_pod and 'p' in r: first_pod[r['c']]=(r['p'], r['is']/1e9)
per_pod=collections.Counter(); 
for c,(p,t) in first_pod.items():
    if conn_open.get(c,0)>=w0: per_pod[p]+=1
buckets=collections.Counter(int(t*100) for c,t in conn_open.items() if w0<=t<=w1)
peak=max(buckets.values()) if buckets else 0
q=s['requests']
print(run.split('/')[-2], 'conns opened in window', sum(buckets.values()), 'peak per 10ms', peak, 'failed', s['failed'], {k:v for k,v in q.items() if v and k not in ('ok','sent')}, 'p99w', s['latency_ms']['window']['p99'], 'new conns per new pod', dict(per_pod.most_common()))
