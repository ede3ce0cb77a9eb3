#!/bin/sh
# Shell form: what `ENTRYPOINT /usr/local/bin/fleetsim-service` (no JSON array) or a wrapper
# script without `exec` gives. The shell stays PID 1 and runs the service as a child. As PID 1 it
# has no SIGTERM handler, so the kernel drops SIGTERM; it forwards nothing, so the service never
# hears of the shutdown and dies by SIGKILL at the end of the grace period.
# FLEETSIM_BIN lets tests point at a locally built binary.
"${FLEETSIM_BIN:-/usr/local/bin/fleetsim-service}" "$@"
status=$?
echo "fleetsim-service exited with status $status" >&2
exit "$status"
