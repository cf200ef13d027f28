/* output.c — esimctl's printing: column layout by screen width, human values and JSON. */
#include "output.h"

#include "errors.h"

#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct _EsimctlTable
{
  guint n_columns;
  gboolean has_header;
  GPtrArray *cells; /* char*, row by row; the header is row 0 when there is one */
};

EsimctlTable *
esimctl_table_new (guint n_columns, const char *const *headers)
{
  EsimctlTable *t = g_new0 (EsimctlTable, 1);

  g_return_val_if_fail (n_columns > 0, NULL);
  t->n_columns = n_columns;
  t->cells = g_ptr_array_new_with_free_func (g_free);
  if (headers)
    {
      t->has_header = TRUE;
      esimctl_table_add_strv (t, headers);
    }
  return t;
}

void
esimctl_table_add_strv (EsimctlTable *table, const char *const *cells)
{
  for (guint i = 0; i < table->n_columns; i++)
    {
      const char *cell = cells[i];

      g_ptr_array_add (table->cells, !cell   ? g_strdup ("")
                                     : *cell ? esimctl_text_sanitize (cell)
                                             : g_strdup ("-"));
    }
}

void
esimctl_table_add (EsimctlTable *table, ...)
{
  g_autofree const char **cells = g_new0 (const char *, table->n_columns);
  va_list ap;

  va_start (ap, table);
  for (guint i = 0; i < table->n_columns; i++)
    cells[i] = va_arg (ap, const char *);
  va_end (ap);
  esimctl_table_add_strv (table, cells);
}

guint
esimctl_table_rows (const EsimctlTable *table)
{
  return table->cells->len / table->n_columns - (table->has_header ? 1 : 0);
}

char *
esimctl_table_render (const EsimctlTable *table, gboolean bold_header)
{
  g_autofree gsize *widths = g_new0 (gsize, table->n_columns);
  GString *out = g_string_new (NULL);
  guint n_rows = table->cells->len / table->n_columns;

  for (guint i = 0; i < table->cells->len; i++)
    widths[i % table->n_columns] =
        MAX (widths[i % table->n_columns], esimctl_text_width (table->cells->pdata[i]));

  for (guint row = 0; row < n_rows; row++)
    {
      gboolean bold = bold_header && table->has_header && row == 0;
      gsize start = out->len;

      if (bold)
        g_string_append (out, "\033[1m");
      for (guint col = 0; col < table->n_columns; col++)
        {
          const char *cell = table->cells->pdata[row * table->n_columns + col];

          g_string_append (out, cell);
          if (col + 1 < table->n_columns)
            for (gsize pad = esimctl_text_width (cell); pad < widths[col] + 2; pad++)
              g_string_append_c (out, ' ');
        }
      /* Padding before an empty last cell would be trailing white space. */
      while (out->len > start && out->str[out->len - 1] == ' ')
        g_string_truncate (out, out->len - 1);
      if (bold)
        g_string_append (out, "\033[0m");
      g_string_append_c (out, '\n');
    }
  return g_string_free (out, FALSE);
}

void
esimctl_table_print (const EsimctlTable *table, FILE *out)
{
  g_autofree char *text = esimctl_table_render (table, esimctl_use_color (out));

  fputs (text, out);
}

void
esimctl_table_free (EsimctlTable *table)
{
  if (!table)
    return;
  g_ptr_array_unref (table->cells);
  g_free (table);
}

gsize
esimctl_text_width (const char *text)
{
  gsize width = 0;

  if (!g_utf8_validate (text, -1, NULL))
    return strlen (text);
  for (const char *p = text; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iszerowidth (c))
        continue;
      width += g_unichar_iswide (c) ? 2 : 1;
    }
  return width;
}

char *
esimctl_text_sanitize (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  GString *out = g_string_sized_new (strlen (valid));

  for (const char *p = valid; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      g_string_append_unichar (out, g_unichar_iscntrl (c) ? 0xFFFD : c);
    }
  return g_string_free (out, FALSE);
}

gboolean
esimctl_use_color (FILE *out)
{
  const char *term = g_getenv ("TERM");

  return isatty (fileno (out)) && !g_getenv ("NO_COLOR") && g_strcmp0 (term, "dumb") != 0;
}

guint
esimctl_terminal_width (FILE *out)
{
  struct winsize ws;
  const char *columns = g_getenv ("COLUMNS");
  guint64 n;

  if (ioctl (fileno (out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
    return ws.ws_col;
  if (columns && g_ascii_string_to_unsigned (columns, 10, 1, 10000, &n, NULL))
    return (guint) n;
  return 80;
}

char *
esimctl_snake_case (const char *name)
{
  GString *out = g_string_new (NULL);

  for (const char *p = name; *p; p++)
    {
      gboolean boundary = g_ascii_isupper (*p) && p > name &&
                          (g_ascii_islower (p[-1]) || g_ascii_isdigit (p[-1]) ||
                           (g_ascii_isupper (p[-1]) && g_ascii_islower (p[1])));

      if (boundary)
        g_string_append_c (out, '_');
      g_string_append_c (out, g_ascii_tolower (*p));
    }
  return g_string_free (out, FALSE);
}

JsonNode *
esimctl_json_from_variant (GVariant *value)
{
  const GVariantType *type = g_variant_get_type (value);
  JsonNode *node = json_node_new (JSON_NODE_VALUE);

  switch (g_variant_classify (value))
    {
    case G_VARIANT_CLASS_BOOLEAN:
      json_node_set_boolean (node, g_variant_get_boolean (value));
      return node;
    case G_VARIANT_CLASS_BYTE:
      json_node_set_int (node, g_variant_get_byte (value));
      return node;
    case G_VARIANT_CLASS_INT16:
      json_node_set_int (node, g_variant_get_int16 (value));
      return node;
    case G_VARIANT_CLASS_UINT16:
      json_node_set_int (node, g_variant_get_uint16 (value));
      return node;
    case G_VARIANT_CLASS_INT32:
      json_node_set_int (node, g_variant_get_int32 (value));
      return node;
    case G_VARIANT_CLASS_UINT32:
      json_node_set_int (node, g_variant_get_uint32 (value));
      return node;
    case G_VARIANT_CLASS_INT64:
      json_node_set_int (node, g_variant_get_int64 (value));
      return node;
    case G_VARIANT_CLASS_UINT64:
      json_node_set_int (node, (gint64) MIN (g_variant_get_uint64 (value), (guint64) G_MAXINT64));
      return node;
    case G_VARIANT_CLASS_DOUBLE:
      json_node_set_double (node, g_variant_get_double (value));
      return node;
    case G_VARIANT_CLASS_OBJECT_PATH:
      /* "/" is D-Bus's word for no object (ActiveProfile, CurrentJob): JSON's is null. */
      if (g_str_equal (g_variant_get_string (value, NULL), "/"))
        {
          json_node_unref (node);
          return json_node_new (JSON_NODE_NULL);
        }
      json_node_set_string (node, g_variant_get_string (value, NULL));
      return node;
    case G_VARIANT_CLASS_STRING:
    case G_VARIANT_CLASS_SIGNATURE:
      json_node_set_string (node, g_variant_get_string (value, NULL));
      return node;
    case G_VARIANT_CLASS_VARIANT:
      {
        g_autoptr (GVariant) inner = g_variant_get_variant (value);

        json_node_unref (node);
        return esimctl_json_from_variant (inner);
      }
    case G_VARIANT_CLASS_MAYBE:
      {
        g_autoptr (GVariant) inner = g_variant_get_maybe (value);

        json_node_unref (node);
        return inner ? esimctl_json_from_variant (inner) : json_node_new (JSON_NODE_NULL);
      }
    default:
      break;
    }
  json_node_unref (node);

  if (g_variant_type_equal (type, G_VARIANT_TYPE_BYTESTRING))
    {
      gsize n;
      const guint8 *data = g_variant_get_fixed_array (value, &n, 1);
      g_autofree char *b64 = g_base64_encode (data, n);

      return json_node_init_string (json_node_alloc (), b64);
    }
  if (g_variant_type_is_array (type) &&
      g_variant_type_is_dict_entry (g_variant_type_element (type)))
    {
      JsonObject *obj = json_object_new ();
      GVariantIter it;
      GVariant *entry;

      g_variant_iter_init (&it, value);
      while ((entry = g_variant_iter_next_value (&it)))
        {
          g_autoptr (GVariant) key = g_variant_get_child_value (entry, 0);
          g_autoptr (GVariant) val = g_variant_get_child_value (entry, 1);
          g_autofree char *name = g_variant_is_of_type (key, G_VARIANT_TYPE_STRING)
                                      ? g_variant_dup_string (key, NULL)
                                      : g_variant_print (key, FALSE);

          json_object_set_member (obj, name, esimctl_json_from_variant (val));
          g_variant_unref (entry);
        }
      return json_node_init_object (json_node_alloc (), obj);
    }
  {
    /* Other arrays and tuples. */
    JsonArray *arr = json_array_new ();
    JsonNode *out = json_node_alloc ();

    for (gsize i = 0, n = g_variant_n_children (value); i < n; i++)
      {
        g_autoptr (GVariant) child = g_variant_get_child_value (value, i);

        json_array_add_element (arr, esimctl_json_from_variant (child));
      }
    json_node_init_array (out, arr);
    json_array_unref (arr);
    return out;
  }
}

JsonObject *
esimctl_json_from_properties (GVariant *properties)
{
  JsonObject *obj = json_object_new ();
  GVariantIter it;
  const char *name;
  GVariant *value;

  g_variant_iter_init (&it, properties);
  while (g_variant_iter_next (&it, "{&sv}", &name, &value))
    {
      g_autofree char *key = esimctl_snake_case (name);

      json_object_set_member (obj, key, esimctl_json_from_variant (value));
      g_variant_unref (value);
    }
  return obj;
}

JsonObject *
esimctl_json_job (GVariant *properties, const char *path)
{
  JsonObject *obj = json_object_new ();
  const char *name = esimctl_dict_str (properties, "Error");
  GVariantIter it;
  const char *key;
  GVariant *value;

  g_variant_iter_init (&it, properties);
  while (g_variant_iter_next (&it, "{&sv}", &key, &value))
    {
      g_autofree char *member = esimctl_snake_case (key);

      if (!g_str_equal (key, "Error") && !g_str_equal (key, "ErrorMessage"))
        json_object_set_member (obj, member, esimctl_json_from_variant (value));
      g_variant_unref (value);
    }
  if (*name)
    {
      g_autoptr (GError) error =
          esimctl_error_new_remote (name, esimctl_dict_str (properties, "ErrorMessage"));

      json_object_set_member (obj, "error", esimctl_json_error (error));
    }
  else
    json_object_set_null_member (obj, "error");
  json_object_set_string_member (obj, "path", path);
  return obj;
}

JsonNode *
esimctl_json_error (const GError *error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *name = esimctl_error_get_name (error);
  g_autofree char *message = esimctl_error_get_message (error);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  if (name)
    json_builder_add_string_value (b, name);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, message);
  json_builder_set_member_name (b, "exit_status");
  json_builder_add_int_value (b, esimctl_exit_status (error));
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* @node on one line, as json-glib writes it (its escaping and number formatting). */
static void
json_write_compact (GString *out, JsonNode *node)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_root (gen, node);
  text = json_generator_to_data (gen, NULL);
  g_string_append (out, text);
}

/* Pretty-printed as json-glib does, two spaces a level, but an empty object is "{}" (json-glib
 * writes "{      }") and an empty array "[]". */
static void
json_write (GString *out, JsonNode *node, guint depth)
{
  gboolean is_object = JSON_NODE_HOLDS_OBJECT (node);
  g_autoptr (GList) members = NULL;
  g_autoptr (GList) elements = NULL;
  GList *items;

  if (!is_object && !JSON_NODE_HOLDS_ARRAY (node))
    {
      json_write_compact (out, node);
      return;
    }
  if (is_object)
    items = members = json_object_get_members (json_node_get_object (node));
  else
    items = elements = json_array_get_elements (json_node_get_array (node));
  if (!items)
    {
      g_string_append (out, is_object ? "{}" : "[]");
      return;
    }
  g_string_append (out, is_object ? "{\n" : "[\n");
  for (GList *l = items; l; l = l->next)
    {
      g_string_append_printf (out, "%*s", (int) (depth + 1) * 2, "");
      if (is_object)
        {
          g_autoptr (JsonNode) key = json_node_init_string (json_node_alloc (), l->data);

          json_write_compact (out, key);
          g_string_append (out, " : ");
          json_write (out, json_object_get_member (json_node_get_object (node), l->data),
                      depth + 1);
        }
      else
        json_write (out, l->data, depth + 1);
      g_string_append (out, l->next ? ",\n" : "\n");
    }
  g_string_append_printf (out, "%*s%c", (int) depth * 2, "", is_object ? '}' : ']');
}

void
esimctl_json_print (JsonNode *root, gboolean compact, FILE *out)
{
  g_autoptr (GString) text = g_string_new (NULL);

  if (compact)
    json_write_compact (text, root);
  else
    json_write (text, root, 0);
  fputs (text->str, out);
  fputc ('\n', out);
  fflush (out);
}

void
esimctl_table_add_metadata (EsimctlTable *t, GVariant *metadata)
{
  static const char *const rows[][2] = {
    { "iccid", "  ICCID:" }, { "service_provider", "  Provider:" },
    { "name", "  Name:" },   { "class", "  Class:" },
    { "owner", "  Owner:" },
  };
  g_autoptr (GVariant) rules = g_variant_lookup_value (metadata, "policy_rules", NULL);
  g_autofree char *rules_text = rules ? esimctl_format_value (rules) : g_strdup ("");

  for (gsize i = 0; i < G_N_ELEMENTS (rows); i++)
    esimctl_table_add (t, rows[i][1], esimctl_dict_str (metadata, rows[i][0]));
  esimctl_table_add (t, "  Policy rules:", rules_text);
}

JsonObject *
esimctl_json_result_new (const char *euicc)
{
  JsonObject *obj = json_object_new ();

  json_object_set_string_member (obj, "euicc", euicc);
  return obj;
}

void
esimctl_output_list (Esimctl *ctl, const char *euicc, const char *member, GVariant *list)
{
  JsonObject *obj = esimctl_json_result_new (euicc);

  json_object_set_member (obj, member, esimctl_json_from_variant (list));
  esimctl_output_json (ctl, obj);
}

void
esimctl_done (Esimctl *ctl, const char *format, ...)
{
  va_list ap;

  if (ctl->quiet)
    return;
  va_start (ap, format);
  vprintf (format, ap);
  va_end (ap);
  putchar ('\n');
}

void
esimctl_output_json (Esimctl *ctl, JsonObject *obj)
{
  g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);

  json_node_take_object (root, obj);
  esimctl_json_print (root, FALSE, stdout);
  ctl->json_done = TRUE;
}

char *
esimctl_format_value (GVariant *value)
{
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr (GVariant) inner = g_variant_get_variant (value);

      return esimctl_format_value (inner);
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING) ||
      g_variant_is_of_type (value, G_VARIANT_TYPE_OBJECT_PATH))
    return esimctl_text_sanitize (g_variant_get_string (value, NULL));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    return g_strdup (g_variant_get_boolean (value) ? "yes" : "no");
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BYTESTRING))
    return g_strdup_printf ("%" G_GSIZE_FORMAT " bytes", g_variant_get_size (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_DOUBLE))
    return g_strdup_printf ("%.2f", g_variant_get_double (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING_ARRAY) ||
      g_variant_is_of_type (value, G_VARIANT_TYPE_OBJECT_PATH_ARRAY))
    {
      g_autofree const char **strv = g_variant_is_of_type (value, G_VARIANT_TYPE_STRING_ARRAY)
                                         ? g_variant_get_strv (value, NULL)
                                         : g_variant_get_objv (value, NULL);
      g_autofree char *joined = g_strjoinv (", ", (char **) strv);

      return esimctl_text_sanitize (joined);
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_VARDICT))
    {
      GString *out = g_string_new ("{");
      GVariantIter it;
      const char *key;
      GVariant *v;

      g_variant_iter_init (&it, value);
      while (g_variant_iter_next (&it, "{&sv}", &key, &v))
        {
          g_autofree char *text = esimctl_format_value (v);

          g_string_append_printf (out, "%s%s=%s", out->len > 1 ? ", " : "", key, text);
          g_variant_unref (v);
        }
      g_string_append_c (out, '}');
      return g_string_free (out, FALSE);
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BYTE) ||
      g_variant_is_of_type (value, G_VARIANT_TYPE_UINT16) ||
      g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32) ||
      g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64) ||
      g_variant_is_of_type (value, G_VARIANT_TYPE_INT16) ||
      g_variant_is_of_type (value, G_VARIANT_TYPE_INT32) ||
      g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    return g_variant_print (value, FALSE);
  {
    g_autofree char *printed = g_variant_print (value, FALSE);

    return esimctl_text_sanitize (printed);
  }
}

const char *
esimctl_dict_str (GVariant *dict, const char *key)
{
  const char *s = NULL;

  if (!dict || !g_variant_lookup (dict, key, "&s", &s))
    {
      if (dict && g_variant_lookup (dict, key, "&o", &s))
        return s;
      return "";
    }
  return s;
}
