"""svc.py — the Python service of the attach tests (attach_test.py): the
same life as svc.c, in Python.  Run with libheapsight.so preloaded, the
profiler armed but idle, and HEAPSIGHT_PYTHON=1 for Python frames.

Usage: python3 svc.py SECONDS
  1. warmup(): 2000 bytearrays of 1 KiB, kept, while nobody samples;
  2. prints "ready <pid>";
  3. every millisecond: grow() appends a 2 KiB bytearray to a list that
     only grows (to 64 Ki items), churn() makes and drops 32 of 1 KiB;
  4. whenever hs_ctl("prof.active") changes: "active 0" or "active 1".
"""
import ctypes
import os
import sys
import time


def warmup():
    return [bytearray(1024) for _ in range(2000)]


def grow(items):
    if len(items) < 65536:
        items.append(bytearray(2048))


def churn():
    for _ in range(32):
        b = bytearray(1024)
        del b


def watch(ctl, last):
    on = ctypes.c_bool()
    size = ctypes.c_size_t(1)
    if ctl(b"prof.active", ctypes.byref(on), ctypes.byref(size), None, 0):
        return last
    if int(on.value) != last:
        print("active %d" % on.value, flush=True)
    return int(on.value)


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60
    ctl = ctypes.CDLL(None).hs_ctl
    kept = warmup()
    last = watch(ctl, -1)
    print("ready %d" % os.getpid(), flush=True)
    items = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        grow(items)
        churn()
        last = watch(ctl, last)
        time.sleep(0.001)
    return len(kept)


if __name__ == "__main__":
    main()
