#!/bin/bash
# run-fuzzers.sh: build the engine's libFuzzer targets with clang and run each
# for a bounded time, printing TAP.
#
#   tests/fuzz/run-fuzzers.sh BUILD_DIR [TARGET...]
#
# BUILD_DIR is a configured (and compiled) meson build directory: its
# config.h and core/tandem-enums.h, core/tandem-version.h are used; the
# engine sources are compiled again with clang and
# -fsanitize=fuzzer,address,undefined in a temporary directory.
#
# Environment:
#   TANDEM_FUZZ_SECONDS  how long each target runs (default 60)
#   TANDEM_FUZZ_SEED     libFuzzer's random seed (default 1, so that a run of
#                        ./scripts/test explores the same way every time; 0
#                        picks a new seed each run, for longer hunts)
#   CC_FUZZ              the compiler (default clang)
#   TANDEM_FUZZ_CFLAGS   more compiler flags (after the sanitizer flags), for
#                        example "-DFUZZ_TAME_TIME" to keep times and longs
#                        away from the ends of the time line, or
#                        "-fwrapv -fno-sanitize=signed-integer-overflow" to look
#                        past a known overflow
#
# Each target runs on a copy of its committed corpus (corpus/NAME/), so the
# corpus does not grow by itself; copy the interesting new inputs by hand.
# A crash, a leak, undefined behaviour or a timeout is "not ok" with the
# reproducer saved under BUILD_DIR/tests/fuzz-artifacts/ and the stack in
# TAP comments.  Reproduce with: FUZZER REPRODUCER (after building it with
# TANDEM_FUZZ_KEEP=1, which keeps the temporary directory).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

set -u

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
srcroot="$(cd "$here/../.." && pwd)"
seconds="${TANDEM_FUZZ_SECONDS:-60}"
seed="${TANDEM_FUZZ_SEED:-1}"
cc="${CC_FUZZ:-clang}"
all_targets=(fuzz-plan-parser fuzz-plan-events fuzz-http-body)

if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD_DIR [TARGET...]" >&2
	exit 2
fi
builddir="$(cd "$1" && pwd)" || exit 2
shift
if [ $# -gt 0 ]; then
	targets=("$@")
else
	targets=("${all_targets[@]}")
fi

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "1..0 # SKIP $cc not found (Debian packages clang and libclang-rt-14-dev)"
	exit 0
fi
for header in config.h core/tandem-enums.h core/tandem-version.h; do
	if [ ! -f "$builddir/$header" ]; then
		echo "1..0 # SKIP $builddir/$header missing: configure and compile the build directory first"
		exit 0
	fi
done

work="$(mktemp -d "${TMPDIR:-/tmp}/tandem-fuzz.XXXXXX")"
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ -n "${TANDEM_FUZZ_KEEP:-}" ]; then
		echo "# kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

artifacts="$builddir/tests/fuzz-artifacts"
mkdir -p "$artifacts"

echo "1..${#targets[@]}"

# --- build -------------------------------------------------------------------

pkgs=(glib-2.0 gobject-2.0 gio-2.0 gmodule-2.0 json-glib-1.0)
# shellcheck disable=SC2207
deps_cflags=($(pkg-config --cflags "${pkgs[@]}"))
# shellcheck disable=SC2207
deps_libs=($(pkg-config --libs "${pkgs[@]}"))
sanitize=("-fsanitize=address,undefined" -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
cflags=(-g -O1 -std=gnu11 -DTANDEM_COMPILATION -DG_LOG_USE_STRUCTURED
	-DGLIB_VERSION_MIN_REQUIRED=GLIB_VERSION_2_74 -DGLIB_VERSION_MAX_ALLOWED=GLIB_VERSION_2_74
	-I"$builddir" -I"$builddir/core" -I"$srcroot/core" -I"$srcroot/core/engine")
# shellcheck disable=SC2206
extra=(${TANDEM_FUZZ_CFLAGS:-})
# the engine and what it needs from the core
sources=("$srcroot"/core/engine/*.c "$srcroot/core/tandem-error.c" "$builddir/core/tandem-enums.c")

build_log="$work/build.log"
objects=()
build_ok=1
for src in "${sources[@]}"; do
	obj="$work/$(basename "$src" .c).o"
	if ! "$cc" "${cflags[@]}" "${sanitize[@]}" -fsanitize=fuzzer-no-link "${extra[@]}" -c "$src" -o "$obj" \
		"${deps_cflags[@]}" >>"$build_log" 2>&1; then
		build_ok=0
	fi
	objects+=("$obj")
done

n=0
for target in "${targets[@]}"; do
	n=$((n + 1))
	exe="$work/$target"
	target_log="$work/$target.build.log"
	if [ "$build_ok" != 1 ] ||
		! "$cc" "${cflags[@]}" "${sanitize[@]}" -fsanitize=fuzzer "${extra[@]}" \
			"$here/$target.c" "${objects[@]}" -o "$exe" "${deps_cflags[@]}" "${deps_libs[@]}" -lm \
			>"$target_log" 2>&1; then
		echo "not ok $n - $target: build failed"
		cat "$build_log" "$target_log" 2>/dev/null | tail -40 | sed 's/^/# /'
		continue
	fi

	# --- run -------------------------------------------------------------

	name="${target#fuzz-}"
	corpus="$work/corpus-$name"
	mkdir -p "$corpus"
	if [ -d "$here/corpus/$name" ]; then
		cp "$here/corpus/$name"/* "$corpus"/ 2>/dev/null
	fi
	log="$work/$target.log"
	mkdir -p "$work/artifacts"
	# libFuzzer stops by itself after max_total_time; the outer timeout is
	# for a hang outside any single input.
	ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:${ASAN_OPTIONS:-}" \
	UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}" \
	G_DEBUG="gc-friendly" \
		timeout --kill-after=10 $((seconds + 120)) "$exe" \
		-max_total_time="$seconds" -seed="$seed" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$work/artifacts/$target-" "$corpus" >"$log" 2>&1
	rc=$?
	runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
	if [ -z "$runs" ]; then
		runs="$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)"
	fi
	if [ "$rc" = 0 ]; then
		echo "ok $n - $target: ${runs:-?} runs in ${seconds}s, no crash" \
			"($(find "$corpus" -type f | wc -l) inputs in the working corpus)"
		continue
	fi

	reproducer=""
	for f in "$work/artifacts/$target-"*; do
		[ -f "$f" ] || continue
		reproducer="$artifacts/$(basename "$f")"
		cp "$f" "$reproducer"
	done
	what="$(grep -m1 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|==[0-9]+== ERROR: libFuzzer|ALARM)' "$log")"
	echo "not ok $n - $target: exit status $rc after ${runs:-?} runs: ${what:-see the log}"
	echo "# reproducer: ${reproducer:-none written}"
	echo "# replay: TANDEM_FUZZ_KEEP=1 $0 $builddir $target keeps the fuzzer; run it on the reproducer"
	case "$target" in
	fuzz-plan-parser) echo "# without sanitizers: $builddir/tests/test-fuzz-corpus parser REPRODUCER" ;;
	fuzz-plan-events) echo "# without sanitizers: $builddir/tests/test-fuzz-corpus events REPRODUCER" ;;
	esac
	# the report: from the first error line to the end, without libFuzzer's
	# progress lines
	if [ -z "$what" ]; then
		echo "# the end of the log:"
		grep -v -E '^#[0-9]+\s+(NEW|REDUCE|pulse|INITED|RELOAD)' "$log" | tail -30 | sed 's/^/# /'
		continue
	fi
	awk '/ERROR|runtime error|ALARM|deadly signal|\*\*\*|^#[0-9]+ 0x|SUMMARY/ { p = 1 }
	     p && !/^#[0-9]+\t(NEW|REDUCE|pulse|INITED)/ && !/in fuzzer::|libc_start|in _start / { print }' \
		"$log" | head -80 | sed 's/^/# /'
done
exit 0
