/* tandemctl.c: the Tandem command line
 *
 * `tandemctl [--version] [--help] COMMAND ...`.  Commands are grouped
 * (`plan run`, later `status`, `persist`, `switchover`...): add one to a
 * table below with its summary and its run function.
 *
 * Exit status: 0 success, 1 failure (a message located in its file on
 * stderr), 2 usage error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Ctl"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include <tandem.h>

#include "tandemctl-query.h"
#include "tandemctl-persist.h"
#include "tandemctl-status.h"
#include "tandemctl-switchover.h"

#define EXIT_USAGE 2

/* --- command table --------------------------------------------------------- */

typedef struct _Command Command;

/* A command runs with argv[0] set to its full name ("tandemctl plan run")
 * and returns the exit status.  A group has subcommands instead. */
struct _Command {
	const char *name;
	const char *args;
	const char *summary;
	int (*run) (int argc, char **argv);
	const Command *subcommands;
};

static int plan_run (int argc, char **argv);

static const Command plan_commands[] = {
	{ "run", N_("PLAN --events FILE [--streams DEF.json]..."),
	  N_("Run an execution plan on events from a JSON lines file, without a server"), plan_run,
	  NULL },
	{ NULL },
};

static const Command commands[] = {
	{ "plan", NULL, N_("Execution plans"), NULL, plan_commands },
	{ "query", N_("--store NAME|FILE [--config FILE] [--limit N] [--timeout MS] SQL"),
	  N_("Run a read-only SELECT on a record store and print the rows as JSON"), tandemctl_query, NULL },
	{ "status", N_("[--url URL] [--token-file FILE] [--config FILE] [--json]"),
	  N_("Show a running node's state, its cluster's members and the lease"), tandemctl_status,
	  NULL },
	{ "persist", N_("[--url URL] [--token-file FILE] [--config FILE] [--json]"),
	  N_("Snapshot every plan of a running node to its persisters now"), tandemctl_persist, NULL },
	{ "switchover", N_("[--url URL] [--token-file FILE] [--config FILE] [--json]"),
	  N_("Hand the active role to the in-sync passive node (run on the active node)"),
	  tandemctl_switchover, NULL },
	{ NULL },
};

static void
print_commands (FILE *out, const char *prefix, const Command *table)
{
	for (const Command *c = table; c->name != NULL; c++) {
		g_autofree char *name = g_strconcat (prefix, c->name, NULL);

		if (c->subcommands != NULL) {
			g_autofree char *sub_prefix = g_strconcat (name, " ", NULL);

			print_commands (out, sub_prefix, c->subcommands);
			continue;
		}
		fprintf (out, "  %s %s\n      %s\n", name, c->args != NULL ? _(c->args) : "",
			 _(c->summary));
	}
}

static void
print_usage (FILE *out, const char *prog, const Command *table)
{
	fprintf (out, _("Usage:\n  %s %sCOMMAND ...\n\n"), prog,
		 table == commands ? "[--version] [--help] " : "");
	fprintf (out, "%s\n", _("Commands:"));
	print_commands (out, "", table);
	fprintf (out, _("\nRun '%s COMMAND --help' for the options of a command.\n"), prog);
}

static int usage_error (const char *help_prog, const char *format, ...) G_GNUC_PRINTF (2, 3);

static int
usage_error (const char *help_prog, const char *format, ...)
{
	va_list args;
	g_autofree char *message = NULL;

	va_start (args, format);
	message = g_strdup_vprintf (format, args);
	va_end (args);
	fflush (stdout);
	g_printerr ("tandemctl: %s\n", message);
	g_printerr (_("Try '%s --help' for more information.\n"), help_prog);
	return EXIT_USAGE;
}

/* Runs argv[0], a command of @table; @prog is the command line so far. */
static int
dispatch (const char *prog, const Command *table, int argc, char **argv)
{
	const Command *c;
	g_autofree char *name = NULL;

	if (argc < 1) {
		fflush (stdout);
		print_usage (stderr, prog, table);
		return EXIT_USAGE;
	}
	if (g_str_equal (argv[0], "--help") || g_str_equal (argv[0], "-h")) {
		print_usage (stdout, prog, table);
		return EXIT_SUCCESS;
	}
	if (argv[0][0] == '-')
		return usage_error (prog, _("unknown option '%s'"), argv[0]);
	for (c = table; c->name != NULL; c++) {
		if (g_str_equal (c->name, argv[0]))
			break;
	}
	name = g_strconcat (prog, " ", argv[0], NULL);
	if (c->name == NULL) {
		/* name the command as typed after "tandemctl " */
		return usage_error (prog, _("unknown command '%s'"), strchr (name, ' ') + 1);
	}
	if (c->subcommands != NULL)
		return dispatch (name, c->subcommands, argc - 1, argv + 1);
	argv[0] = name;
	return c->run (argc, argv);
}

/* --- small JSON helpers ----------------------------------------------------- */

static gboolean
node_is_integer (JsonNode *node)
{
	return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64;
}

/* --- plan run --------------------------------------------------------------- */

typedef struct {
	TandemPlan *plan;
	JsonParser *parser;
	GString *line; /* the output line being built */
	gboolean write_failed;
} PlanRun;

static void
plan_run_clear (PlanRun *run)
{
	g_clear_object (&run->plan);
	g_clear_object (&run->parser);
	if (run->line != NULL)
		g_string_free (g_steal_pointer (&run->line), TRUE);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (PlanRun, plan_run_clear)

/* One JSON line per output event, written at once (stdout is flushed
 * whenever tandemctl is about to wait for more input). */
static void
on_output (TandemPlan *plan,
	   const char *query,
	   const char *stream,
	   TandemEventKind kind,
	   TandemEvent *event,
	   gpointer user_data)
{
	PlanRun *run = user_data;
	g_autofree char *values = tandem_event_values_to_json (event);
	GString *line = run->line;

	/* query and stream names are identifiers: nothing to escape */
	g_string_printf (line, "{\"query\":\"%s\",\"stream\":\"%s\"", query, stream);
	g_string_append (line, kind == TANDEM_EVENT_KIND_EXPIRED ? ",\"kind\":\"expired\""
								 : ",\"kind\":\"current\"");
	g_string_append_printf (line, ",\"timestamp\":%" G_GINT64_FORMAT ",\"data\":",
				tandem_event_get_timestamp (event));
	g_string_append (line, values);
	g_string_append (line, "}\n");
	if (fwrite (line->str, 1, line->len, stdout) != line->len)
		run->write_failed = TRUE;
}

/* Sets value @index of @event from @node, typed by @def. */
static gboolean
set_value (TandemEvent *event,
	   TandemStreamDefinition *def,
	   guint index,
	   JsonNode *node,
	   GError **error)
{
	g_autoptr(GError) local_error = NULL;

	if (tandem_event_set_value_from_json (event, index, node, &local_error))
		return TRUE;
	g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT, _("attribute '%s' of stream %s: %s"),
		     tandem_stream_definition_get_attribute_name (def, index),
		     tandem_stream_definition_get_name (def), local_error->message);
	return FALSE;
}

static char *
describe_attributes (TandemStreamDefinition *def)
{
	GString *out = g_string_new (NULL);

	for (guint i = 0; i < tandem_stream_definition_get_n_attributes (def); i++) {
		if (i > 0)
			g_string_append (out, ", ");
		g_string_append_printf (out, "%s %s",
					tandem_stream_definition_get_attribute_name (def, i),
					tandem_attribute_type_to_string (
						tandem_stream_definition_get_attribute_type (def,
											     i)));
	}
	return g_string_free (out, FALSE);
}

static gboolean
get_timestamp_member (JsonObject *obj, const char *member, gint64 *out, GError **error)
{
	JsonNode *node = json_object_get_member (obj, member);
	g_autofree char *got = NULL;

	if (node_is_integer (node)) {
		*out = json_node_get_int (node);
		return TRUE;
	}
	got = tandem_json_describe (node);
	g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT,
		     _("\"%s\" must be an integer (milliseconds since the Unix epoch), got %s"),
		     member, got);
	return FALSE;
}

static gboolean
check_members (JsonObject *obj, const char *const *allowed, GError **error)
{
	g_autoptr(GList) members = json_object_get_members (obj);

	for (GList *l = members; l != NULL; l = l->next) {
		if (!g_strv_contains (allowed, l->data)) {
			g_autofree char *list = g_strjoinv (", ", (char **) allowed);

			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT,
				     _("unknown member \"%s\" (expected %s)"),
				     (const char *) l->data, list);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
process_event (PlanRun *run, JsonObject *obj, GError **error)
{
	static const char *const allowed[] = { "stream", "timestamp", "data", NULL };
	JsonNode *stream_node = json_object_get_member (obj, "stream");
	JsonNode *data_node = json_object_get_member (obj, "data");
	const char *stream;
	TandemStreamDefinition *def;
	JsonArray *data;
	guint n;
	gint64 timestamp;
	g_autoptr(TandemEvent) event = NULL;

	if (!check_members (obj, allowed, error))
		return FALSE;
	if (stream_node == NULL || !JSON_NODE_HOLDS_VALUE (stream_node) ||
	    json_node_get_value_type (stream_node) != G_TYPE_STRING) {
		g_set_error_literal (
			error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT,
			_("expected \"stream\": a stream name (or \"tick\": a timestamp)"));
		return FALSE;
	}
	stream = json_node_get_string (stream_node);
	def = tandem_plan_lookup_stream (run->plan, stream);
	if (def == NULL) {
		g_auto(GStrv) inputs = tandem_plan_dup_input_streams (run->plan);
		g_autofree char *list = g_strjoinv (", ", inputs);

		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT,
			     _("unknown stream '%s' (the plan's input streams: %s)"), stream,
			     list);
		return FALSE;
	}
	if (json_object_has_member (obj, "timestamp")) {
		if (!get_timestamp_member (obj, "timestamp", &timestamp, error))
			return FALSE;
	} else {
		timestamp = tandem_plan_get_clock (run->plan);
	}
	if (data_node == NULL || !JSON_NODE_HOLDS_ARRAY (data_node)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT,
			     _("expected \"data\": an array of the values of stream %s"), stream);
		return FALSE;
	}
	data = json_node_get_array (data_node);
	n = tandem_stream_definition_get_n_attributes (def);
	if (json_array_get_length (data) != n) {
		g_autofree char *attrs = describe_attributes (def);

		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT,
			     _("stream %s has %u attributes (%s), got %u values"), stream, n,
			     attrs, json_array_get_length (data));
		return FALSE;
	}
	event = tandem_event_new (def, timestamp);
	for (guint i = 0; i < n; i++) {
		if (!set_value (event, def, i, json_array_get_element (data, i), error))
			return FALSE;
	}
	return tandem_plan_send (run->plan, stream, event, error);
}

/* Processes one line of input completely. */
static gboolean
process_line (PlanRun *run, const char *text, gsize length, GError **error)
{
	g_autoptr(GError) local_error = NULL;
	JsonNode *root;
	JsonObject *obj;

	if (!json_parser_load_from_data (run->parser, text, (gssize) length, &local_error)) {
		const char *message = local_error->message;
		const char *col_end;

		/* "<data>:1:COL: Parse error: MESSAGE" */
		if (g_str_has_prefix (message, "<data>:1:")) {
			guint64 col = g_ascii_strtoull (message + strlen ("<data>:1:"),
							(char **) &col_end, 10);

			if (g_str_has_prefix (col_end, ": ")) {
				message = col_end + 2;
				if (g_str_has_prefix (message, "Parse error: "))
					message += strlen ("Parse error: ");
				g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT,
					     _("malformed JSON at column %u: %s"), (guint) col,
					     message);
				return FALSE;
			}
		}
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT,
			     _("malformed JSON: %s"), message);
		return FALSE;
	}
	root = json_parser_get_root (run->parser);
	if (root == NULL)
		return TRUE; /* only white space */
	if (!JSON_NODE_HOLDS_OBJECT (root)) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT,
				     _("expected a JSON object: an event or a tick"));
		return FALSE;
	}
	if (!tandem_json_check_text (text, (gssize) length, 64, error))
		return FALSE;
	obj = json_node_get_object (root);
	if (json_object_has_member (obj, "tick")) {
		static const char *const allowed[] = { "tick", NULL };
		gint64 tick;

		if (!check_members (obj, allowed, error) ||
		    !get_timestamp_member (obj, "tick", &tick, error))
			return FALSE;
		tandem_plan_advance_time (run->plan, tick);
		return TRUE;
	}
	return process_event (run, obj, error);
}

static gboolean
is_blank (const char *text, gsize length)
{
	for (gsize i = 0; i < length; i++) {
		if (!g_ascii_isspace (text[i]))
			return FALSE;
	}
	return TRUE;
}

/* Whether the next line is already buffered, so that reading it cannot block. */
static gboolean
next_line_buffered (GDataInputStream *input)
{
	gsize available = 0;
	const void *buffer =
		g_buffered_input_stream_peek_buffer (G_BUFFERED_INPUT_STREAM (input), &available);

	return available > 0 && memchr (buffer, '\n', available) != NULL;
}

static gboolean
flush_stdout (GError **error)
{
	if (fflush (stdout) != 0 || ferror (stdout)) {
		int saved_errno = errno;

		g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
			     _("cannot write the output: %s"), g_strerror (saved_errno));
		return FALSE;
	}
	return TRUE;
}

/* Reads @input line by line, each processed before the next is read. */
static gboolean
run_events (PlanRun *run, GInputStream *stream, const char *name, GError **error)
{
	g_autoptr(GDataInputStream) input = g_data_input_stream_new (stream);
	guint64 lineno = 0;

	g_data_input_stream_set_newline_type (input, G_DATA_STREAM_NEWLINE_TYPE_LF);
	for (;;) {
		g_autoptr(GError) local_error = NULL;
		g_autofree char *line = NULL;
		gsize length = 0;

		if (!next_line_buffered (input) && !flush_stdout (error))
			return FALSE;
		line = g_data_input_stream_read_line (input, &length, NULL, &local_error);
		if (line == NULL) {
			if (local_error != NULL) {
				g_set_error (error, G_IO_ERROR, local_error->code, "%s: %s", name,
					     local_error->message);
				return FALSE;
			}
			break;
		}
		lineno++;
		if (is_blank (line, length))
			continue;
		if (!process_line (run, line, length, &local_error)) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT,
				     "%s:%" G_GUINT64_FORMAT ": %s", name, lineno,
				     local_error->message);
			return FALSE;
		}
		if (run->write_failed)
			return flush_stdout (error);
	}
	return flush_stdout (error);
}

static GInputStream *
open_events (const char *path, GError **error)
{
	int fd;

	if (g_str_equal (path, "-"))
		return g_unix_input_stream_new (STDIN_FILENO, FALSE);
	fd = open (path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int saved_errno = errno;

		g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
			     _("cannot open %s: %s"), path, g_strerror (saved_errno));
		return NULL;
	}
	return g_unix_input_stream_new (fd, TRUE);
}

static TandemPlan *
load_plan (const char *path, GPtrArray *streams, GError **error)
{
	g_autofree char *text = NULL;
	gsize length = 0;
	TandemPlan *plan;

	if (!g_file_get_contents (path, &text, &length, error))
		return NULL;
	plan = tandem_plan_new_with_streams (text, (gssize) length, streams, error);
	if (plan == NULL) {
		/* the message starts with line:column */
		g_prefix_error (error, "%s:", path);
		return NULL;
	}
	return plan;
}

static int
fail (GError *error)
{
	fflush (stdout);
	g_printerr ("tandemctl: %s\n", error->message);
	return EXIT_FAILURE;
}

static const char plan_run_summary[] =
	N_("Runs the SiddhiQL execution plan in the file PLAN on the events of FILE,\n"
	   "without a server, and prints every output event as one JSON line:\n"
	   "  {\"query\":\"q1\",\"stream\":\"Out\",\"kind\":\"current\",\"timestamp\":1000,"
	   "\"data\":[...]}");

static const char plan_run_description[] =
	N_("Each line of FILE is one of:\n"
	   "  {\"stream\":\"S\",\"timestamp\":1000,\"data\":[v1,v2,...]}\n"
	   "      an event: its values in attribute order; without \"timestamp\" it gets\n"
	   "      the plan's clock (the time of the previous event or tick, 0 at first)\n"
	   "  {\"tick\":5000}\n"
	   "      moves the plan's clock to 5000 without an event (time windows expire)\n"
	   "Empty lines are skipped.  Each line is processed, and its outputs written,\n"
	   "before the next is read.\n"
	   "\n"
	   "Exit status: 0 success, 1 bad plan or event (FILE:LINE: message on stderr;\n"
	   "the outputs before a bad event stay printed), 2 usage error.");

static int
plan_run (int argc, char **argv)
{
	g_auto(PlanRun) run = { 0 };
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) streams = g_ptr_array_new_with_free_func (g_object_unref);
	g_autoptr(GInputStream) input = NULL;
	g_autofree char *events_path = NULL;
	g_auto(GStrv) stream_paths = NULL;
	const char *prog = argv[0];
	const char *plan_path;
	const GOptionEntry entries[] = {
		{ "events", 'e', 0, G_OPTION_ARG_FILENAME, &events_path,
		  N_("Events to send, one JSON object a line ('-': standard input)"),
		  N_("FILE") },
		{ "streams", 's', 0, G_OPTION_ARG_FILENAME_ARRAY, &stream_paths,
		  N_("A WSO2 stream definition (JSON file) to check the plan against (repeatable)"),
		  N_("DEF.json") },
		G_OPTION_ENTRY_NULL,
	};

	context = g_option_context_new (_("PLAN"));
	g_option_context_set_summary (context, _(plan_run_summary));
	g_option_context_set_description (context, _(plan_run_description));
	g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse (context, &argc, &argv, &error))
		return usage_error (prog, "%s", error->message);
	if (argc < 2)
		return usage_error (prog, _("missing the PLAN file"));
	if (argc > 2)
		return usage_error (prog, _("unexpected argument '%s'"), argv[2]);
	if (events_path == NULL)
		return usage_error (
			prog, _("missing --events FILE ('--events -' reads standard input)"));
	plan_path = argv[1];

	for (guint i = 0; stream_paths != NULL && stream_paths[i] != NULL; i++) {
		TandemStreamDefinition *def =
			tandem_stream_definition_new_from_file (stream_paths[i], &error);

		if (def == NULL)
			return fail (error);
		g_ptr_array_add (streams, def);
	}
	run.plan = load_plan (plan_path, streams, &error);
	if (run.plan == NULL)
		return fail (error);
	for (guint i = 0; i < streams->len; i++) {
		TandemStreamDefinition *def = g_ptr_array_index (streams, i);
		TandemStreamDefinition *used =
			tandem_plan_lookup_stream (run.plan,
						   tandem_stream_definition_get_name (def));

		if (used == NULL || !tandem_stream_definition_equal (used, def))
			g_printerr (_("tandemctl: %s: warning: %s does not define stream %s; "
				      "definition %s ignored\n"),
				    stream_paths[i], plan_path,
				    tandem_stream_definition_get_name (def),
				    tandem_stream_definition_get_id (def));
	}

	input = open_events (events_path, &error);
	if (input == NULL)
		return fail (error);
	run.parser = json_parser_new_immutable ();
	run.line = g_string_sized_new (256);
	tandem_plan_set_output_func (run.plan, on_output, &run, NULL);
	if (!run_events (&run, input, g_str_equal (events_path, "-") ? _("<stdin>") : events_path,
			 &error))
		return fail (error);
	return EXIT_SUCCESS;
}

/* --- main ------------------------------------------------------------------- */

int
main (int argc, char **argv)
{
	setlocale (LC_ALL, "");
#ifdef ENABLE_NLS
	bindtextdomain (GETTEXT_PACKAGE, TANDEM_LOCALEDIR);
	bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
	textdomain (GETTEXT_PACKAGE);
#endif

	/* --help, unknown options and a missing command are handled with the
	 * commands; --version only exists here */
	if (argc > 1 && g_str_equal (argv[1], "--version")) {
		g_print ("tandemctl %s\n", tandem_get_version ());
		return EXIT_SUCCESS;
	}
	return dispatch ("tandemctl", commands, argc - 1, argv + 1);
}
