/* tandem-plan-expr.c: compiled, typed expressions
 *
 * Expressions compile into a tree of nodes whose function is chosen for the
 * operand types, with explicit widening (int < long < float < double) as in
 * Siddhi: int/int is integer division, and an operation on a null value is
 * null.  A comparison with null is false.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Engine"

#include "config.h"

#include <math.h>
#include <string.h>

#include "tandem-error.h"
#include "tandem-plan-expr.h"

static void G_GNUC_PRINTF (4, 5)
set_error (GError **error, const AstExpr *at, TandemError code, const char *format, ...)
{
	g_autofree char *msg = NULL;
	va_list args;

	va_start (args, format);
	msg = g_strdup_vprintf (format, args);
	va_end (args);
	g_set_error (error, TANDEM_ERROR, code, "%u:%u: %s", at->line, at->col, msg);
}

void
expr_free (Expr *e)
{
	if (e == NULL)
		return;
	if (e->type == TANDEM_ATTRIBUTE_TYPE_STRING && e->k.s != NULL)
		g_ref_string_release (e->k.s);
	expr_free (e->a);
	expr_free (e->b);
	g_free (e);
}

void
agg_def_free (AggDef *def)
{
	expr_free (def->arg);
	g_free (def);
}

static Expr *
node (ExprFn fn, TandemAttributeType type, Expr *a, Expr *b)
{
	Expr *e = g_new0 (Expr, 1);

	e->fn = fn;
	e->type = type;
	e->a = a;
	e->b = b;
	return e;
}

/* --- leaves --------------------------------------------------------------- */

static gboolean
eval_const (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	*out = e->k;
	return !e->k_null;
}

static gboolean
eval_attr (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemEvent *ev = c->events[e->src];

	if (ev == NULL || TANDEM_VALUE_IS_NULL (ev, e->index))
		return FALSE;
	*out = ev->values[e->index];
	return TRUE;
}

static gboolean
eval_row (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemEvent *ev = c->row;

	if (ev == NULL || TANDEM_VALUE_IS_NULL (ev, e->index))
		return FALSE;
	*out = ev->values[e->index];
	return TRUE;
}

static gboolean
eval_agg (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	if (!c->agg_set[e->src])
		return FALSE;
	*out = c->aggs[e->src];
	return TRUE;
}

/* --- widening ------------------------------------------------------------- */

#define CAST_FN(name, from, to, ctype)                                                             \
	static gboolean name (const Expr *e, const ExprCtx *c, TandemValue *out)                  \
	{                                                                                          \
		TandemValue v;                                                                     \
		if (!e->a->fn (e->a, c, &v))                                                       \
			return FALSE;                                                              \
		out->to = (ctype) v.from;                                                          \
		return TRUE;                                                                       \
	}

CAST_FN (cast_i_l, i, l, gint64)
CAST_FN (cast_i_f, i, f, float)
CAST_FN (cast_i_d, i, d, double)
CAST_FN (cast_l_f, l, f, float)
CAST_FN (cast_l_d, l, d, double)
CAST_FN (cast_f_d, f, d, double)

static Expr *
widen (Expr *e, TandemAttributeType to)
{
	ExprFn fn = NULL;

	if (e->type == to)
		return e;
	switch (e->type) {
	case TANDEM_ATTRIBUTE_TYPE_INT:
		fn = to == TANDEM_ATTRIBUTE_TYPE_LONG ? cast_i_l : to == TANDEM_ATTRIBUTE_TYPE_FLOAT ? cast_i_f : cast_i_d;
		break;
	case TANDEM_ATTRIBUTE_TYPE_LONG:
		fn = to == TANDEM_ATTRIBUTE_TYPE_FLOAT ? cast_l_f : cast_l_d;
		break;
	case TANDEM_ATTRIBUTE_TYPE_FLOAT:
		fn = cast_f_d;
		break;
	case TANDEM_ATTRIBUTE_TYPE_DOUBLE:
	case TANDEM_ATTRIBUTE_TYPE_BOOL:
	case TANDEM_ATTRIBUTE_TYPE_STRING:
	default:
		g_assert_not_reached ();
	}
	return node (fn, to, e, NULL);
}

/* --- arithmetic ----------------------------------------------------------- */

#define ARITH_FN(name, f, op)                                                                      \
	static gboolean name (const Expr *e, const ExprCtx *c, TandemValue *out)                  \
	{                                                                                          \
		TandemValue x, y;                                                                  \
		if (!e->a->fn (e->a, c, &x) || !e->b->fn (e->b, c, &y))                            \
			return FALSE;                                                              \
		out->f = x.f op y.f;                                                               \
		return TRUE;                                                                       \
	}

/* integer + - * wrap around as Java's do, without undefined behaviour */
#define WRAP_FN(name, f, utype, op)                                                                \
	static gboolean name (const Expr *e, const ExprCtx *c, TandemValue *out)                  \
	{                                                                                          \
		TandemValue x, y;                                                                  \
		if (!e->a->fn (e->a, c, &x) || !e->b->fn (e->b, c, &y))                            \
			return FALSE;                                                              \
		out->f = (__typeof__ (out->f)) ((utype) x.f op (utype) y.f);                       \
		return TRUE;                                                                       \
	}

WRAP_FN (add_i, i, guint32, +)
WRAP_FN (sub_i, i, guint32, -)
WRAP_FN (mul_i, i, guint32, *)
WRAP_FN (add_l, l, guint64, +)
WRAP_FN (sub_l, l, guint64, -)
WRAP_FN (mul_l, l, guint64, *)
ARITH_FN (add_f, f, +)
ARITH_FN (sub_f, f, -)
ARITH_FN (mul_f, f, *)
ARITH_FN (add_d, d, +)
ARITH_FN (sub_d, d, -)
ARITH_FN (mul_d, d, *)

/* As in Siddhi, a division (or remainder) by zero is null for every
 * numeric type, floating point included. */
static gboolean
div_f (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemValue x, y;

	if (!e->a->fn (e->a, c, &x) || !e->b->fn (e->b, c, &y) || y.f == 0.0f)
		return FALSE;
	out->f = x.f / y.f;
	return TRUE;
}

static gboolean
div_d (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemValue x, y;

	if (!e->a->fn (e->a, c, &x) || !e->b->fn (e->b, c, &y) || y.d == 0.0)
		return FALSE;
	out->d = x.d / y.d;
	return TRUE;
}

/* Integer division and remainder by zero give null; MIN / -1 wraps as in
 * Java. */
static gboolean
div_i (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemValue x, y;

	if (!e->a->fn (e->a, c, &x) || !e->b->fn (e->b, c, &y) || y.i == 0)
		return FALSE;
	out->i = y.i == -1 ? (gint32) (0u - (guint32) x.i) : x.i / y.i;
	return TRUE;
}

static gboolean
mod_i (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemValue x, y;

	if (!e->a->fn (e->a, c, &x) || !e->b->fn (e->b, c, &y) || y.i == 0)
		return FALSE;
	out->i = y.i == -1 ? 0 : x.i % y.i;
	return TRUE;
}

static gboolean
div_l (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemValue x, y;

	if (!e->a->fn (e->a, c, &x) || !e->b->fn (e->b, c, &y) || y.l == 0)
		return FALSE;
	out->l = y.l == -1 ? (gint64) (0u - (guint64) x.l) : x.l / y.l;
	return TRUE;
}

static gboolean
mod_l (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemValue x, y;

	if (!e->a->fn (e->a, c, &x) || !e->b->fn (e->b, c, &y) || y.l == 0)
		return FALSE;
	out->l = y.l == -1 ? 0 : x.l % y.l;
	return TRUE;
}

static gboolean
mod_f (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemValue x, y;

	if (!e->a->fn (e->a, c, &x) || !e->b->fn (e->b, c, &y) || y.f == 0.0f)
		return FALSE;
	out->f = fmodf (x.f, y.f);
	return TRUE;
}

static gboolean
mod_d (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemValue x, y;

	if (!e->a->fn (e->a, c, &x) || !e->b->fn (e->b, c, &y) || y.d == 0.0)
		return FALSE;
	out->d = fmod (x.d, y.d);
	return TRUE;
}

static gboolean
neg_i (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemValue x;

	if (!e->a->fn (e->a, c, &x))
		return FALSE;
	out->i = (gint32) (0u - (guint32) x.i);
	return TRUE;
}

static gboolean
neg_l (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemValue x;

	if (!e->a->fn (e->a, c, &x))
		return FALSE;
	out->l = (gint64) (0u - (guint64) x.l);
	return TRUE;
}

static gboolean
neg_f (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemValue x;

	if (!e->a->fn (e->a, c, &x))
		return FALSE;
	out->f = -x.f;
	return TRUE;
}

static gboolean
neg_d (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemValue x;

	if (!e->a->fn (e->a, c, &x))
		return FALSE;
	out->d = -x.d;
	return TRUE;
}

/* --- comparisons and logic ------------------------------------------------ */

#define CMP_FN(name, f, op)                                                                        \
	static gboolean name (const Expr *e, const ExprCtx *c, TandemValue *out)                  \
	{                                                                                          \
		TandemValue x, y;                                                                  \
		out->b = e->a->fn (e->a, c, &x) && e->b->fn (e->b, c, &y) && (x.f op y.f);         \
		return TRUE;                                                                       \
	}

#define CMP_SET(t, f)                                                                              \
	CMP_FN (eq_##t, f, ==)                                                                     \
	CMP_FN (ne_##t, f, !=)                                                                     \
	CMP_FN (lt_##t, f, <)                                                                      \
	CMP_FN (le_##t, f, <=)                                                                     \
	CMP_FN (gt_##t, f, >)                                                                      \
	CMP_FN (ge_##t, f, >=)

CMP_SET (i, i)
CMP_SET (l, l)
CMP_SET (f, f)
CMP_SET (d, d)

static gboolean
eq_b (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemValue x, y;

	out->b = e->a->fn (e->a, c, &x) && e->b->fn (e->b, c, &y) && (!x.b == !y.b);
	return TRUE;
}

static gboolean
ne_b (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemValue x, y;

	out->b = e->a->fn (e->a, c, &x) && e->b->fn (e->b, c, &y) && (!x.b != !y.b);
	return TRUE;
}

static gboolean
eq_s (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemValue x, y;

	out->b = e->a->fn (e->a, c, &x) && e->b->fn (e->b, c, &y) && strcmp (x.s, y.s) == 0;
	return TRUE;
}

static gboolean
ne_s (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemValue x, y;

	out->b = e->a->fn (e->a, c, &x) && e->b->fn (e->b, c, &y) && strcmp (x.s, y.s) != 0;
	return TRUE;
}

static gboolean
and_b (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemValue x, y;

	out->b = e->a->fn (e->a, c, &x) && x.b && e->b->fn (e->b, c, &y) && y.b;
	return TRUE;
}

static gboolean
or_b (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemValue x, y;

	out->b = (e->a->fn (e->a, c, &x) && x.b) || (e->b->fn (e->b, c, &y) && y.b);
	return TRUE;
}

static gboolean
not_b (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemValue x;

	out->b = !(e->a->fn (e->a, c, &x) && x.b);
	return TRUE;
}

static gboolean
is_null (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	TandemValue x;

	out->b = !e->a->fn (e->a, c, &x);
	return TRUE;
}

/* --- compiling ------------------------------------------------------------ */

static gboolean
is_numeric (TandemAttributeType t)
{
	return t <= TANDEM_ATTRIBUTE_TYPE_DOUBLE;
}

static const char *
op_text (AstOp op)
{
	static const char *const texts[] = {
		[OP_OR] = "or", [OP_AND] = "and", [OP_EQ] = "==", [OP_NE] = "!=",
		[OP_LT] = "<", [OP_LE] = "<=", [OP_GT] = ">", [OP_GE] = ">=",
		[OP_ADD] = "+", [OP_SUB] = "-", [OP_MUL] = "*", [OP_DIV] = "/", [OP_MOD] = "%",
	};
	return texts[op];
}

static char *
attribute_list (TandemStreamDefinition *def)
{
	GString *out = g_string_new (NULL);

	for (guint i = 0; i < tandem_stream_definition_get_n_attributes (def); i++)
		g_string_append_printf (out, "%s%s", i > 0 ? ", " : "",
					tandem_stream_definition_get_attribute_name (def, i));
	return g_string_free (out, FALSE);
}

static Expr *
compile_attr (const AstExpr *ast, ExprScope *scope, GError **error)
{
	Expr *e;

	if (ast->qualifier == NULL && scope->row_def != NULL) {
		int idx = tandem_stream_definition_lookup (scope->row_def, ast->name);

		if (idx >= 0) {
			e = node (eval_row, tandem_stream_definition_get_attribute_type (scope->row_def, idx), NULL, NULL);
			e->index = (guint) idx;
			return e;
		}
	}
	if (ast->qualifier == NULL && scope->prefer >= 0 && (guint) scope->prefer < scope->n_sources) {
		int idx = tandem_stream_definition_lookup (scope->defs[scope->prefer], ast->name);

		if (idx >= 0) {
			e = node (eval_attr, tandem_stream_definition_get_attribute_type (scope->defs[scope->prefer], idx), NULL, NULL);
			e->src = (guint) scope->prefer;
			e->index = (guint) idx;
			return e;
		}
	}
	for (guint s = 0; s < scope->n_sources; s++) {
		int idx;

		if (ast->qualifier != NULL && g_strcmp0 (ast->qualifier, scope->names[s]) != 0 &&
		    g_strcmp0 (ast->qualifier, scope->aliases[s]) != 0)
			continue;
		idx = tandem_stream_definition_lookup (scope->defs[s], ast->name);
		if (idx < 0) {
			if (ast->qualifier != NULL || scope->n_sources == 1) {
				g_autofree char *list = attribute_list (scope->defs[s]);

				set_error (error, ast, TANDEM_ERROR_PLAN_INVALID,
					   "unknown attribute '%s' in stream %s (it has: %s)", ast->name,
					   scope->names[s], list);
				return NULL;
			}
			continue;
		}
		if (ast->qualifier == NULL) {
			/* in a join, an unqualified name must not be ambiguous */
			for (guint t = s + 1; t < scope->n_sources; t++) {
				if (tandem_stream_definition_lookup (scope->defs[t], ast->name) >= 0) {
					set_error (error, ast, TANDEM_ERROR_PLAN_INVALID,
						   "ambiguous attribute '%s': write %s.%s or %s.%s", ast->name,
						   scope->aliases[s] ? scope->aliases[s] : scope->names[s], ast->name,
						   scope->aliases[t] ? scope->aliases[t] : scope->names[t], ast->name);
					return NULL;
				}
			}
		}
		e = node (eval_attr, tandem_stream_definition_get_attribute_type (scope->defs[s], idx), NULL, NULL);
		e->src = s;
		e->index = (guint) idx;
		return e;
	}
	if (ast->qualifier != NULL) {
		set_error (error, ast, TANDEM_ERROR_PLAN_INVALID, "unknown stream or alias '%s' in '%s.%s'",
			   ast->qualifier, ast->qualifier, ast->name);
	} else {
		set_error (error, ast, TANDEM_ERROR_PLAN_INVALID, "unknown attribute '%s'%s", ast->name,
			   scope->row_def != NULL ? " (not an input or output attribute)" : "");
	}
	return NULL;
}

static Expr *
compile_call (const AstExpr *ast, ExprScope *scope, GError **error)
{
	static const char *const names[] = { "count", "sum", "avg", "min", "max" };
	AggKind kind = AGG_COUNT;
	gboolean found = FALSE;
	AggDef *def;
	Expr *e;

	for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
		if (g_ascii_strcasecmp (ast->name, names[i]) == 0) {
			kind = (AggKind) i;
			found = TRUE;
		}
	}
	if (!found) {
		set_error (error, ast, TANDEM_ERROR_PLAN_INVALID,
			   "unknown function '%s' (supported: count, sum, avg, min, max)", ast->name);
		return NULL;
	}
	if (scope->aggs == NULL) {
		set_error (error, ast, TANDEM_ERROR_PLAN_INVALID,
			   "aggregate function '%s' is not allowed in %s", ast->name,
			   scope->no_agg_where != NULL ? scope->no_agg_where : "this place");
		return NULL;
	}
	if (kind == AGG_COUNT ? ast->args->len > 1 : ast->args->len != 1) {
		set_error (error, ast, TANDEM_ERROR_PLAN_INVALID, "%s() takes %s", names[kind],
			   kind == AGG_COUNT ? "no argument" : "one argument");
		return NULL;
	}
	def = g_new0 (AggDef, 1);
	def->kind = kind;
	if (ast->args->len == 1) {
		GPtrArray *saved = scope->aggs;
		const char *saved_where = scope->no_agg_where;

		scope->aggs = NULL; /* no aggregate inside an aggregate */
		scope->no_agg_where = "another aggregate";
		def->arg = expr_compile (g_ptr_array_index (ast->args, 0), scope, error);
		scope->aggs = saved;
		scope->no_agg_where = saved_where;
		if (def->arg == NULL) {
			agg_def_free (def);
			return NULL;
		}
		def->arg_type = def->arg->type;
		if (kind != AGG_COUNT && !is_numeric (def->arg_type)) {
			set_error (error, ast, TANDEM_ERROR_PLAN_INVALID, "%s() needs a number, got a %s",
				   names[kind], tandem_attribute_type_to_string (def->arg_type));
			agg_def_free (def);
			return NULL;
		}
	}
	switch (kind) {
	case AGG_COUNT:
		def->type = TANDEM_ATTRIBUTE_TYPE_LONG;
		break;
	case AGG_SUM:
		def->type = def->arg_type <= TANDEM_ATTRIBUTE_TYPE_LONG ? TANDEM_ATTRIBUTE_TYPE_LONG
									 : TANDEM_ATTRIBUTE_TYPE_DOUBLE;
		break;
	case AGG_AVG:
		def->type = TANDEM_ATTRIBUTE_TYPE_DOUBLE;
		break;
	case AGG_MIN:
	case AGG_MAX:
	default:
		def->type = def->arg_type;
		break;
	}
	g_ptr_array_add (scope->aggs, def);
	e = node (eval_agg, def->type, NULL, NULL);
	e->src = scope->aggs->len - 1;
	return e;
}

static ExprFn
pick_cmp (AstOp op, TandemAttributeType t)
{
	static const ExprFn table[4][6] = {
		{ eq_i, ne_i, lt_i, le_i, gt_i, ge_i },
		{ eq_l, ne_l, lt_l, le_l, gt_l, ge_l },
		{ eq_f, ne_f, lt_f, le_f, gt_f, ge_f },
		{ eq_d, ne_d, lt_d, le_d, gt_d, ge_d },
	};
	return table[t][op - OP_EQ];
}

static ExprFn
pick_arith (AstOp op, TandemAttributeType t)
{
	static const ExprFn table[4][5] = {
		{ add_i, sub_i, mul_i, div_i, mod_i },
		{ add_l, sub_l, mul_l, div_l, mod_l },
		{ add_f, sub_f, mul_f, div_f, mod_f },
		{ add_d, sub_d, mul_d, div_d, mod_d },
	};
	return table[t][op - OP_ADD];
}

static Expr *
compile_binary (const AstExpr *ast, ExprScope *scope, GError **error)
{
	Expr *a = expr_compile (ast->a, scope, error);
	Expr *b = a != NULL ? expr_compile (ast->b, scope, error) : NULL;
	TandemAttributeType ta, tb, t;

	if (b == NULL) {
		expr_free (a);
		return NULL;
	}
	ta = a->type;
	tb = b->type;
	switch (ast->op) {
	case OP_AND:
	case OP_OR:
		if (ta != TANDEM_ATTRIBUTE_TYPE_BOOL || tb != TANDEM_ATTRIBUTE_TYPE_BOOL) {
			set_error (error, ast, TANDEM_ERROR_PLAN_INVALID,
				   "type mismatch: '%s' needs two bools, got %s and %s", op_text (ast->op),
				   tandem_attribute_type_to_string (ta), tandem_attribute_type_to_string (tb));
			break;
		}
		return node (ast->op == OP_AND ? and_b : or_b, TANDEM_ATTRIBUTE_TYPE_BOOL, a, b);
	case OP_EQ:
	case OP_NE:
	case OP_LT:
	case OP_LE:
	case OP_GT:
	case OP_GE:
		if (is_numeric (ta) && is_numeric (tb)) {
			t = MAX (ta, tb);
			return node (pick_cmp (ast->op, t), TANDEM_ATTRIBUTE_TYPE_BOOL, widen (a, t), widen (b, t));
		}
		if (ta == tb && (ast->op == OP_EQ || ast->op == OP_NE)) {
			if (ta == TANDEM_ATTRIBUTE_TYPE_BOOL)
				return node (ast->op == OP_EQ ? eq_b : ne_b, TANDEM_ATTRIBUTE_TYPE_BOOL, a, b);
			return node (ast->op == OP_EQ ? eq_s : ne_s, TANDEM_ATTRIBUTE_TYPE_BOOL, a, b);
		}
		set_error (error, ast, TANDEM_ERROR_PLAN_INVALID, "type mismatch: %s cannot be compared with %s using '%s'",
			   tandem_attribute_type_to_string (ta), tandem_attribute_type_to_string (tb),
			   op_text (ast->op));
		break;
	case OP_ADD:
	case OP_SUB:
	case OP_MUL:
	case OP_DIV:
	case OP_MOD:
	default:
		if (!is_numeric (ta) || !is_numeric (tb)) {
			set_error (error, ast, TANDEM_ERROR_PLAN_INVALID,
				   "type mismatch: '%s' needs numbers, got %s and %s", op_text (ast->op),
				   tandem_attribute_type_to_string (ta), tandem_attribute_type_to_string (tb));
			break;
		}
		t = MAX (ta, tb);
		return node (pick_arith (ast->op, t), t, widen (a, t), widen (b, t));
	}
	expr_free (a);
	expr_free (b);
	return NULL;
}

Expr *
expr_compile (const AstExpr *ast, ExprScope *scope, GError **error)
{
	Expr *e;
	Expr *inner;

	switch (ast->kind) {
	case AST_CONST:
		e = node (eval_const, ast->const_type, NULL, NULL);
		e->k_null = ast->const_null;
		if (ast->const_null)
			e->type = TANDEM_ATTRIBUTE_TYPE_STRING;
		else if (ast->const_type == TANDEM_ATTRIBUTE_TYPE_STRING)
			e->k.s = g_ref_string_new (ast->const_value.s);
		else
			e->k = ast->const_value;
		return e;
	case AST_ATTR:
		return compile_attr (ast, scope, error);
	case AST_CALL:
		if (g_strcmp0 (ast->name, "#unit") == 0) {
			set_error (error, ast, TANDEM_ERROR_PLAN_INVALID, "a time unit is only allowed in window parameters");
			return NULL;
		}
		return compile_call (ast, scope, error);
	case AST_NOT:
		inner = expr_compile (ast->a, scope, error);
		if (inner == NULL)
			return NULL;
		if (inner->type != TANDEM_ATTRIBUTE_TYPE_BOOL) {
			set_error (error, ast, TANDEM_ERROR_PLAN_INVALID, "type mismatch: 'not' needs a bool, got %s",
				   tandem_attribute_type_to_string (inner->type));
			expr_free (inner);
			return NULL;
		}
		return node (not_b, TANDEM_ATTRIBUTE_TYPE_BOOL, inner, NULL);
	case AST_NEG: {
		static const ExprFn negs[] = { neg_i, neg_l, neg_f, neg_d };

		inner = expr_compile (ast->a, scope, error);
		if (inner == NULL)
			return NULL;
		if (!is_numeric (inner->type)) {
			set_error (error, ast, TANDEM_ERROR_PLAN_INVALID, "type mismatch: '-' needs a number, got %s",
				   tandem_attribute_type_to_string (inner->type));
			expr_free (inner);
			return NULL;
		}
		return node (negs[inner->type], inner->type, inner, NULL);
	}
	case AST_IS_NULL:
		inner = expr_compile (ast->a, scope, error);
		if (inner == NULL)
			return NULL;
		return node (is_null, TANDEM_ATTRIBUTE_TYPE_BOOL, inner, NULL);
	case AST_BINARY:
	default:
		return compile_binary (ast, scope, error);
	}
}

Expr *
expr_compile_bool (const AstExpr *ast, ExprScope *scope, const char *what, GError **error)
{
	Expr *e = expr_compile (ast, scope, error);

	if (e != NULL && e->type != TANDEM_ATTRIBUTE_TYPE_BOOL) {
		set_error (error, ast, TANDEM_ERROR_PLAN_INVALID, "%s must be a bool condition, got a %s", what,
			   tandem_attribute_type_to_string (e->type));
		expr_free (e);
		return NULL;
	}
	return e;
}
