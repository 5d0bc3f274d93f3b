/* tandem-snapshot.c: the versioned, checksummed snapshot container
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Snapshot"

#include "config.h"

#include <string.h>

#include "tandem-error.h"
#include "tandem-snapshot.h"

/* One versioned binary container for execution-plan state, used for
 * persistence (the persister plugins keep it as it is) and for the state
 * sync of a joining node.  All integers are little-endian:
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 8 | magic `TNDMSNAP` |
 * | 8 | 4 | format version (%TANDEM_SNAPSHOT_FORMAT_VERSION) |
 * | 12 | 4 | header length H: 40 + the length of the plan name |
 * | 16 | 8 | epoch |
 * | 24 | 8 | seq: the last input sequence the state has processed |
 * | 32 | 8 | payload length P |
 * | 40 | H - 40 | plan name, UTF-8, 1 to %TANDEM_SNAPSHOT_MAX_NAME bytes |
 * | H | P | payload (tandem_plan_snapshot()) |
 * | H + P | 4 | CRC32C (Castagnoli) of bytes 0 to H + P |
 *
 * docs/persistence.md documents it for operators.
 */

#define MAGIC "TNDMSNAP"
#define FIXED_HEADER 40

/* --- CRC32C ------------------------------------------------------------------ */

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), slice-by-8: eight
 * tables, eight input bytes per step. */
static guint32 crc_tables[8][256];

static gpointer
make_tables (gpointer data)
{
	for (guint i = 0; i < 256; i++) {
		guint32 crc = i;

		for (guint k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
		crc_tables[0][i] = crc;
	}
	for (guint i = 0; i < 256; i++) {
		guint32 crc = crc_tables[0][i];

		for (guint t = 1; t < 8; t++) {
			crc = crc_tables[0][crc & 0xff] ^ (crc >> 8);
			crc_tables[t][i] = crc;
		}
	}
	return NULL;
}

static guint32
crc32c_software (guint32 crc, const guint8 *p, gsize length)
{
	/* byte by byte up to an 8-byte boundary */
	while (length > 0 && ((guintptr) p & 7) != 0) {
		crc = crc_tables[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
		length--;
	}
	while (length >= 8) {
		guint64 word;
		guint32 lo;
		guint32 hi;

		memcpy (&word, p, 8);
		word = GUINT64_TO_LE (word);
		lo = (guint32) word ^ crc;
		hi = (guint32) (word >> 32);
		crc = crc_tables[7][lo & 0xff] ^ crc_tables[6][(lo >> 8) & 0xff] ^
		      crc_tables[5][(lo >> 16) & 0xff] ^ crc_tables[4][lo >> 24] ^
		      crc_tables[3][hi & 0xff] ^ crc_tables[2][(hi >> 8) & 0xff] ^
		      crc_tables[1][(hi >> 16) & 0xff] ^ crc_tables[0][hi >> 24];
		p += 8;
		length -= 8;
	}
	while (length-- > 0)
		crc = crc_tables[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* SSE 4.2 has an instruction for this very polynomial: 8 bytes a step */
__attribute__ ((target ("sse4.2"))) static guint32
crc32c_sse42 (guint32 crc, const guint8 *p, gsize length)
{
	guint64 c = crc;

	while (length > 0 && ((guintptr) p & 7) != 0) {
		c = __builtin_ia32_crc32qi ((guint32) c, *p++);
		length--;
	}
	while (length >= 8) {
		guint64 word;

		memcpy (&word, p, 8);
		c = __builtin_ia32_crc32di (c, word);
		p += 8;
		length -= 8;
	}
	while (length-- > 0)
		c = __builtin_ia32_crc32qi ((guint32) c, *p++);
	return (guint32) c;
}
#endif

typedef guint32 (*Crc32cFunc) (guint32 crc, const guint8 *p, gsize length);

/* The instruction when the CPU has it, unless TANDEM_CRC32C_SOFTWARE is set
 * (the tests check both). */
static gpointer
pick_crc32c (gpointer data)
{
	make_tables (NULL);
#if defined(__x86_64__) && defined(__GNUC__)
	if (g_getenv ("TANDEM_CRC32C_SOFTWARE") == NULL && __builtin_cpu_supports ("sse4.2"))
		return (gpointer) crc32c_sse42;
#endif
	return (gpointer) crc32c_software;
}

/**
 * tandem_crc32c:
 * @crc: the CRC of the data before @data (0 to start)
 * @data: (array length=length) (nullable): the bytes
 * @length: how many bytes
 *
 * Computes the CRC-32C (Castagnoli) checksum, as in iSCSI (RFC 3720) and
 * ext4: tandem_crc32c (0, "123456789", 9) is 0xE3069283.  Chain calls by
 * passing the result of one as @crc of the next.
 *
 * Returns: the checksum of everything so far
 */
guint32
tandem_crc32c (guint32 crc, const guint8 *data, gsize length)
{
	static GOnce once = G_ONCE_INIT;
	Crc32cFunc func;

	if (length == 0)
		return crc;
	func = (Crc32cFunc) g_once (&once, pick_crc32c, NULL);
	return ~func (~crc, data, length);
}

/* --- the container --------------------------------------------------------------- */

static void
put_u32 (guint8 *p, guint32 v)
{
	v = GUINT32_TO_LE (v);
	memcpy (p, &v, 4);
}

static void
put_u64 (guint8 *p, guint64 v)
{
	v = GUINT64_TO_LE (v);
	memcpy (p, &v, 8);
}

static guint32
get_u32 (const guint8 *p)
{
	guint32 v;

	memcpy (&v, p, 4);
	return GUINT32_FROM_LE (v);
}

static guint64
get_u64 (const guint8 *p)
{
	guint64 v;

	memcpy (&v, p, 8);
	return GUINT64_FROM_LE (v);
}

/**
 * tandem_snapshot_encode:
 * @plan: the plan name: 1 to %TANDEM_SNAPSHOT_MAX_NAME bytes of UTF-8
 * @epoch: the epoch the state belongs to
 * @seq: the last input sequence the state has processed (0: none)
 * @payload: the plan's state, from tandem_plan_snapshot()
 *
 * Wraps @payload in the snapshot container: magic, format version, plan
 * name, epoch, seq, payload length, and a CRC32C of all of it.
 *
 * Returns: (transfer full): the snapshot
 */
GBytes *
tandem_snapshot_encode (const char *plan, guint64 epoch, guint64 seq, GBytes *payload)
{
	gsize name_len;
	gsize payload_len;
	gsize header_len;
	gsize total;
	guint8 *buf;

	g_return_val_if_fail (plan != NULL, NULL);
	g_return_val_if_fail (payload != NULL, NULL);
	name_len = strlen (plan);
	g_return_val_if_fail (name_len > 0 && name_len <= TANDEM_SNAPSHOT_MAX_NAME, NULL);
	g_return_val_if_fail (g_utf8_validate (plan, -1, NULL), NULL);

	payload_len = g_bytes_get_size (payload);
	header_len = FIXED_HEADER + name_len;
	total = header_len + payload_len + 4;
	buf = g_malloc (total);
	memcpy (buf, MAGIC, 8);
	put_u32 (buf + 8, TANDEM_SNAPSHOT_FORMAT_VERSION);
	put_u32 (buf + 12, (guint32) header_len);
	put_u64 (buf + 16, epoch);
	put_u64 (buf + 24, seq);
	put_u64 (buf + 32, payload_len);
	memcpy (buf + FIXED_HEADER, plan, name_len);
	if (payload_len > 0)
		memcpy (buf + header_len, g_bytes_get_data (payload, NULL), payload_len);
	put_u32 (buf + header_len + payload_len, tandem_crc32c (0, buf, header_len + payload_len));
	return g_bytes_new_take (buf, total);
}

/**
 * tandem_snapshot_decode:
 * @snapshot: a snapshot from tandem_snapshot_encode()
 * @plan: (out) (optional) (transfer full): the plan name
 * @epoch: (out) (optional): the epoch
 * @seq: (out) (optional): the last input sequence the state has processed
 * @payload: (out) (optional) (transfer full): the plan's state (a slice of
 *   @snapshot, not a copy)
 * @error: return location for a #GError
 *
 * Checks @snapshot completely (magic, version, lengths, checksum, plan
 * name) before it returns anything.  A truncated, damaged or foreign input
 * is refused with %TANDEM_ERROR_INVALID_SNAPSHOT and a message saying what
 * is wrong and where.
 *
 * Returns: %TRUE if @snapshot is valid
 */
gboolean
tandem_snapshot_decode (GBytes *snapshot,
			char **plan,
			guint64 *epoch,
			guint64 *seq,
			GBytes **payload,
			GError **error)
{
	gsize size = 0;
	const guint8 *data;
	guint32 version;
	guint32 header_len;
	guint64 payload_len;
	guint32 stored;
	guint32 computed;
	const char *name;
	gsize name_len;

	g_return_val_if_fail (snapshot != NULL, FALSE);

	data = g_bytes_get_data (snapshot, &size);
	if (size == 0) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT,
				     "the snapshot is empty");
		return FALSE;
	}
	if (size < 8 || memcmp (data, MAGIC, 8) != 0) {
		if (size < 8 && memcmp (data, MAGIC, size) == 0)
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT,
				     "the snapshot is truncated: %" G_GSIZE_FORMAT
				     " bytes, shorter than its %d-byte header",
				     size, FIXED_HEADER);
		else
			g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT,
					     "not a Tandem snapshot (bad magic)");
		return FALSE;
	}
	if (size < FIXED_HEADER) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT,
			     "the snapshot is truncated: %" G_GSIZE_FORMAT
			     " bytes, shorter than its %d-byte header",
			     size, FIXED_HEADER);
		return FALSE;
	}
	version = get_u32 (data + 8);
	if (version != TANDEM_SNAPSHOT_FORMAT_VERSION) {
		g_set_error (
			error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT,
			"snapshot format version %u is not supported (this Tandem reads version %d)",
			version, TANDEM_SNAPSHOT_FORMAT_VERSION);
		return FALSE;
	}
	header_len = get_u32 (data + 12);
	if (header_len <= FIXED_HEADER || header_len > FIXED_HEADER + TANDEM_SNAPSHOT_MAX_NAME) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT,
			     "the snapshot header is damaged: header length %u, expected %d to %d",
			     header_len, FIXED_HEADER + 1, FIXED_HEADER + TANDEM_SNAPSHOT_MAX_NAME);
		return FALSE;
	}
	payload_len = get_u64 (data + 32);
	if (payload_len > G_MAXSIZE - header_len - 4 || size < header_len + payload_len + 4) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT,
			     "the snapshot is truncated: %" G_GSIZE_FORMAT
			     " bytes, its header announces %" G_GUINT64_FORMAT
			     " (%u of header, %" G_GUINT64_FORMAT " of payload, 4 of checksum)",
			     size, (guint64) header_len + payload_len + 4, header_len, payload_len);
		return FALSE;
	}
	if (size > header_len + payload_len + 4) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT,
			     "the snapshot is damaged: %" G_GSIZE_FORMAT
			     " bytes follow its checksum at offset %" G_GUINT64_FORMAT,
			     size - (gsize) (header_len + payload_len + 4),
			     (guint64) header_len + payload_len);
		return FALSE;
	}
	stored = get_u32 (data + header_len + payload_len);
	computed = tandem_crc32c (0, data, header_len + payload_len);
	if (stored != computed) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT,
			     "the snapshot is corrupt: its CRC32C is 0x%08x, the data gives 0x%08x",
			     stored, computed);
		return FALSE;
	}
	name = (const char *) data + FIXED_HEADER;
	name_len = header_len - FIXED_HEADER;
	if (memchr (name, '\0', name_len) != NULL ||
	    !g_utf8_validate (name, (gssize) name_len, NULL)) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT,
				     "the snapshot's plan name is not valid UTF-8");
		return FALSE;
	}
	if (plan != NULL)
		*plan = g_strndup (name, name_len);
	if (epoch != NULL)
		*epoch = get_u64 (data + 16);
	if (seq != NULL)
		*seq = get_u64 (data + 24);
	if (payload != NULL)
		*payload = g_bytes_new_from_bytes (snapshot, header_len, (gsize) payload_len);
	return TRUE;
}
