/* progress.c — draws a download's stage and fraction: in place on a terminal, else as lines. */
#include "progress.h"

#include "output.h"

#include <string.h>

struct _EsimctlProgress
{
  FILE *out;
  gboolean tty;
  gboolean drawn; /* a bar is on the screen */
  char *stage;    /* the last stage shown */
  double fraction;
};

static const struct
{
  const char *stage;
  const char *label;
} labels[] = {
  { "queued", "Waiting for other jobs" },
  { "running", "Running" },
  { "authenticating", "Authenticating with the server" },
  { "awaiting-confirmation", "Waiting for confirmation" },
  { "awaiting-confirmation-code", "Waiting for the confirmation code" },
  { "downloading", "Downloading the profile" },
  { "installing", "Installing on the eUICC" },
  { "cancelling", "Cancelling" },
  { "notifying", "Sending notifications" },
  { "enabling", "Enabling the profile" },
  { "refreshing-modem", "Making the modem re-read the card" },
  { "awaiting-modem", "Waiting for the modem to come back (was the profile installed?)" },
  { "checking-install", "Reading the eUICC: was the profile installed?" },
  { "succeeded", "Done" },
  { "failed", "Failed" },
  { "cancelled", "Cancelled" },
};

const char *
esimctl_stage_label (const char *stage)
{
  for (gsize i = 0; i < G_N_ELEMENTS (labels); i++)
    if (g_strcmp0 (labels[i].stage, stage) == 0)
      return labels[i].label;
  return stage ? stage : "";
}

#define BAR_MIN 10

char *
esimctl_progress_render (const char *stage, double fraction, guint width)
{
  const char *label = esimctl_stage_label (stage);
  gsize label_width = esimctl_text_width (label);
  /* "LABEL  [" + bar + "] 100%" */
  gsize decoration = 2 + 1 + 1 + 5;
  GString *line = g_string_new (NULL);
  guint percent;

  if (!(fraction >= 0.0)) /* also NaN */
    fraction = 0.0;
  fraction = MIN (fraction, 1.0);
  percent = (guint) (fraction * 100.0 + 0.5);

  if (label_width + decoration + BAR_MIN <= width)
    {
      gsize bar = width - label_width - decoration;
      gsize filled = (gsize) (fraction * (double) bar + 0.5);

      g_string_append (line, label);
      g_string_append (line, "  [");
      for (gsize i = 0; i < bar; i++)
        g_string_append_c (line, i < filled ? '#' : '-');
      g_string_append_printf (line, "] %3u%%", percent);
      return g_string_free (line, FALSE);
    }
  if (label_width + 5 <= width)
    {
      g_string_append (line, label);
      g_string_append_printf (line, " %3u%%", percent);
      return g_string_free (line, FALSE);
    }
  /* A very narrow terminal: the start of the label, whole characters only. */
  for (const char *p = label; *p && esimctl_text_width (line->str) < width;
       p = g_utf8_next_char (p))
    g_string_append_unichar (line, g_utf8_get_char (p));
  if (esimctl_text_width (line->str) > width)
    g_string_truncate (line, g_utf8_prev_char (line->str + line->len) - line->str);
  return g_string_free (line, FALSE);
}

EsimctlProgress *
esimctl_progress_new (FILE *out, gboolean tty)
{
  EsimctlProgress *p = g_new0 (EsimctlProgress, 1);

  p->out = out;
  p->tty = tty;
  return p;
}

static void
draw (EsimctlProgress *p)
{
  /* One column short of the edge: writing the last column makes some terminals wrap. */
  guint width = esimctl_terminal_width (p->out);
  g_autofree char *line =
      esimctl_progress_render (p->stage, p->fraction, width > 1 ? width - 1 : 1);

  fprintf (p->out, "\r%s\033[K", line);
  fflush (p->out);
  p->drawn = TRUE;
}

void
esimctl_progress_update (EsimctlProgress *p, const char *stage, double fraction)
{
  gboolean new_stage = g_strcmp0 (stage, p->stage) != 0;

  if (!stage || !*stage)
    return;
  if (new_stage)
    {
      g_free (p->stage);
      p->stage = g_strdup (stage);
    }
  p->fraction = fraction;
  if (p->tty)
    draw (p);
  else if (new_stage)
    {
      fprintf (p->out, "%s\n", esimctl_stage_label (stage));
      fflush (p->out);
    }
}

void
esimctl_progress_clear (EsimctlProgress *p)
{
  if (p->tty && p->drawn)
    {
      fputs ("\r\033[K", p->out);
      fflush (p->out);
      p->drawn = FALSE;
    }
}

void
esimctl_progress_print (EsimctlProgress *p, const char *text)
{
  esimctl_progress_clear (p);
  fprintf (p->out, "%s\n", text);
  fflush (p->out);
}

void
esimctl_progress_free (EsimctlProgress *p)
{
  if (!p)
    return;
  esimctl_progress_clear (p);
  g_free (p->stage);
  g_free (p);
}
