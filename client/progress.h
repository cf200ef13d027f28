/* progress.h — a download's progress: a redrawn bar on a terminal, one line per stage otherwise. */
#pragma once

#include <glib.h>
#include <stdio.h>

G_BEGIN_DECLS

/* The words shown for a Job's Stage or State ("installing" → "Installing on the eUICC");
 * unknown ones come back unchanged, so a newer esimd still shows something. */
const char *esimctl_stage_label (const char *stage);

/* One line of exactly @width columns at most: the label, then a bar and the percentage when
 * there is room. @fraction is clamped to 0..1. */
char *esimctl_progress_render (const char *stage, double fraction, guint width);

typedef struct _EsimctlProgress EsimctlProgress;

/* @tty: redraw a bar in place on @out; otherwise print a plain line when the stage changes. */
EsimctlProgress *esimctl_progress_new (FILE *out, gboolean tty);
void esimctl_progress_update (EsimctlProgress *progress, const char *stage, double fraction);
/* Prints a line of text in place of the bar, which comes back with the next update. */
void esimctl_progress_print (EsimctlProgress *progress, const char *text);
/* Removes the bar from the screen. */
void esimctl_progress_clear (EsimctlProgress *progress);
void esimctl_progress_free (EsimctlProgress *progress);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimctlProgress, esimctl_progress_free)

G_END_DECLS
