/* tandem-plan-ast.h: the syntax tree of an execution plan (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include "tandem-event-private.h"
#include "tandem-stream-definition.h"

G_BEGIN_DECLS

typedef enum {
	AST_CONST,
	AST_ATTR,
	AST_NOT,
	AST_NEG,
	AST_BINARY,
	AST_IS_NULL,
	AST_CALL,
} AstExprKind;

typedef enum {
	OP_OR,
	OP_AND,
	OP_EQ,
	OP_NE,
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE,
	OP_ADD,
	OP_SUB,
	OP_MUL,
	OP_DIV,
	OP_MOD,
} AstOp;

typedef struct _AstExpr AstExpr;
struct _AstExpr {
	AstExprKind kind;
	AstOp op;
	guint line;
	guint col;
	/* AST_CONST */
	TandemAttributeType const_type;
	gboolean const_null;
	TandemValue const_value; /* strings: g_malloc'ed in s */
	/* AST_ATTR: [qualifier.]name; AST_CALL: name(args) */
	char *qualifier;
	char *name;
	GPtrArray *args; /* of AstExpr */
	AstExpr *a;
	AstExpr *b;
};

typedef struct {
	char *name;
	GPtrArray *params; /* of AstExpr */
	guint line;
	guint col;
} AstWindow;

typedef struct {
	char *alias;  /* e1 in e1=A, or NULL */
	char *stream;
	AstExpr *filter;
	AstWindow *window;
	gboolean unidirectional;
	guint line;
	guint col;
} AstSource;

typedef struct {
	AstExpr *expr;
	char *as;
	guint line;
	guint col;
} AstOutput;

typedef enum {
	AST_QUERY_SIMPLE,
	AST_QUERY_JOIN,
	AST_QUERY_PATTERN,
} AstQueryKind;

typedef enum {
	AST_OUTPUT_CURRENT,
	AST_OUTPUT_EXPIRED,
	AST_OUTPUT_ALL,
} AstOutputKind;

typedef struct {
	char *name;
	AstQueryKind kind;
	GPtrArray *sources; /* of AstSource: 1 (simple), 2 (join) or the pattern steps */
	AstExpr *on;        /* join condition */
	gboolean every;     /* pattern: `every` on the first step */
	gboolean select_all;
	GPtrArray *outputs;  /* of AstOutput */
	GPtrArray *group_by; /* of AstExpr */
	AstExpr *having;
	char *into;
	guint into_line;
	guint into_col;
	AstOutputKind output_kind;
	guint line;
	guint col;
} AstQuery;

typedef struct {
	char *name;
	char *import_id;
	char *export_id;
	GPtrArray *attr_names; /* of char* */
	GArray *attr_types;    /* of TandemAttributeType */
	guint line;
	guint col;
} AstStream;

typedef struct {
	char *name;
	char *description;
	gboolean playback;
	GPtrArray *streams; /* of AstStream */
	GPtrArray *queries; /* of AstQuery */
	guint64 token_hash; /* of every token, so comments and layout do not count */
} AstPlan;

AstPlan *tandem_plan_parse (const char *text, gsize length, GError **error);
void ast_plan_free (AstPlan *plan);
void ast_expr_free (AstExpr *expr);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AstPlan, ast_plan_free)

G_END_DECLS
