#!/usr/bin/python3
# test-ha.py: HA with real tandemd processes on 127.0.0.1: two nodes agree
# on one active (the passive forwards what it gets to it); kill -9 of the
# active and the passive takes over (the restarted node copies the new
# active's state and rejoins as passive);
# SIGSTOP of the active beyond its lease, takeover, and on SIGCONT the old
# active fences itself (a request that waited in its socket is refused, not
# acknowledged) and rejoins as passive; the witness arbiter with two nodes
# that share no database; config refusals (no key, a key others can read,
# arbiter none without the acknowledgement).
#
# With --multicast (run inside a private network namespace by
# run-in-netns.sh): discovery by multicast; a cluster with another name or
# domain on the same group stays apart; a node with a wrong key is refused.
#
# meson sets TANDEM_TEST_TANDEMD and TANDEM_TEST_PLUGIN_DIRS (the build
# directories of the plugins used).  Prints TAP.  Every tandemd started here
# is killed by its PID at the end (and gets PR_SET_PDEATHSIG).
#
# SPDX-License-Identifier: LGPL-2.1-or-later
import ctypes
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

TANDEMD = os.environ["TANDEM_TEST_TANDEMD"]
PLUGIN_DIRS = os.environ["TANDEM_TEST_PLUGIN_DIRS"].split(":")
DEADLINE = 10  # seconds, for anything that should happen much sooner

PLAN = """\
@Plan:name('HaTest')
define stream S (symbol string, v long);
@info(name = 'all')
from S
select symbol, v
insert into Out;
"""

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def die_with_parent():
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


_HANDED_OUT = set()
_RNG = __import__("random").Random(os.getpid())


def free_ports(n):
    """n free ports below the kernel's ephemeral range (32768-60999), so that
    no outgoing connection takes one between here and the node's bind; never
    the same port twice in one test run."""
    ports = []
    while len(ports) < n:
        port = _RNG.randrange(20000, 32000)
        if port in _HANDED_OUT:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        _HANDED_OUT.add(port)
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


class Node:
    def __init__(self, cluster, name, witness=False):
        self.cluster = cluster
        self.name = name
        self.witness = witness
        self.dir = os.path.join(cluster.path, name)
        os.mkdir(self.dir, 0o700)
        self.http_port, self.api_port, self.member_port = free_ports(3)
        self.tcp_port = None  # the port of [receiver.bin] once write_config(tcp=True)
        self.proc = None
        self.log_path = os.path.join(self.dir, "tandemd.log")
        self.out_path = os.path.join(self.dir, "outputs.jsonl")
        self.config_path = os.path.join(self.dir, "tandem.conf")

    def write_config(self, extra_cluster="", membership=None, store=None, tcp=False):
        c = self.cluster
        lines = [
            "[node]", "id = %s" % self.name, "state_dir = %s" % os.path.join(self.dir, "state"), "",
            "[cluster]", "name = %s" % c.name, "key_file = %s" % c.key_path,
            "lease_ttl_ms = %d" % c.lease_ttl_ms, c.cluster_extra, extra_cluster, "",
            "[api]", "port = %d" % self.api_port, "",
        ]
        if membership is None:
            members = ", ".join("127.0.0.1:%d" % n.member_port for n in c.members)
            membership = "plugin = wka\nmembers = %s" % members
        lines += ["[membership.m]", "listen = 127.0.0.1:%d" % self.member_port, membership, ""]
        if not self.witness:
            if store is None:
                db = c.shared_db if c.shared_db else os.path.join(self.dir, "own.db")
                store = "plugin = gda\nprovider = sqlite\ndatabase = %s" % db
            lines += ["[store.db]", store, "",
                      "[engine]", "plans = %s" % c.plan_path, "output_log = %s" % self.out_path, "",
                      "[receiver.http]", "plugin = http", "port = %d" % self.http_port,
                      "endpoints = s=S", c.receiver_extra, ""]
            if tcp:
                # the tcp receiver too (plugins/receivers/tcp), on a port
                # that stays the same when the node is restarted
                if self.tcp_port is None:
                    self.tcp_port = free_ports(1)[0]
                lines += ["[receiver.bin]", "plugin = tcp", "address = 127.0.0.1",
                          "port = %d" % self.tcp_port, "streams = S", c.receiver_extra, ""]
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))

    def start(self):
        args = [TANDEMD, "--config", self.config_path]
        if self.witness:
            args.append("--witness")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     env=self.cluster.env, preexec_fn=die_with_parent)
        log.close()
        self.cluster.started.append(self.proc)
        wait_for("%s's REST API" % self.name, lambda: self.status_or_none() is not None)

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            self.proc.wait(timeout=DEADLINE)

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def status_or_none(self):
        try:
            return self.status(timeout=1)
        except (OSError, http.client.HTTPException, ValueError):
            return None

    def status(self, timeout=2):
        conn = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=timeout)
        try:
            conn.request("GET", "/api/v1/status")
            r = conn.getresponse()
            return json.loads(r.read())
        finally:
            conn.close()

    def state(self):
        s = self.status_or_none()
        return s["state"] if s else None

    def post(self, symbol, v, timeout=2):
        body = json.dumps({"event": {"payloadData": {"symbol": symbol, "v": v}}})
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            conn.request("POST", "/endpoints/s", body, {"Content-Type": "application/json"})
            r = conn.getresponse()
            return r.status, json.loads(r.read() or b"{}"), r.getheader("Retry-After")
        finally:
            conn.close()

    def outputs(self):
        try:
            with open(self.out_path, encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []


class Cluster:
    def __init__(self, name="test-ha", shared_db=True, lease_ttl_ms=3000, cluster_extra="", key=None):
        self.path = tempfile.mkdtemp(prefix="tandem-test-ha-")
        os.chmod(self.path, 0o700)
        self.name = name
        self.lease_ttl_ms = lease_ttl_ms
        self.cluster_extra = cluster_extra
        self.receiver_extra = ""
        self.members = []
        self.started = []
        self.key = key if key is not None else os.urandom(32).hex()
        self.key_path = self.write_key("cluster.key", self.key)
        self.plan_path = os.path.join(self.path, "plan.siddhiql")
        with open(self.plan_path, "w", encoding="utf-8") as f:
            f.write(PLAN)
        self.shared_db = os.path.join(self.path, "shared.db") if shared_db else None
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

    def write_key(self, name, text, mode=0o600):
        path = os.path.join(self.path, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        os.chmod(path, mode)
        return path

    def add(self, name, witness=False):
        node = Node(self, name, witness)
        self.members.append(node)
        return node

    def configure(self, **kw):
        for n in self.members:
            n.write_config(**kw)

    def close(self):
        for p in self.started:
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGCONT)
                    p.kill()
                    p.wait(timeout=DEADLINE)
                except OSError:
                    pass
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            for n in self.members:
                if os.path.exists(n.log_path):
                    sys.stderr.write("--- log of %s ---\n%s\n" % (n.name, n.log()[-6000:]))
        self.close()


def one_active(nodes):
    """The active node when exactly one is active and every other is passive."""
    states = {n.name: n.state() for n in nodes}
    active = [n for n in nodes if states[n.name] == "active"]
    if len(active) == 1 and all(states[n.name] == "passive" for n in nodes if n is not active[0]):
        return active[0]
    return None


def check_agreement(nodes, active):
    for n in nodes:
        s = n.status()
        assert s["lease"] is not None and s["lease"]["holder"] == active.name, s
        peers = {m["node_id"]: m for m in s["members"]}
        for other in nodes:
            if other is n:
                continue
            assert other.name in peers, (n.name, s["members"])
            want = "active" if other is active else "passive"
            assert peers[other.name]["role"] == want, (n.name, peers)
            assert peers[other.name]["last_heartbeat_ms_ago"] < 1000, peers


@test
def two_nodes_one_active():
    with Cluster() as c:
        a, b = c.add("node-a"), c.add("node-b")
        c.configure()
        a.start()
        b.start()
        active = wait_for("one active, one passive", lambda: one_active([a, b]))
        passive = b if active is a else a
        # the members have seen each other's state: both views agree
        wait_for("agreeing views", lambda: _agrees([a, b], active))
        epoch = active.status()["epoch"]
        assert epoch >= 1
        assert passive.status()["epoch"] == epoch
        code, body, _ = active.post("IBM", 1)
        assert code == 202, (code, body)
        # the passive forwards to the active, which sequences and publishes
        code, body, _ = passive.post("IBM", 2)
        assert code == 202 and body["first_seq"] == 2, (code, body)
        wait_for("both outputs on the active", lambda: [o["data"][1] for o in active.outputs()] == [1, 2])
        assert passive.outputs() == []
        assert "Became active" in active.log()
        assert "Became passive" in passive.log()


def _agrees(nodes, active):
    try:
        check_agreement(nodes, active)
        return True
    except AssertionError:
        return False


@test
def kill_active_passive_takes_over():
    with Cluster() as c:
        a, b = c.add("node-a"), c.add("node-b")
        c.configure()
        a.start()
        wait_for("a active", lambda: a.state() == "active")
        b.start()
        wait_for("b passive", lambda: b.state() == "passive")
        old_epoch = a.status()["epoch"]
        t0 = time.monotonic()
        a.kill(signal.SIGKILL)
        wait_for("b active", lambda: b.state() == "active")
        took = time.monotonic() - t0
        # the killed node's connection closed without a goodbye: b took
        # over at once instead of waiting for the lease (3 s) to expire
        assert took < c.lease_ttl_ms / 1000.0, took
        assert b.status()["epoch"] > old_epoch
        code, body, _ = wait_for("an acknowledged event",
                                 lambda: (lambda r: r if r[0] == 202 else None)(b.post("IBM", 3)))
        assert body["accepted"] == 1
        assert "process gone" in b.log()
        # the killed node comes back as passive, and says what it lacks
        a.start()
        wait_for("a passive", lambda: a.state() == "passive")
        assert "Became passive: state copied from node-b" in a.log(), a.log()[-2000:]
        wait_for("agreeing views", lambda: _agrees([a, b], b))
        sys.stdout.write("# takeover after kill -9: %.0f ms\n" % (took * 1000))


@test
def sigstop_active_is_fenced():
    with Cluster(lease_ttl_ms=1500) as c:
        a, b = c.add("node-a"), c.add("node-b")
        c.configure()
        a.start()
        wait_for("a active", lambda: a.state() == "active")
        b.start()
        wait_for("b passive", lambda: b.state() == "passive")
        code, _, _ = a.post("IBM", 1)
        assert code == 202
        wait_for("a's output", lambda: len(a.outputs()) == 1)
        old_epoch = a.status()["epoch"]
        a.kill(signal.SIGSTOP)
        t0 = time.monotonic()
        try:
            # a request sent to the stopped node waits in its socket
            waiting = {}

            def post_to_stopped():
                try:
                    waiting["r"] = a.post("IBM", 99, timeout=DEADLINE)
                except Exception as e:  # noqa: BLE001 - recorded and checked below
                    waiting["r"] = e
            t = threading.Thread(target=post_to_stopped)
            t.start()
            wait_for("b active", lambda: b.state() == "active", timeout=DEADLINE)
            took = time.monotonic() - t0
            # a silent active is not known dead: b waited for its lease
            assert took >= 0.5, took
            assert b.status()["epoch"] > old_epoch
            code, _, _ = b.post("IBM", 2)
            assert code == 202
        finally:
            a.kill(signal.SIGCONT)
        t.join(DEADLINE)
        # the old active saw its lease run out: it acknowledged nothing
        r = waiting["r"]
        assert not isinstance(r, Exception), r
        assert r[0] == 503, r
        wait_for("a passive", lambda: a.state() == "passive")
        log = a.log()
        assert "HA state fenced" in log or "fenced" in log.lower(), log[-3000:]
        # as a passive it forwards to b, which publishes
        assert a.post("IBM", 100)[0] == 202
        wait_for("b's output", lambda: 100 in [o["data"][1] for o in b.outputs()])
        # and a published nothing after the pause
        time.sleep(0.3)
        assert [o["data"][1] for o in a.outputs()] == [1], a.outputs()
        wait_for("agreeing views", lambda: _agrees([a, b], b))
        sys.stdout.write("# takeover after SIGSTOP: %.0f ms (lease %d ms)\n" % (took * 1000, c.lease_ttl_ms))


@test
def witness_arbiter():
    with Cluster(shared_db=False, cluster_extra="arbiter = witness") as c:
        a, b, w = c.add("node-a"), c.add("node-b"), c.add("witness-w", witness=True)
        c.configure()
        w.start()
        a.start()
        b.start()
        active = wait_for("one active, one passive", lambda: one_active([a, b]))
        passive = b if active is a else a
        ws = w.status()
        assert ws["state"] == "witness", ws
        assert {m["node_id"] for m in ws["members"]} == {"node-a", "node-b"}, ws
        assert active.status()["arbiter"] == "witness"
        assert not os.path.exists(c.path + "/shared.db")
        old_epoch = active.status()["epoch"]
        active.kill(signal.SIGKILL)
        wait_for("takeover", lambda: passive.state() == "active")
        assert passive.status()["epoch"] > old_epoch
        assert passive.post("IBM", 5)[0] == 202
        assert "Witness: lease of cluster" in w.log()


@test
def arbiter_none_restart_keeps_the_active():
    """arbiter = none: the passive killed and started again at once finds
    the active and follows it.  (A node that took the lease before hearing
    from the others became active at a higher epoch, and the active fenced
    itself and copied the new node's empty state.)"""
    with Cluster(shared_db=False, cluster_extra="arbiter = none\nallow_split_brain = true") as c:
        a, b = c.add("node-a"), c.add("node-b")
        c.configure()
        a.start()
        wait_for("a active", lambda: a.state() == "active")
        b.start()
        wait_for("b passive", lambda: b.state() == "passive")
        epoch = a.status()["epoch"]
        for v in range(1, 11):
            assert a.post("IBM", v)[0] == 202
        for _ in range(2):
            b.kill(signal.SIGKILL)
            b.start()
            wait_for("b passive again", lambda: b.state() == "passive")
            sa, sb = a.status(), b.status()
            assert sa["state"] == "active" and sa["epoch"] == epoch, sa
            assert sb["epoch"] == epoch and sa["last_seq"] == 10, (sa, sb)
            assert "Fenced" not in a.log() and "Became active" not in b.log()
        assert [o["data"][1] for o in a.outputs()] == list(range(1, 11))


@test
def config_refusals():
    with Cluster() as c:
        a = c.add("node-a")
        c.configure()
        ok = subprocess.run([TANDEMD, "--config", a.config_path, "--check-config"], env=c.env,
                            capture_output=True, text=True, timeout=DEADLINE)
        assert ok.returncode == 0, ok.stderr
        # no key
        text = open(a.config_path).read()
        with open(a.config_path, "w") as f:
            f.write(text.replace("key_file = %s\n" % c.key_path, ""))
        r = subprocess.run([TANDEMD, "--config", a.config_path, "--check-config"], env=c.env,
                           capture_output=True, text=True, timeout=DEADLINE)
        assert r.returncode != 0 and "key_file" in r.stderr and "is required" in r.stderr, r.stderr
        # a key others may read
        loose = c.write_key("loose.key", "x" * 40, mode=0o644)
        with open(a.config_path, "w") as f:
            f.write(text.replace(c.key_path, loose))
        r = subprocess.run([TANDEMD, "--config", a.config_path, "--check-config"], env=c.env,
                           capture_output=True, text=True, timeout=DEADLINE)
        assert r.returncode != 0 and "chmod 600" in r.stderr and "tandem.conf:" in r.stderr, r.stderr
        # a short key
        short = c.write_key("short.key", "abc")
        with open(a.config_path, "w") as f:
            f.write(text.replace(c.key_path, short))
        r = subprocess.run([TANDEMD, "--config", a.config_path, "--check-config"], env=c.env,
                           capture_output=True, text=True, timeout=DEADLINE)
        assert r.returncode != 0 and "too short" in r.stderr, r.stderr
        # a renewal interval that leaves no room for one slow answer
        with open(a.config_path, "w") as f:
            f.write(text.replace("[cluster]\n", "[cluster]\nlease_renew_ms = 1500\n"))
        r = subprocess.run([TANDEMD, "--config", a.config_path, "--check-config"], env=c.env,
                           capture_output=True, text=True, timeout=DEADLINE)
        assert r.returncode != 0 and "lease_renew_ms" in r.stderr and "tandem.conf:" in r.stderr, r.stderr
        # arbiter none needs the acknowledgement
        with open(a.config_path, "w") as f:
            f.write(text.replace("[cluster]\n", "[cluster]\narbiter = none\n"))
        r = subprocess.run([TANDEMD, "--config", a.config_path, "--check-config"], env=c.env,
                           capture_output=True, text=True, timeout=DEADLINE)
        assert r.returncode != 0 and "allow_split_brain" in r.stderr, r.stderr
        with open(a.config_path, "w") as f:
            f.write(text.replace("[cluster]\n", "[cluster]\narbiter = none\nallow_split_brain = true\n"))
        r = subprocess.run([TANDEMD, "--config", a.config_path, "--check-config"], env=c.env,
                           capture_output=True, text=True, timeout=DEADLINE)
        assert r.returncode == 0, r.stderr


MULTICAST_TESTS = []


def multicast_membership(domain):
    return ("plugin = multicast\ngroup = 239.255.84.77\nport = %d\ninterface = 127.0.0.1\n"
            "domain = %s\nannounce_interval_ms = 200" % (MCAST_PORT, domain))


MCAST_PORT = 54399


@MULTICAST_TESTS.append
def multicast_discovery_and_separation():
    key = os.urandom(32).hex()
    with Cluster(name="mc", key=key) as c, Cluster(name="other", key=key) as other, \
            Cluster(name="mc") as wrong, Cluster(name="mc", key=key) as elsewhere:
        a, b = c.add("node-a"), c.add("node-b")
        c.configure(membership=multicast_membership("d1"))
        # same group, another cluster name
        o = other.add("node-o")
        other.configure(membership=multicast_membership("d1"))
        # same group and name, another domain
        e = elsewhere.add("node-e")
        elsewhere.configure(membership=multicast_membership("d2"))
        # same group, name and domain, another key
        x = wrong.add("node-x")
        wrong.configure(membership=multicast_membership("d1"))
        for n in (a, b, o, e, x):
            n.start()
        active = wait_for("one active, one passive", lambda: one_active([a, b]))
        wait_for("agreeing views", lambda: _agrees([a, b], active))
        time.sleep(1.0)  # several announcement rounds
        for n in (a, b):
            ids = {m["node_id"] for m in n.status()["members"]}
            assert ids == ({"node-a", "node-b"} - {n.name}), (n.name, ids)
        for n in (o, e, x):
            assert n.status()["members"] == [], (n.name, n.status()["members"])
        refused = a.log() + b.log()
        assert "bad cluster key" in refused, refused[-3000:]


def run(tests):
    print("1..%d" % len(tests))
    failed = 0
    for i, fn in enumerate(tests, 1):
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
    sys.exit(run(MULTICAST_TESTS if "--multicast" in sys.argv else TESTS))
