/* euicc-sessions.c — records of download sessions left open, kept until they are cancelled. */
#include "euicc.h"

#include "daemon.h"

#include <errno.h>
#include <glib/gstdio.h>

/* ---- transactions left open ------------------------------------------------------------- */

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

static void
sessions_save (EsimdEuicc *euicc, GKeyFile *kf)
{
  g_autofree char *path = NULL;
  g_autofree char *dir = NULL;
  g_autoptr (GError) error = NULL;
  gsize n = 0;
  g_auto (GStrv) groups = g_key_file_get_groups (kf, &n);

  if (!euicc->eid)
    return;
  path = sessions_file (euicc);
  if (n == 0)
    {
      if (g_unlink (path) < 0 && errno != ENOENT)
        g_warning ("cannot remove %s: %s", path, g_strerror (errno));
      return;
    }
  dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) < 0 || !g_key_file_save_to_file (kf, path, &error))
    g_warning ("cannot remember the open sessions in %s: %s", dir,
               error ? error->message : g_strerror (errno));
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

void
esimd_euicc_session_opened (EsimdEuicc *euicc, const char *transaction_id, const char *server)
{
  g_autoptr (GKeyFile) kf = sessions_load (euicc);

  g_key_file_set_string (kf, transaction_id, "Server", server);
  g_key_file_set_boolean (kf, transaction_id, "BppRequested", FALSE);
  sessions_save (euicc, kf);
}

void
esimd_euicc_session_bpp_requested (EsimdEuicc *euicc, const char *transaction_id)
{
  g_autoptr (GKeyFile) kf = sessions_load (euicc);

  if (!g_key_file_has_group (kf, transaction_id))
    return;
  g_key_file_set_boolean (kf, transaction_id, "BppRequested", TRUE);
  sessions_save (euicc, kf);
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
  sessions_save (euicc, kf);
}

void
esimd_euicc_session_closed (EsimdEuicc *euicc, const char *transaction_id)
{
  g_autoptr (GKeyFile) kf = sessions_load (euicc);

  if (g_key_file_remove_group (kf, transaction_id, NULL))
    sessions_save (euicc, kf);
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
