#!/usr/bin/env python3
# Reproduction of issue 13 item 5: descriptor limit 600, 700 slowloris connections (1 byte/s),
# normal requests timed meanwhile, log lines about accept counted over 25 s.
import socket, subprocess, sys, time, json, threading, os, resource
binary = sys.argv[1]
env = {k: v for k, v in os.environ.items() if not k.startswith("FLEETSIM_")}
env.update(FLEETSIM_LISTEN="127.0.0.1:0", FLEETSIM_POD_NAME="measure"); env.update(dict(a.split("=",1) for a in sys.argv[2:]))
def limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (600, 600))
p = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=limit, text=True)
lines = []
addr = None
def reader():
    global addr
    for l in p.stdout:
        lines.append(l)
        if '"listening"' in l:
            addr = json.loads(l)["addr"]
threading.Thread(target=reader, daemon=True).start()
while addr is None: time.sleep(0.05)
host, port = addr.rsplit(":", 1); port = int(port)
head = b"GET /work?ms=1 HTTP/1.1\r\nHost: x\r\n" + b"X-A: " + b"a" * 1000
socks = []
for i in range(700):
    s = socket.socket(); s.setblocking(False)
    try: s.connect((host, port))
    except BlockingIOError: pass
    socks.append([s, 0, True])
def normal():
    t = time.time()
    try:
        c = socket.create_connection((host, port), timeout=10); c.settimeout(10)
        c.sendall(b"GET /work?ms=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        d = c.recv(100); c.close()
        return ("ok" if d.startswith(b"HTTP/1.1 200") else "bad:%r" % d[:20]), time.time() - t
    except Exception as e:
        return "fail:%s" % type(e).__name__, time.time() - t
t0 = time.time(); results = []
while time.time() - t0 < 25:
    for e in socks:
        if not e[2]: continue
        try: e[0].send(head[e[1]:e[1]+1]); e[1] += 1
        except (BlockingIOError, OSError): 
            if e[1] > 0: e[2] = False
    if int(time.time() - t0) % 5 == 2: results.append(normal())
    time.sleep(1)
open_ = sum(1 for e in socks if e[2])
p.kill()
accept_lines = sum(1 for l in lines if "accept" in l)
import collections; print(collections.Counter(json.loads(l).get("message") for l in lines if l.startswith("{")).most_common(8)); print(json.dumps({"binary": binary, "normal_requests": results, "slowloris_still_open_at_25s": open_,
  "accept_log_lines": accept_lines, "header_timeouts_lines": len(lines)}))
