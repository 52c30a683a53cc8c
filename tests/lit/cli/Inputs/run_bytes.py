"""Runs a command whose arguments may hold raw bytes, written as \\xHH escapes (lit's internal
shell cannot pass a non-UTF-8 argument). Exits with the command's status; a signal becomes 128+N.

usage: run_bytes.py PROGRAM ARG...      e.g. run_bytes.py tilefuse cache show '\\xff' --json
"""
import os
import subprocess
import sys


def decode(arg):
    return arg.encode("utf-8").decode("unicode_escape").encode("latin-1")


rc = subprocess.call([os.fsencode(sys.argv[1])] + [decode(a) for a in sys.argv[2:]])
sys.exit(128 - rc if rc < 0 else rc)
