/* fuzz-plan-parser.c: libFuzzer target, see fuzz-targets.h
 *
 * Built and run by run-fuzzers.sh (clang, -fsanitize=fuzzer,address,undefined).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fuzz-targets.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
	/* a failed precondition or a warning is a finding too */
	fuzz_init_logging ();
	return 0;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
	/* libFuzzer reserves other values; the target's own checks are
	 * assertions in its header */
	int result = fuzz_plan_parser (data, size);

	g_assert_cmpint (result, ==, 0);
	return result;
}
