#!/usr/bin/env python3
"""The sim-core `mmc` reference model in SimPy, for scripts/bench-vs-simpy.

Poisson arrivals at `load` (default 80%) of `servers` single-capacity FIFO servers, dispatched
ROUND-ROBIN, exponential service with mean 1 s; `arrivals` customers in total. Written the
idiomatic SimPy way (one generator process per customer, `simpy.Resource(capacity=1)` per
server), as a SimPy user would. Prints one line with the same keys as the Rust example:

    completed=... sim_time_s=... wall_s=... events_per_s=... requests_per_s=... mean_sojourn_s=...

`wall_s` covers building and running the model, not interpreter start-up; `events_per_s` counts
SimPy's own events (timeouts, resource requests and releases, process starts), which are not
sim-core's events, so compare requests_per_s.
"""

import argparse
import random
import time

import simpy


def scheduled_events(env):
    """Events SimPy scheduled, all processed by the end of the run: its private event-id counter
    (SimPy 4), read after the run so that counting costs nothing inside it. 0 if it moved."""
    counter = getattr(env, "_eid", None)
    return next(counter) if counter is not None else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", type=int, default=50)
    ap.add_argument("--arrivals", type=int, default=300_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--load", type=float, default=0.8)
    args = ap.parse_args()

    mean_service = 1.0
    rate = args.load * args.servers / mean_service
    rng = random.Random(args.seed)
    started = time.perf_counter()

    env = simpy.Environment()
    servers = [simpy.Resource(env, capacity=1) for _ in range(args.servers)]
    stats = {"completed": 0, "sojourn": 0.0}

    def customer(server):
        arrived = env.now
        with server.request() as req:
            yield req
            yield env.timeout(rng.expovariate(1.0 / mean_service))
        stats["completed"] += 1
        stats["sojourn"] += env.now - arrived

    def source():
        for i in range(args.arrivals):
            yield env.timeout(rng.expovariate(rate))
            env.process(customer(servers[i % args.servers]))

    env.process(source())
    env.run()
    wall = time.perf_counter() - started
    completed = stats["completed"]
    print(
        f"completed={completed} sim_time_s={env.now:.3f} wall_s={wall:.6f} "
        f"events_per_s={scheduled_events(env) / wall:.0f} requests_per_s={completed / wall:.0f} "
        f"mean_sojourn_s={stats['sojourn'] / max(completed, 1):.4f}"
    )


if __name__ == "__main__":
    main()
