/* tandem-gda-read.c: reading raw events back from the gda store
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A node restarting restores its plans from their snapshots, then replays
 * the events kept after them: this reads them back, page by page, with
 * their identity (epoch, seq) and event time, and every value exactly as it
 * went in.  libgda types what it reads by provider: SQLite by the declared
 * column type (and 32 bits for INTEGER, so the 64-bit columns are asked
 * for as such), MySQL and PostgreSQL by the server's type; the values are
 * converted from whatever came.
 */
#define G_LOG_DOMAIN "Tandem-gda"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tandem-gda-read.h"
#include "tandem-gda-schema.h"

#define N_RESERVED 4 /* epoch, seq, event_ts, node_id */

static GType
sqlite_type (TandemAttributeType type)
{
	switch (type) {
	case TANDEM_ATTRIBUTE_TYPE_INT:
		return G_TYPE_INT;
	case TANDEM_ATTRIBUTE_TYPE_LONG:
		return G_TYPE_INT64;
	case TANDEM_ATTRIBUTE_TYPE_FLOAT:
	case TANDEM_ATTRIBUTE_TYPE_DOUBLE:
		return G_TYPE_DOUBLE;
	case TANDEM_ATTRIBUTE_TYPE_BOOL:
		return G_TYPE_BOOLEAN;
	case TANDEM_ATTRIBUTE_TYPE_STRING:
	default:
		return G_TYPE_STRING;
	}
}

static gboolean
value_get_double (const GValue *value, double *out)
{
	GType type = G_VALUE_TYPE (value);
	g_autofree char *text = NULL;
	char *end = NULL;
	gint64 l;

	if (type == G_TYPE_DOUBLE) {
		*out = g_value_get_double (value);
		return TRUE;
	}
	if (type == G_TYPE_FLOAT) {
		*out = g_value_get_float (value);
		return TRUE;
	}
	if (type != G_TYPE_STRING && type != GDA_TYPE_NUMERIC &&
	    tandem_gda_value_get_long (value, &l)) {
		*out = (double) l;
		return TRUE;
	}
	text = tandem_gda_value_dup_string (value);
	if (text == NULL)
		return FALSE;
	if (g_ascii_strcasecmp (text, "NaN") == 0) {
		*out = NAN;
		return TRUE;
	}
	if (g_ascii_strcasecmp (text, "Infinity") == 0 ||
	    g_ascii_strcasecmp (text, "-Infinity") == 0) {
		*out = text[0] == '-' ? -INFINITY : INFINITY;
		return TRUE;
	}
	*out = g_ascii_strtod (text, &end);
	return end != text && *end == '\0';
}

static gboolean
value_get_bool (const GValue *value, gboolean *out)
{
	g_autofree char *text = NULL;
	gint64 l;

	if (G_VALUE_TYPE (value) == G_TYPE_BOOLEAN) {
		*out = g_value_get_boolean (value);
		return TRUE;
	}
	if (G_VALUE_TYPE (value) != G_TYPE_STRING && tandem_gda_value_get_long (value, &l)) {
		*out = l != 0;
		return TRUE;
	}
	text = tandem_gda_value_dup_string (value);
	if (text == NULL)
		return FALSE;
	if (g_ascii_strcasecmp (text, "t") == 0 || g_ascii_strcasecmp (text, "true") == 0 ||
	    g_strcmp0 (text, "1") == 0) {
		*out = TRUE;
		return TRUE;
	}
	if (g_ascii_strcasecmp (text, "f") == 0 || g_ascii_strcasecmp (text, "false") == 0 ||
	    g_strcmp0 (text, "0") == 0) {
		*out = FALSE;
		return TRUE;
	}
	return FALSE;
}

static gboolean
set_value (TandemEvent *event, guint index, TandemAttributeType type, const GValue *value)
{
	gint64 l = 0;
	double d = 0;
	gboolean b = FALSE;

	if (value == NULL || gda_value_is_null (value)) {
		tandem_event_set_null (event, index);
		return TRUE;
	}
	switch (type) {
	case TANDEM_ATTRIBUTE_TYPE_INT:
		if (!tandem_gda_value_get_long (value, &l) || l < G_MININT32 || l > G_MAXINT32)
			return FALSE;
		tandem_event_set_int (event, index, (gint32) l);
		return TRUE;
	case TANDEM_ATTRIBUTE_TYPE_LONG:
		if (!tandem_gda_value_get_long (value, &l))
			return FALSE;
		tandem_event_set_long (event, index, l);
		return TRUE;
	case TANDEM_ATTRIBUTE_TYPE_FLOAT:
		if (!value_get_double (value, &d))
			return FALSE;
		tandem_event_set_float (event, index, (float) d);
		return TRUE;
	case TANDEM_ATTRIBUTE_TYPE_DOUBLE:
		if (!value_get_double (value, &d))
			return FALSE;
		tandem_event_set_double (event, index, d);
		return TRUE;
	case TANDEM_ATTRIBUTE_TYPE_BOOL:
		if (!value_get_bool (value, &b))
			return FALSE;
		tandem_event_set_bool (event, index, b);
		return TRUE;
	case TANDEM_ATTRIBUTE_TYPE_STRING:
	default:
		/* libgda's MySQL reads '' as a string holding NULL */
		if (G_VALUE_TYPE (value) == G_TYPE_STRING) {
			tandem_event_set_string (event, index,
						 g_value_get_string (value) != NULL
							 ? g_value_get_string (value)
							 : "");
		} else {
			g_autofree char *text = tandem_gda_value_dup_string (value);

			tandem_event_set_string (event, index, text != NULL ? text : "");
		}
		return TRUE;
	}
}

GPtrArray *
tandem_gda_read_events (const TandemGdaParams *params,
			TandemStreamDefinition *stream,
			guint64 after_seq,
			guint limit,
			GError **error)
{
	guint n_attrs = tandem_stream_definition_get_n_attributes (stream);
	g_autoptr (GdaConnection) cnc = NULL;
	g_autoptr (TandemGdaStmt) stmt = NULL;
	g_autoptr (GdaDataModel) model = NULL;
	g_autoptr (GPtrArray) events = NULL;
	g_autofree GType *types = NULL;
	g_autofree char *sql = NULL;
	int n_rows;

	if (params->provider == TANDEM_GDA_SQLITE &&
	    !g_file_test (params->database, G_FILE_TEST_IS_REGULAR))
		return g_ptr_array_new_with_free_func ((GDestroyNotify) tandem_event_unref);
	cnc = tandem_gda_open (params, TANDEM_GDA_SESSION_READ, error);
	if (cnc == NULL)
		return NULL;
	sql = tandem_gda_schema_events_select (cnc, params->provider, stream, limit, error);
	if (sql == NULL) {
		gda_connection_close (cnc);
		if (error != NULL && *error != NULL)
			return NULL;
		return g_ptr_array_new_with_free_func ((GDestroyNotify) tandem_event_unref);
	}
	stmt = tandem_gda_stmt_new (params->provider, sql, 1, error);
	if (stmt == NULL) {
		gda_connection_close (cnc);
		return NULL;
	}
	tandem_gda_stmt_set_long (stmt, 0, (gint64) MIN (after_seq, (guint64) G_MAXINT64));
	if (params->provider == TANDEM_GDA_SQLITE) {
		types = g_new0 (GType, N_RESERVED + n_attrs + 1);
		types[0] = types[1] = types[2] = G_TYPE_INT64;
		types[3] = G_TYPE_STRING;
		for (guint i = 0; i < n_attrs; i++)
			types[N_RESERVED + i] = sqlite_type (
				tandem_stream_definition_get_attribute_type (stream, i));
		types[N_RESERVED + n_attrs] = G_TYPE_NONE;
	}
	model = tandem_gda_stmt_select_typed (cnc, stmt, types, error);
	if (model == NULL) {
		g_prefix_error (error, "cannot read the events of stream %s: ",
				tandem_stream_definition_get_id (stream));
		tandem_gda_stmt_forget (cnc, stmt);
		gda_connection_close (cnc);
		return NULL;
	}
	n_rows = gda_data_model_get_n_rows (model);
	events = g_ptr_array_new_full (MAX (n_rows, 0), (GDestroyNotify) tandem_event_unref);
	for (int row = 0; row < n_rows; row++) {
		gint64 epoch = 0;
		gint64 seq = 0;
		gint64 ts = 0;
		g_autoptr (TandemEvent) event = NULL;

		if (!tandem_gda_value_get_long (gda_data_model_get_value_at (model, 0, row, NULL),
						&epoch) ||
		    !tandem_gda_value_get_long (gda_data_model_get_value_at (model, 1, row, NULL),
						&seq) ||
		    !tandem_gda_value_get_long (gda_data_model_get_value_at (model, 2, row, NULL),
						&ts)) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
				     "stream %s: row %d has no readable epoch, seq or event_ts",
				     tandem_stream_definition_get_id (stream), row);
			g_clear_pointer (&events, g_ptr_array_unref);
			break;
		}
		event = tandem_event_new (stream, ts);
		tandem_event_set_identity (event, (guint32) epoch, (guint64) seq);
		for (guint i = 0; i < n_attrs; i++) {
			TandemAttributeType type =
				tandem_stream_definition_get_attribute_type (stream, i);
			const GValue *value =
				gda_data_model_get_value_at (model, (int) (N_RESERVED + i), row,
							     NULL);

			if (!set_value (event, i, type, value)) {
				g_autofree char *text =
					value != NULL ? tandem_gda_value_dup_string (value) : NULL;

				g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
					     "stream %s: seq %" G_GINT64_FORMAT
					     ": attribute %s: cannot read \"%s\" "
					     "(%s) as %s",
					     tandem_stream_definition_get_id (stream), seq,
					     tandem_stream_definition_get_attribute_name (stream,
											  i),
					     text != NULL ? text : "",
					     value != NULL ? G_VALUE_TYPE_NAME (value) : "none",
					     tandem_attribute_type_to_string (type));
				g_clear_pointer (&events, g_ptr_array_unref);
				break;
			}
		}
		if (events == NULL)
			break;
		g_ptr_array_add (events, g_steal_pointer (&event));
	}
	/* the model first: libgda's PostgreSQL recordset talks to the
	 * connection when it goes */
	g_clear_object (&model);
	tandem_gda_stmt_forget (cnc, stmt);
	gda_connection_close (cnc);
	return g_steal_pointer (&events);
}
