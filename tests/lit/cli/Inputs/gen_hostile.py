"""Writes the hostile inputs of hardening.test (issue 14) into a directory.

usage: gen_hostile.py DIR
"""
import json
import os
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
base = {"name": "x", "dtype": "bf16", "head_dim": 128, "heads": {"q": 8, "kv": 8},
        "shape": {"B": 1, "Sq": 16, "Sk": 16}}


def write(name, text, mode="w"):
    with open(os.path.join(out, name), mode) as f:
        f.write(text)


# A score_mod of 17,000 '+ 0.0' terms (stack overflow in the checker).
write("chain.json", json.dumps(dict(base, score_mod="score" + " + 0.0" * 17000)))
# A field of the wrong type nested 10^5 levels deep (stack overflow in json::dump).
write("deep.json", json.dumps(base)[:-1] + ', "lse": ' + "[" * 100000 + "1" + "]" * 100000 + "}")
# An escaped duplicate key: "head\u005fdim" is "head_dim".
write("dup.json", json.dumps(base)[:-1] + ', "head\\u005fdim": 64}')
# scale 1e308 (inf in the fp32 kernel).
write("scale.json", json.dumps(dict(base, scale=1e308)))
# A non-UTF-8 name.
write("nonutf8.json", json.dumps(base).replace('"x"', '"caus\xc3al"').encode("latin-1"), "wb")
