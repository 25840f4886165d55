#!/usr/bin/env python3
"""A model of the gate in src/gate.rs, to measure gate choices on real text without a build.

For each file given, prints per MB: candidates (positions where some anchor's gate starts,
ASCII case folded) with and without the share penalty of `gate_offset`, and the positions that
pass the byte tables of the AVX-512 path (pairs 0-1 and 1-2 alone; with the triple hash of
bytes 0-2 and the pair of bytes 2-3; with the triple hash of bytes 1-3 as well, as the gate does
now) against the exact 3-byte gate prefixes.

    python3 scripts/gate-model.py FILE... [--mb N]   (reads the first N MB of each, default 2)
"""
import argparse, collections, glob, os, tomllib

FREQ = b"etaoinsrhldcumfpgwybvkxjqz"


def commonness(b):
    if chr(b).isalpha():
        return 100 - FREQ.index(chr(b).lower().encode()[0]) * 80 // 25
    if chr(b).isdigit():
        return 50
    return 70 if chr(b) in ' .-:/"=,_' else 10


def fold(bs):
    return bytes(x | 0x20 for x in bs)


def gates(anchors, penalty):
    share = collections.Counter(g for a in anchors for g in {fold(a[i:i + 4]) for i in range(len(a) - 3)})
    out = set()
    for a in anchors:
        if len(a) < 4:
            out.add(fold(a))
            continue
        score = lambda i: sum(commonness(x) for x in a[i:i + 4]) + penalty * (share[fold(a[i:i + 4])] - 1)
        o = min(range(len(a) - 3), key=lambda i: (score(i), i))
        out.add(fold(a[o:o + 4]))
    return out


def pair(x, y):
    return ((x & 31) << 5) | (y & 31)


def triple(x, y, z):
    x, y, z = x & 31, y & 31, z & 31
    return (((x << 2) ^ y ^ (z << 1)) << 3) | ((z ^ (y >> 2)) & 7)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--mb", type=float, default=2)
    args = ap.parse_args()
    root = os.path.join(os.path.dirname(__file__), "..", "patterns")
    anchors = {a.lower().encode() for f in glob.glob(os.path.join(root, "*.toml"))
               for r in tomllib.load(open(f, "rb")).get("rules", []) for a in r.get("anchors", [])}
    plain, shared = gates(anchors, 0), gates(anchors, 20)
    prefixes = {g[:3] for g in shared}
    a = {pair(g[0], g[1]) for g in prefixes}
    b = {pair(g[1], g[2]) for g in prefixes}
    tri = {triple(*g[:3]) for g in shared}
    tri3 = {triple(*g) for g in shared if len(g) == 3}
    d = {pair(g[2], g[3]) for g in shared if len(g) == 4}
    tri4 = {triple(*g[1:4]) for g in shared if len(g) == 4}
    for path in args.files:
        raw = open(path, "rb").read()[: int(args.mb * 1e6)]
        low, n = fold(raw), len(raw) - 4
        per_mb = lambda c: round(c / n * 1e6)
        hits = lambda gs: sum(1 for i in range(n) if low[i:i + 4] in gs or low[i:i + 3] in gs)
        pairs = [i for i in range(n) if pair(raw[i], raw[i + 1]) in a and pair(raw[i + 1], raw[i + 2]) in b]
        tables = [i for i in pairs if triple(*raw[i:i + 3]) in tri
                  and (pair(raw[i + 2], raw[i + 3]) in d or triple(*raw[i:i + 3]) in tri3)]
        tables4 = sum(1 for i in tables if triple(*raw[i:i + 3]) in tri3
                      or (pair(raw[i + 2], raw[i + 3]) in d and triple(*raw[i + 1:i + 4]) in tri4))
        exact = sum(1 for i in range(n) if low[i:i + 3] in prefixes)
        print(f"{path}: candidates/MB without penalty {per_mb(hits(plain))}, with {per_mb(hits(shared))}; "
              f"positions passing pairs {100 * len(pairs) / n:.1f}%, byte tables without bytes 1-3 "
              f"{100 * len(tables) / n:.1f}%, all byte tables {100 * tables4 / n:.2f}%, "
              f"exact 3-byte prefixes {100 * exact / n:.1f}%")


if __name__ == "__main__":
    main()
