"""service.py — service.c's memory shapes in Python, for service_test.py:
`python3 service.py SECONDS` ticks every 10 ms; each tick handle_request
builds and drops a few objects (churn), cache_put fills a bounded dict of
128 entries of 32 KiB, history_append grows a list without bound (16 KiB
a tick); at a third of the run, spike holds 200 MiB (1 MiB bytearrays)
for 300 ms.  Prints "done" at the end and leaves through os._exit, as a
worker process does: its final profile is then taken with the cache and
the history still referenced (a normal exit would free the module's
globals first, and leave nothing of them to report)."""

import os
import sys
import time

CACHE = {}
HISTORY = []


def handle_request(tick):
    parts = [bytes(256 + (tick + i) % 7 * 512) for i in range(8)]
    return sum(len(p) for p in parts)


def cache_put(tick):
    CACHE[tick % 128] = bytearray(32768)


def history_append():
    HISTORY.append(bytearray(16384))


def spike():
    blocks = [bytearray(1 << 20) for _ in range(200)]
    time.sleep(0.3)
    return len(blocks)


def main():
    ticks = int(sys.argv[1]) * 100 if len(sys.argv) > 1 else 300
    for t in range(ticks):
        handle_request(t)
        cache_put(t)
        history_append()
        if t == ticks // 3:
            spike()
        time.sleep(0.01)
    print("done")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
