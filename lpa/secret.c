/* secret.c — wiping what held a secret before it is freed (secret.h). */
#include "secret.h"

#include <string.h>

void
lpa_secret_wipe (gpointer data, gsize len)
{
  if (data && len)
    explicit_bzero (data, len);
}

void
lpa_secret_free (LpaSecret *secret)
{
  if (secret == NULL)
    return;
  lpa_secret_wipe (secret, strlen (secret));
  g_free (secret);
}

void
lpa_secret_strv_free (char **strv)
{
  if (strv == NULL)
    return;
  for (char **s = strv; *s; s++)
    lpa_secret_free (*s);
  g_free (strv);
}

typedef struct
{
  gpointer data;
  gsize len;
} Wiped;

static void
wiped_free (gpointer p)
{
  Wiped *w = p;

  lpa_secret_wipe (w->data, w->len);
  g_free (w->data);
  g_free (w);
}

GBytes *
lpa_secret_bytes_new_take (gpointer data, gsize len)
{
  Wiped *w = g_new (Wiped, 1);

  w->data = data;
  w->len = len;
  return g_bytes_new_with_free_func (data, len, wiped_free, w);
}

GBytes *
lpa_secret_bytes_new (gconstpointer data, gsize len)
{
  return lpa_secret_bytes_new_take (g_memdup2 (data, len), len);
}

GByteArray *
lpa_secret_byte_array_new (gsize capacity)
{
  /* GLib allocates at least what is asked for and reallocates only past it. */
  return g_byte_array_sized_new ((guint) MAX (capacity, 16));
}

void
lpa_secret_byte_array_reserve (GByteArray **array, gsize *capacity, gsize extra)
{
  GByteArray *old = *array;
  gsize want = old->len + extra;
  gsize cap = MAX (*capacity, 16);

  if (want <= *capacity)
    return;
  while (cap < want)
    cap *= 2;
  *array = lpa_secret_byte_array_new (cap);
  g_byte_array_append (*array, old->data, old->len);
  *capacity = cap;
  lpa_secret_byte_array_free (old);
}

void
lpa_secret_byte_array_free (GByteArray *array)
{
  if (array == NULL)
    return;
  lpa_secret_wipe (array->data, array->len);
  g_byte_array_unref (array);
}

GBytes *
lpa_secret_byte_array_free_to_bytes (GByteArray *array)
{
  gsize len;
  guint8 *data = g_byte_array_steal (array, &len);

  g_byte_array_unref (array);
  return lpa_secret_bytes_new_take (data, len);
}
