/* log.c — routes GLib's structured log to the journal or stderr and hides personal data. */
#include "log.h"

#include "text.h"

#include <string.h>
#include <unistd.h>

static gboolean log_debug;
static gboolean log_personal;
/* EIDs, ICCIDs and IMEIs esimd has come to know: unless personal data is on, the log writer
 * hides them wherever a message quotes them, however they got there (a file path in a GLib
 * error, a server's message, a card's answer). The oldest go first beyond the cap. */
static GPtrArray *personal_values;
#define MAX_PERSONAL_VALUES 512
/* The matching IDs and confirmation codes of the downloads esimd holds: hidden always, however a
 * message came to quote them (a server's refusal that echoes what it was sent). A value may be
 * listed more than once (two downloads of one code); each esimd_log_remove_secret() takes one. */
static GPtrArray *secret_values;
#define MIN_SECRET_LENGTH 4

/* The last line of defence for text from a server, a card or a user that a message quotes: the
 * journal and log readers get valid UTF-8 and no control character but newlines and tabs
 * (a carriage return or an escape sequence would rewrite what a terminal shows). */
static GLogWriterOutput
write_clean (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if (g_log_writer_is_journald (STDERR_FILENO) &&
      g_log_writer_journald (level, fields, n_fields, user_data) == G_LOG_WRITER_HANDLED)
    return G_LOG_WRITER_HANDLED;
  return g_log_writer_standard_streams (level, fields, n_fields, user_data);
}

/* Replaces in *@out (made from @message when first needed) every occurrence of @value that is
 * a whole token (no letter or digit right before or after it) by @with. */
static void
replace_token (GString **out, const char *message, const char *value, const char *with)
{
  gsize len = strlen (value);
  const char *text = *out ? (*out)->str : message;
  GString *result = NULL;
  const char *from = text, *hit;

  for (hit = strstr (text, value); hit; hit = strstr (hit + 1, value))
    {
      if ((hit > text && g_ascii_isalnum (hit[-1])) || g_ascii_isalnum (hit[len]))
        continue;
      if (!result)
        result = g_string_new (NULL);
      g_string_append_len (result, from, hit - from);
      g_string_append (result, with);
      from = hit + len;
      hit = from - 1;
    }
  if (!result)
    return;
  g_string_append (result, from);
  if (*out)
    g_string_free (*out, TRUE);
  *out = result;
}

/* @message with every secret replaced by "[secret]" and, when @personal, every personal value
 * by "[hidden]"; NULL when it shows none. */
static char *
redact (const char *message, gboolean personal)
{
  GString *out = NULL;

  for (guint i = 0; secret_values && i < secret_values->len; i++)
    replace_token (&out, message, secret_values->pdata[i], "[secret]");
  for (guint i = 0; personal && personal_values && i < personal_values->len; i++)
    {
      const char *value = personal_values->pdata[i];

      if (!strstr (out ? out->str : message, value))
        continue;
      if (!out)
        out = g_string_new (message);
      g_string_replace (out, value, "[hidden]", 0);
    }
  return out ? g_string_free (out, FALSE) : NULL;
}

void
esimd_log_add_secret (const char *value)
{
  if (!value || strlen (value) < MIN_SECRET_LENGTH)
    return;
  if (!secret_values)
    secret_values = g_ptr_array_new_with_free_func ((GDestroyNotify) lpa_secret_free);
  g_ptr_array_add (secret_values, g_strdup (value));
}

void
esimd_log_remove_secret (const char *value)
{
  for (guint i = 0; value && secret_values && i < secret_values->len; i++)
    if (strcmp (secret_values->pdata[i], value) == 0)
      {
        g_ptr_array_remove_index (secret_values, i);
        break;
      }
  if (secret_values && secret_values->len == 0)
    g_clear_pointer (&secret_values, g_ptr_array_unref);
}

char *
esimd_log_hide_secrets (const char *text)
{
  char *hidden = text ? redact (text, FALSE) : NULL;

  return hidden ? hidden : g_strdup (text);
}

static GLogWriterOutput
esimd_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if ((level & G_LOG_LEVEL_DEBUG) && !log_debug)
    return G_LOG_WRITER_HANDLED;
  for (gsize i = 0; i < n_fields; i++)
    if (strcmp (fields[i].key, "MESSAGE") == 0)
      {
        g_autofree GLogField *copy = NULL;
        g_autofree char *clean = NULL;
        g_autofree char *hidden = NULL;
        const char *message = fields[i].value;

        if (fields[i].length >= 0 ||
            !lpa_text_is_clean (fields[i].value, fields[i].length, LPA_TEXT_KEEP_NEWLINES))
          message = clean =
              lpa_text_sanitize (fields[i].value, fields[i].length, 0, LPA_TEXT_KEEP_NEWLINES);
        if ((hidden = redact (message, !log_personal)))
          message = hidden;
        if (message == fields[i].value)
          break;
        copy = g_memdup2 (fields, n_fields * sizeof *fields);
        copy[i].value = message;
        copy[i].length = -1;
        return write_clean (level, copy, n_fields, user_data);
      }
  return write_clean (level, fields, n_fields, user_data);
}

static void
add_personal (const char *value)
{
  if (!personal_values)
    personal_values = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < personal_values->len; i++)
    if (strcmp (personal_values->pdata[i], value) == 0)
      return;
  if (personal_values->len >= MAX_PERSONAL_VALUES)
    g_ptr_array_remove_index (personal_values, 0);
  g_ptr_array_add (personal_values, g_strdup (value));
}

void
esimd_log_add_personal (const char *value)
{
  gsize len = value ? strlen (value) : 0;

  /* Shorter values would hide unrelated numbers (an EID has 32 digits, an ICCID 18 to 20, an
   * IMEI 15). */
  if (len < 15)
    return;
  add_personal (value);
  /* An ICCID also shows in its EF_ICCID form (nibbles swapped, F-padded) in a hex dump. */
  if (len <= 20)
    {
      char padded[21], swapped[21];

      memset (padded, 'F', 20);
      memcpy (padded, value, len);
      for (guint i = 0; i < 20; i += 2)
        {
          swapped[i] = padded[i + 1];
          swapped[i + 1] = padded[i];
        }
      swapped[20] = '\0';
      add_personal (swapped);
    }
}

void
esimd_log_init (gboolean debug)
{
  log_debug = debug;
  g_log_set_writer_func (esimd_log_writer, NULL, NULL);
}

void
esimd_log_set_personal_data (gboolean show)
{
  log_personal = show;
}

gboolean
esimd_log_get_personal_data (void)
{
  return log_personal;
}

const char *
esimd_log_pd (const char *value)
{
  if (!value)
    return "(none)";
  esimd_log_add_personal (value);
  return log_personal ? value : "[hidden]";
}
