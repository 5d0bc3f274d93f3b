#!/usr/bin/python3
# test-gi.py: libtandem through GObject Introspection, as a Python user scripts it.
#
# Runs against the build tree: meson sets GI_TYPELIB_PATH and LD_LIBRARY_PATH.
# Prints TAP.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
import os
import shutil
import sys
import tempfile
import traceback

import gi

gi.require_version("Tandem", "1.0")
from gi.repository import GLib, Tandem  # noqa: E402

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def expect_error(code, fn, *args):
    try:
        fn(*args)
    except GLib.Error as e:
        assert e.domain == "tandem-error-quark", e.domain
        assert e.code == int(code), (e.code, e.message)
        return e.message
    raise AssertionError("expected an error")


@test
def import_and_version():
    assert Tandem.get_version() == os.environ["TANDEM_TEST_VERSION"], Tandem.get_version()
    assert Tandem.PLUGIN_ABI_MAJOR == 1
    assert Tandem.plugin_kind_to_string(Tandem.PluginKind.PERSISTER) == "persister"


@test
def config_errors_are_glib_errors():
    config = Tandem.Config.new()
    msg = expect_error(Tandem.Error.INVALID_CONFIG, config.load_data, "[node]\noops\n", -1, "py.conf")
    assert msg.startswith("py.conf:2: "), msg
    msg = expect_error(Tandem.Error.INVALID_CONFIG, config.load_file, "/nonexistent.conf")
    assert "No such file" in msg, msg


@test
def config_sections_and_origins():
    config = Tandem.Config.new()
    config.load_data("[node]\nlog_level = debug\n\n[receiver.main]\nplugin = fixture\n", -1, "py.conf")
    names = [s.get_name() for s in config.get_sections()]
    assert names == ["node", "receiver.main"], names
    section = config.get_section("receiver.main")
    assert section.get_prefix() == "receiver"
    assert section.get_instance() == "main"
    origin, line = section.get_origin("plugin")
    assert (origin, line) == ("py.conf", 5), (origin, line)


@test
def embed_a_node_with_a_plugin():
    plugin_dir = tempfile.mkdtemp(prefix="tandem-test-gi-")
    state_dir = tempfile.mkdtemp(prefix="tandem-test-gi-state-")
    try:
        src = os.path.join(os.environ["TANDEM_TEST_FIXTURES"], "fixture-receiver.so")
        dst = os.path.join(plugin_dir, "fixture-receiver.so")
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o755)

        registry = Tandem.PluginRegistry.new()
        registry.set_search_path([plugin_dir])
        registry.scan()
        infos = registry.get_plugins()
        assert [i.get_name() for i in infos] == ["fixture"]
        assert infos[0].get_kind() == Tandem.PluginKind.RECEIVER
        assert infos[0].is_usable()

        config = Tandem.Config.new()
        config.load_data("[cluster]\nname = py\n[receiver.in]\nplugin = fixture\nport = 9100\n"
                         "duplicated_in_cluster = yes\n", -1, "py.conf")
        node = Tandem.Node.new(config, registry)
        node.set_state_dir(state_dir)
        assert node.configure()
        assert node.get_cluster_name() == "py"
        assert node.open_state()
        assert GLib.uuid_string_is_valid(node.get_id())
        plugins = node.get_plugins()
        assert len(plugins) == 1
        receiver = plugins[0]
        assert isinstance(receiver, Tandem.Receiver)
        assert receiver.get_name() == "in"
        assert receiver.get_plugin_name() == "fixture"
        assert receiver.props.port == 9100
        assert receiver.get_duplicated_in_cluster()
        assert node.start()
        assert receiver.get_state() == Tandem.PluginState.STARTED
        receiver.pause()
        assert receiver.is_paused()
        receiver.resume()
        node.stop()
        assert receiver.get_state() == Tandem.PluginState.STOPPED

        with open(os.path.join(state_dir, "node-id")) as f:
            assert f.read().strip() == node.get_id()

        msg = expect_error(Tandem.Error.PLUGIN_NOT_FOUND, registry.lookup, "nope")
        assert "available: fixture" in msg, msg
    finally:
        shutil.rmtree(plugin_dir)
        shutil.rmtree(state_dir)


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
