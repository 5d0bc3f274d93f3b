#!/usr/bin/python3
# test-ha-switchover.py: graceful switchover (tandemctl switchover, POST
# /api/v1/switchover) with real tandemd processes on 127.0.0.1.
#
# Under the acknowledged load of test-ha-replication.py's client (posting to
# both nodes, the passive forwarding to the active), the active role is
# handed over three times, back and forth, once with tandemctl.  Then: every
# acknowledged event is exactly once in the event store; the output store
# holds exactly what an uninterrupted run computes; no output was published
# twice (the two nodes' output logs together hold each input seq once);
# both nodes' plan states are identical at the same seq; and the client saw
# nothing but 202 and 503 (with Retry-After): no connection error, no 500.
# A switchover is refused with 409 on the passive (naming the active) and
# when the passive is down; one whose passive stops answering is aborted
# (503) and the node stays active.  It also works through a witness arbiter.
# With ack = durable, a request still waiting for the event store when the
# role is handed over gets 503, and its repeat to the new active is
# acknowledged with its first seq.
#
# meson sets TANDEM_TEST_TANDEMD, TANDEM_TEST_TANDEMCTL and
# TANDEM_TEST_PLUGIN_DIRS.  Prints TAP.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
import collections
import http.client
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("test_ha_replication",
                                               os.path.join(HERE, "test-ha-replication.py"))
rep = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rep)
ha = rep.ha

TANDEMCTL = os.environ.get("TANDEM_TEST_TANDEMCTL")
SWITCHOVERS = int(os.environ.get("TANDEM_TEST_SWITCHOVERS", "3"))
CLIENTS = 3


class RecordingClient(rep.Client):
    """test-ha-replication.py's client, recording every answer it got:
    the HTTP status, or the exception for a connection error.  Several run
    at once: each has its own event ids and values (v + offset)."""

    def __init__(self, nodes, name, offset):
        super().__init__(nodes)
        self.name = name
        self.offset = offset
        self.codes = collections.Counter()
        self.lock = threading.Lock()
        self.missing_retry_after = 0

    def values(self):
        return [v + self.offset for v in self.acked.values()]

    def post(self, node, eid, v):
        body = json.dumps({"symbol": "IBM", "v": v + self.offset, "id": "%s-%s" % (self.name, eid)})
        conn = http.client.HTTPConnection("127.0.0.1", node.http_port, timeout=5)
        try:
            conn.request("POST", "/endpoints/s", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            with self.lock:
                self.codes[r.status] += 1
                if r.status == 503 and r.getheader("Retry-After") is None:
                    self.missing_retry_after += 1
            return r.status
        except OSError as e:
            with self.lock:
                self.codes[type(e).__name__] += 1
            raise
        finally:
            conn.close()


def api(node, method, path, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", node.api_port, timeout=timeout)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"{}"), r.getheader("Retry-After")
    finally:
        conn.close()


def in_sync(active):
    s = active.status_or_none()
    return bool(s and s["state"] == "active" and s.get("replication", {}).get("in_sync"))


def ready(a, b):
    """The active node when one is active, the other passive, and in sync."""
    active = ha.one_active([a, b])
    return active if active is not None and in_sync(active) else None


def output_seqs(node):
    """The input seq of every output in a node's output log"""
    seqs = []
    for o in node.outputs():
        seq = o.get("input_seq", o.get("seq"))
        if seq is not None:
            seqs.append(seq)
    return seqs


def test_switchover_under_load():
    with ha.Cluster(lease_ttl_ms=3000) as c:
        rep.write_plan(c)
        a, b = c.add("node-a"), c.add("node-b")
        c.configure()
        a.start()
        ha.wait_for("a active", lambda: a.state() == "active")
        b.start()
        ha.wait_for("b passive and in sync", lambda: ready(a, b) is a, timeout=30)
        clients = [RecordingClient([a, b] if i % 2 == 0 else [b, a], "c%d" % i, i * 10000000)
                   for i in range(CLIENTS)]
        for client in clients:
            client.start()

        def acked():
            return sum(len(client.acked) for client in clients)
        took = []
        try:
            for i in range(SWITCHOVERS):
                time.sleep(0.5)
                active = ha.wait_for("one active, one passive in sync", lambda: ready(a, b), timeout=30)
                passive = b if active is a else a
                epoch = active.status()["epoch"]
                before = acked()
                t0 = time.monotonic()
                if TANDEMCTL and i == SWITCHOVERS - 1:
                    r = subprocess.run([TANDEMCTL, "switchover", "--url",
                                        "http://127.0.0.1:%d" % active.api_port],
                                       capture_output=True, text=True, timeout=60, env=c.env)
                    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
                    assert ("Switchover done: %s is active (epoch " % passive.name) in r.stdout, r.stdout
                    assert ("%s follows it as passive" % active.name) in r.stdout, r.stdout
                else:
                    code, body, _ = api(active, "POST", "/api/v1/switchover")
                    assert code == 200, (code, body)
                    assert body["active"] == passive.name and body["previous_active"] == active.name, body
                    assert body["epoch"] > epoch, (body, epoch)
                took.append(time.monotonic() - t0)
                # the new active is active, and the old one follows it
                ha.wait_for("the roles swapped", lambda: ready(a, b) is passive, timeout=30)
                assert passive.status()["epoch"] > epoch
                # the client went on being served
                ha.wait_for("more acknowledged events", lambda: acked() > before + 20, timeout=30)
        finally:
            time.sleep(0.3)
            for client in clients:
                client.stop.set()
            for client in clients:
                client.join(30)
        assert not any(client.is_alive() for client in clients)
        # the clients saw 202 and 503 (with Retry-After) only: no
        # connection error, no 500
        codes = collections.Counter()
        for client in clients:
            codes.update(client.codes)
            assert client.missing_retry_after == 0, client.missing_retry_after
        codes = dict(codes)
        assert set(codes) <= {202, 503}, codes
        values = sorted(v for client in clients for v in client.values())
        active = ha.wait_for("one active", lambda: ha.one_active([a, b]), timeout=30)
        for n in (a, b):
            log = n.log()
            assert "Switchover: draining" in log, log[-3000:]
            assert "Switchover: handed over to %s (epoch " % (b if n is a else a).name in log, log[-3000:]
            assert "handed the lease over (switchover)" in log, log[-3000:]
        rep.settle(a, b)
        # both nodes hold the same state at the same seq
        sa, da = rep.api_get(a, "/api/v1/state")
        sb, db_ = rep.api_get(b, "/api/v1/state")
        assert sa == 200 and sb == 200, (da, db_)
        assert da["seq"] == db_["seq"] and da["plans"] == db_["plans"], (da, db_)
        db = c.shared_db
        evt = rep.table(db, "evt_s_")
        out = rep.table(db, "out_sums_")
        ha.wait_for("the event store",
                    lambda: rep.rows(db, "SELECT COUNT(*) FROM %s" % evt)[0][0] >= len(values), timeout=30)
        events = rep.rows(db, "SELECT seq, v FROM %s ORDER BY seq" % evt)
        seqs = [s for s, _ in events]
        assert len(seqs) == len(set(seqs))
        # exactly once: every acknowledged event, no other, no double
        assert sorted(v for _, v in events) == values, (len(events), len(values))
        # no hole in the sequence
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "seq holes"
        ha.wait_for("the output store", lambda: rep.rows(db, "SELECT COUNT(*) FROM %s" % out)[0][0] >= len(events),
                    timeout=30)
        outputs = rep.rows(db, "SELECT input_seq, output_index, total FROM %s ORDER BY input_seq, output_index"
                           % out)
        assert len(outputs) == len(events), (len(outputs), len(events))
        window = []
        for (seq, v), (in_seq, index, total) in zip(events, outputs):
            window = (window + [v])[-5:]
            assert in_seq == seq and index == 0, (seq, in_seq, index)
            assert total == sum(window), (seq, total, window)
        # no output published twice: the output logs of both nodes hold
        # each input seq once, all of them together
        published = output_seqs(a) + output_seqs(b)
        if published:
            doubled = [s for s, n in collections.Counter(published).items() if n > 1]
            assert not doubled, doubled[:20]
            assert sorted(published) == seqs, (len(published), len(seqs))
        sys.stdout.write("# %d events acknowledged over %d switchovers; answers %s; switchover %s ms\n" % (
            len(values), SWITCHOVERS, codes, ", ".join("%.0f" % (t * 1000) for t in took)))


def test_switchover_refused():
    with ha.Cluster(lease_ttl_ms=3000) as c:
        rep.write_plan(c)
        a, b = c.add("node-a"), c.add("node-b")
        c.configure()
        a.start()
        ha.wait_for("a active", lambda: a.state() == "active")
        b.start()
        ha.wait_for("b passive and in sync", lambda: ready(a, b) is a, timeout=30)
        # on the passive: 409, naming the active node
        code, body, _ = api(b, "POST", "/api/v1/switchover")
        assert code == 409 and body["error"] == "conflict", (code, body)
        assert "node-a" in body["detail"] and "passive" in body["detail"], body
        # only POST
        code, body, _ = api(a, "GET", "/api/v1/switchover")
        assert code == 405, (code, body)
        # the passive is down: nobody to hand over to
        b.kill(signal.SIGKILL)
        ha.wait_for("a without a passive in sync", lambda: not in_sync(a) and a.state() == "active")
        code, body, _ = api(a, "POST", "/api/v1/switchover")
        assert code == 409 and "no passive node is in sync" in body["detail"], (code, body)
        if TANDEMCTL:
            r = subprocess.run([TANDEMCTL, "switchover", "--url", "http://127.0.0.1:%d" % a.api_port],
                               capture_output=True, text=True, timeout=60, env=c.env)
            assert r.returncode == 1 and "409" in r.stderr and "no passive node is in sync" in r.stderr, \
                (r.returncode, r.stderr)
        # and a is still the active, taking events
        assert a.state() == "active"
        assert a.post("IBM", 1)[0] == 202
        assert "Switchover: draining" not in a.log()


def test_switchover_aborted():
    """The passive stops answering (SIGSTOP) as the switchover starts: the
    call answers 503 and the node stays (or is again) the active; the
    passive, resumed, does not take the lease with the stale offer.  Without
    load the active hands over at once and takes its lease back; under load
    it is still draining when it loses its passive."""
    for load in (False, True):
        with ha.Cluster(lease_ttl_ms=3000) as c:
            rep.write_plan(c)
            a, b = c.add("node-a"), c.add("node-b")
            c.configure()
            a.start()
            ha.wait_for("a active", lambda: a.state() == "active")
            b.start()
            ha.wait_for("b passive and in sync", lambda: ready(a, b) is a, timeout=30)
            epoch = a.status()["epoch"]
            client = RecordingClient([a], "c", 0) if load else None
            if client:
                client.start()
                ha.wait_for("acknowledged events", lambda: len(client.acked) > 20)
            b.kill(signal.SIGSTOP)
            try:
                assert a.status()["switchover"] is None
                answer = {}
                t = threading.Thread(target=lambda: answer.update(r=api(a, "POST", "/api/v1/switchover")))
                t.start()
                if load:
                    # the status shows the drain while it lasts
                    sw = ha.wait_for("the drain in the status", lambda: a.status()["switchover"])
                    assert sw["to"] == "node-b" and sw["draining"] is True and sw["up_to_seq"] >= 20, sw
                    p = subprocess.run([TANDEMCTL, "status", "--url", "http://127.0.0.1:%d" % a.api_port],
                                       capture_output=True, text=True, timeout=30)
                    assert p.returncode == 0 and "\nSwitchover   to node-b, " in p.stdout, p
                t.join(60)
                code, body, retry = answer["r"]
                assert code == 503 and retry is not None, (code, body, retry)
                assert a.status()["switchover"] is None
                assert ("no longer in sync" in body["detail"] or
                        "did not take the lease over" in body["detail"]), body
                sys.stdout.write("# aborted%s: %s\n" % (" under load" if load else "", body["detail"]))
                ha.wait_for("a active", lambda: a.state() == "active")
                assert a.post("IBM", 1)[0] == 202
            finally:
                b.kill(signal.SIGCONT)
                if client:
                    client.stop.set()
                    client.join(30)
            ha.wait_for("b passive and in sync again", lambda: ready(a, b) is a, timeout=30)
            assert a.status()["epoch"] >= epoch
            assert "Became active" not in b.log(), b.log()[-3000:]
            assert "Switchover: failed" in a.log()
            if client:
                assert set(client.codes) <= {202, 503}, client.codes
            # and a switchover works afterwards
            code, body, _ = api(a, "POST", "/api/v1/switchover")
            assert code == 200 and body["active"] == "node-b", (code, body)


def test_switchover_witness():
    """The take-over through a witness, both ways"""
    with ha.Cluster(shared_db=False, cluster_extra="arbiter = witness") as c:
        rep.write_plan(c)
        a, b, w = c.add("node-a"), c.add("node-b"), c.add("witness-w", witness=True)
        c.configure()
        w.start()
        a.start()
        ha.wait_for("a active", lambda: a.state() == "active")
        b.start()
        ha.wait_for("b passive and in sync", lambda: ready(a, b) is a, timeout=30)
        assert a.post("IBM", 1)[0] == 202
        for old, new in ((a, b), (b, a)):
            epoch = old.status()["epoch"]
            code, body, _ = api(old, "POST", "/api/v1/switchover")
            assert code == 200 and body["active"] == new.name and body["epoch"] > epoch, (code, body)
            ha.wait_for("the roles swapped", lambda: ready(a, b) is new, timeout=30)
            # the passive forwards to the new active
            assert old.post("IBM", 2)[0] == 202
            assert new.post("IBM", 3)[0] == 202
        assert "granted to node-b#" in w.log() and "handed the lease over (switchover)" in b.log()


def test_switchover_durable_waiting():
    """ack = durable, the event store (a SQLite file of its own) locked by
    the test: a request waits for the store's commit; a switchover hands
    the active role over meanwhile, and the request gets 503 (its outcome
    is for the new active to say).  Repeated to the new active with its
    id, it is acknowledged with its first seq, and stored once."""
    import sqlite3
    with ha.Cluster(cluster_extra="ack = durable") as c:
        rep.write_plan(c)
        events_db = os.path.join(c.path, "events.db")
        a, b = c.add("node-a"), c.add("node-b")
        # the shared store keeps the lease and the outputs, another file
        # the events
        store = ("plugin = gda\nprovider = sqlite\ndatabase = %s\nrole = outputs\n\n"
                 "[store.events]\nplugin = gda\nprovider = sqlite\ndatabase = %s\nrole = events"
                 % (c.shared_db, events_db))
        for n in (a, b):
            n.write_config(store=store)
        a.start()
        ha.wait_for("a active", lambda: a.state() == "active")
        b.start()
        ha.wait_for("b passive and in sync", lambda: ready(a, b) is a, timeout=30)
        code, first, _ = a.post("IBM", 1)
        assert code == 202 and a.status()["durable_seq"] >= first["first_seq"], (code, first, a.status())

        lock = sqlite3.connect(events_db, timeout=10, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        answer = {}

        def post_waiting():
            answer["r"] = rep.post_json(a, {"symbol": "IBM", "v": 2, "id": "w-1"})
        t = threading.Thread(target=post_waiting)
        try:
            t.start()
            # accepted, replicated, published, and waiting for the store
            ha.wait_for("a request waiting for the store",
                        lambda: (lambda s: s["last_seq"] > s["durable_seq"] and
                                 s["replication"]["acked_seq"] == s["last_seq"])(a.status()))
            assert t.is_alive()
            code, body, _ = api(a, "POST", "/api/v1/switchover")
            assert code == 200 and body["active"] == b.name, (code, body)
            t.join(30)
            assert not t.is_alive()
            code, body = answer["r"]
            assert code == 503 and "stopped being the active before the event store confirmed" in body["detail"], \
                (code, body)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
            t.join(30)
        seq = a.status()["last_seq"]
        ha.wait_for("b active", lambda: ready(a, b) is b, timeout=30)
        code, body = rep.post_json(b, {"symbol": "IBM", "v": 2, "id": "w-1"})
        assert code == 202 and body == {"accepted": 1, "first_seq": seq, "new": 0}, (code, body, seq)
        assert b.status()["durable_seq"] >= seq
        vs = sorted(v for (v,) in rep.rows(events_db, "SELECT v FROM %s" % rep.table(events_db, "evt_s_")))
        assert vs == [1, 2], vs


def main():
    tests = [test_switchover_under_load, test_switchover_refused, test_switchover_aborted,
             test_switchover_witness, test_switchover_durable_waiting]
    if len(sys.argv) > 1:
        tests = [fn for fn in tests if fn.__name__ in sys.argv[1:]]
    print("1..%d" % len(tests))
    failed = 0
    for i, fn in enumerate(tests, 1):
        try:
            fn()
            print("ok %d %s" % (i, fn.__name__))
        except Exception:  # noqa: BLE001 - reported as TAP
            failed += 1
            print("not ok %d %s" % (i, fn.__name__))
            for line in traceback.format_exc().splitlines():
                print("# " + line)
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
