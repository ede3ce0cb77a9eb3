import json,gzip,sys,os
run=sys.argv[1]
def op(p): return gzip.open(p+'.gz','rt') if os.path.exists(p+'.gz') else open(p)
pods={}
for l in open(f'{run}/pods.ndjson'):
    e=json.loads(l); p=pods.setdefault(e['name'],{})
    p.setdefault('seen',e['epoch_ns'])
    if e['ready'] and 'ready' not in p: p['ready']=e['epoch_ns']
    if (e['terminating'] or e['kind']=='DELETED') and 'del' not in p: p['del']=e['epoch_ns']
sl=[json.loads(l) for l in open(f'{run}/slices.ndjson')]
t0=[s['epoch_ns'] for s in sl if s['kind']=='MODIFIED'][0]
fails=[];first={}
for st in ['keepalive','new']:
    f=op(f'{run}/records-{st}.ndjson'); o=json.loads(f.readline())['origin_epoch_ns']
    for l in f:
        if l.startswith('{"t":"r"'):
            d=json.loads(l); t=o+d['as']
            if d['o']!='ok': fails.append((t,d['o'][:4]))
            elif 'p' in d: first.setdefault(d['p'],t)
fails.sort()
ms=lambda x:f"{(x-t0)/1e6:6.0f}"
for n,p in sorted(pods.items(), key=lambda kv: kv[1]['seen']):
    if p['seen']>t0-60e9:
        print(n[-5:], 'seen',ms(p['seen']),'ready',ms(p['ready']) if 'ready' in p else '-', 'del',ms(p['del']) if 'del' in p else '-', 'first req', ms(first[n]) if n in first else '-')
print('slices', [ (ms(s['epoch_ns']), s['ready'], s['serving_terminating']) for s in sl if s['epoch_ns']>=t0][:14])
# failures histogram per 250ms
from collections import Counter
c=Counter(int((t-t0)/250e6) for t,_ in fails)
print('fails per 250 ms from the first slice change:', sorted(c.items()))
print('total', len(fails))
