#!/usr/bin/python3
# run-conformance.py: run the engine conformance cases through tandemctl.
#
# Usage: run-conformance.py [--tandemctl PATH] [--cases DIR] [FILTER...]
#
# Every directory of the cases directory (default $TANDEM_TEST_ENGINE_CASES,
# else tests/engine/cases next to this script) is one case, run as
#   tandemctl plan run DIR/plan.siddhiql --events DIR/events.jsonl
# (tandemctl from --tandemctl or $TANDEM_TEST_TANDEMCTL).  A FILTER keeps
# the cases whose name contains it.
#
# - DIR/expected.jsonl: tandemctl must exit 0 and print exactly those lines,
#   compared as parsed JSON: an integer only equals an integer and a number
#   with a fraction or an exponent only a float (241 != 241.0), floats
#   exactly (0.0 != -0.0), true/false only booleans.
# - DIR/error.txt: tandemctl must exit 1 and its stderr contain the first line.
#
# Prints TAP, one test point per case.  Cases whose name contains `-join-` or
# `-pattern-` are not implemented yet: a failure is reported as an expected
# failure (`not ok N - name # TODO not implemented yet`), a pass as a pass.
# See tests/engine/README.md for the formats.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
import argparse
import json
import math
import os
import subprocess
import sys

TODO_MARKERS = ("-join-", "-pattern-")
TIMEOUT = 60
MAX_REPORTED = 20


def same(a, b):
    """Whether two parsed JSON values are equal, types included."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def parse(line):
    try:
        return json.loads(line)
    except ValueError:
        return ValueError


def compare_lines(expected, actual):
    """Returns comment lines describing the differences (empty if none)."""
    notes = []
    for i in range(max(len(expected), len(actual))):
        e = expected[i] if i < len(expected) else None
        a = actual[i] if i < len(actual) else None
        if e is not None and a is not None:
            pe, pa = parse(e), parse(a)
            if pe is ValueError:
                notes.append("line %d of expected.jsonl is not JSON: %s" % (i + 1, e))
                continue
            if pa is not ValueError and same(pe, pa):
                continue
        notes.append("line %d:" % (i + 1))
        notes.append("  expected %s" % (e if e is not None else "(nothing)"))
        notes.append("  actual   %s" % (a if a is not None else "(nothing)"))
        if len(notes) >= 3 * MAX_REPORTED:
            notes.append("... (more differences not shown)")
            break
    if notes:
        notes.insert(0, "expected %d output line(s), got %d" % (len(expected), len(actual)))
    return notes


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\r\n") for line in f if line.strip()]


def run_case(tandemctl, case_dir):
    """Runs one case; returns a list of comment lines, empty when it passed."""
    expected_path = os.path.join(case_dir, "expected.jsonl")
    error_path = os.path.join(case_dir, "error.txt")
    if not os.path.exists(expected_path) and not os.path.exists(error_path):
        return ["the case has neither expected.jsonl nor error.txt"]
    cmd = [tandemctl, "plan", "run", os.path.join(case_dir, "plan.siddhiql"),
           "--events", os.path.join(case_dir, "events.jsonl")]
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return ["tandemctl did not finish within %d s" % TIMEOUT]
    stdout = proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace").rstrip("\n")
    actual = [line for line in stdout.splitlines() if line.strip()]

    if os.path.exists(error_path):
        with open(error_path, encoding="utf-8") as f:
            wanted = f.readline().rstrip("\r\n")
        if proc.returncode == 1 and wanted in stderr:
            return []
        notes = ["expected exit status 1 and an error containing: %s" % wanted,
                 "actual   exit status %d" % proc.returncode]
        notes += ["  stderr: " + line for line in stderr.splitlines()]
        notes += ["  stdout: " + line for line in actual[:MAX_REPORTED]]
        return notes

    notes = []
    if proc.returncode != 0:
        notes.append("expected exit status 0, got %d" % proc.returncode)
        notes += ["  stderr: " + line for line in stderr.splitlines()]
    notes += compare_lines(read_lines(expected_path), actual)
    return notes


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description="Run the engine conformance cases (TAP).")
    parser.add_argument("--tandemctl", default=os.environ.get("TANDEM_TEST_TANDEMCTL"),
                        help="the tandemctl to run (default $TANDEM_TEST_TANDEMCTL)")
    parser.add_argument("--cases",
                        default=os.environ.get("TANDEM_TEST_ENGINE_CASES",
                                               os.path.join(here, "cases")),
                        help="the cases directory (default $TANDEM_TEST_ENGINE_CASES)")
    parser.add_argument("filters", nargs="*", metavar="FILTER",
                        help="only the cases whose name contains FILTER")
    args = parser.parse_args()
    if not args.tandemctl:
        parser.error("no tandemctl: give --tandemctl or set TANDEM_TEST_TANDEMCTL")

    names = sorted(n for n in os.listdir(args.cases) if os.path.isdir(os.path.join(args.cases, n)))
    if args.filters:
        names = [n for n in names if any(f in n for f in args.filters)]
    if not names:
        print("1..0 # SKIP no conformance cases in %s" % args.cases)
        return 0

    print("1..%d" % len(names))
    failed = 0
    for n, name in enumerate(names, 1):
        notes = run_case(args.tandemctl, os.path.join(args.cases, name))
        todo = any(marker in name for marker in TODO_MARKERS)
        if not notes:
            print("ok %d - %s" % (n, name))
        elif todo:
            print("not ok %d - %s # TODO not implemented yet" % (n, name))
        else:
            failed += 1
            print("not ok %d - %s" % (n, name))
        for note in notes:
            print("# " + note)
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
