#!/usr/bin/env bash
# v0.22 call 4 (not run in v0.22: no device was lent): call 3 again (scripts/c3.sh: sliding window 1024, ALiBi +
# causal and window 4096 at S16k tuned, benched twice in steady state, Flex; then causal S4k with its peers), now
# that a persistent default also gets the snake twins (SearchOptions::tileOrders). Sliding window 1024, whose
# default is persistent, is the case that checks the fix: call 3's tune never timed snake there.
#   run(command="bash docs/results/v0.22/scripts/c4.sh", carry=[".device-carry"], timeout_s=598)
OUT=${OUT:-/tmp/v022-c4} exec bash "$(dirname "$0")/c3.sh"
