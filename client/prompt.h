/* prompt.h — questions to the person at the terminal, and secrets read without echo or argv. */
#pragma once

#include <glib.h>

/* Secrets are held as liblpa's LpaSecret (g_autoptr overwrites them before freeing). */
#include "text.h"

G_BEGIN_DECLS

/* Asks @question on stderr and reads the answer from stdin: TRUE only for y or yes. */
gboolean esimctl_prompt_yes_no (const char *question);

/* Asks @question on stderr and reads one line from the terminal on stdin with echo off.
 * Fails (ESIMCTL_ERROR, cancelled) on end of input or an empty answer. */
char *esimctl_prompt_secret (const char *question, GError **error);

/* The first line of @path ("-" = standard input), white space trimmed. Fails when the file
 * cannot be read or the line is empty; @what names the secret in the message, the secret
 * itself never appears in it. */
char *esimctl_read_secret_file (const char *path, const char *what, GError **error);

G_END_DECLS
