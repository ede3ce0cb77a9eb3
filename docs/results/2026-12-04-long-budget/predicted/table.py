# Predicted (runs/<overlay>-<style>/summary.json: mean and 95% interval over the seeds) beside
# live (../<run>/<style>/summary.json) for the long-operation runs: sent, ok, reset, shed and
# failed in the deploy window. Usage (from this folder, after predict.sh): python3 table.py
import json

def stat(x):
    return f"{x['mean']:.1f} [{x['lo']:.1f}, {x['hi']:.1f}]"

live = {'after': '../after/run-1', 'after-long-budget': '../rerun/after-long-budget/run-1'}
print('| overlay, generator | | sent | ok | reset | shed | failed |')
print('|---|---|---|---|---|---|---|')
for ov in ['after', 'after-long-budget']:
    for st in ['keepalive', 'new']:
        p = json.load(open(f'runs/{ov}-{st}/summary.json'))
        r = p['requests']
        print(f"| {ov}, {st} | predicted, {p['seeds']} seeds | {stat(r['sent'])} | {stat(r['ok'])} "
              f"| {stat(r['reset'])} | {stat(r['shed'])} | {stat(p['failed'])} |")
        l = json.load(open(f'{live[ov]}/{st}/summary.json'))
        lr = l['requests']
        print(f"| {ov}, {st} | live | {lr['sent']} | {lr['ok']} | {lr['reset']} | {lr['shed']} | {l['failed']} |")
