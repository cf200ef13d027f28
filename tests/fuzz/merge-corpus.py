#!/usr/bin/python3
# merge-corpus.py — keeps a harness's committed corpus small: seeds, reproducers and a minimal set
# of other inputs that together reach every edge any of the given inputs reaches.
"""libFuzzer's -merge=1 adds inputs smallest first, each that adds anything, which leaves hundreds
of files that add one edge each. This asks the harness which code each input reaches (one
-runs=0 -print_full_coverage=1 run per input), then picks greedily the input that adds the most
edges still missing, after every file of the corpus directory a person named (seed-*, crash-*,
hostile-*…: anything but a SHA-1), which always stays. Files named by their SHA-1 that are no
longer needed are deleted; new ones are copied in under their SHA-1, as libFuzzer names them.

    merge-corpus.py FUZZER CORPUS_DIR [MORE_INPUT_DIR…]
"""

import concurrent.futures
import hashlib
import os
import shutil
import subprocess
import sys


def is_sha1(name):
    """A name libFuzzer (or this script) gave an input: its SHA-1. Every other name was chosen by
    a person for a reason (a seed, a reproducer, a hostile input a test is about) and is kept."""
    return len(name) == 40 and all(c in "0123456789abcdef" for c in name)


def edges_of(fuzzer, path):
    """The covered PCs of one input, from libFuzzer's -print_full_coverage: per instrumented
    function a U line and a C line of source line numbers; a PC is (function, line, n-th on that
    line)."""
    r = subprocess.run([fuzzer, "-runs=0", "-print_full_coverage=1", path], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, timeout=600)
    if r.returncode != 0:
        sys.exit("%s %s failed:\n%s" % (fuzzer, path, r.stderr[-4000:]))
    lines = r.stderr.split("FULL COVERAGE:", 1)[1].splitlines()
    edges, function = set(), -1
    for line in lines:
        words = line.split()
        if words[:1] == ["U"]:
            function += 1
        elif words[:1] == ["C"]:
            seen = {}
            for w in words[1:]:
                seen[w] = seen.get(w, 0) + 1
                edges.add((function, int(w), seen[w]))
    return edges


def edges_per_input(fuzzer, dirs):
    paths = [os.path.join(d, n) for d in dirs for n in sorted(os.listdir(d))
             if os.path.isfile(os.path.join(d, n))]
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        return dict(zip(paths, pool.map(lambda p: edges_of(fuzzer, p), paths)))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    fuzzer, corpus = sys.argv[1], os.path.abspath(sys.argv[2])
    dirs = [corpus] + [d for d in sys.argv[3:] if os.path.isdir(d) and os.listdir(d)]
    edges = edges_per_input(fuzzer, dirs)

    def pinned(path):
        return os.path.dirname(os.path.abspath(path)) == corpus and not is_sha1(os.path.basename(path))

    covered = set()
    for path, e in edges.items():
        if pinned(path):
            covered |= e
    chosen = []
    candidates = {p: e - covered for p, e in edges.items() if not pinned(p)}
    while True:
        best = max(candidates, key=lambda p: (len(candidates[p]), -os.path.getsize(p), p), default=None)
        if best is None or not candidates[best]:
            break
        gain = candidates.pop(best)
        covered |= gain
        chosen.append(best)
        for p in candidates:
            candidates[p] -= gain

    keep = set()
    for path in chosen:
        with open(path, "rb") as f:
            name = hashlib.sha1(f.read()).hexdigest()
        keep.add(name)
        dest = os.path.join(corpus, name)
        if not os.path.exists(dest):
            shutil.copyfile(path, dest)
    removed = 0
    for name in os.listdir(corpus):
        if is_sha1(name) and name not in keep:
            os.unlink(os.path.join(corpus, name))
            removed += 1
    print("%s: %d edges; %d pinned + %d chosen inputs (%d files removed)" % (
        os.path.basename(corpus), len(covered), sum(1 for p in edges if pinned(p)), len(chosen), removed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
