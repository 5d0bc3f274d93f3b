#!/usr/bin/python3
# test-tandemctl.py: tandemctl as a user runs it: options and usage errors,
# `plan run` outputs, located errors for bad plans and bad event lines,
# events from standard input, streaming through a pipe, --streams, ticks.
#
# meson sets TANDEM_TEST_TANDEMCTL (the built tandemctl) and
# TANDEM_TEST_VERSION.  Prints TAP.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

TANDEMCTL = os.environ["TANDEM_TEST_TANDEMCTL"]
DEADLINE = 20  # seconds; only to avoid hanging when something is broken

TESTS = []

STOCK_PLAN = """\
@Plan:name('Stocks')
define stream StockStream (symbol string, price float, volume int, total long, ok bool, d double);
@info(name = 'q1')
from StockStream[price > 10]
select symbol, price, volume, total, ok, d
insert into Out;
"""

WINDOW_PLAN = """\
@Plan:name('Window')
@Plan:playback
define stream S (symbol string, v int);
@info(name = 'w')
from S#window.time(1 sec)
select symbol, sum(v) as total
insert all events into W;
"""


def test(fn):
    TESTS.append(fn)
    return fn


class Workdir:
    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="tandem-test-tandemctl-")

    def write(self, name, text):
        path = os.path.join(self.path, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.path)


def run(*args, stdin_text=None):
    proc = subprocess.run([TANDEMCTL] + list(args), capture_output=True, timeout=DEADLINE,
                          input=stdin_text.encode() if stdin_text is not None else None,
                          stdin=subprocess.DEVNULL if stdin_text is None else None)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def outputs(stdout):
    return [json.loads(line) for line in stdout.splitlines()]


def plan_run(w, plan, events, *extra):
    plan_path = w.write("plan.siddhiql", plan)
    events_path = w.write("events.jsonl", events)
    return run("plan", "run", plan_path, "--events", events_path, *extra)


@test
def version_and_help():
    rc, out, err = run("--version")
    assert rc == 0, (rc, err)
    assert out == "tandemctl %s\n" % os.environ["TANDEM_TEST_VERSION"], out
    rc, out, err = run("--help")
    assert rc == 0 and "plan run PLAN --events FILE" in out and "COMMAND" in out, (rc, out)
    rc, out, err = run("plan", "--help")
    assert rc == 0 and "run PLAN" in out, (rc, out)
    rc, out, err = run("plan", "run", "--help")
    assert rc == 0 and "--events" in out and "--streams" in out and "tick" in out, (rc, out)


@test
def usage_errors_exit_2():
    cases = [
        ([], "Usage:"),
        (["--bogus"], "unknown option '--bogus'"),
        (["frobnicate"], "unknown command 'frobnicate'"),
        (["plan"], "Usage:"),
        (["plan", "frobnicate"], "unknown command 'plan frobnicate'"),
        (["plan", "run"], "missing the PLAN file"),
        (["plan", "run", "p.siddhiql"], "missing --events"),
        (["plan", "run", "p.siddhiql", "extra", "--events", "e"], "unexpected argument 'extra'"),
        (["plan", "run", "--bogus", "p.siddhiql", "--events", "e"], "--bogus"),
        (["plan", "run", "p.siddhiql", "--events"], "--events"),
    ]
    for args, message in cases:
        rc, out, err = run(*args)
        assert rc == 2, (args, rc, err)
        assert message in err, (args, err)
        assert out == "", (args, out)
        if message != "Usage:":
            assert "--help' for more information" in err, (args, err)


@test
def missing_files_exit_1():
    with Workdir() as w:
        events = w.write("events.jsonl", "")
        plan = w.write("plan.siddhiql", STOCK_PLAN)
        rc, out, err = run("plan", "run", os.path.join(w.path, "nope.siddhiql"), "--events", events)
        assert rc == 1 and err.startswith("tandemctl: ") and "nope.siddhiql" in err, (rc, err)
        rc, out, err = run("plan", "run", plan, "--events", os.path.join(w.path, "nope.jsonl"))
        assert rc == 1 and "nope.jsonl" in err, (rc, err)


@test
def outputs_as_json_lines():
    with Workdir() as w:
        rc, out, err = plan_run(w, STOCK_PLAN,
                                '{"stream":"StockStream","timestamp":1000,'
                                '"data":["IBM",120.5,100,5000000000,true,2]}\n'
                                '\n'
                                '{"stream":"StockStream","timestamp":2000,'
                                '"data":["low",5,1,1,false,1.5]}\n'
                                '{"stream":"StockStream","timestamp":3000,'
                                '"data":["a\\"b\\\\c\\u00e9",10.1,null,null,null,null]}\n')
        assert rc == 0, (rc, err)
        assert err == "", err
        assert out.splitlines() == [
            '{"query":"q1","stream":"Out","kind":"current","timestamp":1000,'
            '"data":["IBM",120.5,100,5000000000,true,2.0]}',
            # a float prints as the shortest text that reads back to the same binary32
            '{"query":"q1","stream":"Out","kind":"current","timestamp":3000,'
            '"data":["a\\"b\\\\c\u00e9",10.1,null,null,null,null]}'], out


@test
def plan_errors_name_file_line_column():
    with Workdir() as w:
        rc, out, err = plan_run(w, "define stream S (a int)\nfrom S select a insert into O;\n", "")
        path = os.path.join(w.path, "plan.siddhiql")
        assert rc == 1, (rc, err)
        assert err.startswith("tandemctl: %s:2:1: " % path), err
        rc, out, err = plan_run(w, "define stream S (a int);\nfrom S select b insert into O;\n",
                                "")
        assert rc == 1, (rc, err)
        assert err.startswith("tandemctl: %s:2:" % path) and "'b'" in err, err


BAD_LINES = [
    ('{"stream":"StockStream","data":["IBM","abc",1,1,true,1.0]}',
     "attribute 'price' of stream StockStream: expected a float, got \"abc\""),
    ('{"stream":"Nope","data":[]}', "unknown stream 'Nope'"),
    ('{"stream":"StockStream","data":["IBM",1.5]}',
     "stream StockStream has 6 attributes"),
    ('{"stream":"StockStream","data":["IBM",1.5', "malformed JSON"),
    ('not json', "malformed JSON"),
    ('[1,2]', "expected a JSON object"),
    ('{"stream":"StockStream","data":["IBM",1.5,3000000000,1,true,1.0]}',
     "attribute 'volume' of stream StockStream: expected an int, got 3000000000"),
    ('{"stream":"StockStream","data":["IBM",1.5,1.5,1,true,1.0]}',
     "attribute 'volume' of stream StockStream: expected an int, got 1.5"),
    ('{"stream":"StockStream","data":["IBM",1.5,1,2.0,true,1.0]}',
     "attribute 'total' of stream StockStream: expected a long, got 2.0"),
    ('{"stream":"StockStream","data":["IBM",1.5,1,9223372036854775808,true,1.0]}',
     "integer 9223372036854775808 is out of the 64-bit range"),
    ('{"stream":"StockStream","data":["IBM",1.5,1,1,1,1.0]}',
     "attribute 'ok' of stream StockStream: expected a bool, got 1"),
    ('{"stream":"StockStream","data":[7,1.5,1,1,true,1.0]}',
     "attribute 'symbol' of stream StockStream: expected a string, got 7"),
    ('{"stream":"StockStream","data":["IBM",1e39,1,1,true,1.0]}',
     "attribute 'price' of stream StockStream: expected a float, got 1e+39"),
    ('{"stream":"StockStream","data":["IBM",1.5,1,1,true,[1]]}',
     "attribute 'd' of stream StockStream: expected a double, got an array"),
    ('{"stream":"StockStream","timestamp":"soon","data":["IBM",1.5,1,1,true,1.0]}',
     "\"timestamp\" must be an integer"),
    ('{"stream":"StockStream","timestmp":5,"data":["IBM",1.5,1,1,true,1.0]}',
     "unknown member \"timestmp\""),
    ('{"data":["IBM",1.5,1,1,true,1.0]}', "expected \"stream\""),
    ('{"stream":"StockStream"}', "expected \"data\""),
    ('{"tick":1.5}', "\"tick\" must be an integer"),
    ('{"tick":5,"stream":"StockStream"}', "unknown member \"stream\""),
]


@test
def bad_event_lines_are_located():
    good = '{"stream":"StockStream","timestamp":1000,"data":["IBM",120.5,100,1,true,2.5]}\n'
    with Workdir() as w:
        for bad, message in BAD_LINES:
            # line 1 good, line 2 empty, line 3 bad, line 4 never read
            rc, out, err = plan_run(w, STOCK_PLAN, good + "\n" + bad + "\n" + good)
            path = os.path.join(w.path, "events.jsonl")
            assert rc == 1, (bad, rc, err)
            assert err.startswith("tandemctl: %s:3: " % path), (bad, err)
            assert message in err, (bad, message, err)
            assert len(err.splitlines()) == 1, (bad, err)
            # the output of line 1 stays printed, nothing after the bad line
            assert len(out.splitlines()) == 1 and '"IBM"' in out, (bad, out)


@test
def events_from_stdin():
    with Workdir() as w:
        plan = w.write("plan.siddhiql", STOCK_PLAN)
        events = ('{"stream":"StockStream","timestamp":1,"data":["A",11,1,1,true,1.0]}\n'
                  '{"stream":"StockStream","timestamp":2,"data":["B",12,1,1,true,1.0]}')
        rc, out, err = run("plan", "run", plan, "--events", "-", stdin_text=events)
        assert rc == 0, (rc, err)
        assert [o["data"][0] for o in outputs(out)] == ["A", "B"], out
        rc, out, err = run("plan", "run", plan, "--events", "-",
                           stdin_text=events + '\n{"stream":"Nope","data":[]}\n')
        assert rc == 1 and err.startswith("tandemctl: <stdin>:3: unknown stream"), (rc, err)


def read_line(proc, deadline):
    """Reads one line of proc.stdout without blocking past the deadline."""
    data = b""
    fd = proc.stdout.fileno()
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        assert remaining > 0, "no output line within %d s (got %r)" % (DEADLINE, data)
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 1)
            assert chunk, "end of output (got %r)" % data
            data += chunk
    return data.decode()


@test
def streams_line_by_line():
    """The outputs of a line appear before the next line is even written."""
    with Workdir() as w:
        plan = w.write("plan.siddhiql", STOCK_PLAN)
        proc = subprocess.Popen([TANDEMCTL, "plan", "run", plan, "--events", "-"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + DEADLINE
            for i in range(3):
                proc.stdin.write(b'{"stream":"StockStream","timestamp":%d,'
                                 b'"data":["S%d",20,1,1,true,1.0]}\n' % (i, i))
                proc.stdin.flush()
                line = json.loads(read_line(proc, deadline))
                assert line["data"][0] == "S%d" % i and line["timestamp"] == i, line
            proc.stdin.close()
            assert proc.wait(timeout=DEADLINE) == 0
            assert proc.stdout.read() == b""
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()


@test
def streams_option_checks_definitions():
    with Workdir() as w:
        plan = w.write("plan.siddhiql",
                       "define stream S (symbol string, price float);\n"
                       "@info(name = 'q1') from S select * insert into O;\n")
        events = w.write("events.jsonl", '{"stream":"S","timestamp":1,"data":["A",1.5]}\n')
        good = w.write("good.json", json.dumps({
            "name": "S", "version": "2.0.0",
            "payloadData": [{"name": "symbol", "type": "STRING"},
                            {"name": "price", "type": "FLOAT"}]}))
        bad = w.write("bad.json", json.dumps({
            "name": "S", "version": "2.0.0",
            "payloadData": [{"name": "symbol", "type": "STRING"},
                            {"name": "price", "type": "DOUBLE"}]}))
        other = w.write("other.json", json.dumps({
            "name": "Other", "payloadData": [{"name": "x", "type": "INT"}]}))
        broken = w.write("broken.json", "{")

        rc, out, err = run("plan", "run", plan, "--events", events, "--streams", good)
        assert rc == 0 and err == "", (rc, err)
        assert outputs(out)[0]["data"] == ["A", 1.5], out

        rc, out, err = run("plan", "run", plan, "--events", events, "--streams", bad)
        assert rc == 1, (rc, err)
        assert err.startswith("tandemctl: %s:1:" % plan), err
        assert "'price float' here but 'price double' in S:2.0.0" in err, err
        assert out == "", out

        rc, out, err = run("plan", "run", plan, "--events", events, "--streams", good,
                           "--streams", other)
        assert rc == 0, (rc, err)
        assert "%s: warning:" % other in err and "stream Other" in err, err

        rc, out, err = run("plan", "run", plan, "--events", events, "--streams", broken)
        assert rc == 1 and broken in err, (rc, err)


@test
def tick_expires_a_time_window():
    with Workdir() as w:
        rc, out, err = plan_run(w, WINDOW_PLAN,
                                '{"stream":"S","timestamp":1000,"data":["A",5]}\n'
                                '{"stream":"S","timestamp":1500,"data":["B",7]}\n'
                                '{"tick":2000}\n'
                                '{"tick":10000}\n')
        assert rc == 0, (rc, err)
        got = [(o["kind"], o["timestamp"], o["data"]) for o in outputs(out)]
        assert got == [("current", 1000, ["A", 5]), ("current", 1500, ["B", 12]),
                       ("expired", 2000, ["A", 7]), ("expired", 10000, ["B", 0])], got


@test
def missing_timestamp_uses_the_clock():
    with Workdir() as w:
        rc, out, err = plan_run(w, WINDOW_PLAN,
                                '{"stream":"S","data":["A",1]}\n'
                                '{"stream":"S","timestamp":700,"data":["B",2]}\n'
                                '{"stream":"S","data":["C",3]}\n'
                                '{"tick":5000}\n'
                                '{"stream":"S","data":["D",4]}\n')
        assert rc == 0, (rc, err)
        current = [(o["data"][0], o["timestamp"]) for o in outputs(out) if o["kind"] == "current"]
        assert current == [("A", 0), ("B", 700), ("C", 700), ("D", 5000)], current


@test
def query_reads_a_store_and_refuses_writes():
    # an SQLite database as the gda store keeps it, made with the sqlite3 CLI
    with Workdir() as w:
        db = os.path.join(w.path, "tandem.db")
        subprocess.run(["sqlite3", db,
                        "CREATE TABLE t (sym TEXT, n INTEGER, x REAL);"
                        "INSERT INTO t VALUES ('IBM', 9007199254740993, 0.5), ('it''s', -1, 2.25);"],
                       check=True, timeout=DEADLINE)
        env_path = os.environ["TANDEM_TEST_GDA_PLUGIN_DIR"]
        os.environ["TANDEM_PLUGIN_PATH"] = env_path
        try:
            rc, out, err = run("query", "--store", db, "SELECT sym, n, x FROM t ORDER BY n DESC")
            assert rc == 0, (rc, err)
            assert json.loads(out) == [{"sym": "IBM", "n": 9007199254740993, "x": 0.5},
                                       {"sym": "it's", "n": -1, "x": 2.25}], out
            rc, out, err = run("query", "--store", db, "--limit", "1", "SELECT sym FROM t ORDER BY sym")
            assert rc == 0 and len(json.loads(out)) == 1, (rc, out, err)
            for sql in ("DELETE FROM t", "SELECT 1; DROP TABLE t", "UPDATE t SET n = 0"):
                rc, out, err = run("query", "--store", db, sql)
                assert rc == 1, (sql, rc, out, err)
                assert err.startswith("tandemctl: "), err
            rc, out, err = run("query", "--store", db, "SELECT count(*) AS c FROM t")
            assert rc == 0 and json.loads(out) == [{"c": 2}], (rc, out, err)
        finally:
            del os.environ["TANDEM_PLUGIN_PATH"]


def main():
    print("1..%d" % len(TESTS))
    failed = 0
    for n, fn in enumerate(TESTS, 1):
        try:
            fn()
            print("ok %d - %s" % (n, fn.__name__))
        except Exception:
            failed += 1
            print("not ok %d - %s" % (n, fn.__name__))
            for line in traceback.format_exc().splitlines():
                print("# " + line)
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
