#!/usr/bin/python3
# test-ha-replication.py: HA part 2 with real tandemd processes on
# 127.0.0.1.  Two clients send a steady acknowledged load to both nodes (the
# passive forwards to the active): one posts to the http receiver, the other
# sends batches to the tcp receiver in its binary frame format.  The active
# is killed with kill -9 ten times, the killed node restarted each time and
# synced from the new active.
# Then: every acknowledged event is exactly once in the event store; every
# output row in the store is exactly the one an uninterrupted run computes
# from those events in seq order (a length window: a lost or doubled event,
# or a state not carried over, changes the sums); no output is published
# twice; both nodes' plan states are byte-identical at the same seq.
#
# meson sets TANDEM_TEST_TANDEMD and TANDEM_TEST_PLUGIN_DIRS.  Prints TAP.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
import collections
import http.client
import importlib.util
import json
import os
import signal
import socket
import sqlite3
import struct
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("test_ha", os.path.join(HERE, "test-ha.py"))
ha = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ha)

PLAN = """\
@Plan:name('Sums')
define stream S (symbol string, v long);
@info(name = 'last5')
from S#window.length(5)
select symbol, sum(v) as total
insert into Out;
"""
KILLS = int(os.environ.get("TANDEM_TEST_KILLS", "10"))


class Client(threading.Thread):
    """Posts events with unique ids, one at a time, to whichever node takes
    them; retries an event (same id) until it is acknowledged."""

    def __init__(self, nodes):
        super().__init__(daemon=True)
        self.nodes = nodes
        self.acked = {}  # id -> v
        self.stop = threading.Event()
        self.failures = 0
        self.failure = None  # what went wrong in the thread
        self.next = 0

    def post(self, node, eid, v):
        body = json.dumps({"symbol": "IBM", "v": v, "id": eid})
        conn = http.client.HTTPConnection("127.0.0.1", node.http_port, timeout=5)
        try:
            conn.request("POST", "/endpoints/s", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            return r.status
        finally:
            conn.close()

    def run(self):
        try:
            self.loop()
        except Exception:  # noqa: BLE001 - the test reports it
            self.failure = traceback.format_exc()

    def loop(self):
        turn = 0
        while not self.stop.is_set():
            self.next += 1
            eid, v = "e-%d" % self.next, self.next
            while True:
                node = self.nodes[turn % len(self.nodes)]
                try:
                    code = self.post(node, eid, v)
                except (OSError, http.client.HTTPException):
                    # a node killed while it answers: the status line or
                    # the body cut off (IncompleteRead)
                    code = None
                if code == 202:
                    self.acked[eid] = v
                    break
                self.failures += 1
                turn += 1
                time.sleep(0.005)
                if self.stop.is_set() and self.failures > 100000:
                    return
            # spread the load over both nodes
            if self.next % 7 == 0:
                turn += 1
            time.sleep(0.002)


# the tcp client's values start here: apart from the http client's
TCP_BASE = 10 ** 9
TCP_BATCH = 10  # events per EVENTS frame
TCP_WINDOW = 4  # requests in flight on one connection
# the frame format of plugins/receivers/tcp/README.md, version 1
FRAME_EVENTS, FRAME_ACK, FRAME_ERROR = 1, 2, 3
FLAG_TIMESTAMP, FLAG_ID = 1, 2
MARKER_LONG, MARKER_STRING = 2, 6
TCP_ERRORS = {1: "UNSUPPORTED_VERSION", 2: "UNKNOWN_TYPE", 3: "FRAME_TOO_LARGE", 4: "MALFORMED",
              5: "UNKNOWN_STREAM", 6: "STREAM_NOT_ALLOWED", 7: "INVALID_EVENT", 8: "UNAVAILABLE",
              9: "TOO_MANY_CONNECTIONS", 10: "IDLE_TIMEOUT", 11: "INTERNAL"}
# what the client sends again elsewhere; any other code is a bug in the test
TCP_RETRYABLE = {8, 9, 10, 11}


def bytes16(text):
    b = text.encode("utf-8")
    return struct.pack(">H", len(b)) + b


def events_frame(request_id, batch):
    """An EVENTS frame for stream S (symbol string, v long): every event with
    a timestamp, and with its id unless the batch has an idempotency key."""
    body = [struct.pack(">I", request_id), bytes16("S"), bytes16(batch.key or ""),
            struct.pack(">I", len(batch.values))]
    for eid, v in zip(batch.ids, batch.values):
        if eid is None:
            body.append(struct.pack(">Bq", FLAG_TIMESTAMP, batch.ts))
        else:
            body.append(struct.pack(">Bq", FLAG_TIMESTAMP | FLAG_ID, batch.ts) + bytes16(eid))
        body.append(struct.pack(">BI", MARKER_STRING, 3) + b"BIN" + struct.pack(">Bq", MARKER_LONG, v))
    payload = b"".join(body)
    return struct.pack(">IBB", 2 + len(payload), 1, FRAME_EVENTS) + payload


class TcpError(Exception):
    """The connection is lost, or failed with an ERROR frame (code)."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


class Batch:
    def __init__(self, n, with_key):
        self.values = [TCP_BASE + n * TCP_BATCH + i for i in range(TCP_BATCH)]
        # every third batch carries an idempotency key instead of event ids:
        # both ways of not ingesting a batch sent again twice
        self.key = "tk-%d" % n if with_key else None
        self.ids = [None if with_key else "t-%d" % v for v in self.values]
        self.ts = int(time.time() * 1000)
        self.sends = 0
        self.request_id = None


class TcpConn:
    """A connection to a node's tcp receiver."""

    def __init__(self, node, timeout=5):
        self.node = node
        self.sock = socket.create_connection(("127.0.0.1", node.tcp_port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.next_request = 0

    def close(self):
        self.sock.close()

    def send(self, batch):
        self.next_request += 1
        batch.request_id = self.next_request
        batch.sends += 1
        self.sock.sendall(events_frame(batch.request_id, batch))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise TcpError("%s closed the connection" % self.node.name)
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def reply(self):
        """The next ACK as (request_id, first_seq, count, n_new); raises
        TcpError for an ERROR frame, AssertionError for anything else."""
        (length,) = struct.unpack(">I", self._read(4))
        assert 2 <= length <= 4096, length
        frame = self._read(length)
        assert frame[0] == 1, frame
        if frame[1] == FRAME_ACK:
            assert length == 2 + 20, frame
            return struct.unpack(">IQII", frame[2:])
        assert frame[1] == FRAME_ERROR, frame
        request_id, code, reason_len = struct.unpack(">IHH", frame[2:10])
        assert len(frame) == 10 + reason_len, frame
        raise TcpError("%s: ERROR %s for request %d: %s" % (
            self.node.name, TCP_ERRORS.get(code, code), request_id, frame[10:].decode("utf-8", "replace")),
            code)


class TcpClient(threading.Thread):
    """Sends batches of TCP_BATCH events to the tcp receiver of whichever node
    takes them, up to TCP_WINDOW requests in flight, and waits for every ACK.
    On a lost connection, an ERROR frame or no ACK in time, it connects to a
    node (the other one first) and sends every request without an ACK again,
    with the same event ids or key: acknowledged again, not ingested twice."""

    def __init__(self, nodes):
        super().__init__(daemon=True)
        self.nodes = nodes
        self.acked = {}  # value -> value, like Client.acked
        self.acks = []  # (first_seq, count, n_new, values, sends) per ACK
        self.by_node = collections.Counter()  # ACKs per node
        self.errors = collections.Counter()  # ERROR frames by code, lost connections by exception
        self.failure = None  # what went wrong in the thread
        self.stop = threading.Event()
        self.pending = collections.deque()  # sent, no ACK yet, in order
        self.next = 0
        self.resent = 0
        self.repeats_sent_once = []  # (node, ACK): see check_ack()

    def new_batch(self):
        b = Batch(self.next, self.next % 3 == 2)
        self.next += 1
        return b

    def check_ack(self, conn, ack):
        request_id, first_seq, count, n_new = ack
        batch = self.pending[0]
        # ACKs come in request order
        assert request_id == batch.request_id, (ack, batch.request_id)
        assert count == len(batch.values) and first_seq > 0, (ack, batch.values)
        # all or nothing: new or a repeat as a whole.  Even a batch sent
        # once may come back as a repeat: when the active is killed before
        # it answers a batch the passive forwarded, the passive's tcp
        # receiver ingests the batch again (the forward failed as busy), and
        # the new active had it already
        assert n_new in (count, 0), (ack, batch.sends, batch.values)
        if n_new == 0 and batch.sends == 1:
            self.repeats_sent_once.append((conn.node.name, ack))
        self.pending.popleft()
        self.acks.append((first_seq, count, n_new, batch.values, batch.sends))
        self.by_node[conn.node.name] += 1
        for v in batch.values:
            self.acked[v] = v

    def exchange(self, node, batch=None):
        """Sends one batch (a new one, or @batch again) on its own
        connection to @node; returns its ACK and the batch."""
        batch = batch or self.new_batch()
        conn = TcpConn(node)
        try:
            self.pending.append(batch)
            conn.send(batch)
            ack = conn.reply()
            self.check_ack(conn, ack)
            return ack, batch
        finally:
            self.pending.clear()
            conn.close()

    def run(self):
        try:
            self.loop()
        except Exception:  # noqa: BLE001 - the test reports it
            self.failure = traceback.format_exc()

    def loop(self):
        conn = None
        turn = 0
        deadline = None
        switch_at = 25
        while True:
            if self.stop.is_set():
                if not self.pending:
                    break
                # finish what was sent: its events may be stored already
                deadline = deadline or time.monotonic() + 30
                assert time.monotonic() < deadline, "no ACK for %d batches" % len(self.pending)
            try:
                if conn is None:
                    conn = TcpConn(self.nodes[turn % len(self.nodes)])
                    for batch in self.pending:
                        self.resent += 1
                        conn.send(batch)
                while not self.stop.is_set() and len(self.pending) < TCP_WINDOW and self.next < switch_at:
                    batch = self.new_batch()
                    self.pending.append(batch)
                    conn.send(batch)
                if self.pending:
                    self.check_ack(conn, conn.reply())
            except (OSError, TcpError) as e:
                code = getattr(e, "code", None)
                self.errors[TCP_ERRORS.get(code, code) if code else type(e).__name__] += 1
                assert code is None or code in TCP_RETRYABLE, str(e)
                if conn is not None:
                    conn.close()
                    conn = None
                turn += 1
                time.sleep(0.005)
                continue
            # spread the load over both nodes (the passive forwards): every
            # 25 batches, once their ACKs are in, move to the other node
            if self.next >= switch_at and not self.pending:
                conn.close()
                conn = None
                turn += 1
                switch_at = self.next + 25
            time.sleep(0.003)
        if conn is not None:
            conn.close()


def write_plan(c):
    with open(c.plan_path, "w", encoding="utf-8") as f:
        f.write(PLAN)


def api_get(node, path):
    conn = http.client.HTTPConnection("127.0.0.1", node.api_port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def rows(db, sql):
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def table(db, prefix):
    names = [r[0] for r in rows(db, "SELECT name FROM sqlite_master WHERE type = 'table'")]
    found = [n for n in names if n.startswith(prefix)]
    assert len(found) == 1, names
    return found[0]


def settle(a, b):
    """Waits until both nodes processed the same events and published what
    they will."""
    def same():
        sa, sb = a.status(), b.status()
        return (sa["last_seq"] == sb["last_seq"] and sa["events_processed"] > 0 and
                sa["replication"]["held_events"] == 0)
    ha.wait_for("both nodes at the same seq", same, timeout=30)


def test_kill_loop():
    with ha.Cluster(lease_ttl_ms=3000) as c:
        write_plan(c)
        a, b = c.add("node-a"), c.add("node-b")
        c.configure(tcp=True)
        a.start()
        ha.wait_for("a active", lambda: a.state() == "active")
        b.start()
        ha.wait_for("b passive", lambda: b.state() == "passive")
        ha.wait_for("b in sync", lambda: a.status()["replication"]["in_sync"], timeout=30)
        tcp = TcpClient([a, b])
        # the passive's tcp receiver forwards to the active, which answers
        # once both nodes hold the batch; sent again to the active, a batch
        # is a repeat (by its event ids, or by its key)
        for _ in range(3):
            (_, seq, count, new), batch = tcp.exchange(b)
            assert count == new == TCP_BATCH, (seq, count, new)
            (_, seq2, count2, new2), _ = tcp.exchange(a, batch)
            assert (seq2, count2, new2) == (seq, TCP_BATCH, 0), (seq, seq2, count2, new2, batch.key)
        client = Client([a, b])
        client.start()
        tcp.start()
        takeovers = []
        try:
            for i in range(KILLS):
                time.sleep(0.4)
                active = ha.wait_for("one active", lambda: ha.one_active([a, b]), timeout=30)
                passive = b if active is a else a
                before = len(client.acked)
                t0 = time.monotonic()
                active.kill(signal.SIGKILL)
                ha.wait_for("takeover", lambda: passive.state() == "active", timeout=30)
                takeovers.append(time.monotonic() - t0)
                active.start()
                ha.wait_for("the restarted node synced", lambda: active.state() == "passive", timeout=30)
                # in sync: nothing acknowledged lives only in the active
                ha.wait_for("the passive in sync", lambda: passive.status()["replication"]["in_sync"],
                            timeout=30)
                assert len(client.acked) >= before
        finally:
            time.sleep(0.3)
            client.stop.set()
            tcp.stop.set()
            client.join(30)
            tcp.join(40)
        assert not client.is_alive() and not tcp.is_alive()
        assert client.failure is None, client.failure
        assert tcp.failure is None, tcp.failure
        assert len(client.acked) > 50 * KILLS, len(client.acked)
        assert len(tcp.acked) > 100 * KILLS, len(tcp.acked)
        # the tcp client's ACKs came from both nodes
        assert len(tcp.by_node) == 2, tcp.by_node
        acked = list(client.acked.values()) + list(tcp.acked.values())
        active = ha.wait_for("one active", lambda: ha.one_active([a, b]), timeout=30)
        settle(a, b)
        # both nodes hold the same state at the same seq
        sa, da = api_get(a, "/api/v1/state")
        sb, db_ = api_get(b, "/api/v1/state")
        assert sa == 200 and sb == 200, (da, db_)
        assert da["seq"] == db_["seq"] and da["plans"] == db_["plans"], (da, db_)
        # the stores are written asynchronously: wait until every
        # acknowledged event is there
        db = c.shared_db
        evt = table(db, "evt_s_")
        out = table(db, "out_sums_")

        def stored():
            return rows(db, "SELECT COUNT(*) FROM %s" % evt)[0][0] >= len(acked)
        try:
            ha.wait_for("the event store", stored, timeout=30)
        except AssertionError:
            have = {v for (v,) in rows(db, "SELECT v FROM %s" % evt)}
            missing = sorted(v for v in acked if v not in have)
            seqs = [s for (s,) in rows(db, "SELECT seq FROM %s ORDER BY seq" % evt)]
            holes = [(x, y) for x, y in zip(seqs, seqs[1:]) if y != x + 1]
            raise AssertionError("%d acknowledged events missing from the store (first %s); seq holes %s; "
                                 "status a %s b %s" % (len(missing), missing[:10], holes[:10],
                                                       json.dumps(a.status()), json.dumps(b.status())))
        events = rows(db, "SELECT seq, v FROM %s ORDER BY seq" % evt)
        seqs = [s for s, _ in events]
        assert len(seqs) == len(set(seqs))
        vs = [v for _, v in events]
        # exactly once: every acknowledged event of both clients, no other,
        # no double
        if sorted(vs) != sorted(acked):
            counts = collections.Counter(vs)
            doubled = sorted(v for v, n in counts.items() if n > 1)
            missing = sorted(set(acked) - set(counts))
            unacked = sorted(set(counts) - set(acked))
            raise AssertionError("store %d events, acknowledged %d (http %d, tcp %d): doubled %s, missing %s, "
                                 "not acknowledged %s" % (len(vs), len(acked), len(client.acked), len(tcp.acked),
                                                         doubled[:10], missing[:10], unacked[:10]))
        # every tcp ACK named the sequence numbers its batch has in the store
        by_seq = dict(events)
        for first_seq, count, n_new, values, sends in tcp.acks:
            got = [by_seq.get(first_seq + i) for i in range(count)]
            assert got == values, (first_seq, n_new, sends, values, got)
        # the sequence has no holes: nothing was sequenced and then lost
        ha.wait_for("the output store", lambda: rows(db, "SELECT COUNT(*) FROM %s" % out)[0][0] >= len(events),
                    timeout=30)
        outputs = rows(db, "SELECT input_seq, output_index, total FROM %s ORDER BY input_seq, output_index" % out)
        assert len(outputs) == len(events), (len(outputs), len(events))
        window = []
        for (seq, v), (in_seq, index, total) in zip(events, outputs):
            window = (window + [v])[-5:]
            assert in_seq == seq and index == 0, (seq, in_seq, index)
            assert total == sum(window), (seq, total, window)
        sys.stdout.write("# %d events acknowledged over %d kills (http %d, tcp %d); takeover median %.0f ms, "
                         "max %.0f ms\n" % (len(acked), KILLS, len(client.acked), len(tcp.acked),
                                            sorted(takeovers)[len(takeovers) // 2] * 1000, max(takeovers) * 1000))
        sys.stdout.write("# tcp: %d ACKs (%s), %d requests sent again, %d acknowledged as repeats (%d of them "
                         "sent once: %s), failures %s\n" % (
                             len(tcp.acks), dict(tcp.by_node), tcp.resent, sum(1 for a in tcp.acks if a[2] == 0),
                             len(tcp.repeats_sent_once), tcp.repeats_sent_once[:3], dict(tcp.errors)))


class BothClient(Client):
    """duplicated_in_cluster: posts every event to both nodes, and counts it
    acknowledged when either node acknowledged it (both, when both run)."""

    def loop(self):
        while not self.stop.is_set():
            self.next += 1
            eid, v = "d-%d" % self.next, self.next
            done = set()
            while len(done) < len(self.nodes) and not self.stop.is_set():
                for node in self.nodes:
                    if node.name in done:
                        continue
                    try:
                        code = self.post(node, eid, v)
                    except (OSError, http.client.HTTPException):
                        code = None
                    if code == 202:
                        done.add(node.name)
                        self.acked[eid] = v
                    else:
                        self.failures += 1
                if len(done) < len(self.nodes):
                    time.sleep(0.005)
                    # a node that is down will not answer: one ack will do
                    if done and self.failures % 20 == 0:
                        break
            time.sleep(0.002)


def test_duplicated_in_cluster():
    with ha.Cluster(lease_ttl_ms=3000) as c:
        write_plan(c)
        c.receiver_extra = "duplicated_in_cluster = true"
        a, b = c.add("node-a"), c.add("node-b")
        c.configure()
        a.start()
        ha.wait_for("a active", lambda: a.state() == "active")
        b.start()
        ha.wait_for("b passive", lambda: b.state() == "passive")
        ha.wait_for("b in sync", lambda: a.status()["replication"]["in_sync"], timeout=30)
        # an event without an id cannot be matched: refused
        code, body, _ = b.post("IBM", 1)
        assert code == 422 and "duplicated_in_cluster" in body["detail"], (code, body)
        client = BothClient([a, b])
        client.start()
        try:
            time.sleep(0.8)
            a.kill(signal.SIGKILL)
            ha.wait_for("takeover", lambda: b.state() == "active", timeout=30)
            a.start()
            ha.wait_for("a synced", lambda: a.state() == "passive", timeout=30)
            ha.wait_for("a in sync", lambda: b.status()["replication"]["in_sync"], timeout=30)
            time.sleep(0.8)
        finally:
            client.stop.set()
            client.join(30)
        assert not client.is_alive() and client.failure is None, client.failure
        settle(a, b)
        db = c.shared_db
        evt = table(db, "evt_s_")
        ha.wait_for("the event store",
                    lambda: rows(db, "SELECT COUNT(*) FROM %s" % evt)[0][0] >= len(client.acked), timeout=30)
        vs = [v for (v,) in rows(db, "SELECT v FROM %s ORDER BY seq" % evt)]
        # every event once, though clients sent each to both nodes
        assert sorted(vs) == sorted(client.acked.values()), (len(vs), len(client.acked))
        sa, da = api_get(a, "/api/v1/state")
        sb, db_ = api_get(b, "/api/v1/state")
        assert da == db_, (da, db_)
        sys.stdout.write("# duplicated_in_cluster: %d events, each sent to both nodes\n" % len(client.acked))


def post_json(node, body, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", node.http_port, timeout=10)
    try:
        conn.request("POST", "/endpoints/s", json.dumps(body), dict({"Content-Type": "application/json"},
                                                                      **(headers or {})))
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"{}")
    finally:
        conn.close()


def test_ids_survive_state_sync():
    """Events acknowledged before the passive joined reach it in the state
    sync, not in the log; their event ids and request keys come with the
    state, so that a client repeating one to the new active after a
    takeover is acknowledged with the first seq and not ingested twice."""
    with ha.Cluster(lease_ttl_ms=3000) as c:
        write_plan(c)
        a, b = c.add("node-a"), c.add("node-b")
        c.configure()
        a.start()
        ha.wait_for("a active", lambda: a.state() == "active")
        b.start()
        ha.wait_for("b in sync", lambda: a.status()["replication"]["in_sync"], timeout=30)
        first = {}
        for i in range(1, 21):
            code, body = post_json(a, {"symbol": "IBM", "v": i, "id": "s-%d" % i})
            assert code == 202 and body["new"] == 1, (code, body)
            first["s-%d" % i] = body["first_seq"]
        code, body = post_json(a, [{"symbol": "IBM", "v": 100}, {"symbol": "IBM", "v": 101}],
                               {"Idempotency-Key": "req-1"})
        assert code == 202 and body["new"] == 2, (code, body)
        req_seq = body["first_seq"]
        # b held them (a's log is trimmed); b restarts with nothing (no
        # persister): only a state sync brings it up to date
        settle(a, b)
        b.kill(signal.SIGKILL)
        b.start()
        ha.wait_for("b passive", lambda: b.state() == "passive", timeout=30)
        ha.wait_for("b in sync", lambda: a.status()["replication"]["in_sync"], timeout=30)
        assert "Replication: state of 1 plan(s) at seq %d restored from node-a, with 21 idempotency key(s)" \
            % (req_seq + 1) in b.log(), b.log()[-3000:]
        a.kill(signal.SIGKILL)
        ha.wait_for("takeover", lambda: b.state() == "active", timeout=30)
        for eid in ("s-1", "s-7", "s-20"):
            code, body = post_json(b, {"symbol": "IBM", "v": int(eid[2:]), "id": eid})
            assert code == 202 and body == {"accepted": 1, "first_seq": first[eid], "new": 0}, (eid, code, body)
        code, body = post_json(b, [{"symbol": "IBM", "v": 100}, {"symbol": "IBM", "v": 101}],
                               {"Idempotency-Key": "req-1"})
        assert code == 202 and body == {"accepted": 2, "first_seq": req_seq, "new": 0}, (code, body)
        # a new one is new
        code, body = post_json(b, {"symbol": "IBM", "v": 21, "id": "s-21"})
        assert code == 202 and body["new"] == 1 and body["first_seq"] > req_seq + 1, (code, body)
        db = c.shared_db
        evt = table(db, "evt_s_")
        ha.wait_for("the event store", lambda: rows(db, "SELECT COUNT(*) FROM %s" % evt)[0][0] >= 23, timeout=30)
        time.sleep(0.3)
        vs = sorted(v for (v,) in rows(db, "SELECT v FROM %s" % evt))
        assert vs == list(range(1, 22)) + [100, 101], vs


def post_bulk(node, first, count, per=5000):
    """Events v = first .. first + count - 1, NDJSON, per events a request"""
    for k in range(first, first + count, per):
        body = "\n".join(json.dumps({"symbol": "IBM", "v": v}) for v in range(k, min(first + count, k + per)))
        conn = http.client.HTTPConnection("127.0.0.1", node.http_port, timeout=60)
        try:
            conn.request("POST", "/endpoints/s", body, {"Content-Type": "application/x-ndjson"})
            r = conn.getresponse()
            assert r.status == 202, (r.status, r.read())
            r.read()
        finally:
            conn.close()


def test_restarted_passive_gets_the_state():
    """A passive restarted without a persister holds nothing, though its
    sequence continues above the block of seqs its previous run reserved
    (100000 at a time).  The active, which went on without it, still holds
    in its log every event from where the passive left off: the passive
    must not take the seq of its reservation for what it holds and follow
    from there, but get the state of every plan."""
    with ha.Cluster(lease_ttl_ms=3000) as c:
        write_plan(c)
        a, b = c.add("node-a"), c.add("node-b")
        c.configure()
        a.start()
        ha.wait_for("a active", lambda: a.state() == "active")
        b.start()
        ha.wait_for("b in sync", lambda: a.status()["replication"]["in_sync"], timeout=30)
        post_bulk(a, 1, 95000)
        settle(a, b)
        b.kill(signal.SIGKILL)
        # beyond b's reserved block, kept in a's log for b
        post_bulk(a, 95001, 10000)
        ha.wait_for("a processed", lambda: a.status()["events_processed"] >= 105000, timeout=60)
        b.start()
        ha.wait_for("b passive", lambda: b.state() == "passive", timeout=60)
        ha.wait_for("b in sync", lambda: a.status()["replication"]["in_sync"], timeout=60)
        log = b.log()
        restart = log[log.rindex("HA state starting"):]
        assert "Replication: receiving the state of the active node-a" in restart, restart[-3000:]
        settle(a, b)
        _, da = api_get(a, "/api/v1/state")
        _, db_ = api_get(b, "/api/v1/state")
        assert da == db_ and da["seq"] == 105000, (da, db_)


def main():
    tests = [test_kill_loop, test_duplicated_in_cluster, test_ids_survive_state_sync,
             test_restarted_passive_gets_the_state]
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
