/* SPDX-License-Identifier: MIT */
/* json: a strict JSON (RFC 8259) validator and pretty-printer for --pretty.
 * Pure: it hands the re-indented text to a callback token by token, so the
 * caller decides about colours and terminal escaping; it never allocates,
 * never reads past len, and bounds nesting. */
#ifndef WSC_JSON_H
#define WSC_JSON_H

#include <stddef.h>

/* Deeper nesting is refused as invalid (the parser recurses once per level). */
#define JSON_MAX_DEPTH 200

enum json_token {
    JSON_PUNCT,  /* { } [ ] : , */
    JSON_SPACE,  /* newlines, indentation and the blank after ':' */
    JSON_KEY,    /* an object member's name, with its quotes and escapes as written */
    JSON_STRING, /* a string value, as written */
    JSON_NUMBER,
    JSON_LITERAL, /* true, false, null */
};

typedef void (*json_emit_fn)(void *ctx, enum json_token kind, const char *p, size_t len);

/* 0 when p[0, len) holds exactly one JSON value, with optional whitespace
 * around it; -1 otherwise. */
int json_validate(const char *p, size_t len);

/* Validates, then emits the value with indent spaces per level: one member
 * or element per line, empty objects and arrays as {} and [], strings and
 * numbers exactly as written. Emits nothing and returns -1 when the text is
 * not valid JSON. */
int json_pretty(const char *p, size_t len, unsigned indent, json_emit_fn emit, void *ctx);

#endif
