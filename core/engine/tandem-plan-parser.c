/* tandem-plan-parser.c: lexer and recursive-descent parser of execution plans
 *
 * The grammar is the subset of SiddhiQL (Siddhi 3.x) that Tandem runs:
 *
 *   plan       := (annotation* (define | query))* ;
 *   define     := 'define' 'stream' NAME '(' NAME TYPE (',' NAME TYPE)* ')' ';'
 *   query      := 'from' input select? group? having? 'insert' kind? 'into' NAME ';'
 *   input      := source ('join' source 'on' expr)?
 *               | 'every'? step '->' step ('->' step)*
 *   source     := NAME ('[' expr ']')? ('#' 'window' '.' NAME '(' args? ')')?
 *   step       := NAME '=' NAME ('[' expr ']')?
 *   select     := 'select' ('*' | output (',' output)*)
 *   output     := expr ('as' NAME)?
 *   kind       := ('current' | 'expired' | 'all') 'events'
 *
 * Keywords are case-insensitive, as in Siddhi.  Comments: `-- ...` and
 * `/ * ... * /`.  Every error gives line:column, what was found and what
 * was expected.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Engine"

#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tandem-error.h"
#include "tandem-plan-ast.h"

/* --- lexer ---------------------------------------------------------------- */

typedef enum {
	TOK_EOF,
	TOK_IDENT,
	TOK_STRING,
	TOK_INT,
	TOK_LONG,
	TOK_FLOAT,
	TOK_DOUBLE,
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_LBRACKET,
	TOK_RBRACKET,
	TOK_COMMA,
	TOK_SEMI,
	TOK_DOT,
	TOK_HASH,
	TOK_AT,
	TOK_COLON,
	TOK_ASSIGN,
	TOK_EQ,
	TOK_NE,
	TOK_LT,
	TOK_LE,
	TOK_GT,
	TOK_GE,
	TOK_PLUS,
	TOK_MINUS,
	TOK_STAR,
	TOK_SLASH,
	TOK_PERCENT,
	TOK_ARROW,
} TokKind;

typedef struct {
	TokKind kind;
	guint line;
	guint col;
	const char *start;
	gsize len;
	TandemValue value; /* numbers; strings are unescaped into text */
	char *text;        /* identifiers and strings */
} Token;

#define MAX_DEPTH 200

typedef struct {
	const char *src;
	const char *end;
	const char *p;
	guint line;
	const char *line_start;
	Token tok;
	GError *error;
	guint depth;
	guint64 hash;
	const char *col_at; /* where col was last computed */
	guint col;
} Parser;

static const char *
tok_describe (Token *tok, char *buf, gsize size)
{
	switch (tok->kind) {
	case TOK_EOF:
		return "end of input";
	case TOK_STRING:
		g_snprintf (buf, size, "string '%.*s'", (int) MIN (tok->len, 40), tok->start);
		return buf;
	default:
		g_snprintf (buf, size, "'%.*s'", (int) MIN (tok->len, 40), tok->start);
		return buf;
	}
}

static void G_GNUC_PRINTF (4, 5)
fail_at (Parser *ps, guint line, guint col, const char *format, ...)
{
	g_autofree char *msg = NULL;
	va_list args;

	if (ps->error != NULL)
		return;
	va_start (args, format);
	msg = g_strdup_vprintf (format, args);
	va_end (args);
	ps->error = g_error_new (TANDEM_ERROR, TANDEM_ERROR_PLAN_SYNTAX, "%u:%u: %s", line, col, msg);
}

static void
fail_expected (Parser *ps, const char *expected)
{
	char buf[64];

	fail_at (ps, ps->tok.line, ps->tok.col, "found %s, expected %s",
		 tok_describe (&ps->tok, buf, sizeof buf), expected);
}

/* Columns count characters; counting from the last position asked on the
 * same line keeps long one-line plans linear. */
static guint
col_of (Parser *ps, const char *at)
{
	if (ps->col_at == NULL || ps->col_at < ps->line_start || at < ps->col_at) {
		ps->col_at = ps->line_start;
		ps->col = 1;
	}
	ps->col += (guint) g_utf8_strlen (ps->col_at, at - ps->col_at);
	ps->col_at = at;
	return ps->col;
}

static void
skip_space (Parser *ps)
{
	while (ps->p < ps->end) {
		char c = *ps->p;

		if (c == '\n') {
			ps->p++;
			ps->line++;
			ps->line_start = ps->p;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
			ps->p++;
		} else if (c == '-' && ps->p + 1 < ps->end && ps->p[1] == '-') {
			while (ps->p < ps->end && *ps->p != '\n')
				ps->p++;
		} else if (c == '/' && ps->p + 1 < ps->end && ps->p[1] == '*') {
			guint line = ps->line;
			guint col = col_of (ps, ps->p);

			ps->p += 2;
			while (ps->p < ps->end && !(*ps->p == '*' && ps->p + 1 < ps->end && ps->p[1] == '/')) {
				if (*ps->p == '\n') {
					ps->line++;
					ps->line_start = ps->p + 1;
				}
				ps->p++;
			}
			if (ps->p >= ps->end) {
				fail_at (ps, line, col, "comment is not closed, expected '*/'");
				return;
			}
			ps->p += 2;
		} else {
			break;
		}
	}
}

static void
lex_number (Parser *ps, Token *tok)
{
	const char *p = ps->p;
	gboolean real = FALSE;
	char *num;
	char suffix;

	while (p < ps->end && g_ascii_isdigit (*p))
		p++;
	if (p + 1 < ps->end && *p == '.' && g_ascii_isdigit (p[1])) {
		real = TRUE;
		p++;
		while (p < ps->end && g_ascii_isdigit (*p))
			p++;
	}
	if (p < ps->end && (*p == 'e' || *p == 'E')) {
		const char *q = p + 1;

		if (q < ps->end && (*q == '+' || *q == '-'))
			q++;
		if (q < ps->end && g_ascii_isdigit (*q)) {
			real = TRUE;
			p = q;
			while (p < ps->end && g_ascii_isdigit (*p))
				p++;
		}
	}
	num = g_strndup (ps->p, p - ps->p);
	suffix = p < ps->end ? *p : '\0';
	errno = 0;
	if (suffix == 'f' || suffix == 'F') {
		tok->kind = TOK_FLOAT;
		tok->value.f = (float) g_ascii_strtod (num, NULL);
		p++;
	} else if (suffix == 'd' || suffix == 'D') {
		tok->kind = TOK_DOUBLE;
		tok->value.d = g_ascii_strtod (num, NULL);
		p++;
	} else if (real) {
		tok->kind = TOK_DOUBLE;
		tok->value.d = g_ascii_strtod (num, NULL);
	} else if (suffix == 'l' || suffix == 'L') {
		tok->kind = TOK_LONG;
		tok->value.l = g_ascii_strtoll (num, NULL, 10);
		if (errno == ERANGE)
			fail_at (ps, tok->line, tok->col, "number %s is out of the range of long", num);
		p++;
	} else {
		gint64 v = g_ascii_strtoll (num, NULL, 10);

		if (errno == ERANGE || v > G_MAXINT32) {
			fail_at (ps, tok->line, tok->col,
				 "number %s is out of the range of int (write %sL for a long)", num, num);
		}
		tok->kind = TOK_INT;
		tok->value.i = (gint32) v;
	}
	g_free (num);
	if (p < ps->end && (g_ascii_isalnum (*p) || *p == '_')) {
		fail_at (ps, tok->line, col_of (ps, p), "found '%c' right after a number, expected a space or an operator", *p);
	}
	ps->p = p;
}

static void
lex_string (Parser *ps, Token *tok)
{
	char quote = *ps->p;
	GString *out = g_string_new (NULL);
	const char *p = ps->p + 1;

	while (p < ps->end && *p != quote) {
		if (*p == '\n') {
			fail_at (ps, tok->line, tok->col, "string is not closed on its line, expected %c", quote);
			g_string_free (out, TRUE);
			return;
		}
		if (*p == '\\' && p + 1 < ps->end) {
			p++;
			switch (*p) {
			case 'n':
				g_string_append_c (out, '\n');
				break;
			case 't':
				g_string_append_c (out, '\t');
				break;
			default:
				g_string_append_c (out, *p);
			}
			p++;
			continue;
		}
		g_string_append_c (out, *p++);
	}
	if (p >= ps->end) {
		fail_at (ps, tok->line, tok->col, "string is not closed, expected %c", quote);
		g_string_free (out, TRUE);
		return;
	}
	ps->p = p + 1;
	tok->kind = TOK_STRING;
	tok->text = g_string_free (out, FALSE);
	if (!g_utf8_validate (tok->text, -1, NULL))
		fail_at (ps, tok->line, tok->col, "string is not valid UTF-8");
}

static gboolean
is_keyword (const char *word)
{
	static const char *const keywords[] = {
		"define", "stream", "from", "select", "insert", "into", "group", "by", "having", "as",
		"and", "or", "not", "is", "null", "true", "false", "current", "expired", "all", "events",
		"join", "on", "every", "window", "unidirectional",
	};

	for (guint i = 0; i < G_N_ELEMENTS (keywords); i++) {
		if (g_ascii_strcasecmp (word, keywords[i]) == 0)
			return TRUE;
	}
	return FALSE;
}

static void
next (Parser *ps)
{
	Token *tok = &ps->tok;
	char c;

	g_clear_pointer (&tok->text, g_free);
	memset (tok, 0, sizeof *tok);
	skip_space (ps);
	tok->line = ps->line;
	tok->col = col_of (ps, ps->p);
	tok->start = ps->p;
	if (ps->error != NULL || ps->p >= ps->end) {
		tok->kind = TOK_EOF;
		tok->len = 0;
		return;
	}
	c = *ps->p;
	if (g_ascii_isalpha (c) || c == '_') {
		const char *p = ps->p;

		while (p < ps->end && (g_ascii_isalnum (*p) || *p == '_'))
			p++;
		tok->kind = TOK_IDENT;
		tok->text = g_strndup (ps->p, p - ps->p);
		ps->p = p;
	} else if (g_ascii_isdigit (c)) {
		lex_number (ps, tok);
	} else if (c == '\'' || c == '"') {
		lex_string (ps, tok);
	} else {
		char d = ps->p + 1 < ps->end ? ps->p[1] : '\0';
		int len = 1;

		switch (c) {
		case '(': tok->kind = TOK_LPAREN; break;
		case ')': tok->kind = TOK_RPAREN; break;
		case '[': tok->kind = TOK_LBRACKET; break;
		case ']': tok->kind = TOK_RBRACKET; break;
		case ',': tok->kind = TOK_COMMA; break;
		case ';': tok->kind = TOK_SEMI; break;
		case '.': tok->kind = TOK_DOT; break;
		case '#': tok->kind = TOK_HASH; break;
		case '@': tok->kind = TOK_AT; break;
		case ':': tok->kind = TOK_COLON; break;
		case '+': tok->kind = TOK_PLUS; break;
		case '*': tok->kind = TOK_STAR; break;
		case '/': tok->kind = TOK_SLASH; break;
		case '%': tok->kind = TOK_PERCENT; break;
		case '-':
			if (d == '>') {
				tok->kind = TOK_ARROW;
				len = 2;
			} else {
				tok->kind = TOK_MINUS;
			}
			break;
		case '=':
			if (d == '=') {
				tok->kind = TOK_EQ;
				len = 2;
			} else {
				tok->kind = TOK_ASSIGN;
			}
			break;
		case '!':
			if (d == '=') {
				tok->kind = TOK_NE;
				len = 2;
			} else {
				fail_at (ps, tok->line, tok->col, "found '!', expected '!=' (use 'not' for negation)");
			}
			break;
		case '<':
			if (d == '=') {
				tok->kind = TOK_LE;
				len = 2;
			} else {
				tok->kind = TOK_LT;
			}
			break;
		case '>':
			if (d == '=') {
				tok->kind = TOK_GE;
				len = 2;
			} else {
				tok->kind = TOK_GT;
			}
			break;
		default: {
			gunichar u = g_utf8_get_char_validated (ps->p, ps->end - ps->p);

			if (u == (gunichar) -1 || u == (gunichar) -2)
				fail_at (ps, tok->line, tok->col, "found a byte that is not valid UTF-8, expected a token");
			else
				fail_at (ps, tok->line, tok->col, "found unexpected character '%.*s'",
					 (int) (g_utf8_next_char (ps->p) - ps->p), ps->p);
			tok->kind = TOK_EOF;
			return;
		}
		}
		ps->p += len;
	}
	tok->len = ps->p - tok->start;
	/* FNV-1a over the token kinds and texts: the plan's fingerprint
	 * (keywords in any case are the same token) */
	{
		gboolean keyword = tok->kind == TOK_IDENT && is_keyword (tok->text);

		ps->hash ^= (guint64) tok->kind;
		ps->hash *= G_GUINT64_CONSTANT (1099511628211);
		for (gsize i = 0; i < tok->len; i++) {
			ps->hash ^= (guint8) (keyword ? g_ascii_tolower (tok->start[i]) : tok->start[i]);
			ps->hash *= G_GUINT64_CONSTANT (1099511628211);
		}
	}
}

static gboolean
is_kw (Parser *ps, const char *kw)
{
	return ps->tok.kind == TOK_IDENT && g_ascii_strcasecmp (ps->tok.text, kw) == 0;
}

static gboolean
accept (Parser *ps, TokKind kind)
{
	if (ps->tok.kind != kind)
		return FALSE;
	next (ps);
	return TRUE;
}

static gboolean
accept_kw (Parser *ps, const char *kw)
{
	if (!is_kw (ps, kw))
		return FALSE;
	next (ps);
	return TRUE;
}

static gboolean
expect (Parser *ps, TokKind kind, const char *what)
{
	if (accept (ps, kind))
		return TRUE;
	fail_expected (ps, what);
	return FALSE;
}

static gboolean
expect_kw (Parser *ps, const char *kw)
{
	g_autofree char *what = NULL;

	if (accept_kw (ps, kw))
		return TRUE;
	what = g_strdup_printf ("'%s'", kw);
	fail_expected (ps, what);
	return FALSE;
}

static char *
expect_ident (Parser *ps, const char *what)
{
	char *text;

	if (ps->tok.kind != TOK_IDENT) {
		fail_expected (ps, what);
		return NULL;
	}
	text = g_steal_pointer (&ps->tok.text);
	next (ps);
	return text;
}

/* --- AST helpers ---------------------------------------------------------- */

void
ast_expr_free (AstExpr *expr)
{
	if (expr == NULL)
		return;
	if (expr->kind == AST_CONST && expr->const_type == TANDEM_ATTRIBUTE_TYPE_STRING)
		g_free (expr->const_value.s);
	g_free (expr->qualifier);
	g_free (expr->name);
	if (expr->args != NULL)
		g_ptr_array_unref (expr->args);
	ast_expr_free (expr->a);
	ast_expr_free (expr->b);
	g_free (expr);
}

static AstExpr *
expr_new (AstExprKind kind, guint line, guint col)
{
	AstExpr *e = g_new0 (AstExpr, 1);

	e->kind = kind;
	e->line = line;
	e->col = col;
	return e;
}

static void
window_free (AstWindow *w)
{
	if (w == NULL)
		return;
	g_free (w->name);
	g_ptr_array_unref (w->params);
	g_free (w);
}

static void
source_free (AstSource *s)
{
	g_free (s->alias);
	g_free (s->stream);
	ast_expr_free (s->filter);
	window_free (s->window);
	g_free (s);
}

static void
output_free (AstOutput *o)
{
	ast_expr_free (o->expr);
	g_free (o->as);
	g_free (o);
}

static void
query_free (AstQuery *q)
{
	g_free (q->name);
	g_ptr_array_unref (q->sources);
	ast_expr_free (q->on);
	g_ptr_array_unref (q->outputs);
	g_ptr_array_unref (q->group_by);
	ast_expr_free (q->having);
	g_free (q->into);
	g_free (q);
}

static void
stream_free (AstStream *s)
{
	g_free (s->name);
	g_free (s->import_id);
	g_free (s->export_id);
	g_ptr_array_unref (s->attr_names);
	g_array_unref (s->attr_types);
	g_free (s);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AstStream, stream_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AstSource, source_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AstQuery, query_free)

void
ast_plan_free (AstPlan *plan)
{
	if (plan == NULL)
		return;
	g_free (plan->name);
	g_free (plan->description);
	g_ptr_array_unref (plan->streams);
	g_ptr_array_unref (plan->queries);
	g_free (plan);
}

/* --- expressions ---------------------------------------------------------- */

static AstExpr *parse_expr (Parser *ps);

static AstExpr *
parse_primary (Parser *ps)
{
	Token *tok = &ps->tok;
	AstExpr *e;

	if (ps->error != NULL)
		return NULL;
	switch (tok->kind) {
	case TOK_INT:
	case TOK_LONG:
	case TOK_FLOAT:
	case TOK_DOUBLE:
	case TOK_STRING:
		e = expr_new (AST_CONST, tok->line, tok->col);
		e->const_type = tok->kind == TOK_INT	? TANDEM_ATTRIBUTE_TYPE_INT
				: tok->kind == TOK_LONG	? TANDEM_ATTRIBUTE_TYPE_LONG
				: tok->kind == TOK_FLOAT	? TANDEM_ATTRIBUTE_TYPE_FLOAT
				: tok->kind == TOK_DOUBLE ? TANDEM_ATTRIBUTE_TYPE_DOUBLE
							  : TANDEM_ATTRIBUTE_TYPE_STRING;
		if (tok->kind == TOK_STRING)
			e->const_value.s = g_steal_pointer (&tok->text);
		else
			e->const_value = tok->value;
		next (ps);
		return e;
	case TOK_LPAREN:
		next (ps);
		e = parse_expr (ps);
		if (!expect (ps, TOK_RPAREN, "')'")) {
			ast_expr_free (e);
			return NULL;
		}
		return e;
	case TOK_IDENT:
		if (is_kw (ps, "true") || is_kw (ps, "false")) {
			e = expr_new (AST_CONST, tok->line, tok->col);
			e->const_type = TANDEM_ATTRIBUTE_TYPE_BOOL;
			e->const_value.b = is_kw (ps, "true");
			next (ps);
			return e;
		}
		if (is_kw (ps, "null")) {
			e = expr_new (AST_CONST, tok->line, tok->col);
			e->const_type = TANDEM_ATTRIBUTE_TYPE_STRING;
			e->const_null = TRUE;
			next (ps);
			return e;
		}
		e = expr_new (AST_ATTR, tok->line, tok->col);
		e->name = g_steal_pointer (&tok->text);
		next (ps);
		if (accept (ps, TOK_DOT)) {
			e->qualifier = e->name;
			e->name = expect_ident (ps, "an attribute name after '.'");
			if (e->name == NULL) {
				ast_expr_free (e);
				return NULL;
			}
		} else if (accept (ps, TOK_LPAREN)) {
			e->kind = AST_CALL;
			e->args = g_ptr_array_new_with_free_func ((GDestroyNotify) ast_expr_free);
			if (!accept (ps, TOK_RPAREN)) {
				do {
					AstExpr *arg = parse_expr (ps);

					if (arg == NULL) {
						ast_expr_free (e);
						return NULL;
					}
					g_ptr_array_add (e->args, arg);
				} while (accept (ps, TOK_COMMA));
				if (!expect (ps, TOK_RPAREN, "',' or ')'")) {
					ast_expr_free (e);
					return NULL;
				}
			}
		}
		return e;
	default:
		fail_expected (ps, "an expression (attribute, literal, function call or '(')");
		return NULL;
	}
}

static AstExpr *
parse_unary (Parser *ps)
{
	guint line = ps->tok.line;
	guint col = ps->tok.col;
	AstExpr *e;

	if (++ps->depth > MAX_DEPTH) {
		fail_at (ps, line, col, "expression is nested too deeply (more than %d levels)", MAX_DEPTH);
		return NULL;
	}
	if (accept (ps, TOK_MINUS)) {
		AstExpr *inner = parse_unary (ps);

		if (inner == NULL) {
			ps->depth--;
			return NULL;
		}
		/* fold negative literals, so that -2147483648 style bounds work */
		if (inner->kind == AST_CONST && !inner->const_null) {
			switch (inner->const_type) {
			case TANDEM_ATTRIBUTE_TYPE_INT:
				inner->const_value.i = (gint32) (0u - (guint32) inner->const_value.i);
				ps->depth--;
				return inner;
			case TANDEM_ATTRIBUTE_TYPE_LONG:
				inner->const_value.l = (gint64) (0u - (guint64) inner->const_value.l);
				ps->depth--;
				return inner;
			case TANDEM_ATTRIBUTE_TYPE_FLOAT:
				inner->const_value.f = -inner->const_value.f;
				ps->depth--;
				return inner;
			case TANDEM_ATTRIBUTE_TYPE_DOUBLE:
				inner->const_value.d = -inner->const_value.d;
				ps->depth--;
				return inner;
			case TANDEM_ATTRIBUTE_TYPE_BOOL:
			case TANDEM_ATTRIBUTE_TYPE_STRING:
			default:
				break;
			}
		}
		e = expr_new (AST_NEG, line, col);
		e->a = inner;
	} else if (accept_kw (ps, "not")) {
		e = expr_new (AST_NOT, line, col);
		e->a = parse_unary (ps);
		if (e->a == NULL) {
			ast_expr_free (e);
			e = NULL;
		}
	} else {
		e = parse_primary (ps);
	}
	ps->depth--;
	return e;
}

static AstExpr *
binary (AstOp op, AstExpr *a, AstExpr *b, guint line, guint col)
{
	AstExpr *e;

	if (a == NULL || b == NULL) {
		ast_expr_free (a);
		ast_expr_free (b);
		return NULL;
	}
	e = expr_new (AST_BINARY, line, col);
	e->op = op;
	e->a = a;
	e->b = b;
	return e;
}

static AstExpr *
parse_mul (Parser *ps)
{
	AstExpr *e = parse_unary (ps);

	while (e != NULL && (ps->tok.kind == TOK_STAR || ps->tok.kind == TOK_SLASH || ps->tok.kind == TOK_PERCENT)) {
		AstOp op = ps->tok.kind == TOK_STAR ? OP_MUL : ps->tok.kind == TOK_SLASH ? OP_DIV : OP_MOD;
		guint line = ps->tok.line, col = ps->tok.col;

		next (ps);
		e = binary (op, e, parse_unary (ps), line, col);
	}
	return e;
}

static AstExpr *
parse_add (Parser *ps)
{
	AstExpr *e = parse_mul (ps);

	while (e != NULL && (ps->tok.kind == TOK_PLUS || ps->tok.kind == TOK_MINUS)) {
		AstOp op = ps->tok.kind == TOK_PLUS ? OP_ADD : OP_SUB;
		guint line = ps->tok.line, col = ps->tok.col;

		next (ps);
		e = binary (op, e, parse_mul (ps), line, col);
	}
	return e;
}

static AstExpr *
parse_compare (Parser *ps)
{
	AstExpr *e = parse_add (ps);

	while (e != NULL) {
		guint line = ps->tok.line, col = ps->tok.col;
		AstOp op;

		switch (ps->tok.kind) {
		case TOK_EQ: op = OP_EQ; break;
		case TOK_NE: op = OP_NE; break;
		case TOK_LT: op = OP_LT; break;
		case TOK_LE: op = OP_LE; break;
		case TOK_GT: op = OP_GT; break;
		case TOK_GE: op = OP_GE; break;
		default:
			if (is_kw (ps, "is")) {
				AstExpr *n;

				next (ps);
				if (!expect_kw (ps, "null")) {
					ast_expr_free (e);
					return NULL;
				}
				n = expr_new (AST_IS_NULL, line, col);
				n->a = e;
				e = n;
				continue;
			}
			return e;
		}
		next (ps);
		e = binary (op, e, parse_add (ps), line, col);
	}
	return e;
}

static AstExpr *
parse_and (Parser *ps)
{
	AstExpr *e = parse_compare (ps);

	while (e != NULL && is_kw (ps, "and")) {
		guint line = ps->tok.line, col = ps->tok.col;

		next (ps);
		e = binary (OP_AND, e, parse_compare (ps), line, col);
	}
	return e;
}

static AstExpr *
parse_expr (Parser *ps)
{
	AstExpr *e;

	if (++ps->depth > MAX_DEPTH) {
		fail_at (ps, ps->tok.line, ps->tok.col, "expression is nested too deeply (more than %d levels)", MAX_DEPTH);
		return NULL;
	}
	e = parse_and (ps);
	while (e != NULL && is_kw (ps, "or")) {
		guint line = ps->tok.line, col = ps->tok.col;

		next (ps);
		e = binary (OP_OR, e, parse_and (ps), line, col);
	}
	ps->depth--;
	return e;
}

/* --- annotations ---------------------------------------------------------- */

typedef struct {
	char *name;    /* "Plan:name", "Import", "info", ... */
	char *key;     /* key of the first element, if any */
	char *value;   /* value of the first element, or NULL */
	gboolean has_args;
	guint line;
	guint col;
} Annotation;

static void
annotation_free (Annotation *a)
{
	g_free (a->name);
	g_free (a->key);
	g_free (a->value);
	g_free (a);
}

static Annotation *
parse_annotation (Parser *ps)
{
	Annotation *a = g_new0 (Annotation, 1);
	g_autofree char *first = NULL;

	a->line = ps->tok.line;
	a->col = ps->tok.col;
	next (ps); /* '@' */
	first = expect_ident (ps, "an annotation name after '@'");
	if (first == NULL) {
		annotation_free (a);
		return NULL;
	}
	if (accept (ps, TOK_COLON)) {
		g_autofree char *second = expect_ident (ps, "an annotation element after ':'");

		if (second == NULL) {
			annotation_free (a);
			return NULL;
		}
		a->name = g_strdup_printf ("%s:%s", first, second);
	} else {
		a->name = g_steal_pointer (&first);
	}
	if (accept (ps, TOK_LPAREN)) {
		a->has_args = TRUE;
		do {
			char *key = NULL;

			if (ps->tok.kind == TOK_IDENT) {
				key = g_steal_pointer (&ps->tok.text);
				next (ps);
				if (!expect (ps, TOK_ASSIGN, "'=' after the annotation key")) {
					g_free (key);
					annotation_free (a);
					return NULL;
				}
			}
			if (ps->tok.kind != TOK_STRING) {
				g_free (key);
				fail_expected (ps, "a quoted annotation value");
				annotation_free (a);
				return NULL;
			}
			if (a->value == NULL) {
				a->key = key;
				a->value = g_steal_pointer (&ps->tok.text);
			} else {
				g_free (key);
			}
			next (ps);
		} while (accept (ps, TOK_COMMA));
		if (!expect (ps, TOK_RPAREN, "',' or ')'")) {
			annotation_free (a);
			return NULL;
		}
	}
	return a;
}

/* --- definitions and queries ---------------------------------------------- */

static AstStream *
parse_define (Parser *ps, GPtrArray *annotations)
{
	g_autoptr(AstStream) s = g_new0 (AstStream, 1);

	s->line = ps->tok.line;
	s->col = ps->tok.col;
	s->attr_names = g_ptr_array_new_with_free_func (g_free);
	s->attr_types = g_array_new (FALSE, FALSE, sizeof (TandemAttributeType));
	next (ps); /* define */
	if (!expect_kw (ps, "stream"))
		return NULL;
	s->line = ps->tok.line;
	s->col = ps->tok.col;
	s->name = expect_ident (ps, "a stream name");
	if (s->name == NULL || !expect (ps, TOK_LPAREN, "'('"))
		return NULL;
	do {
		guint line = ps->tok.line, col = ps->tok.col;
		char *name = expect_ident (ps, "an attribute name");
		TandemAttributeType type;

		if (name == NULL)
			return NULL;
		g_ptr_array_add (s->attr_names, name);
		if (ps->tok.kind != TOK_IDENT || !tandem_attribute_type_from_string (ps->tok.text, &type) ||
		    g_ascii_strcasecmp (ps->tok.text, "integer") == 0 || g_ascii_strcasecmp (ps->tok.text, "boolean") == 0) {
			fail_expected (ps, "an attribute type (int, long, float, double, bool, string)");
			return NULL;
		}
		(void) line;
		(void) col;
		g_array_append_val (s->attr_types, type);
		next (ps);
	} while (accept (ps, TOK_COMMA));
	if (!expect (ps, TOK_RPAREN, "',' or ')'"))
		return NULL;
	if (!expect (ps, TOK_SEMI, "';'"))
		return NULL;

	for (guint i = 0; i < annotations->len; i++) {
		Annotation *a = g_ptr_array_index (annotations, i);

		if (g_ascii_strcasecmp (a->name, "Import") == 0 && a->value != NULL) {
			g_free (s->import_id);
			s->import_id = g_strdup (a->value);
		} else if (g_ascii_strcasecmp (a->name, "Export") == 0 && a->value != NULL) {
			g_free (s->export_id);
			s->export_id = g_strdup (a->value);
		}
	}
	return g_steal_pointer (&s);
}

/* VALUE UNIT, as a "#unit" call node: a = the value, b = the unit name */
static AstExpr *
time_term (Parser *ps, AstExpr *value)
{
	AstExpr *unit;
	AstExpr *term;

	if (value == NULL)
		return NULL;
	if (ps->tok.kind != TOK_IDENT) {
		fail_expected (ps, "a time unit (millisec, sec, min, hour, day...)");
		ast_expr_free (value);
		return NULL;
	}
	unit = expr_new (AST_ATTR, ps->tok.line, ps->tok.col);
	unit->name = g_steal_pointer (&ps->tok.text);
	next (ps);
	term = binary (OP_MUL, value, unit, unit->line, unit->col);
	term->kind = AST_CALL;
	term->name = g_strdup ("#unit");
	return term;
}

static gboolean
parse_filter_and_window (Parser *ps, AstSource *src, gboolean allow_window)
{
	if (accept (ps, TOK_LBRACKET)) {
		src->filter = parse_expr (ps);
		if (src->filter == NULL || !expect (ps, TOK_RBRACKET, "']'"))
			return FALSE;
	}
	if (ps->tok.kind == TOK_HASH && allow_window) {
		AstWindow *w;

		next (ps);
		if (!expect_kw (ps, "window") || !expect (ps, TOK_DOT, "'.' after 'window'"))
			return FALSE;
		w = g_new0 (AstWindow, 1);
		w->params = g_ptr_array_new_with_free_func ((GDestroyNotify) ast_expr_free);
		w->line = ps->tok.line;
		w->col = ps->tok.col;
		src->window = w;
		w->name = expect_ident (ps, "a window name");
		if (w->name == NULL || !expect (ps, TOK_LPAREN, "'('"))
			return FALSE;
		if (!accept (ps, TOK_RPAREN)) {
			do {
				AstExpr *param = parse_expr (ps);

				if (param == NULL)
					return FALSE;
				/* `1 sec`, `1 min 30 sec`: constants with time
				 * units; the terms after the first hang off ->args */
				if (ps->tok.kind == TOK_IDENT) {
					param = time_term (ps, param);
					while (param != NULL && (ps->tok.kind == TOK_INT || ps->tok.kind == TOK_LONG)) {
						AstExpr *term = time_term (ps, parse_primary (ps));

						if (term == NULL) {
							ast_expr_free (param);
							return FALSE;
						}
						if (param->args == NULL)
							param->args = g_ptr_array_new_with_free_func ((GDestroyNotify) ast_expr_free);
						g_ptr_array_add (param->args, term);
					}
					if (param == NULL)
						return FALSE;
				}
				g_ptr_array_add (w->params, param);
			} while (accept (ps, TOK_COMMA));
			if (!expect (ps, TOK_RPAREN, "',' or ')'"))
				return FALSE;
		}
	} else if (ps->tok.kind == TOK_HASH) {
		fail_at (ps, ps->tok.line, ps->tok.col, "found '#', expected no window in a pattern step");
		return FALSE;
	}
	return TRUE;
}

static AstSource *
parse_source (Parser *ps, gboolean pattern)
{
	g_autoptr(AstSource) src = g_new0 (AstSource, 1);

	src->line = ps->tok.line;
	src->col = ps->tok.col;
	src->stream = expect_ident (ps, pattern ? "an event reference such as e1=Stream" : "a stream name");
	if (src->stream == NULL)
		return NULL;
	if (pattern || ps->tok.kind == TOK_ASSIGN) {
		if (!expect (ps, TOK_ASSIGN, "'=' (pattern steps are written e1=Stream)"))
			return NULL;
		src->alias = src->stream;
		src->line = ps->tok.line;
		src->col = ps->tok.col;
		src->stream = expect_ident (ps, "a stream name");
		if (src->stream == NULL)
			return NULL;
	}
	if (!parse_filter_and_window (ps, src, !pattern))
		return NULL;
	if (!pattern && is_kw (ps, "as")) {
		next (ps);
		g_free (src->alias);
		src->alias = expect_ident (ps, "an alias name");
		if (src->alias == NULL)
			return NULL;
	}
	if (!pattern && accept_kw (ps, "unidirectional"))
		src->unidirectional = TRUE;
	return g_steal_pointer (&src);
}

static AstQuery *
parse_query (Parser *ps, GPtrArray *annotations, guint index)
{
	g_autoptr(AstQuery) q = g_new0 (AstQuery, 1);
	AstSource *src;

	q->line = ps->tok.line;
	q->col = ps->tok.col;
	q->sources = g_ptr_array_new_with_free_func ((GDestroyNotify) source_free);
	q->outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) output_free);
	q->group_by = g_ptr_array_new_with_free_func ((GDestroyNotify) ast_expr_free);
	for (guint i = 0; i < annotations->len; i++) {
		Annotation *a = g_ptr_array_index (annotations, i);

		if (g_ascii_strcasecmp (a->name, "info") == 0 && a->value != NULL &&
		    (a->key == NULL || g_ascii_strcasecmp (a->key, "name") == 0)) {
			g_free (q->name);
			q->name = g_strdup (a->value);
		}
	}
	if (q->name == NULL)
		q->name = g_strdup_printf ("query%u", index);
	next (ps); /* from */

	if (accept_kw (ps, "every"))
		q->every = TRUE;
	/* a pattern step starts with NAME '=' */
	if (q->every || (ps->tok.kind == TOK_IDENT && ps->p < ps->end)) {
		const char *save_p = ps->p;
		guint save_line = ps->line;
		const char *save_ls = ps->line_start;
		gboolean is_pattern = q->every;

		if (!is_pattern) {
			/* peek: IDENT '=' (not '==') */
			skip_space (ps);
			is_pattern = ps->p < ps->end && *ps->p == '=' && !(ps->p + 1 < ps->end && ps->p[1] == '=');
			ps->p = save_p;
			ps->line = save_line;
			ps->line_start = save_ls;
		}
		if (is_pattern) {
			q->kind = AST_QUERY_PATTERN;
			do {
				src = parse_source (ps, TRUE);
				if (src == NULL)
					return NULL;
				g_ptr_array_add (q->sources, src);
			} while (accept (ps, TOK_ARROW));
			if (q->sources->len < 2) {
				fail_expected (ps, "'->' and a second pattern step");
				return NULL;
			}
		}
	}
	if (q->kind != AST_QUERY_PATTERN) {
		src = parse_source (ps, FALSE);
		if (src == NULL)
			return NULL;
		g_ptr_array_add (q->sources, src);
		if (accept_kw (ps, "join")) {
			q->kind = AST_QUERY_JOIN;
			src = parse_source (ps, FALSE);
			if (src == NULL)
				return NULL;
			g_ptr_array_add (q->sources, src);
			if (!expect_kw (ps, "on"))
				return NULL;
			q->on = parse_expr (ps);
			if (q->on == NULL)
				return NULL;
		}
	}

	if (accept_kw (ps, "select")) {
		if (accept (ps, TOK_STAR)) {
			q->select_all = TRUE;
		} else {
			do {
				AstOutput *out = g_new0 (AstOutput, 1);

				out->line = ps->tok.line;
				out->col = ps->tok.col;
				g_ptr_array_add (q->outputs, out);
				out->expr = parse_expr (ps);
				if (out->expr == NULL)
					return NULL;
				if (accept_kw (ps, "as")) {
					out->as = expect_ident (ps, "an output attribute name after 'as'");
					if (out->as == NULL)
						return NULL;
				}
			} while (accept (ps, TOK_COMMA));
		}
	} else {
		q->select_all = TRUE;
	}
	if (accept_kw (ps, "group")) {
		if (!expect_kw (ps, "by"))
			return NULL;
		do {
			AstExpr *e = parse_expr (ps);

			if (e == NULL)
				return NULL;
			g_ptr_array_add (q->group_by, e);
		} while (accept (ps, TOK_COMMA));
	}
	if (accept_kw (ps, "having")) {
		q->having = parse_expr (ps);
		if (q->having == NULL)
			return NULL;
	}
	if (!is_kw (ps, "insert")) {
		fail_expected (ps, q->having != NULL ? "'insert'" : "'group by', 'having' or 'insert'");
		return NULL;
	}
	next (ps);
	q->output_kind = AST_OUTPUT_CURRENT;
	if (is_kw (ps, "current") || is_kw (ps, "expired") || is_kw (ps, "all")) {
		q->output_kind = is_kw (ps, "current") ? AST_OUTPUT_CURRENT
				 : is_kw (ps, "expired") ? AST_OUTPUT_EXPIRED
							 : AST_OUTPUT_ALL;
		next (ps);
		if (!expect_kw (ps, "events"))
			return NULL;
	}
	if (!expect_kw (ps, "into"))
		return NULL;
	q->into_line = ps->tok.line;
	q->into_col = ps->tok.col;
	q->into = expect_ident (ps, "an output stream name");
	if (q->into == NULL || !expect (ps, TOK_SEMI, "';'"))
		return NULL;
	return g_steal_pointer (&q);
}

/**
 * tandem_plan_parse: (skip)
 *
 * Parses @text into a syntax tree; on error sets a
 * %TANDEM_ERROR_PLAN_SYNTAX error starting with `line:column:`.
 */
AstPlan *
tandem_plan_parse (const char *text, gsize length, GError **error)
{
	Parser ps = { 0 };
	g_autoptr(AstPlan) plan = g_new0 (AstPlan, 1);
	g_autoptr(GPtrArray) annotations = g_ptr_array_new_with_free_func ((GDestroyNotify) annotation_free);
	guint n_queries = 0;

	plan->streams = g_ptr_array_new_with_free_func ((GDestroyNotify) stream_free);
	plan->queries = g_ptr_array_new_with_free_func ((GDestroyNotify) query_free);
	ps.src = text;
	ps.end = text + length;
	ps.p = text;
	ps.line = 1;
	ps.line_start = text;
	ps.hash = G_GUINT64_CONSTANT (14695981039346656037);
	if (!g_utf8_validate_len (text, length, NULL)) {
		const char *bad = NULL;

		g_utf8_validate_len (text, length, &bad);
		for (const char *p = text; p < bad; p++) {
			if (*p == '\n') {
				ps.line++;
				ps.line_start = p + 1;
			}
		}
		fail_at (&ps, ps.line, col_of (&ps, bad), "the plan is not valid UTF-8");
		g_propagate_error (error, ps.error);
		return NULL;
	}
	next (&ps);
	while (ps.error == NULL && ps.tok.kind != TOK_EOF) {
		if (ps.tok.kind == TOK_AT) {
			Annotation *a = parse_annotation (&ps);

			if (a == NULL)
				break;
			if (g_ascii_strcasecmp (a->name, "Plan:name") == 0) {
				g_free (plan->name);
				plan->name = g_strdup (a->value);
				annotation_free (a);
			} else if (g_ascii_strcasecmp (a->name, "Plan:description") == 0) {
				g_free (plan->description);
				plan->description = g_strdup (a->value);
				annotation_free (a);
			} else if (g_ascii_strcasecmp (a->name, "Plan:playback") == 0) {
				plan->playback = TRUE;
				annotation_free (a);
			} else if (g_ascii_strncasecmp (a->name, "Plan:", 5) == 0) {
				annotation_free (a); /* Plan:trace, Plan:statistics... accepted */
			} else {
				g_ptr_array_add (annotations, a);
			}
			continue;
		}
		if (is_kw (&ps, "define")) {
			AstStream *s = parse_define (&ps, annotations);

			if (s == NULL)
				break;
			g_ptr_array_add (plan->streams, s);
		} else if (is_kw (&ps, "from")) {
			AstQuery *q = parse_query (&ps, annotations, ++n_queries);

			if (q == NULL)
				break;
			g_ptr_array_add (plan->queries, q);
		} else if (ps.tok.kind == TOK_SEMI) {
			next (&ps);
			continue;
		} else {
			fail_expected (&ps, "an annotation, 'define stream' or 'from'");
			break;
		}
		g_ptr_array_set_size (annotations, 0);
	}
	g_clear_pointer (&ps.tok.text, g_free);
	if (ps.error == NULL && annotations->len > 0) {
		Annotation *a = g_ptr_array_index (annotations, 0);

		fail_at (&ps, a->line, a->col, "annotation @%s is not followed by a definition or a query", a->name);
	}
	if (ps.error != NULL) {
		g_propagate_error (error, ps.error);
		return NULL;
	}
	plan->token_hash = ps.hash;
	return g_steal_pointer (&plan);
}
