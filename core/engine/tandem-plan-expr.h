/* tandem-plan-expr.h: compiled, typed expressions and aggregates (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include "tandem-event-private.h"
#include "tandem-plan-ast.h"

G_BEGIN_DECLS

/* What an expression reads: events[i] are the events of the query's sources
 * (0 for a simple query, 0 and 1 for a join, one per step for a pattern);
 * `row` is the output row (for `having`), `aggs` the current values of the
 * query's aggregates for the event's group. */
typedef struct {
	TandemEvent **events;
	TandemEvent *row;
	const TandemValue *aggs;
	const gboolean *agg_set;
} ExprCtx;

typedef struct _Expr Expr;
typedef gboolean (*ExprFn) (const Expr *e, const ExprCtx *c, TandemValue *out);

struct _Expr {
	ExprFn fn;
	TandemAttributeType type;
	Expr *a;
	Expr *b;
	guint src;   /* attribute: which event; aggregate: slot */
	guint index; /* attribute: value index */
	TandemValue k; /* constant; strings are GRefStrings */
	gboolean k_null;
};

typedef enum {
	AGG_COUNT,
	AGG_SUM,
	AGG_AVG,
	AGG_MIN,
	AGG_MAX,
} AggKind;

typedef struct {
	AggKind kind;
	Expr *arg; /* NULL for count() */
	TandemAttributeType arg_type;
	TandemAttributeType type;
} AggDef;

/* Where names resolve while compiling an expression. */
typedef struct {
	guint n_sources;
	TandemStreamDefinition *defs[8];
	const char *names[8];   /* stream name of each source */
	const char *aliases[8]; /* alias (e1, or `as`), or NULL */
	TandemStreamDefinition *row_def; /* having: output attributes, else NULL */
	int prefer;             /* source an unqualified name resolves to first, or -1 */
	GPtrArray *aggs;        /* of AggDef*; NULL where aggregates are not allowed */
	const char *no_agg_where; /* "a filter", "group by"... */
} ExprScope;

Expr *expr_compile (const AstExpr *ast, ExprScope *scope, GError **error);
Expr *expr_compile_bool (const AstExpr *ast, ExprScope *scope, const char *what, GError **error);
void expr_free (Expr *e);
void agg_def_free (AggDef *def);

static inline gboolean
expr_eval (const Expr *e, const ExprCtx *c, TandemValue *out)
{
	return e->fn (e, c, out);
}

static inline gboolean
expr_true (const Expr *e, const ExprCtx *c)
{
	TandemValue v;

	return e->fn (e, c, &v) && v.b;
}

G_END_DECLS
