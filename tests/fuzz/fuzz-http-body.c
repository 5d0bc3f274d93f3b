/* fuzz-http-body.c: libFuzzer target, see fuzz-http-body.h
 *
 * Built and run by run-fuzzers.sh (clang, -fsanitize=fuzzer,address,undefined)
 * with the engine's objects; the body parser is compiled in from the plugin's
 * sources.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "../../plugins/receivers/http/tandem-http-body.c"

#include "fuzz-http-body.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
	/* a failed precondition or a warning is a finding too */
	g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
	return 0;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
	/* libFuzzer reserves other values; the target's own checks are
	 * assertions in its header */
	int result = fuzz_http_body (data, size);

	g_assert_cmpint (result, ==, 0);
	return result;
}
