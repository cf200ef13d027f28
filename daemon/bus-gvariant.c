/* bus-gvariant.c — recursive GVariant <-> sd_bus_message conversion for every D-Bus type. */
#include "bus-gvariant.h"

#include <errno.h>
#include <string.h>

int
esimd_bus_append_gvariant (sd_bus_message *m, GVariant *value)
{
  const char *type = g_variant_get_type_string (value);
  int r;

  switch (type[0])
    {
    case 'b':
      {
        int b = g_variant_get_boolean (value);
        return sd_bus_message_append_basic (m, 'b', &b);
      }
    case 'y':
      {
        guint8 v = g_variant_get_byte (value);
        return sd_bus_message_append_basic (m, 'y', &v);
      }
    case 'n':
      {
        gint16 v = g_variant_get_int16 (value);
        return sd_bus_message_append_basic (m, 'n', &v);
      }
    case 'q':
      {
        guint16 v = g_variant_get_uint16 (value);
        return sd_bus_message_append_basic (m, 'q', &v);
      }
    case 'i':
      {
        gint32 v = g_variant_get_int32 (value);
        return sd_bus_message_append_basic (m, 'i', &v);
      }
    case 'u':
      {
        guint32 v = g_variant_get_uint32 (value);
        return sd_bus_message_append_basic (m, 'u', &v);
      }
    case 'x':
      {
        gint64 v = g_variant_get_int64 (value);
        return sd_bus_message_append_basic (m, 'x', &v);
      }
    case 't':
      {
        guint64 v = g_variant_get_uint64 (value);
        return sd_bus_message_append_basic (m, 't', &v);
      }
    case 'd':
      {
        double v = g_variant_get_double (value);
        return sd_bus_message_append_basic (m, 'd', &v);
      }
    case 's':
    case 'o':
    case 'g':
      return sd_bus_message_append_basic (m, type[0], g_variant_get_string (value, NULL));
    case 'h':
      return -EINVAL; /* esimd never passes file descriptors */
    case 'v':
      {
        g_autoptr (GVariant) inner = g_variant_get_variant (value);

        r = sd_bus_message_open_container (m, 'v', g_variant_get_type_string (inner));
        if (r < 0)
          return r;
        r = esimd_bus_append_gvariant (m, inner);
        if (r < 0)
          return r;
        return sd_bus_message_close_container (m);
      }
    case 'a':
      if (type[1] == 'y')
        {
          gsize n;
          const guint8 *data = g_variant_get_fixed_array (value, &n, 1);

          return sd_bus_message_append_array (m, 'y', data, n);
        }
      r = sd_bus_message_open_container (m, 'a', type + 1);
      break;
    case '(':
      {
        g_autofree char *contents = g_strndup (type + 1, strlen (type) - 2);

        r = sd_bus_message_open_container (m, 'r', contents);
        break;
      }
    case '{':
      {
        g_autofree char *contents = g_strndup (type + 1, strlen (type) - 2);

        r = sd_bus_message_open_container (m, 'e', contents);
        break;
      }
    default:
      return -EINVAL;
    }
  if (r < 0)
    return r;
  for (gsize i = 0, n = g_variant_n_children (value); i < n; i++)
    {
      g_autoptr (GVariant) child = g_variant_get_child_value (value, i);

      r = esimd_bus_append_gvariant (m, child);
      if (r < 0)
        return r;
    }
  return sd_bus_message_close_container (m);
}

/* Length of the first complete type in @sig. */
static gsize
complete_type_len (const char *sig)
{
  const char *end = sig;

  if (!*sig)
    return 0;
  if (!g_variant_type_string_scan (sig, NULL, &end))
    return 0;
  return (gsize) (end - sig);
}

int
esimd_bus_read_gvariant (sd_bus_message *m, const char *type, GVariant **out)
{
  int r;

  *out = NULL;
  switch (type[0])
    {
#define BASIC(ch, ctype, ctor)                                                                     \
  case ch:                                                                                         \
    {                                                                                              \
      ctype v;                                                                                     \
      r = sd_bus_message_read_basic (m, ch, &v);                                                   \
      if (r <= 0)                                                                                  \
        return r < 0 ? r : -ENXIO;                                                                 \
      *out = g_variant_ref_sink (ctor);                                                            \
      return 1;                                                                                    \
    }
      BASIC ('y', guint8, g_variant_new_byte (v))
      BASIC ('n', gint16, g_variant_new_int16 (v))
      BASIC ('q', guint16, g_variant_new_uint16 (v))
      BASIC ('i', gint32, g_variant_new_int32 (v))
      BASIC ('u', guint32, g_variant_new_uint32 (v))
      BASIC ('x', gint64, g_variant_new_int64 (v))
      BASIC ('t', guint64, g_variant_new_uint64 (v))
      BASIC ('d', double, g_variant_new_double (v))
      BASIC ('b', int, g_variant_new_boolean (v != 0))
      BASIC ('s', const char *, g_variant_new_string (v))
      BASIC ('o', const char *, g_variant_new_object_path (v))
      BASIC ('g', const char *, g_variant_new_signature (v))
#undef BASIC
    case 'v':
      {
        const char *contents = NULL;
        GVariant *inner = NULL;

        r = sd_bus_message_peek_type (m, NULL, &contents);
        if (r <= 0)
          return r < 0 ? r : -ENXIO;
        r = sd_bus_message_enter_container (m, 'v', contents);
        if (r <= 0)
          return r < 0 ? r : -ENXIO;
        r = esimd_bus_read_gvariant (m, contents, &inner);
        if (r < 0)
          return r;
        r = sd_bus_message_exit_container (m);
        if (r < 0)
          {
            g_variant_unref (inner);
            return r;
          }
        *out = g_variant_ref_sink (g_variant_new_variant (inner));
        g_variant_unref (inner);
        return 1;
      }
    case 'a':
    case '(':
    case '{':
      {
        gsize len = complete_type_len (type);
        g_autofree char *full = g_strndup (type, len);
        g_autofree char *contents = NULL;
        GVariantBuilder b;
        char kind = type[0] == 'a' ? 'a' : type[0] == '(' ? 'r' : 'e';

        if (len == 0)
          return -EINVAL;
        contents = kind == 'a' ? g_strdup (full + 1) : g_strndup (full + 1, len - 2);
        r = sd_bus_message_enter_container (m, kind, contents);
        if (r <= 0)
          return r < 0 ? r : -ENXIO;
        g_variant_builder_init (&b, G_VARIANT_TYPE (full));
        if (kind == 'a')
          while ((r = sd_bus_message_at_end (m, FALSE)) == 0)
            {
              GVariant *child = NULL;

              r = esimd_bus_read_gvariant (m, contents, &child);
              if (r < 0)
                break;
              g_variant_builder_add_value (&b, child);
              g_variant_unref (child);
            }
        else
          for (const char *p = contents; *p && r >= 0; p += complete_type_len (p))
            {
              g_autofree char *one = g_strndup (p, complete_type_len (p));
              GVariant *child = NULL;

              r = esimd_bus_read_gvariant (m, one, &child);
              if (r < 0)
                break;
              g_variant_builder_add_value (&b, child);
              g_variant_unref (child);
            }
        if (r < 0)
          {
            g_variant_builder_clear (&b);
            return r;
          }
        r = sd_bus_message_exit_container (m);
        if (r < 0)
          {
            g_variant_builder_clear (&b);
            return r;
          }
        *out = g_variant_ref_sink (g_variant_builder_end (&b));
        return 1;
      }
    default:
      return -EINVAL;
    }
}
