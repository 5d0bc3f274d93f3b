/* test-snapshot.c: the snapshot container and CRC32C
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <tandem.h>

static void
test_crc32c_vectors (void)
{
	guint8 buf[32];

	/* the check value of CRC-32C */
	g_assert_cmphex (tandem_crc32c (0, (const guint8 *) "123456789", 9), ==, 0xE3069283);
	/* RFC 3720, B.4 */
	memset (buf, 0, sizeof buf);
	g_assert_cmphex (tandem_crc32c (0, buf, sizeof buf), ==, 0x8A9136AA);
	memset (buf, 0xff, sizeof buf);
	g_assert_cmphex (tandem_crc32c (0, buf, sizeof buf), ==, 0x62A8AB43);
	for (guint i = 0; i < 32; i++)
		buf[i] = (guint8) i;
	g_assert_cmphex (tandem_crc32c (0, buf, sizeof buf), ==, 0x46DD794E);
	for (guint i = 0; i < 32; i++)
		buf[i] = (guint8) (31 - i);
	g_assert_cmphex (tandem_crc32c (0, buf, sizeof buf), ==, 0x113FDB5C);
	g_assert_cmphex (tandem_crc32c (0, NULL, 0), ==, 0);
}

/* slice-by-8 agrees with the bitwise definition at every length and
 * alignment, and chained calls give the checksum of the whole */
static guint32
crc_bitwise (const guint8 *p, gsize n)
{
	guint32 crc = 0xffffffff;

	while (n-- > 0) {
		crc ^= *p++;
		for (guint k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	return ~crc;
}

static void
test_crc32c_slices (void)
{
	g_autoptr (GRand) rand = g_rand_new_with_seed (42);
	guint8 buf[300];

	for (guint i = 0; i < sizeof buf; i++)
		buf[i] = (guint8) g_rand_int (rand);
	for (guint offset = 0; offset < 9; offset++) {
		for (guint len = 0; len + offset <= sizeof buf; len += 7) {
			guint32 whole = tandem_crc32c (0, buf + offset, len);

			g_assert_cmphex (whole, ==, crc_bitwise (buf + offset, len));
			for (guint cut = 0; cut <= len; cut += 13) {
				guint32 part = tandem_crc32c (0, buf + offset, cut);

				g_assert_cmphex (tandem_crc32c (part, buf + offset + cut,
								len - cut),
						 ==, whole);
			}
		}
	}
}

static GBytes *
make_payload (gsize n)
{
	guint8 *data = g_malloc (MAX (n, 1));

	for (gsize i = 0; i < n; i++)
		data[i] = (guint8) (i * 31 + 7);
	return g_bytes_new_take (data, n);
}

static void
test_roundtrip (void)
{
	g_autoptr (GBytes) payload = make_payload (1000);
	g_autoptr (GBytes) snap =
		tandem_snapshot_encode ("Stocks-Plan", 7, G_MAXUINT64 - 3, payload);
	g_autoptr (GBytes) out = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree char *plan = NULL;
	guint64 epoch = 0;
	guint64 seq = 0;

	g_assert_cmpuint (g_bytes_get_size (snap), ==,
			  1000 + TANDEM_SNAPSHOT_OVERHEAD + strlen ("Stocks-Plan"));
	g_assert_cmpmem (g_bytes_get_data (snap, NULL), 8, "TNDMSNAP", 8);
	g_assert_true (tandem_snapshot_decode (snap, &plan, &epoch, &seq, &out, &error));
	g_assert_no_error (error);
	g_assert_cmpstr (plan, ==, "Stocks-Plan");
	g_assert_cmpuint (epoch, ==, 7);
	g_assert_cmpuint (seq, ==, G_MAXUINT64 - 3);
	g_assert_true (g_bytes_equal (out, payload));

	/* a check alone, and an empty payload */
	g_clear_pointer (&out, g_bytes_unref);
	g_clear_pointer (&snap, g_bytes_unref);
	g_clear_pointer (&payload, g_bytes_unref);
	payload = g_bytes_new (NULL, 0);
	snap = tandem_snapshot_encode ("p", 0, 0, payload);
	g_assert_true (tandem_snapshot_decode (snap, NULL, NULL, NULL, NULL, &error));
	g_assert_true (tandem_snapshot_decode (snap, NULL, NULL, NULL, &out, &error));
	g_assert_no_error (error);
	g_assert_cmpuint (g_bytes_get_size (out), ==, 0);
}

static void
assert_refused (const guint8 *data, gsize size, const char *needle)
{
	g_autoptr (GBytes) bytes = g_bytes_new (data, size);
	g_autoptr (GError) error = NULL;
	g_autofree char *plan = NULL;
	g_autoptr (GBytes) out = NULL;

	g_assert_false (tandem_snapshot_decode (bytes, &plan, NULL, NULL, &out, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT);
	g_assert_null (plan);
	g_assert_null (out);
	if (strstr (error->message, needle) == NULL)
		g_error ("expected \"%s\" in \"%s\"", needle, error->message);
}

static void
test_truncated (void)
{
	g_autoptr (GBytes) payload = make_payload (500);
	g_autoptr (GBytes) snap = tandem_snapshot_encode ("plan", 1, 2, payload);
	gsize size = 0;
	const guint8 *data = g_bytes_get_data (snap, &size);

	assert_refused (data, 0, "empty");
	/* every shorter prefix is refused, and says "truncated" */
	for (gsize n = 1; n < size; n++)
		assert_refused (data, n, "truncated");
	assert_refused (data, 20, "shorter than its 40-byte header");
	assert_refused (data, size - 1, "its header announces 548");
}

static void
test_corrupt (void)
{
	g_autoptr (GBytes) payload = make_payload (300);
	g_autoptr (GBytes) snap = tandem_snapshot_encode ("plan", 1, 2, payload);
	gsize size = 0;
	const guint8 *data = g_bytes_get_data (snap, &size);
	g_autofree guint8 *copy = g_memdup2 (data, size);
	g_autofree guint8 *longer = g_malloc0 (size + 3);

	/* every single-bit flip is refused */
	for (gsize i = 0; i < size; i++) {
		for (guint bit = 0; bit < 8; bit += 3) {
			g_autoptr (GBytes) bytes = NULL;
			g_autoptr (GError) error = NULL;

			copy[i] ^= (guint8) (1u << bit);
			bytes = g_bytes_new_static (copy, size);
			g_assert_false (
				tandem_snapshot_decode (bytes, NULL, NULL, NULL, NULL, &error));
			g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT);
			copy[i] ^= (guint8) (1u << bit);
		}
	}
	/* the precise messages */
	copy[0] = 'X';
	assert_refused (copy, size, "bad magic");
	copy[0] = data[0];
	copy[8] = 9;
	assert_refused (copy, size, "format version 9 is not supported");
	copy[8] = data[8];
	copy[12] = 10;
	assert_refused (copy, size, "header length 10");
	copy[12] = data[12];
	copy[100] ^= 0x40;
	assert_refused (copy, size, "corrupt: its CRC32C is 0x");
	copy[100] ^= 0x40;
	memcpy (longer, data, size);
	assert_refused (longer, size + 3, "3 bytes follow its checksum");
	assert_refused ((const guint8 *) "hello world, this is not a snapshot at all....", 46,
			"bad magic");
}

static void
test_bad_name (void)
{
	g_autoptr (GBytes) payload = make_payload (10);
	g_autoptr (GBytes) snap = tandem_snapshot_encode ("abc", 1, 2, payload);
	gsize size = 0;
	const guint8 *data = g_bytes_get_data (snap, &size);
	guint8 copy[64];
	guint32 crc;

	g_assert_cmpuint (size, <=, sizeof copy);
	memcpy (copy, data, size);
	/* a valid checksum over an invalid name */
	copy[41] = 0xff;
	crc = GUINT32_TO_LE (tandem_crc32c (0, copy, size - 4));
	memcpy (copy + size - 4, &crc, 4);
	assert_refused (copy, size, "plan name is not valid UTF-8");
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/snapshot/crc32c/vectors", test_crc32c_vectors);
	g_test_add_func ("/snapshot/crc32c/slices", test_crc32c_slices);
	g_test_add_func ("/snapshot/roundtrip", test_roundtrip);
	g_test_add_func ("/snapshot/truncated", test_truncated);
	g_test_add_func ("/snapshot/corrupt", test_corrupt);
	g_test_add_func ("/snapshot/bad-name", test_bad_name);
	return g_test_run ();
}
