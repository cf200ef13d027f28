/* output.h — everything esimctl prints: aligned tables, values for humans, JSON for machines. */
#pragma once

#include "esimctl.h"

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdio.h>

G_BEGIN_DECLS

/* Columns as wide as their widest cell on screen (East Asian wide characters count two,
 * combining marks none), two spaces apart, no padding after the last column. */
typedef struct _EsimctlTable EsimctlTable;

/* @headers: @n_columns strings, or NULL for a table without a header row (label: value lists) */
EsimctlTable *esimctl_table_new (guint n_columns, const char *const *headers);
/* Adds a row of n_columns cells; an empty cell prints as "-" (nothing to show), a NULL one as
 * blank (continuation lines of a label: value list). */
void esimctl_table_add (EsimctlTable *table, ...);
void esimctl_table_add_strv (EsimctlTable *table, const char *const *cells);
guint esimctl_table_rows (const EsimctlTable *table);
/* @bold_header: emphasise the header with an SGR sequence (only ever on a colour terminal). */
char *esimctl_table_render (const EsimctlTable *table, gboolean bold_header);
void esimctl_table_print (const EsimctlTable *table, FILE *out);
void esimctl_table_free (EsimctlTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimctlTable, esimctl_table_free)

/* Columns @text takes on a terminal. Invalid UTF-8 counts one column per byte. */
gsize esimctl_text_width (const char *text);

/* @text safe to print on a terminal: invalid UTF-8 repaired and control characters (which a
 * server could put in a profile name to move the cursor or retitle the window) replaced by
 * U+FFFD. */
char *esimctl_text_sanitize (const char *text);

/* TRUE if @out is a terminal that may get SGR sequences (NO_COLOR unset, TERM not "dumb"). */
gboolean esimctl_use_color (FILE *out);

/* Terminal columns of @out (TIOCGWINSZ, else $COLUMNS, else 80). */
guint esimctl_terminal_width (FILE *out);

/* "FreeNonVolatileMemory" → "free_non_volatile_memory": the JSON names of D-Bus properties,
 * the same as the keys of ListProfiles' dictionaries. */
char *esimctl_snake_case (const char *name);

/* A D-Bus value as JSON: integers as numbers, byte arrays as base64 strings, object paths as
 * strings, variants unwrapped, dictionaries with string keys as objects, others as arrays. */
JsonNode *esimctl_json_from_variant (GVariant *value);

/* An a{sv} of D-Bus properties as a JSON object with snake_case member names. */
JsonObject *esimctl_json_from_properties (GVariant *properties);

/* A Job's properties (a{sv}) and @path as JSON: snake_case names, except that Error and
 * ErrorMessage are one "error", null or as esimctl_json_error() writes a failure, so that
 * "error" means the same in every document. */
JsonObject *esimctl_json_job (GVariant *properties, const char *path);

/* {"name": D-Bus name or null, "message": …, "exit_status": N} */
JsonNode *esimctl_json_error (const GError *error);

/* Prints @root as one pretty-printed document and a newline (or, @compact, on one line). */
void esimctl_json_print (JsonNode *root, gboolean compact, FILE *out);

/* Adds the rows describing a profile an SM-DP+ offers (a Job's ProfileMetadata): ICCID,
 * provider, name, class, owner, policy rules, as indented "label:" / value pairs. */
void esimctl_table_add_metadata (EsimctlTable *table, GVariant *metadata);

/* A command's JSON result about @euicc: {"euicc": @euicc}, for the command to add to. */
JsonObject *esimctl_json_result_new (const char *euicc);

/* Prints {"euicc": @euicc, @member: @list as JSON}: the document of the listing commands. */
void esimctl_output_list (Esimctl *ctl, const char *euicc, const char *member, GVariant *list);

/* Says on stdout what a command did ("Enabled profile ..."), unless --quiet asked for silence
 * on success. */
void esimctl_done (Esimctl *ctl, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* Prints @obj (consumed) as the command's one JSON document on stdout. */
void esimctl_output_json (Esimctl *ctl, JsonObject *obj);

/* A value for a human: strings as they are (sanitized), booleans yes/no, string arrays
 * comma-separated, byte arrays as their size, a{sv} as {key=value, …}. */
char *esimctl_format_value (GVariant *value);

/* A string from a{sv} @dict, "" when absent or not a string. Borrowed from @dict. */
const char *esimctl_dict_str (GVariant *dict, const char *key);

G_END_DECLS
