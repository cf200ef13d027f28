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

static GKeyFile *
sessions_load (EsimdEuicc *euicc)
{
  g_autofree char *path = NULL;
  GKeyFile *kf = g_key_file_new ();

  if (!euicc->eid)
    return kf;
  path = sessions_file (euicc);
  g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, NULL);
  return kf;
}

/* Where the records are, as messages show it: the directory, never the file (its name is the
 * EID). */
static char *
sessions_dir (void)
{
  return g_build_filename (esimd->config->state_dir, "open-sessions", NULL);
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
