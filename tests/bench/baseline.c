/* baseline.c — the memory baseline: links and initialises esimd's libraries the way esimd does,
 * then idles. */
/*
 * "Initialises" means what every esimd process does before it touches a modem or a server:
 * the GLib main loop and a unix signal source; GObject type registration of libqmi's device
 * and UIM client and of json-glib's parser (one parse); libcurl's global init (which brings up
 * GnuTLS) plus a multi handle and a share handle; an explicit gnutls_global_init(); and an sd-bus
 * connection to the system bus (the Hello round trip done). It opens no modem, loads no
 * certificates and registers no objects: whatever esimd uses beyond this is esimd's own memory.
 * Prints READY once initialised; SIGTERM ends it.
 */
#include <curl/curl.h>
#include <glib-unix.h>
#include <gnutls/gnutls.h>
#include <json-glib/json-glib.h>
#include <libqmi-glib.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>

static gboolean
on_term (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

int
main (void)
{
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  sd_bus *bus = NULL;
  const char *unique = NULL;
  CURLM *multi;
  CURLSH *share;
  int r;

  setlocale (LC_ALL, "");
  g_type_ensure (QMI_TYPE_DEVICE);
  g_type_ensure (QMI_TYPE_CLIENT_UIM);
  if (!json_parser_load_from_data (parser, "{\"a\":[1,\"b\"]}", -1, NULL))
    return EXIT_FAILURE;
  if (gnutls_global_init () < 0 || curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return EXIT_FAILURE;
  multi = curl_multi_init ();
  share = curl_share_init ();
  curl_share_setopt (share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  r = sd_bus_open_system (&bus);
  if (r < 0 || (r = sd_bus_get_unique_name (bus, &unique)) < 0)
    {
      fprintf (stderr, "bench-baseline: system bus: %s\n", g_strerror (-r));
      return EXIT_FAILURE;
    }
  g_unix_signal_add (SIGTERM, on_term, loop);
  printf ("READY %s\n", unique);
  fflush (stdout);
  g_main_loop_run (loop);

  sd_bus_flush_close_unref (bus);
  curl_share_cleanup (share);
  curl_multi_cleanup (multi);
  curl_global_cleanup ();
  gnutls_global_deinit ();
  return EXIT_SUCCESS;
}
