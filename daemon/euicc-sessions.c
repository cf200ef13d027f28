/* euicc-sessions.c — records of download sessions left open, kept until they are cancelled. */
#include "euicc.h"

#include "daemon.h"
#include "esimd-error.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <glib/gstdio.h>

/* ---- transactions left open ------------------------------------------------------------- */

/* The errno a GFileError stands for, for a message that says the cause ("Read-only file
 * system", "No space left on device") without the file name GLib puts in its own. */
static int
errno_of (const GError *error)
{
  static const struct
  {
    GFileError code;
    int errnum;
  } map[] = {
    { G_FILE_ERROR_ROFS, EROFS }, { G_FILE_ERROR_NOSPC, ENOSPC }, { G_FILE_ERROR_ACCES, EACCES },
    { G_FILE_ERROR_PERM, EPERM }, { G_FILE_ERROR_NOENT, ENOENT }, { G_FILE_ERROR_NOTDIR, ENOTDIR },
    { G_FILE_ERROR_IO, EIO },     { G_FILE_ERROR_EXIST, EEXIST },
  };

  for (gsize i = 0; error && error->domain == G_FILE_ERROR && i < G_N_ELEMENTS (map); i++)
    if ((gint) map[i].code == error->code)
      return map[i].errnum;
  return EIO;
}

static char *
sessions_file (EsimdEuicc *euicc)
{
  return g_build_filename (esimd->config->state_dir, "open-sessions", euicc->eid, NULL);
}

/* Where the records are, as messages show it: the directory, never the file (its name is the
 * EID). */
static char *
sessions_dir (void)
{
  return g_build_filename (esimd->config->state_dir, "open-sessions", NULL);
}

static void sessions_save_or_warn (EsimdEuicc *euicc, GKeyFile *kf);

/* One piece of a damaged file, from a group's header to the next: its keys join @kf if it
 * reads whole. */
static gboolean
salvage_group (GKeyFile *kf, const char *text)
{
  g_autoptr (GKeyFile) one = g_key_file_new ();
  g_auto (GStrv) groups = NULL;

  if (!g_key_file_load_from_data (one, text, (gsize) -1, G_KEY_FILE_NONE, NULL))
    return FALSE;
  groups = g_key_file_get_groups (one, NULL);
  for (guint i = 0; groups[i]; i++)
    {
      g_auto (GStrv) keys = g_key_file_get_keys (one, groups[i], NULL, NULL);

      for (guint k = 0; keys && keys[k]; k++)
        {
          g_autofree char *value = g_key_file_get_value (one, groups[i], keys[k], NULL);

          g_key_file_set_value (kf, groups[i], keys[k], value);
        }
    }
  return TRUE;
}

/* A file that does not read whole (a machine that crashed under its filesystem, a hand's
 * edit, a bad disk) is read record by record: one torn record must not hide the others, whose
 * servers still wait for their cancelSession, nor be overwritten with them unsaid. */
static guint
salvage (GKeyFile *kf, const char *text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr (GString) piece = g_string_new (NULL);
  guint lost = 0;

  for (guint i = 0;; i++)
    {
      if (!lines[i] || lines[i][0] == '[')
        {
          if (piece->len && !salvage_group (kf, piece->str))
            lost++;
          g_string_truncate (piece, 0);
          if (!lines[i])
            break;
        }
      g_string_append (piece, lines[i]);
      g_string_append_c (piece, '\n');
    }
  return lost;
}

static GKeyFile *
sessions_load (EsimdEuicc *euicc)
{
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  g_autofree char *dir = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) kept = NULL;
  GKeyFile *kf = g_key_file_new ();
  gsize n = 0;
  guint lost;

  if (!euicc->eid)
    return kf;
  path = sessions_file (euicc);
  if (!g_file_get_contents (path, &text, NULL, &error))
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          dir = sessions_dir ();
          g_warning ("eUICC %s: cannot read its record of open download sessions in %s: %s",
                     euicc->config->name, dir, g_strerror (errno_of (error)));
        }
      return kf;
    }
  if (g_key_file_load_from_data (kf, text, (gsize) -1, G_KEY_FILE_NONE, NULL))
    return kf;
  /* What a failed load read up to the damage (a group header without its keys) is not kept. */
  g_key_file_unref (kf);
  kf = g_key_file_new ();
  lost = salvage (kf, text);
  kept = g_key_file_get_groups (kf, &n);
  dir = sessions_dir ();
  g_warning ("eUICC %s: its record of open download sessions in %s is damaged: %u unreadable "
             "part(s) dropped, %" G_GSIZE_FORMAT " readable session(s) kept",
             euicc->config->name, dir, lost, n);
  /* Written back repaired, so that this is said once and the next change keeps them. */
  sessions_save_or_warn (euicc, kf);
  return kf;
}

static gboolean
sessions_save (EsimdEuicc *euicc, GKeyFile *kf, GError **error)
{
  g_autofree char *path = NULL;
  g_autofree char *dir = sessions_dir ();
  g_autofree char *data = NULL;
  g_autoptr (GError) local = NULL;
  gsize n = 0, len = 0;
  g_auto (GStrv) groups = g_key_file_get_groups (kf, &n);

  if (!euicc->eid)
    return TRUE;
  path = sessions_file (euicc);
  if (n == 0)
    {
      if (g_unlink (path) < 0 && errno != ENOENT)
        {
          int e = errno;

          g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_STATE_NOT_WRITABLE,
                       "cannot remove this eUICC's record in %s: %s", dir, g_strerror (e));
          return FALSE;
        }
      return TRUE;
    }
  data = g_key_file_to_data (kf, &len, NULL);
  /* Written whole and synced before the step it records: a crash right after it must find it
   * (G_FILE_SET_CONTENTS_CONSISTENT: a temporary file, fsync, rename). */
  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      int e = errno;

      g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_STATE_NOT_WRITABLE,
                   "cannot create %s, where a download's open session is recorded: %s", dir,
                   g_strerror (e));
      return FALSE;
    }
  if (!g_file_set_contents_full (path, data, (gssize) len, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                 &local))
    {
      g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_STATE_NOT_WRITABLE,
                   "cannot record a download's open session in %s: %s", dir,
                   g_strerror (errno_of (local)));
      return FALSE;
    }
  return TRUE;
}

/* The same, where nothing can be done about a failure but say it (once per change). */
static void
sessions_save_or_warn (EsimdEuicc *euicc, GKeyFile *kf)
{
  g_autoptr (GError) error = NULL;

  if (!sessions_save (euicc, kf, &error))
    g_warning ("eUICC %s: %s", euicc->config->name, error->message);
}

/* The probe's file: as much as a few records take, written and synced (a disk that is nearly
 * full, or one that only refuses at writeback, fails here, not mid-download), then removed. A
 * probe has nothing to keep, so it needs no rename and no sync of the directory: one fsync. */
static gboolean
probe_write (const char *dir, GError **error)
{
  g_autofree char *path = g_build_filename (dir, ".writable.XXXXXX", NULL);
  g_autofree char *filler = g_strnfill (4096, '#');
  gsize done = 0;
  int fd = g_mkstemp_full (path, O_WRONLY | O_CLOEXEC, 0600);
  int e = 0;

  if (fd < 0)
    {
      e = errno;
      goto fail;
    }
  while (done < 4096)
    {
      gssize n = write (fd, filler + done, 4096 - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          e = n < 0 ? errno : ENOSPC;
          break;
        }
      done += (gsize) n;
    }
  if (!e && fsync (fd) < 0)
    e = errno;
  if (close (fd) < 0 && !e && errno != EINTR)
    e = errno;
  g_unlink (path);
  if (!e)
    return TRUE;
fail:
  g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_STATE_NOT_WRITABLE,
               "cannot record a download's open session in %s: %s", dir, g_strerror (e));
  return FALSE;
}

gboolean
esimd_euicc_sessions_writable (EsimdEuicc *euicc, GError **error)
{
  g_autofree char *dir = sessions_dir ();

  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      int e = errno;

      g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_STATE_NOT_WRITABLE,
                   "cannot create %s, where a download's open session is recorded: %s", dir,
                   g_strerror (e));
      return FALSE;
    }
  return probe_write (dir, error);
}

void
esimd_open_session_free (EsimdOpenSession *session)
{
  if (!session)
    return;
  g_free (session->transaction_id);
  g_free (session->server);
  g_clear_pointer (&session->cancel_response, g_bytes_unref);
  g_free (session);
}

gboolean
esimd_euicc_session_opened (EsimdEuicc *euicc, const char *transaction_id, const char *server,
                            GError **error)
{
  g_autoptr (GKeyFile) kf = sessions_load (euicc);

  g_key_file_set_string (kf, transaction_id, "Server", server);
  g_key_file_set_boolean (kf, transaction_id, "BppRequested", FALSE);
  g_key_file_set_int64 (kf, transaction_id, "Opened", g_get_real_time () / G_USEC_PER_SEC);
  return sessions_save (euicc, kf, error);
}

void
esimd_euicc_session_bpp_requested (EsimdEuicc *euicc, const char *transaction_id)
{
  g_autoptr (GKeyFile) kf = sessions_load (euicc);

  if (!g_key_file_has_group (kf, transaction_id))
    return;
  g_key_file_set_boolean (kf, transaction_id, "BppRequested", TRUE);
  sessions_save_or_warn (euicc, kf);
}

void
esimd_euicc_session_cancelled_on_euicc (EsimdEuicc *euicc, const char *transaction_id,
                                        GBytes *cancel_response)
{
  g_autoptr (GKeyFile) kf = sessions_load (euicc);
  g_autofree char *b64 = NULL;

  if (!g_key_file_has_group (kf, transaction_id))
    return;
  b64 = g_base64_encode (g_bytes_get_data (cancel_response, NULL),
                         g_bytes_get_size (cancel_response));
  g_key_file_set_string (kf, transaction_id, "CancelResponse", b64);
  sessions_save_or_warn (euicc, kf);
}

void
esimd_euicc_session_server_ended (EsimdEuicc *euicc, const char *transaction_id)
{
  g_autoptr (GKeyFile) kf = sessions_load (euicc);

  if (!g_key_file_has_group (kf, transaction_id))
    return;
  g_key_file_set_boolean (kf, transaction_id, "ServerEnded", TRUE);
  sessions_save_or_warn (euicc, kf);
}

void
esimd_euicc_session_closed (EsimdEuicc *euicc, const char *transaction_id)
{
  g_autoptr (GKeyFile) kf = sessions_load (euicc);

  if (g_key_file_remove_group (kf, transaction_id, NULL))
    sessions_save_or_warn (euicc, kf);
}

static gboolean
too_old (gint64 opened)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  /* A clock set back says nothing about its age: only the attempts bound it then. */
  return opened > 0 && now > opened && now - opened >= ESIMD_OPEN_SESSION_MAX_AGE;
}

gboolean
esimd_euicc_session_attempt_failed (EsimdEuicc *euicc, const char *transaction_id,
                                    const GError *why)
{
  g_autoptr (GKeyFile) kf = sessions_load (euicc);
  g_autofree char *server = NULL;
  gint64 attempts;

  if (!g_key_file_has_group (kf, transaction_id))
    return FALSE;
  attempts = g_key_file_get_int64 (kf, transaction_id, "Attempts", NULL) + 1;
  if (attempts < ESIMD_OPEN_SESSION_MAX_ATTEMPTS &&
      !too_old (g_key_file_get_int64 (kf, transaction_id, "Opened", NULL)))
    {
      g_key_file_set_int64 (kf, transaction_id, "Attempts", attempts);
      sessions_save_or_warn (euicc, kf);
      return TRUE;
    }
  server = g_key_file_get_string (kf, transaction_id, "Server", NULL);
  g_warning (
      "eUICC %s: giving up telling %s that transaction %s was cancelled after %" G_GINT64_FORMAT
      " attempts (last: %s); its own timeout ends it",
      euicc->config->name, server ? server : "the SM-DP+", transaction_id, attempts,
      why ? why->message : "no answer");
  g_key_file_remove_group (kf, transaction_id, NULL);
  sessions_save_or_warn (euicc, kf);
  return FALSE;
}

gboolean
esimd_cancel_session_heard (guint status, GBytes *body, const GError *error, GError **why)
{
  g_autoptr (GError) local = NULL;

  if (error)
    {
      g_propagate_error (why, g_error_copy (error));
      return FALSE;
    }
  if (lpa_es9p_parse_cancel_session (status, body, &local))
    return TRUE;
  /* A Failed status was the server's decision (e.g. the session had already ended); an HTTP
   * error or a body that does not decode says nothing about what it did. */
  if (g_error_matches (local, LPA_ERROR, LPA_ERROR_HTTP) ||
      g_error_matches (local, LPA_ERROR, LPA_ERROR_MALFORMED))
    {
      g_propagate_error (why, g_steal_pointer (&local));
      return FALSE;
    }
  g_propagate_error (why, g_steal_pointer (&local));
  return TRUE;
}

GPtrArray *
esimd_euicc_open_sessions (EsimdEuicc *euicc)
{
  g_autoptr (GKeyFile) kf = sessions_load (euicc);
  g_auto (GStrv) groups = g_key_file_get_groups (kf, NULL);
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) esimd_open_session_free);

  for (guint i = 0; groups[i]; i++)
    {
      g_autofree char *server = g_key_file_get_string (kf, groups[i], "Server", NULL);
      g_autofree char *b64 = g_key_file_get_string (kf, groups[i], "CancelResponse", NULL);
      EsimdOpenSession *s;

      if (!server || !lpa_host_name_is_valid (server))
        continue; /* not written by us: nothing sensible to send it to */
      s = g_new0 (EsimdOpenSession, 1);
      s->transaction_id = g_strdup (groups[i]);
      s->server = g_steal_pointer (&server);
      s->bpp_requested = g_key_file_get_boolean (kf, groups[i], "BppRequested", NULL);
      s->server_ended = g_key_file_get_boolean (kf, groups[i], "ServerEnded", NULL);
      s->attempts =
          (guint) CLAMP (g_key_file_get_int64 (kf, groups[i], "Attempts", NULL), 0, G_MAXUINT);
      s->opened = g_key_file_get_int64 (kf, groups[i], "Opened", NULL);
      if (b64 && *b64)
        {
          gsize len = 0;
          guchar *raw = g_base64_decode (b64, &len);

          s->cancel_response = g_bytes_new_take (raw, len);
        }
      g_ptr_array_add (out, s);
    }
  return out;
}
