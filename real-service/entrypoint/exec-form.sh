#!/bin/sh
# Exec form: the shell replaces itself with the service, so the service is PID 1 of the container
# and receives SIGTERM from the kubelet / container runtime directly. Equivalent to a Dockerfile
# `ENTRYPOINT ["/usr/local/bin/fleetsim-service"]` (or a real init such as tini in front of it).
# FLEETSIM_BIN lets tests point at a locally built binary.
exec "${FLEETSIM_BIN:-/usr/local/bin/fleetsim-service}" "$@"
