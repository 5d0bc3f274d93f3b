#!/usr/bin/python3
# test-persist.py: persistence with real tandemd processes on 127.0.0.1.
#
# - kill -9 of a node after a snapshot, restart: the plans are restored from
#   the file persister, the events kept after the snapshot are replayed from
#   the event store (a gda SQLite store), and every output row after the
#   restart equals that of a reference node fed the same events without a
#   restart (the output log and the outputs table); the rows before the
#   restart are not written twice;
# - kill -9 before the first snapshot: everything is replayed;
# - no event store: the restart says which seqs could not be recovered;
# - a clean stop persists at shutdown, and the restart has nothing to replay;
# - a persister that cannot write: the node runs on, the status and the log
#   say why, POST /api/v1/persist fails with 500, and the next interval
#   succeeds once the directory can be written;
# - ack = durable on one node killed with kill -9 mid-load: every
#   acknowledged event is in the event store and replayed;
# - a two-node cluster (test-ha.py's configuration, ack = durable, a file
#   persister each) under load, both nodes killed with kill -9 in the
#   middle of the load a few events after a periodic snapshot, and
#   restarted: every acknowledged event is once in the event store, and
#   every output row of both nodes' output logs and of the shared outputs
#   tables equals that of a reference node fed the same events.
#
# meson sets TANDEM_TEST_TANDEMD and TANDEM_TEST_PLUGIN_DIRS (the build
# directories of the plugins used).  Prints TAP.  Every tandemd started here
# is killed by its PID at the end (and gets PR_SET_PDEATHSIG).
#
# SPDX-License-Identifier: LGPL-2.1-or-later
import ctypes
import http.client
import importlib.util
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback

TANDEMD = os.environ["TANDEM_TEST_TANDEMD"]
TANDEMCTL = os.environ["TANDEM_TEST_TANDEMCTL"]
PLUGIN_DIRS = os.environ["TANDEM_TEST_PLUGIN_DIRS"].split(":")
DEADLINE = 15  # seconds, for anything that should happen much sooner

PLANS = {
    "pa.siddhiql": """\
@Plan:name('PA')
define stream S (symbol string, v long);
@info(name = 'sums')
from S#window.length(5)
select symbol, sum(v) as total, count() as n
group by symbol
insert all events into Out;
""",
    "pb.siddhiql": """\
@Plan:name('PB')
define stream S (symbol string, v long);
@info(name = 'batches')
from S#window.lengthBatch(7)
select symbol, max(v) as top, avg(v) as mean
group by symbol
insert into Out2;
""",
}

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def die_with_parent():
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


def free_ports(n, _rng=__import__("random").Random(os.getpid())):
    ports = []
    while len(ports) < n:
        port = _rng.randrange(20000, 32000)
        if port in ports:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        ports.append(port)
    return ports


def wait_for(what, fn, timeout=DEADLINE, interval=0.02):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def events(first, last):
    """Events first..last (1-based), the same in every run."""
    out = []
    for i in range(first, last + 1):
        out.append({"event": {"payloadData": {"symbol": "ABC"[(i * 7) % 3], "v": (i * 7919) % 1000},
                              "timestamp": 1700000000000 + 10 * i}})
    return out


class Node:
    def __init__(self, base, name, store=True, persister="file", persister_dir=None, interval=3600, extra=""):
        self.name = name
        self.dir = os.path.join(base.path, name)
        os.mkdir(self.dir, 0o700)
        self.env = base.env
        self.started = base.started
        self.http_port, self.api_port = free_ports(2)
        self.state_dir = os.path.join(self.dir, "state")
        self.log_path = os.path.join(self.dir, "tandemd.log")
        self.out_path = os.path.join(self.dir, "outputs.jsonl")
        self.config_path = os.path.join(self.dir, "tandem.conf")
        self.proc = None
        lines = [
            "[node]", "id = %s" % name, "state_dir = %s" % self.state_dir, "",
            "[api]", "port = %d" % self.api_port, "",
            "[engine]", "plans = %s" % base.plans_dir, "output_log = %s" % self.out_path, "",
            "[receiver.http]", "plugin = http", "port = %d" % self.http_port, "endpoints = s=S", "",
            "[persistence]", "interval = %d" % interval, "",
        ]
        if store:
            lines += ["[store.db]", "plugin = gda", ""]
        if persister == "file":
            lines += ["[persister.files]", "plugin = file"]
            if persister_dir:
                lines.append("directory = %s" % persister_dir)
            lines.append("")
        elif persister == "gda":
            lines += ["[persister.db]", "plugin = gda-persister", ""]
        lines.append(extra)
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([TANDEMD, "--config", self.config_path], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=log, env=self.env, preexec_fn=die_with_parent)
        log.close()
        self.started.append(self.proc)
        wait_for("%s's REST API" % self.name, lambda: self.status_or_none() is not None)

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        self.proc.wait(timeout=DEADLINE)

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def request(self, method, port, path, body=None, timeout=5):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body, headers)
            r = conn.getresponse()
            return r.status, json.loads(r.read() or b"{}")
        finally:
            conn.close()

    def status_or_none(self):
        try:
            return self.status()
        except (OSError, http.client.HTTPException, ValueError):
            return None

    def status(self):
        status, body = self.request("GET", self.api_port, "/api/v1/status", timeout=2)
        assert status == 200, (status, body)
        return body

    def persist(self):
        return self.request("POST", self.api_port, "/api/v1/persist")

    def tandemctl_persist(self):
        p = subprocess.run([TANDEMCTL, "persist", "--url", "http://127.0.0.1:%d" % self.api_port],
                           capture_output=True, text=True, timeout=DEADLINE, env=self.env)
        return p.returncode, p.stdout, p.stderr

    def post(self, evs, per_request=10):
        """Posts evs in order; returns the first seq given."""
        first = None
        for k in range(0, len(evs), per_request):
            status, body = self.request("POST", self.http_port, "/endpoints/s",
                                        json.dumps(evs[k:k + per_request]))
            assert status == 202, (status, body)
            assert body["new"] == len(evs[k:k + per_request]), body
            if first is None:
                first = body["first_seq"]
        return first

    def wait_processed(self, n):
        wait_for("%s to process %d events" % (self.name, n),
                 lambda: self.status()["events_processed"] >= n)
        assert self.status()["events_processed"] == n

    def outputs(self):
        try:
            with open(self.out_path, encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def db(self):
        return sqlite3.connect("file:%s?mode=ro" % os.path.join(self.state_dir, "tandem.db"), uri=True,
                               timeout=10)

    def stored_events(self):
        try:
            with self.db() as db:
                return db.execute("SELECT COUNT(*) FROM evt_s_1_0_0").fetchone()[0]
        except sqlite3.Error:
            return 0

    def stored_outputs(self):
        with self.db() as db:
            return outputs_in(db)


def outputs_in(db):
    """Every row of the outputs tables of PA and PB but its node_id."""
    rows = []
    for table in ("out_pa_out_1_0_0", "out_pb_out2_1_0_0"):
        cols = [r[1] for r in db.execute("PRAGMA table_info(%s)" % table)]
        keep = [c for c in cols if c != "node_id"]
        for row in db.execute("SELECT %s FROM %s ORDER BY input_seq, output_index"
                              % (", ".join(keep), table)):
            rows.append(dict(zip(keep, row), table=table))
    return rows


class Base:
    def __init__(self, plans=None):
        self.path = tempfile.mkdtemp(prefix="tandem-test-persist-")
        os.chmod(self.path, 0o700)
        self.started = []
        self.plans_dir = os.path.join(self.path, "plans")
        os.mkdir(self.plans_dir)
        for name, text in (plans or PLANS).items():
            with open(os.path.join(self.plans_dir, name), "w", encoding="utf-8") as f:
                f.write(text)
        plugins = os.path.join(self.path, "plugins")
        os.mkdir(plugins, 0o700)
        for d in PLUGIN_DIRS:
            for f in os.listdir(d):
                if f.endswith(".so"):
                    shutil.copy(os.path.join(d, f), plugins)
                    os.chmod(os.path.join(plugins, f), 0o755)
        self.env = dict(os.environ)
        self.env.pop("NOTIFY_SOCKET", None)
        self.env["TANDEM_PLUGIN_PATH"] = plugins
        self.nodes = []

    def node(self, name, **kw):
        n = Node(self, name, **kw)
        self.nodes.append(n)
        return n

    def close(self):
        for p in self.started:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=DEADLINE)
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            for n in self.nodes:
                if os.path.exists(n.log_path):
                    sys.stderr.write("--- log of %s ---\n%s\n" % (n.name, n.log()[-6000:]))
        self.close()


def reference(base, total):
    """A node fed events 1..total without a restart, stopped cleanly."""
    ref = base.node("reference")
    ref.start()
    assert ref.post(events(1, total)) == 1
    ref.wait_processed(total)
    ref.kill(signal.SIGTERM)
    outs = ref.outputs()
    assert outs and max(o["seq"] for o in outs) == total
    return ref, outs


def renumber(rows, first_seq, offset):
    """Output rows with seq >= first_seq, renumbered as event index (seq - first_seq + offset)."""
    out = []
    for r in rows:
        if r["seq"] >= first_seq:
            r = dict(r)
            r["seq"] = r["seq"] - first_seq + offset
            out.append(r)
    return out


def compare_rows(got, want, what):
    assert len(got) == len(want), "%s: %d rows, expected %d" % (what, len(got), len(want))
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, "%s: row %d is %r, expected %r" % (what, i, g, w)


def restart_after_kill(persister):
    total, snap_at, kill_at = 600, 200, 300
    from_persister = {"file": "files", "gda": "db"}[persister]
    with Base() as base:
        ref, ref_out = reference(base, total)

        node = base.node("crash", persister=persister)
        node.start()
        node.post(events(1, snap_at))
        node.wait_processed(snap_at)
        if persister == "file":
            status, body = node.persist()
            assert status == 200 and body == {"persisted": True, "seq": snap_at}, (status, body)
        else:
            rc, out, err = node.tandemctl_persist()
            assert rc == 0 and out == "Persisted: every plan up to seq %d\n" % snap_at, (rc, out, err)
        p = node.status()["persistence"]
        assert p["last_success_seq"] == snap_at and p["last_error"] is None, p
        node.post(events(snap_at + 1, kill_at))
        node.wait_processed(kill_at)
        # the event store holds them all (it writes every 200 ms)
        wait_for("the event store", lambda: node.stored_events() == kill_at)
        before_kill = node.outputs()
        node.kill()

        node.start()
        s = node.status()
        r = s["persistence"]["restore"]
        assert r["plans_restored"] == 2 and r["snapshot_seq"] == snap_at, r
        assert r["replayed_events"] == kill_at - snap_at, r
        assert r["replayed_seqs"] == [snap_at + 1, kill_at] and r["replayed_from"] == "db", r
        assert r["unrecovered"] is None, r
        log = node.log()
        assert "Plan PA: restoring the snapshot of seq %d from [persister.%s]" % (snap_at, from_persister) in log
        assert "Replayed %d events (seq %d to %d) from [store.db]" % (kill_at - snap_at, snap_at + 1,
                                                                      kill_at) in log
        # the replay wrote nothing to the output log
        compare_rows(node.outputs(), before_kill, "output log right after the restart")

        # it holds the events up to the kill; the sequence continues above
        # the block of seqs the previous run reserved (1 to 100000)
        base_seq = s["last_seq"]
        assert base_seq == kill_at, s
        first = node.post(events(kill_at + 1, total))
        assert first == 100001, (first, base_seq)
        node.wait_processed(total - kill_at)
        node.kill(signal.SIGTERM)
        out = node.outputs()

        # before the kill: the same rows, once each
        compare_rows([o for o in out if o["seq"] <= kill_at], [o for o in ref_out if o["seq"] <= kill_at],
                     "outputs before the kill")
        # after the restart: every row as in the reference run
        got = renumber(out, first, kill_at + 1)
        want = [o for o in ref_out if o["seq"] > kill_at]
        assert len(want) > 100
        compare_rows(got, want, "outputs after the restart")

        # the outputs tables: the same rows, none twice
        ref_rows = ref.stored_outputs()
        rows = node.stored_outputs()
        for row in rows:
            if row["input_seq"] >= first:
                row["input_seq"] = row["input_seq"] - first + kill_at + 1
        key = lambda row: (row["table"], row["input_seq"], row["output_index"])  # noqa: E731
        compare_rows(sorted(rows, key=key), sorted(ref_rows, key=key), "outputs tables")


@test
def restart_after_kill_matches_reference():
    restart_after_kill("file")


@test
def restart_after_kill_with_gda_persister():
    restart_after_kill("gda")


@test
def kill_before_first_snapshot_replays_everything():
    total, kill_at = 120, 50
    with Base() as base:
        _, ref_out = reference(base, total)
        node = base.node("crash")
        node.start()
        node.post(events(1, kill_at))
        node.wait_processed(kill_at)
        wait_for("the event store", lambda: node.stored_events() == kill_at)
        node.kill()
        node.start()
        r = node.status()["persistence"]["restore"]
        assert r["plans_restored"] == 0 and r["replayed_events"] == kill_at, r
        assert "Plan PB: no snapshot in tenant tandem; it starts empty" in node.log()
        first = node.post(events(kill_at + 1, total))
        node.wait_processed(total - kill_at)
        node.kill(signal.SIGTERM)
        compare_rows(renumber(node.outputs(), first, kill_at + 1), [o for o in ref_out if o["seq"] > kill_at],
                     "outputs after the restart")


@test
def no_event_store_says_what_is_lost():
    with Base() as base:
        node = base.node("n", store=False)
        node.start()
        node.post(events(1, 20))
        node.wait_processed(20)
        status, body = node.persist()
        assert status == 200 and body["seq"] == 20, body
        node.post(events(21, 30))
        node.wait_processed(30)
        node.kill()
        node.start()
        r = node.status()["persistence"]["restore"]
        assert r["plans_restored"] == 2 and r["snapshot_seq"] == 20 and r["replayed_events"] == 0, r
        assert r["unrecovered"].startswith("the events accepted after seq 20 (at most 99980: seq 21 to "
                                           "100000"), r
        assert "Cannot replay: the events accepted after seq 20" in node.log()


@test
def clean_stop_persists_at_shutdown():
    with Base() as base:
        for store in (True, False):
            node = base.node("n-%s" % store, store=store)
            node.start()
            node.post(events(1, 25))
            node.wait_processed(25)
            node.kill(signal.SIGTERM)
            assert "Persisted 2 plans at seq 25 at shutdown" in node.log()
            node.start()
            r = node.status()["persistence"]["restore"]
            assert r["plans_restored"] == 2 and r["snapshot_seq"] == 25, r
            assert r["replayed_events"] == 0 and r["unrecovered"] is None, r
            log = node.log()
            if store:
                assert "Nothing to replay: [store.db] keeps no event after seq 25" in log
            else:
                assert "Nothing to replay: the node stopped cleanly after its snapshot of seq 25" in log
            node.kill(signal.SIGTERM)


@test
def persister_failure_is_reported_and_retried():
    with Base() as base:
        blocker = os.path.join(base.path, "blocker")
        with open(blocker, "w", encoding="utf-8") as f:
            f.write("a file where the snapshots' directory should be\n")
        node = base.node("n", persister_dir=os.path.join(blocker, "snapshots"), interval=1)
        node.start()
        node.post(events(1, 5))
        node.wait_processed(5)
        p = wait_for("a failure in the status",
                     lambda: (lambda p: p if p["failures"] >= 1 else None)(node.status()["persistence"]))
        assert p["last_success_seq"] is None and "cannot create the directory" in p["last_error"], p
        assert p["persisters"][0]["name"] == "files" and p["persisters"][0]["last_error"], p
        assert "Cannot persist at the interval to [persister.files]" in node.log()
        status, body = node.persist()
        assert status == 500 and "[persister.files]" in body["detail"], (status, body)
        rc, out, err = node.tandemctl_persist()
        assert rc == 1 and out == "" and "HTTP 500" in err and "cannot create the directory" in err, (rc, out, err)
        # the node runs on
        node.post(events(6, 8))
        node.wait_processed(8)
        os.unlink(blocker)
        p = wait_for("a success after the failures",
                     lambda: (lambda p: p if p["last_success_seq"] == 8 else None)(node.status()["persistence"]))
        assert p["last_error"] is None and p["persisters"][0]["last_error"] is None, p
        snaps = os.listdir(os.path.join(blocker, "snapshots", "tandem", "PA"))
        assert len(snaps) == 1 and snaps[0].endswith("_PA"), snaps
        node.kill(signal.SIGTERM)

        # and a node without persisters answers 409
        bare = base.node("bare", persister=None)
        bare.start()
        status, body = bare.persist()
        assert status == 409 and "no persister" in body["detail"], (status, body)
        assert bare.status()["persistence"]["enabled"] is False
        bare.kill(signal.SIGTERM)


@test
def durable_ack_survives_kill_mid_load():
    """[cluster] ack = durable on a single node: two clients post numbered
    events, one per request, and the node is killed with kill -9 in the
    middle of the load.  Every event it acknowledged is in the event store
    (with ack = local, the events of the store writer's last 100-200 ms
    are acknowledged and lost); only the two events in flight may be there
    too.  The restart replays all of them."""
    with Base(CLUSTER_PLANS) as base:
        node = base.node("n", extra="[cluster]\nack = durable\n")
        node.start()
        s = node.status()
        assert s["ack"] == "durable" and s["durable_seq"] == 0, s
        load = Load([node, node], 1)
        wait_for("events under load", lambda: len(load.acked) >= 150)
        node.proc.send_signal(signal.SIGKILL)
        node.proc.wait(timeout=DEADLINE)
        acked = set(load.finish(abandon=True))
        with node.db() as db:
            stored = db.execute("SELECT seq, n FROM evt_s_1_0_0 ORDER BY seq").fetchall()
        numbers = [n for _, n in stored]
        assert len(numbers) == len(set(numbers)), "an event stored twice"
        lost = acked - set(numbers)
        assert not lost, "%d acknowledged events lost (of %d), e.g. %r" % (len(lost), len(acked), sorted(lost)[:5])
        unacked = set(numbers) - acked
        assert unacked <= set(load.in_flight.values()), (sorted(unacked), load.in_flight)

        node.start()
        r = node.status()["persistence"]["restore"]
        assert r["plans_restored"] == 0 and r["replayed_events"] == len(stored), (r, len(stored))
        assert r["replayed_seqs"] == [stored[0][0], stored[-1][0]], r
        # acknowledged once the store has them: durable_seq covers every
        # event acknowledged since the restart
        load = Load([node, node], max(numbers) + 1)
        wait_for("events after the restart", lambda: len(load.acked) >= 20)
        after = load.finish()
        s = node.status()
        assert s["durable_seq"] >= s["last_seq"] - 2 and s["durable_seq"] > stored[-1][0], s
        p = subprocess.run([TANDEMCTL, "status", "--url", "http://127.0.0.1:%d" % node.api_port],
                           capture_output=True, text=True, timeout=DEADLINE, env=node.env)
        assert p.returncode == 0 and "\nAck          durable (stored up to seq " in p.stdout, p
        with node.db() as db:
            n_after = db.execute("SELECT COUNT(*) FROM evt_s_1_0_0 WHERE n >= ?", (min(after),)).fetchone()[0]
        assert n_after == len(after), (n_after, len(after))
        node.kill(signal.SIGTERM)
        sys.stdout.write("# %d acknowledged before the kill, %d stored\n" % (len(acked), len(stored)))


def check_config(base, path):
    """tandemd --check-config on the config file path"""
    return subprocess.run([TANDEMD, "--config", path, "--check-config"], capture_output=True, text=True,
                          timeout=DEADLINE, env=base.env)


@test
def durable_ack_needs_an_event_store():
    with Base() as base:
        path = os.path.join(base.path, "durable.conf")
        with open(path, "w", encoding="utf-8") as f:
            f.write("[node]\nid = n\n[cluster]\nack = durable\n[store.db]\nplugin = gda\nrole = outputs\n")
        p = check_config(base, path)
        assert p.returncode != 0, p
        assert "ack = durable waits until a store keeping events committed them, but no [store.NAME] " \
               "section keeps events (role = events)" in p.stderr, p.stderr
        with open(path, "a", encoding="utf-8") as f:
            f.write("[store.events]\nplugin = gda\nrole = events\ndatabase = %s\n" % os.path.join(base.path, "e.db"))
        p = check_config(base, path)
        assert p.returncode == 0, p.stderr


@test
def config_errors_name_file_and_line():
    with Base() as base:
        path = os.path.join(base.path, "bad.conf")
        with open(path, "w", encoding="utf-8") as f:
            f.write("[node]\nid = n\n[persistence]\ninterval = soon\ntenant = a/b\nkeep = 3\n")
        p = check_config(base, path)
        assert p.returncode != 0, p
        assert "bad.conf:4: key 'interval' in [persistence]: expected an integer 0-604800, got \"soon\"" \
            in p.stderr, p.stderr
        assert "bad.conf:6: unknown key 'keep' in [persistence], ignored" in p.stderr, p.stderr
        with open(path, "w", encoding="utf-8") as f:
            f.write("[node]\nid = n\n[persistence]\ntenant = a/b\n")
        p = check_config(base, path)
        assert p.returncode != 0, p
        assert "bad.conf:4: key 'tenant' in [persistence]: expected a name of 1-255 characters without '/', " \
               "got \"a/b\"" in p.stderr, p.stderr


# --- the whole cluster: both nodes killed with kill -9 and restarted ------------

# test-persist's plans on a stream with one more attribute, n, that numbers
# the events: the events in the cluster's store are matched with the ones
# the clients sent by it.
CLUSTER_PLANS = {name: text.replace("define stream S (symbol string, v long);",
                                    "define stream S (symbol string, v long, n long);")
                 for name, text in PLANS.items()}
CLUSTER_INTERVAL = 2  # [persistence] interval of the cluster's nodes, in seconds


def load_test_ha():
    """tests/test-ha.py, for its two-node configuration (Cluster, Node)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test-ha.py")
    spec = importlib.util.spec_from_file_location("test_ha", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def numbered(n, with_id=True):
    """Event number n, the same in every run; the cluster's clients give it
    an id, so that a retry is not ingested twice."""
    event = {"payloadData": {"symbol": "ABC"[(n * 7) % 3], "v": (n * 7919) % 1000, "n": n},
             "timestamp": 1700000000000 + 10 * n}
    if with_id:
        event["id"] = "e-%d" % n
    return {"event": event}


class Load:
    """Two clients posting numbered events, one per request, each to its own
    node first (one to the active, one to the passive, which forwards to the
    active): an event that is not acknowledged is sent again, with its id,
    to the other node until it is.  finish() stops them and returns the
    numbers acknowledged."""

    def __init__(self, nodes, first):
        self.nodes = nodes
        self.next = first
        self.lock = threading.Lock()
        self.acked = []
        self.in_flight = {}  # client -> the number it is sending
        self.abandon = threading.Event()
        self.failures = 0
        self.error = None
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(k,), daemon=True) for k in range(2)]
        for t in self.threads:
            t.start()

    def post(self, node, n):
        conn = http.client.HTTPConnection("127.0.0.1", node.http_port, timeout=5)
        try:
            conn.request("POST", "/endpoints/s", json.dumps(numbered(n)), {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            return r.status
        except (OSError, http.client.HTTPException):
            return None
        finally:
            conn.close()

    def run(self, k):
        while not self.stop.is_set() and self.error is None:
            with self.lock:
                n = self.next
                self.next += 1
            turn = k
            end = time.monotonic() + 2 * DEADLINE
            with self.lock:
                self.in_flight[k] = n
            while self.post(self.nodes[turn % 2], n) != 202:
                if self.abandon.is_set():
                    return
                with self.lock:
                    self.failures += 1
                if time.monotonic() > end:
                    self.error = "event %d was not acknowledged within %d s" % (n, 2 * DEADLINE)
                    return
                turn += 1
                time.sleep(0.01)
            with self.lock:
                self.acked.append(n)
                del self.in_flight[k]
            time.sleep(0.01)

    def finish(self, abandon=False):
        """With abandon, an event without an answer is not sent again (its
        number stays in in_flight)."""
        if abandon:
            self.abandon.set()
        self.stop.set()
        for t in self.threads:
            t.join(3 * DEADLINE)
        assert not any(t.is_alive() for t in self.threads) and self.error is None, self.error
        return sorted(self.acked)


def settled(a, b):
    """Both nodes at the same seq, nothing held back."""
    sa, sb = a.status(), b.status()
    return (sa["last_seq"] == sb["last_seq"] and sa["replication"]["held_events"] == 0
            and sb["replication"]["held_events"] == 0)


def wait_settled(a, b):
    try:
        wait_for("both nodes settled", lambda: settled(a, b))
    except AssertionError:
        for n in (a, b):
            if "Became active again" in n.log():
                raise AssertionError("%s fenced itself (its lease renewal got no answer in time) and became "
                                     "active again, but its passive was not taken back: %r, %r"
                                     % (n.name, a.status(), b.status()))
        raise


def shared_count(c, table):
    try:
        with sqlite3.connect("file:%s?mode=ro" % c.shared_db, uri=True, timeout=10) as db:
            return db.execute("SELECT COUNT(*) FROM %s" % table).fetchone()[0]
    except sqlite3.Error:
        return -1


@test
def cluster_restart_after_kill_matches_reference():
    """Two nodes (wka membership, the shared SQLite store as event store and
    arbiter, a file persister each, ack = durable) under load; the active
    persists every 2 s; both are killed with kill -9 in the middle of the
    load, a moment after a periodic snapshot, and both restarted: the old
    active restores its snapshots and replays the events the store kept
    after them, the other (it never persisted) replays everything;
    whichever becomes active, the other syncs from it.

    Every acknowledged event is in the store (ack = durable acknowledges
    once the store committed it; only the two events in flight may be there
    unacknowledged), and every output row (the shared outputs tables, both
    output logs) equals that of a standalone reference node fed the events
    of the store in the same order.  An output log may also hold the rows
    of the events in flight that the store never got."""
    ha = load_test_ha()
    with ha.Cluster(name="persist-ha", lease_ttl_ms=3000, cluster_extra="ack = durable") as c, \
            Base(CLUSTER_PLANS) as base:
        c.plan_path = base.plans_dir
        a, b = c.add("node-a"), c.add("node-b")
        c.configure()
        for n in (a, b):
            with open(n.config_path, "a", encoding="utf-8") as f:
                f.write("\n[persistence]\ninterval = %d\n\n[persister.files]\nplugin = file\n" % CLUSTER_INTERVAL)
        a.start()
        wait_for("node-a active", lambda: a.state() == "active")
        b.start()
        wait_for("node-b passive", lambda: b.state() == "passive")
        wait_for("node-b in sync", lambda: a.status()["replication"]["in_sync"])
        assert a.status()["ack"] == "durable"

        # under load: a periodic snapshot, then the next one, then a few
        # more events, and both nodes die in the middle of the load
        load = Load([a, b], 1)
        p = wait_for("a periodic snapshot",
                     lambda: (lambda p: p if p["last_success_seq"] else None)(a.status()["persistence"]))
        runs = p["runs"]
        p = wait_for("the next periodic snapshot",
                     lambda: (lambda p: p if p["runs"] > runs else None)(a.status()["persistence"]))
        seen = len(load.acked)
        wait_for("events after the snapshot", lambda: len(load.acked) >= seen + 20)
        assert p["failures"] == 0 and p["last_error"] is None and p["persisting"], p
        assert not b.status()["persistence"]["persisting"]
        for n in (a, b):
            n.proc.send_signal(signal.SIGKILL)
        for n in (a, b):
            n.proc.wait(timeout=DEADLINE)
        acked = load.finish(abandon=True)
        in_flight = set(load.in_flight.values())

        # what the store kept: every acknowledged event, once
        with sqlite3.connect("file:%s?mode=ro" % c.shared_db, uri=True, timeout=10) as db:
            kept = db.execute("SELECT seq, n FROM evt_s_1_0_0 ORDER BY seq").fetchall()
        kept_n = [n for _, n in kept]
        lost = set(acked) - set(kept_n)
        assert not lost, "%d acknowledged events lost, e.g. %r" % (len(lost), sorted(lost)[:5])
        assert len(kept_n) == len(set(kept_n)) and set(kept_n) - set(acked) <= in_flight, (kept_n, in_flight)
        last = kept[-1][0]

        # Both restart at once, within the lease of node-a's previous run:
        # node-b takes node-a for the active and asks it for its state
        # before node-a is active; node-a, once active, tells the members
        # so and node-b asks again
        start_together(c, (a, b))
        active = wait_for("one active, one passive after the restart", lambda: ha.one_active([a, b]))
        passive = b if active is a else a
        # node-a restored its newest snapshot (the periodic one seen above,
        # or one taken after it) and replayed the events after it; node-b,
        # which never persisted, replayed every event
        r = a.status()["persistence"]["restore"]
        snap = r["snapshot_seq"]
        after_snap = [seq for seq, _ in kept if seq > snap]
        assert r["plans_restored"] == 2 and p["last_success_seq"] <= snap < last, (r, p, last)
        assert r["replayed_events"] == len(after_snap), (r, len(after_snap))
        assert r["replayed_seqs"] == [after_snap[0], last], r
        assert r["replayed_from"] == "db" and r["unrecovered"] is None, r
        r = b.status()["persistence"]["restore"]
        assert r["plans_restored"] == 0 and r["replayed_events"] == len(kept), r
        assert r["replayed_seqs"] == [kept[0][0], last] and r["unrecovered"] is None, r
        assert "Plan PA: restoring the snapshot of seq %d from [persister.files]" % snap in a.log()
        assert "Plan PA: no snapshot in tenant persist-ha; it starts empty" in b.log()
        assert "Became passive: state copied from %s" % active.name in passive.log()
        wait_for("the passive in sync", lambda: active.status()["replication"]["in_sync"])
        assert active.status()["persistence"]["persisting"]

        # the load goes on after the restart
        load = Load([active, passive], max(acked + list(in_flight)) + 1)
        wait_for("events after the restart", lambda: len(load.acked) >= 300)
        after = load.finish()
        wait_settled(a, b)
        every = set(kept_n) | set(after)
        wait_for("the event store", lambda: shared_count(c, "evt_s_1_0_0") == len(every))

        # every event once in the store: those kept before the kill and
        # those acknowledged after the restart
        with sqlite3.connect("file:%s?mode=ro" % c.shared_db, uri=True, timeout=10) as db:
            stored = db.execute("SELECT seq, n FROM evt_s_1_0_0 ORDER BY seq").fetchall()
        order = [n for _, n in stored]
        assert sorted(order) == sorted(every), (len(order), len(every))
        index = {seq: i + 1 for i, (seq, _) in enumerate(stored)}

        # the reference: one node fed the same events in seq order
        ref = base.node("reference")
        ref.start()
        assert ref.post([numbered(n, with_id=False) for n in order]) == 1
        ref.wait_processed(len(order))
        ref.kill(signal.SIGTERM)
        ref_out = ref.outputs()

        # both nodes' output logs: the old active's before the kill, the
        # new active's after the restart; every row once, as the reference.
        # Rows of events the store does not hold can only be those of the
        # events in flight at the kill, after every kept one.
        got, extra = [], set()
        for o in sorted(a.outputs() + b.outputs(), key=lambda o: o["seq"]):
            if o["seq"] in index:
                o["seq"] = index[o["seq"]]
                got.append(o)
            else:
                assert last < o["seq"] < min(seq for seq in index if seq > last), o
                extra.add(o["seq"])
        assert len(extra) <= len(in_flight), (extra, in_flight)
        compare_rows(got, ref_out, "the output logs")
        assert len([o for o in got if o["seq"] > len(kept)]) > 200

        # the shared outputs tables (written again by the replays, which
        # are no-ops there): the same rows
        ref_rows = ref.stored_outputs()
        key = lambda row: (row["table"], row["input_seq"], row["output_index"])  # noqa: E731

        def stored_outputs():
            with sqlite3.connect("file:%s?mode=ro" % c.shared_db, uri=True, timeout=10) as db:
                rows = outputs_in(db)
            for row in rows:
                row["input_seq"] = index.get(row["input_seq"], -row["input_seq"])
            return sorted(rows, key=key)
        wait_for("the outputs tables", lambda: len(stored_outputs()) >= len(ref_rows))
        compare_rows(stored_outputs(), sorted(ref_rows, key=key), "the outputs tables")

        # both nodes hold the same state
        da = json.loads(http_get(a.api_port, "/api/v1/state"))
        db_ = json.loads(http_get(b.api_port, "/api/v1/state"))
        assert da == db_, (da, db_)
        sys.stdout.write("# %d events acknowledged before the kill, %d kept, %d after the restart; snapshot "
                         "at seq %d, killed after seq %d; %s active after the restart\n"
                         % (len(acked), len(kept), len(after), snap, last, active.name))


@test
def cluster_passive_persists_too():
    """[persistence] passive = true: the passive of a cluster under load
    persists its own snapshots (its plans hold what the active's do), and,
    restarted alone after both nodes were killed, restores from them."""
    ha = load_test_ha()
    with ha.Cluster(name="persist-passive", lease_ttl_ms=3000) as c, Base(CLUSTER_PLANS) as base:
        c.plan_path = base.plans_dir
        a, b = c.add("node-a"), c.add("node-b")
        c.configure()
        for n in (a, b):
            with open(n.config_path, "a", encoding="utf-8") as f:
                f.write("\n[persistence]\ninterval = 1\npassive = true\n\n[persister.files]\nplugin = file\n")
        a.start()
        wait_for("node-a active", lambda: a.state() == "active")
        b.start()
        wait_for("node-b in sync", lambda: a.status()["replication"]["in_sync"])
        load = Load([a, b], 1)
        pb = wait_for("a snapshot by the passive",
                      lambda: (lambda p: p if p["last_success_seq"] and p["runs"] >= 2 else None)(
                          b.status()["persistence"]))
        acked = load.finish()
        assert pb["persisting"] and pb["failures"] == 0 and pb["last_error"] is None, pb
        assert b.state() == "passive"
        assert "Persisting the plans of tenant persist-passive to 1 persister every 1 s, at shutdown and on " \
               "demand, also when passive" in b.log(), b.log()[-2000:]
        snaps = os.listdir(os.path.join(b.dir, "state", "persistence", "persist-passive", "PA"))
        assert snaps and all(name.endswith("_PA") for name in snaps), snaps
        wait_settled(a, b)
        wait_for("the event store", lambda: shared_count(c, "evt_s_1_0_0") == len(acked))
        for n in (a, b):
            n.proc.send_signal(signal.SIGKILL)
        for n in (a, b):
            n.proc.wait(timeout=DEADLINE)
        # the passive alone: its own newest snapshot, then the event store
        b.start()
        wait_for("node-b active alone", lambda: b.state() == "active")
        r = b.status()["persistence"]["restore"]
        snap = r["snapshot_seq"]
        assert r["plans_restored"] == 2 and snap >= pb["last_success_seq"], (r, pb)
        assert "Plan PA: restoring the snapshot of seq %d from [persister.files]" % snap in b.log()
        assert b.status()["last_seq"] >= len(acked)
        da = json.loads(http_get(b.api_port, "/api/v1/state"))
        assert da["seq"] >= len(acked), da


def start_together(c, nodes):
    """Starts test-ha nodes at the same moment, then waits for their APIs."""
    for n in nodes:
        with open(n.log_path, "ab") as log:
            n.proc = subprocess.Popen([TANDEMD, "--config", n.config_path], stdin=subprocess.DEVNULL,
                                      stdout=log, stderr=log, env=c.env, preexec_fn=die_with_parent)
        c.started.append(n.proc)
    for n in nodes:
        wait_for("%s's REST API" % n.name, lambda: n.status_or_none() is not None)


def http_get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        assert r.status == 200, (r.status, body)
        return body
    finally:
        conn.close()


def main():
    # a developer may run some: test-persist.py NAME...
    if len(sys.argv) > 1:
        TESTS[:] = [fn for fn in TESTS if fn.__name__ in sys.argv[1:]]
    print("1..%d" % len(TESTS))
    failed = 0
    for i, fn in enumerate(TESTS, 1):
        try:
            fn()
            print("ok %d %s" % (i, fn.__name__))
        except Exception:  # noqa: BLE001 - every failure is reported as TAP
            failed += 1
            print("not ok %d %s" % (i, fn.__name__))
            for line in traceback.format_exc().splitlines():
                print("# " + line)
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
