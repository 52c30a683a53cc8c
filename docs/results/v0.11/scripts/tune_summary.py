#!/usr/bin/env python3
"""Summarise `tilefuse tune --json` files: the default's time, the winner, and the fastest few candidates.

usage: python3 tune_summary.py NAME=FILE.json [NAME=FILE.json ...]
"""
import json
import sys


def sched(s):
    text = f"{'sm90' if s.get('mma') == 'wgmma' else 'sm80'} {s['block_m']}x{s['block_n']} w{s['warps']} s{s['kv_stages']}"
    if s.get("overlap", "none") != "none":
        text += " " + s["overlap"]
    if s.get("persistent"):
        text += " persistent"
    return text


for arg in sys.argv[1:]:
    name, path = arg.split("=", 1)
    try:
        d = json.load(open(path))
    except (OSError, ValueError) as e:
        print(f"{name}: no result ({e})")
        continue
    timed = [c for c in d.get("candidates", []) if c.get("median_ms")]
    timed.sort(key=lambda c: c["median_ms"])
    default = [c for c in timed if c.get("default")]
    print(f"{name}: {len(timed)} timed, {d.get('tuning_seconds', 0):.0f} s; default "
          f"{default[0]['median_ms']:.3f} ms ({sched(default[0]['schedule'])})" if default else f"{name}: {len(timed)} timed; default not timed")
    for c in timed[:6]:
        print(f"   {c['median_ms']:.3f} ms  {sched(c['schedule'])}{'  <- default' if c.get('default') else ''}")
