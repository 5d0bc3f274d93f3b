#!/usr/bin/python3
# test-api.py: tandemd's REST management API and `tandemctl status`, against
# real tandemd processes on 127.0.0.1 (port 0, the port read from the log
# line "REST API listening on URL"): the status object, health, JSON errors
# (404, 405 with Allow), the bearer token (401, a token file others can read
# refused at start), [api] config errors with file:line, a configured port in
# use, and tandemctl status: the summary, --json, --token-file, --config, a
# members table and a lease (from a stand-in server), a closed port.
#
# meson sets TANDEM_TEST_TANDEMD and TANDEM_TEST_TANDEMCTL.  Prints TAP.
# Every tandemd started here is stopped by its PID (and gets
# PR_SET_PDEATHSIG, so that none outlives the test).
#
# SPDX-License-Identifier: LGPL-2.1-or-later
import ctypes
import http.client
import http.server
import json
import os
import re
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
TANDEMCTL = os.environ["TANDEM_TEST_TANDEMCTL"]
DEADLINE = 10  # seconds; only to avoid hanging when something is broken
TOKEN = "t0k3n-Zq8-only-for-this-test"

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def die_with_parent():
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def child_env(workdir):
    env = dict(os.environ)
    env.pop("NOTIFY_SOCKET", None)
    # no plugin is needed: search only an empty directory
    env["TANDEM_PLUGIN_PATH"] = os.path.join(workdir, "plugins")
    return env


class Workdir:
    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="tandem-test-api-")
        os.mkdir(os.path.join(self.path, "plugins"))
        self.daemons = []

    def write(self, name, text, mode=0o644):
        path = os.path.join(self.path, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for d in self.daemons:
            d.stop()
        shutil.rmtree(self.path)


class Daemon:
    """A tandemd running CONFIG with its own state directory."""

    def __init__(self, w, config_text, name="node"):
        self.conf = w.write(name + ".conf", config_text)
        self.state = os.path.join(w.path, name + "-state")
        self.log_path = os.path.join(w.path, name + ".log")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([TANDEMD, "--config", self.conf, "--state-dir", self.state],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=log, env=child_env(w.path),
                                         preexec_fn=die_with_parent)
        w.daemons.append(self)
        self.url = None

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_api(self):
        """Waits for the API's log line; returns its URL."""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            log = self.log()
            m = re.search(r"REST API listening on (http://\S+)", log)
            if m and "running: node" in log:
                self.url = m.group(1)
                return self.url
            if self.proc.poll() is not None:
                raise AssertionError("tandemd exited with %d:\n%s" % (self.proc.returncode, log))
            time.sleep(0.02)
        raise AssertionError("no 'REST API listening on' within %d s:\n%s" % (DEADLINE, self.log()))

    def wait_exit(self):
        try:
            return self.proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError("tandemd still runs after %d s:\n%s" % (DEADLINE, self.log()))

    def node_id(self):
        with open(os.path.join(self.state, "node-id"), encoding="utf-8") as f:
            return f.read().strip()

    def stop(self):
        """SIGTERM by PID; returns the exit status (SIGKILL after DEADLINE)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode


def request(url, path, method="GET", headers=None):
    """Returns (status, headers, body as text); no proxy, a fresh connection."""
    m = re.match(r"http://([^:/]+):(\d+)$", url)
    conn = http.client.HTTPConnection(m.group(1), int(m.group(2)), timeout=DEADLINE)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read().decode()
    finally:
        conn.close()


def json_error(status, headers, body, expected_status, expected_error):
    assert status == expected_status, (status, body)
    assert headers["Content-Type"].startswith("application/json"), headers["Content-Type"]
    obj = json.loads(body)
    assert sorted(obj) == ["detail", "error"], obj
    assert obj["error"] == expected_error, obj
    assert isinstance(obj["detail"], str) and obj["detail"], obj
    return obj


def tandemctl(*args):
    proc = subprocess.run([TANDEMCTL] + list(args), capture_output=True, timeout=DEADLINE,
                          stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


PLAIN = "[cluster]\nname = apitest\n[api]\nport = 0\n"


@test
def status_and_health():
    with Workdir() as w:
        d = Daemon(w, PLAIN)
        url = d.wait_api()
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0"), url
        status, headers, body = request(url, "/api/v1/status")
        assert status == 200, (status, body)
        assert headers["Content-Type"] == "application/json", headers["Content-Type"]
        obj = json.loads(body)
        assert obj["node_id"] == d.node_id(), (obj, d.node_id())
        assert obj["cluster"] == "apitest", obj
        assert obj["state"] == "standalone", obj
        for member in ("role", "epoch", "accepting", "last_seq", "events_processed", "members",
                       "lease"):
            assert member in obj, (member, obj)
        assert isinstance(obj["members"], list), obj
        status, headers, body = request(url, "/api/v1/health")
        assert status == 200 and json.loads(body) == {"status": "ok"}, (status, body)
        status, headers, body = request(url, "/api/v1/status", method="HEAD")
        assert status == 200 and body == "", (status, body)
        assert d.stop() == 0, d.log()


@test
def errors_are_json():
    with Workdir() as w:
        d = Daemon(w, PLAIN)
        url = d.wait_api()
        for path in ("/", "/nope", "/api/v1/status/", "/api/v1/STATUS", "/api/v2/status"):
            obj = json_error(*request(url, path), 404, "not found")
            assert path in obj["detail"], obj
        for method, path in (("POST", "/api/v1/status"), ("DELETE", "/api/v1/health"),
                             ("PUT", "/api/v1/status")):
            status, headers, body = request(url, path, method=method)
            obj = json_error(status, headers, body, 405, "method not allowed")
            assert "GET" in headers["Allow"], headers["Allow"]
            assert method in obj["detail"], obj
        # the node keeps serving
        status, headers, body = request(url, "/api/v1/health")
        assert status == 200, (status, body)
        assert d.stop() == 0, d.log()


@test
def bearer_token():
    with Workdir() as w:
        token_file = w.write("token", TOKEN + "\n", mode=0o600)
        d = Daemon(w, "[api]\nport = 0\ntoken_file = %s\n" % token_file)
        url = d.wait_api()
        for path in ("/api/v1/status", "/api/v1/health", "/nope"):
            status, headers, body = request(url, path)
            json_error(status, headers, body, 401, "unauthorized")
            assert headers["WWW-Authenticate"].startswith("Bearer"), headers
        for value in ("Bearer wrong", "Bearer " + TOKEN + "x", "Bearer " + TOKEN[:-1],
                      "Basic " + TOKEN, TOKEN, "Bearer"):
            status, headers, body = request(url, "/api/v1/status",
                                            headers={"Authorization": value})
            json_error(status, headers, body, 401, "unauthorized")
        good = {"Authorization": "Bearer " + TOKEN}
        status, headers, body = request(url, "/api/v1/status", headers=good)
        assert status == 200 and json.loads(body)["node_id"] == d.node_id(), (status, body)
        status, headers, body = request(url, "/api/v1/health", headers=good)
        assert status == 200, (status, body)
        # a known path with a bad method still needs the token first
        status, headers, body = request(url, "/api/v1/status", method="POST")
        json_error(status, headers, body, 401, "unauthorized")
        status, headers, body = request(url, "/nope", headers=good)
        json_error(status, headers, body, 404, "not found")

        # tandemctl: --token-file, the token from --config, none
        rc, out, err = tandemctl("status", "--url", url)
        assert rc == 1 and "HTTP 401" in err and "bearer token" in err, (rc, out, err)
        assert out == "", out
        rc, out, err = tandemctl("status", "--url", url, "--token-file", token_file)
        assert rc == 0 and d.node_id() in out, (rc, out, err)
        port = url.rsplit(":", 1)[1]
        # a client's copy of the node's [api]; the relative token file is
        # taken from the directory of the config
        client_conf = w.write("client.conf", "[api]\naddress = 0.0.0.0\nport = %s\n"
                              "token_file = token\n" % port)
        rc, out, err = tandemctl("status", "--config", client_conf, "--json")
        assert rc == 0 and json.loads(out)["node_id"] == d.node_id(), (rc, out, err)

        assert d.stop() == 0, d.log()
        assert TOKEN not in d.log(), d.log()


@test
def token_file_checked_at_start():
    with Workdir() as w:
        token_file = w.write("token", TOKEN + "\n", mode=0o644)
        d = Daemon(w, "[node]\nlog_level = message\n[api]\nport = 0\ntoken_file = %s\n"
                   % token_file)
        assert d.wait_exit() == 1, d.log()
        log = d.log()
        expected = ("tandemd: %s:5: key 'token_file' in [api]: the token file %s has mode 0644: "
                    "group and others may read it; it must be private to its owner "
                    "(chmod 600 %s)\n" % (d.conf, token_file, token_file))
        assert expected in log, log
        assert TOKEN not in log, log
        assert "REST API listening" not in log, log

        os.chmod(token_file, 0o640)
        d = Daemon(w, "[api]\nport = 0\ntoken_file = %s\n" % token_file, name="group")
        assert d.wait_exit() == 1, d.log()
        assert "has mode 0640: its group may read it" in d.log(), d.log()

        missing = os.path.join(w.path, "no-such-token")
        d = Daemon(w, "[api]\nport = 0\ntoken_file = %s\n" % missing, name="missing")
        assert d.wait_exit() == 1, d.log()
        expected = ("tandemd: %s:3: key 'token_file' in [api]: cannot read the token file %s: "
                    "No such file or directory\n" % (d.conf, missing))
        assert expected in d.log(), d.log()

        empty = w.write("empty-token", "\n", mode=0o600)
        d = Daemon(w, "[api]\nport = 0\ntoken_file = %s\n" % empty, name="empty")
        assert d.wait_exit() == 1, d.log()
        assert "the token file %s is empty" % empty in d.log(), d.log()

        # a disabled API does not need its token file
        d = Daemon(w, "[api]\nenabled = false\ntoken_file = %s\n" % missing, name="off")
        assert "running: node" in wait_log(d, "running: node"), d.log()
        assert "REST API listening" not in d.log(), d.log()
        assert d.stop() == 0, d.log()


def wait_log(d, needle):
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        log = d.log()
        if needle in log or d.proc.poll() is not None:
            return log
        time.sleep(0.02)
    return d.log()


@test
def config_errors_and_warnings():
    with Workdir() as w:
        conf = w.write("tandem.conf", "[api]\nport = 80a\naddress = localhost\n"
                       "enabled = maybe\ncolour = blue\n")
        proc = subprocess.run([TANDEMD, "--config", conf, "--check-config"], capture_output=True,
                              timeout=DEADLINE, env=child_env(w.path))
        err = proc.stderr.decode()
        assert proc.returncode == 1, (proc.returncode, err)
        for line in ("tandemd: %s:2: key 'port' in [api]: expected an integer 0-65535, "
                     "got \"80a\"\n" % conf,
                     "tandemd: %s:3: key 'address' in [api]: expected an IPv4 or IPv6 address "
                     "(0.0.0.0 or :: for every interface), got \"localhost\"\n" % conf,
                     "tandemd: %s:4: key 'enabled' in [api]: expected a boolean" % conf):
            assert line in err, (line, err)
        assert "%s:5: unknown key 'colour' in [api], ignored" % conf in err, err

        # the node's errors and the API's are reported together
        conf = w.write("both.conf", "[node]\nlog_level = chatty\n[api]\nport = -1\n")
        proc = subprocess.run([TANDEMD, "--config", conf, "--check-config"], capture_output=True,
                              timeout=DEADLINE, env=child_env(w.path))
        err = proc.stderr.decode()
        assert proc.returncode == 1, (proc.returncode, err)
        assert "%s:2: key 'log_level' in [node]" % conf in err, err
        assert "%s:4: key 'port' in [api]" % conf in err, err

        conf = w.write("good.conf", "[api]\naddress = ::1\nport = 0\n")
        proc = subprocess.run([TANDEMD, "--config", conf, "--check-config"], capture_output=True,
                              timeout=DEADLINE, env=child_env(w.path))
        err = proc.stderr.decode()
        assert proc.returncode == 0, (proc.returncode, err)
        assert "unknown section" not in err and "[api]" not in err, err


@test
def configured_port_in_use_is_refused():
    with Workdir() as w:
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        try:
            d = Daemon(w, "[api]\nport = %d\n" % port)
            assert d.wait_exit() == 1, d.log()
            assert "tandemd: REST API: cannot listen on http://127.0.0.1:%d: " % port in d.log(), \
                d.log()
        finally:
            busy.close()


def open_sockets(pid):
    """The sockets a process has open (GLib opens and closes eventfds of its own)."""
    count = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            count += os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:")
        except FileNotFoundError:
            pass
    return count


@test
def connections_are_closed_and_bounded():
    with Workdir() as w:
        d = Daemon(w, PLAIN)
        url = d.wait_api()
        host, port = "127.0.0.1", int(url.rsplit(":", 1)[1])
        status, headers, body = request(url, "/api/v1/health")
        assert headers["Connection"] == "close", headers
        sockets = open_sockets(d.proc.pid)
        # answered requests, connections closed at once, half requests
        for _ in range(100):
            request(url, "/api/v1/status")
        for _ in range(50):
            socket.create_connection((host, port), timeout=DEADLINE).close()
        for _ in range(50):
            s = socket.create_connection((host, port), timeout=DEADLINE)
            s.sendall(b"GET /api/v1/sta")
            s.close()
        # tandemd accepts in order: once this is answered, it has seen them all
        request(url, "/api/v1/health")
        deadline = time.monotonic() + DEADLINE
        while open_sockets(d.proc.pid) > sockets and time.monotonic() < deadline:
            time.sleep(0.05)
        assert open_sockets(d.proc.pid) <= sockets, (open_sockets(d.proc.pid), sockets)

        # at most 64 connections at once: the next one (accepted after them,
        # in order) is closed unanswered
        idle = [socket.create_connection((host, port), timeout=DEADLINE) for _ in range(64)]
        try:
            try:
                status = request(url, "/api/v1/health")[0]
            except (ConnectionError, http.client.HTTPException):
                status = None
            assert status is None, status
        finally:
            for s in idle:
                s.close()
        deadline = time.monotonic() + DEADLINE
        status = None
        while status != 200 and time.monotonic() < deadline:
            try:
                status = request(url, "/api/v1/health")[0]
            except (ConnectionError, http.client.HTTPException):
                time.sleep(0.05)
        assert status == 200, status
        assert "64 connections are open: refusing more" in d.log(), d.log()
        assert d.stop() == 0, d.log()


@test
def default_port_in_use_is_not_fatal():
    # holds the default port itself (when another process holds it, the
    # outcome could change under the test: nothing is checked then)
    busy = socket.socket()
    try:
        busy.bind(("127.0.0.1", 9764))
        busy.listen(1)
    except OSError:
        busy.close()
        return
    try:
        with Workdir() as w:
            d = Daemon(w, "[cluster]\nname = apitest\n")
            log = wait_log(d, "running: node")
            assert "running: node" in log, log
            assert ("REST API not started: cannot listen on http://127.0.0.1:9764: " in log), log
            assert "WARNING" not in log, log
            assert d.stop() == 0, d.log()
    finally:
        busy.close()


@test
def tandemctl_status_summary_and_json():
    with Workdir() as w:
        d = Daemon(w, PLAIN)
        url = d.wait_api()
        rc, out, err = tandemctl("status", "--url", url + "/")
        assert rc == 0 and err == "", (rc, out, err)
        assert re.search(r"^Node\s+%s$" % re.escape(d.node_id()), out, re.M), out
        assert re.search(r"^Cluster\s+apitest$", out, re.M), out
        assert re.search(r"^State\s+standalone \(role active\)$", out, re.M), out
        assert re.search(r"^Accepting\s+yes$", out, re.M), out
        assert re.search(r"^Last seq\s+0$", out, re.M), out
        assert re.search(r"^Ack\s+local$", out, re.M), out
        rc, out, err = tandemctl("status", "--url", url, "--json")
        assert rc == 0, (rc, out, err)
        obj = json.loads(out)
        assert obj["node_id"] == d.node_id() and obj["state"] == "standalone", obj
        # --url wins over --config
        conf = w.write("other.conf", "[api]\nport = %d\n" % closed_port())
        rc, out, err = tandemctl("status", "--config", conf, "--url", url)
        assert rc == 0 and d.node_id() in out, (rc, out, err)
        conf = w.write("zero.conf", "[api]\nport = 0\n")
        rc, out, err = tandemctl("status", "--config", conf)
        assert rc == 1 and "port is 0" in err and "--url" in err, (rc, out, err)
        assert d.stop() == 0, d.log()


@test
def tandemctl_closed_port_and_usage():
    port = closed_port()
    rc, out, err = tandemctl("status", "--url", "http://127.0.0.1:%d" % port)
    assert rc == 1, (rc, out, err)
    assert err == "tandemctl: cannot reach http://127.0.0.1:%d: connection refused\n" % port, err
    assert out == "", out
    for args, message in ((["--url", "ftp://x"], "--url"), (["extra"], "unexpected argument"),
                          (["--bogus"], "--bogus")):
        rc, out, err = tandemctl("status", *args)
        assert rc == 2 and message in err, (args, rc, err)
    rc, out, err = tandemctl("status", "--token-file", "/nonexistent/token", "--url",
                             "http://127.0.0.1:%d" % port)
    assert rc == 1 and "/nonexistent/token" in err, (rc, err)


class StandIn(http.server.BaseHTTPRequestHandler):
    """Answers like a node of a cluster (members, lease), or with an error."""
    status = 200
    body = b""

    def do_GET(self):
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def with_stand_in(status, obj, fn):
    handler = type("Handler", (StandIn,), {"status": status, "body": json.dumps(obj).encode()})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        return fn("http://127.0.0.1:%d" % server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@test
def tandemctl_prints_members_and_lease():
    cluster = {
        "node_id": "n1", "cluster": "prod", "state": "active", "role": "active", "epoch": 7,
        "accepting": True, "last_seq": 1234, "events_processed": 1200,
        "members": [
            {"node_id": "n1", "role": "active", "state": "active", "address": "10.0.0.1:7600",
             "epoch": 7},
            {"node_id": "node-two", "role": "passive", "state": "passive",
             "address": "10.0.0.2:7600", "last_heartbeat_ms_ago": 120, "epoch": 7},
            {"node_id": "n3\x1b[31m"},
        ],
        "lease": {"holder": "n1", "epoch": 7, "expires_in_ms": 1500},
    }

    def check(url):
        rc, out, err = tandemctl("status", "--url", url)
        assert rc == 0, (rc, out, err)
        lines = out.splitlines()
        assert re.search(r"^State\s+active \(role active\)$", out, re.M), out
        assert re.search(r"^Epoch\s+7$", out, re.M), out
        assert re.search(r"^Last seq\s+1234$", out, re.M), out
        header = next(i for i, line in enumerate(lines) if "NODE ID" in line)
        assert re.match(r"^  NODE ID\s+ROLE\s+STATE\s+ADDRESS\s+LAST HEARTBEAT\s+EPOCH$",
                        lines[header]), lines[header]
        assert re.match(r"^  n1\s+active\s+active\s+10\.0\.0\.1:7600\s+-\s+7$",
                        lines[header + 1]), lines[header + 1]
        assert re.match(r"^  node-two\s+passive\s+passive\s+10\.0\.0\.2:7600\s+120 ms ago\s+7$",
                        lines[header + 2]), lines[header + 2]
        # a terminal escape from the network is not passed on
        assert lines[header + 3].startswith("  n3?[31m "), lines[header + 3]
        assert "\x1b" not in out, out
        assert re.search(r"^Lease\s+held by n1, epoch 7, expires in 1500 ms$", out, re.M), out
        rc, out, err = tandemctl("status", "--url", url, "--json")
        assert rc == 0 and json.loads(out) == cluster, (rc, out, err)

    with_stand_in(200, cluster, check)

    def check_error(url):
        rc, out, err = tandemctl("status", "--url", url)
        assert rc == 1 and out == "", (rc, out, err)
        assert err == ("tandemctl: %s/api/v1/status: HTTP 503 Service Unavailable: "
                       "the node is stopping\n" % url), err

    with_stand_in(503, {"error": "unavailable", "detail": "the node is stopping"}, check_error)

    def check_not_object(url):
        rc, out, err = tandemctl("status", "--url", url)
        assert rc == 1 and "not a JSON object" in err, (rc, out, err)

    with_stand_in(200, [1, 2], check_not_object)


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
