/* baseline.c — the RSS baseline: esimd's libraries linked and initialised, then idle. */
/*
 * "Initialises" means what every esimd process does before it touches a modem or a server:
 * the GLib main loop and a unix signal source; GObject type registration of libqmi's device
 * and UIM client and of json-glib's parser (one parse); libcurl's global init (which brings up
 * GnuTLS) plus a multi handle and a share handle; an explicit gnutls_global_init(); and an sd-bus
 * connection to the system bus (the Hello round trip done). It loads no certificates and
 * registers no objects. With --qmi-proxy NAME it also opens a QmiDevice through that qmi-proxy
 * socket and allocates a UIM client, as esimd does (libqmi's API takes a GFile, and the open runs
 * on GIO sockets): the libraries in use rather than only loaded.
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

typedef struct
{
  GMainLoop *loop;
  QmiDevice *device;
  QmiClient *client;
  GError *error;
} QmiOpen;

static void
client_allocated (GObject *source, GAsyncResult *res, gpointer data)
{
  QmiOpen *q = data;

  q->client = qmi_device_allocate_client_finish (QMI_DEVICE (source), res, &q->error);
  g_main_loop_quit (q->loop);
}

static void
device_opened (GObject *source, GAsyncResult *res, gpointer data)
{
  QmiOpen *q = data;

  if (!qmi_device_open_finish (QMI_DEVICE (source), res, &q->error))
    {
      g_main_loop_quit (q->loop);
      return;
    }
  qmi_device_allocate_client (q->device, QMI_SERVICE_UIM, QMI_CID_NONE, 10, NULL, client_allocated,
                              q);
}

static void
device_created (GObject *source, GAsyncResult *res, gpointer data)
{
  QmiOpen *q = data;

  q->device = QMI_DEVICE (g_async_initable_new_finish (G_ASYNC_INITABLE (source), res, &q->error));
  if (!q->device)
    {
      g_main_loop_quit (q->loop);
      return;
    }
  qmi_device_open (q->device, QMI_DEVICE_OPEN_FLAGS_PROXY | QMI_DEVICE_OPEN_FLAGS_VERSION_INFO, 10,
                   NULL, device_opened, q);
}

/* Opens a QMI device through a qmi-proxy socket and allocates a UIM client; runs the loop. */
static gboolean
open_qmi (GMainLoop *loop, const char *proxy_socket, QmiOpen *q)
{
  g_autoptr (GFile) file = g_file_new_for_path ("/dev/bench-baseline-modem");

  q->loop = loop;
  g_async_initable_new_async (QMI_TYPE_DEVICE, G_PRIORITY_DEFAULT, NULL, device_created, q,
                              QMI_DEVICE_FILE, file, QMI_DEVICE_NO_FILE_CHECK, TRUE,
                              QMI_DEVICE_PROXY_PATH, proxy_socket, NULL);
  g_main_loop_run (loop);
  if (q->error)
    {
      fprintf (stderr, "bench-baseline: QMI: %s\n", q->error->message);
      return FALSE;
    }
  return TRUE;
}

static gboolean
on_term (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  g_autofree char *qmi_proxy = NULL;
  GOptionEntry entries[] = {
    { "qmi-proxy", 0, 0, G_OPTION_ARG_STRING, &qmi_proxy,
      "Also open a QMI device through this qmi-proxy socket and allocate a UIM client", "NAME" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  QmiOpen qmi = { 0 };
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  sd_bus *bus = NULL;
  const char *unique = NULL;
  CURLM *multi;
  CURLSH *share;
  int r;

  setlocale (LC_ALL, "");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, NULL))
    return 2;
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
  if (qmi_proxy && !open_qmi (loop, qmi_proxy, &qmi))
    return EXIT_FAILURE;
  g_unix_signal_add (SIGTERM, on_term, loop);
  printf ("READY %s\n", unique);
  fflush (stdout);
  g_main_loop_run (loop);

  g_clear_object (&qmi.client);
  g_clear_object (&qmi.device);
  sd_bus_flush_close_unref (bus);
  curl_share_cleanup (share);
  curl_multi_cleanup (multi);
  curl_global_cleanup ();
  gnutls_global_deinit ();
  return EXIT_SUCCESS;
}
