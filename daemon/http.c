/* http.c — runs ES9+/ES11 POSTs through libcurl on the GLib loop, with explicit TLS trust. */
#include "http.h"

#include "lpa-error.h"
#include "tls-profile.h"

#include <curl/curl.h>
#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct _EsimdHttp
{
  CURLM *multi;
  CURLSH *share;
  guint timer_id;
  EsimdHttpStats stats;
  struct curl_slist *connect_to;
  char *proxy;
  long connect_timeout_ms;
  long request_timeout_ms;
  long bpp_timeout_ms;
  gsize max_response;
  gsize max_bpp_response;
  gboolean trust_system_cas;
  guint n_clients; /* live EsimdHttpClients: one per eUICC */
};

struct _EsimdHttpClient
{
  gint ref_count;
  EsimdHttp *http;
  int ca_fd; /* memfd holding the PEM bundle; libcurl reads it through /proc/self/fd */
  char *ca_path;
  EsimdTlsProfile *tls_profile; /* SGP.22's rules for chains that end at one of the CIs */
  GPtrArray *in_flight;         /* Request* */
  gboolean counted;             /* in http->n_clients */
};

typedef struct
{
  EsimdHttpClient *client;
  CURL *easy;
  struct curl_slist *headers;
  GBytes *body;
  GByteArray *response;
  gboolean too_large;
  gsize header_bytes;         /* of the answer, as header_cb saw them */
  gboolean headers_too_large; /* header_cb stopped the transfer */
  gboolean response_sized;
  gsize max_response; /* this request's cap on the body */
  char errbuf[CURL_ERROR_SIZE];
  GError *tls_error;   /* why the TLS profile check refused the server (transfer aborted) */
  char *function;      /* the path's last part: the ES9+/ES11 function */
  gboolean repeatable; /* the server may process this request twice (see prereq_cb) */
  guint sends;         /* times libcurl was about to send the request */
  gboolean resend_refused;
  LpaHttpCallback callback;
  gpointer user_data;
  /* Set when the request is finished but its callback is still to run from an idle. */
  GError *deferred_error;
} Request;

typedef struct
{
  EsimdHttp *http;
  curl_socket_t fd;
  GSource *source;
} SocketWatch;

static void check_finished (EsimdHttp *http);

/* Idle connections kept for reuse, per eUICC: one to its SM-DP+ and one to an SM-DS.
 *
 * Unset, libcurl's cache holds 4 idle connections per transfer in progress, counted when a
 * transfer ends: with eight eUICCs downloading at once, a request that ended while one other was
 * in flight closed connections down to four, and the next request of the eUICCs whose connection
 * went made a new TCP connection and TLS handshake (in the benchmark, 3 to 6 extra handshakes of
 * 20-90 ms on a loaded machine, each in a download's path). A connection is reused only by the
 * eUICC that made it (its own trust, CURLOPT_CAINFO), so the cache is sized by the eUICCs. */
#define IDLE_CONNECTIONS_PER_CLIENT 2

static void
cache_resize (EsimdHttp *http)
{
  curl_multi_setopt (http->multi, CURLMOPT_MAXCONNECTS,
                     (long) MAX (http->n_clients, 1) * IDLE_CONNECTIONS_PER_CLIENT);
}

static void
request_free (Request *req)
{
  if (req->easy)
    curl_easy_cleanup (req->easy);
  curl_slist_free_all (req->headers);
  g_clear_pointer (&req->body, g_bytes_unref);
  g_clear_pointer (&req->response, g_byte_array_unref);
  g_clear_error (&req->deferred_error);
  g_clear_error (&req->tls_error);
  g_free (req->function);
  esimd_http_client_unref (req->client);
  g_free (req);
}

/* ---- main loop glue ---------------------------------------------------------------------- */

static gboolean
on_socket_ready (gint fd, GIOCondition cond, gpointer data)
{
  SocketWatch *w = data;
  EsimdHttp *http = w->http; /* w may be freed inside curl_multi_socket_action() */
  int action = 0, running = 0;

  if (cond & G_IO_IN)
    action |= CURL_CSELECT_IN;
  if (cond & G_IO_OUT)
    action |= CURL_CSELECT_OUT;
  if (cond & (G_IO_ERR | G_IO_HUP))
    action |= CURL_CSELECT_ERR;
  curl_multi_socket_action (http->multi, fd, action, &running);
  check_finished (http);
  return G_SOURCE_CONTINUE;
}

static void
socket_watch_stop (SocketWatch *w)
{
  if (w->source)
    {
      g_source_destroy (w->source);
      g_source_unref (w->source);
      w->source = NULL;
    }
}

static int
socket_cb (CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
  EsimdHttp *http = userp;
  SocketWatch *w = socketp;
  GIOCondition cond = G_IO_ERR | G_IO_HUP;

  if (what == CURL_POLL_REMOVE)
    {
      if (w)
        {
          socket_watch_stop (w);
          g_free (w);
          curl_multi_assign (http->multi, fd, NULL);
        }
      return 0;
    }
  if (!w)
    {
      w = g_new0 (SocketWatch, 1);
      w->http = http;
      w->fd = fd;
      curl_multi_assign (http->multi, fd, w);
    }
  socket_watch_stop (w);
  if (what & CURL_POLL_IN)
    cond |= G_IO_IN;
  if (what & CURL_POLL_OUT)
    cond |= G_IO_OUT;
  w->source = g_unix_fd_source_new (fd, cond);
  g_source_set_callback (w->source, G_SOURCE_FUNC (on_socket_ready), w, NULL);
  g_source_set_name (w->source, "curl socket");
  g_source_attach (w->source, NULL);
  return 0;
}

static gboolean
on_timer (gpointer data)
{
  EsimdHttp *http = data;
  int running = 0;

  http->timer_id = 0;
  curl_multi_socket_action (http->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_finished (http);
  return G_SOURCE_REMOVE;
}

/* libcurl asks for one timer at a time; -1 means none, so an idle daemon has no timer. */
static int
timer_cb (CURLM *multi, long timeout_ms, void *userp)
{
  EsimdHttp *http = userp;

  if (http->timer_id)
    {
      g_source_remove (http->timer_id);
      http->timer_id = 0;
    }
  if (timeout_ms >= 0)
    http->timer_id = g_timeout_add ((guint) timeout_ms, on_timer, http);
  return 0;
}

/* ---- completion -------------------------------------------------------------------------- */

/* libcurl says only "verification failed" (and names the memfd): ask GnuTLS why, under the CIs,
 * with the chain libcurl kept (CURLOPT_CERTINFO). */
static char *
explain_refusal (Request *req)
{
  struct curl_certinfo *info = NULL;
  g_autoptr (GArray) chain = g_array_new (FALSE, TRUE, sizeof (gnutls_datum_t));
  char *why = NULL;

  if (curl_easy_getinfo (req->easy, CURLINFO_CERTINFO, &info) != CURLE_OK || !info)
    return NULL;
  for (int i = 0; i < info->num_of_certs; i++)
    for (struct curl_slist *f = info->certinfo[i]; f; f = f->next)
      if (g_str_has_prefix (f->data, "Cert:"))
        {
          gnutls_datum_t pem = { (unsigned char *) f->data + 5,
                                 (unsigned int) strlen (f->data + 5) };
          gnutls_datum_t der = { NULL, 0 };

          if (gnutls_pem_base64_decode2 ("CERTIFICATE", &pem, &der) >= 0)
            g_array_append_val (chain, der);
          break;
        }
  if (chain->len == (guint) info->num_of_certs)
    why = esimd_tls_profile_explain (req->client->tls_profile, (gnutls_datum_t *) chain->data,
                                     chain->len);
  for (guint i = 0; i < chain->len; i++)
    gnutls_free (g_array_index (chain, gnutls_datum_t, i).data);
  return why;
}

/* All of an answer's header lines together. SGP.22 answers carry a few hundred bytes of
 * headers; a server or proxy that sends more is broken or hostile. Below libcurl's own bound
 * (300 KiB since 8.3 and in distributions' fixes for CVE-2023-38039, which fails the transfer as
 * CURLE_RECV_ERROR before 8.6 and CURLE_TOO_LARGE after), so that it is esimd's, the same for
 * every libcurl, and named. One line over CURL_MAX_HTTP_HEADER (100 KiB, CURLOPT_HEADER(3))
 * libcurl refuses before header_cb sees it: error_from_curl names that one. */
#define MAX_RESPONSE_HEADER_BYTES (256 * 1024)

/* A server reached, whose answer was not HTTP, or was refused for its size or shape. */
static GError *
malformed_answer (Request *req, const char *what, const char *detail)
{
  return g_error_new (LPA_ERROR, LPA_ERROR_MALFORMED, "the server's answer to %s %s%s%s",
                      req->function, what, detail ? ": " : "", detail ? detail : "");
}

static GError *
error_from_curl (CURLcode rc, Request *req)
{
  const char *detail = req->errbuf[0] ? req->errbuf : curl_easy_strerror (rc);
  long connect_code = 0;

  if (req->tls_error)
    return g_error_new (LPA_ERROR, LPA_ERROR_TLS_VERIFICATION,
                        "the server's TLS certificate was not accepted: %s",
                        req->tls_error->message);
  if (req->resend_refused)
    return g_error_new (LPA_ERROR, LPA_ERROR_NETWORK,
                        "the server closed the connection without answering %s; not sent again, "
                        "since the server may have processed it",
                        req->function);
  /* The HTTP proxy ([HTTP] Proxy) answered the tunnel's CONNECT with an error: the server was
   * never asked. libcurl says "CONNECT tunnel failed, response 403" as CURLE_RECV_ERROR (7.88),
   * which read as the server's own failure. */
  if (curl_easy_getinfo (req->easy, CURLINFO_HTTP_CONNECTCODE, &connect_code) == CURLE_OK &&
      connect_code >= 300)
    return g_error_new (LPA_ERROR, LPA_ERROR_NETWORK,
                        "the HTTP proxy refused the tunnel to the server (HTTP %ld); %s was "
                        "not sent: %s",
                        connect_code, req->function, detail);
  if (req->headers_too_large)
    return g_error_new (LPA_ERROR, LPA_ERROR_MALFORMED,
                        "the server's response headers to %s are larger than the %u bytes allowed",
                        req->function, MAX_RESPONSE_HEADER_BYTES);
  switch (rc)
    {
    case CURLE_GOT_NOTHING:
      return g_error_new (LPA_ERROR, LPA_ERROR_NETWORK,
                          "the server closed the connection without answering %s", req->function);
    case CURLE_RECV_ERROR:
      /* libcurl 8.3 to 8.5 (and fixed 7.88): its bound on all headers, ours not reached first
       * only if it is lower. Its words are the only sign. */
      if (strstr (detail, "Too large response headers"))
        return malformed_answer (req, "has response headers larger than libcurl accepts", detail);
      /* The server was reached: "cannot reach" would send the user to check the network. */
      if (req->header_bytes == 0)
        return g_error_new (LPA_ERROR, LPA_ERROR_NETWORK,
                            "the server closed the connection without answering %s: %s",
                            req->function, detail);
      /* Part of the answer came: reset, or closed without TLS close_notify, mid-answer. */
      return g_error_new (LPA_ERROR, LPA_ERROR_NETWORK,
                          "the connection broke while the server was answering %s: %s",
                          req->function, detail);
    case CURLE_PARTIAL_FILE:
      return g_error_new (LPA_ERROR, LPA_ERROR_NETWORK,
                          "the connection broke while the server was answering %s: the answer "
                          "ended before its announced length (%s)",
                          req->function, detail);
    case CURLE_SEND_ERROR:
      return g_error_new (LPA_ERROR, LPA_ERROR_NETWORK,
                          "the connection broke while sending %s to the server: %s", req->function,
                          detail);
    case CURLE_OUT_OF_MEMORY:
      /* libcurl 7.88 fails a header line over CURL_MAX_HTTP_HEADER (100 KiB) so, with no
       * message; it allocates nothing else that large for a few-KiB answer. */
      if (req->header_bytes > 0 || !req->errbuf[0])
        return malformed_answer (req,
                                 "has a header line longer than libcurl accepts (100 KiB), or "
                                 "memory ran out",
                                 NULL);
      break;
#if LIBCURL_VERSION_NUM >= 0x080600
    case CURLE_TOO_LARGE:
      return malformed_answer (req, "has a header line or headers larger than libcurl accepts",
                               detail);
#endif
    case CURLE_UNSUPPORTED_PROTOCOL:
      /* Only https is allowed (CURLOPT_PROTOCOLS_STR): what remains is an answer without a
       * status line, which libcurl takes for HTTP/0.9 and refuses. */
    case CURLE_WEIRD_SERVER_REPLY:
      return malformed_answer (req, "is not an HTTP answer", detail);
    case CURLE_BAD_CONTENT_ENCODING:
      return malformed_answer (req, "has a body that does not decode as its Content-Encoding says",
                               detail);
    case CURLE_SSL_CONNECT_ERROR:
      /* The server was reached; the TLS handshake failed (its alert, no common version or
       * cipher suite): not the certificate, which has its own codes below. */
      return g_error_new (LPA_ERROR, LPA_ERROR_NETWORK,
                          "the TLS handshake with the server failed: %s", detail);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CACERT_BADFILE:
      {
        g_autofree char *why = explain_refusal (req);

        /* The two ways in are judged apart: under the CIs by SGP.22's rules, through the
         * system store (when configured) by web PKI rules. Say which were tried. */
        return g_error_new (LPA_ERROR, LPA_ERROR_TLS_VERIFICATION,
                            "the server's TLS certificate was not accepted by the eSIM CIs this "
                            "eUICC trusts%s: %s",
                            req->client->http->trust_system_cas
                                ? " nor by the system CA store (TrustSystemCAs)"
                                : " (the system CA store is not used: TrustSystemCAs=false)",
                            why ? why : detail);
      }
    case CURLE_OPERATION_TIMEDOUT:
      return g_error_new (LPA_ERROR, LPA_ERROR_TIMEOUT, "no answer in time: %s", detail);
    case CURLE_WRITE_ERROR:
      if (req->too_large)
        return g_error_new (LPA_ERROR, LPA_ERROR_MALFORMED,
                            "the response to %s is larger than the %zu bytes allowed",
                            req->function, req->max_response);
      break;
    case CURLE_ABORTED_BY_CALLBACK:
      return g_error_new_literal (LPA_ERROR, LPA_ERROR_CANCELLED, "request cancelled");
    default:
      break;
    }
  return g_error_new (LPA_ERROR, LPA_ERROR_NETWORK, "cannot reach the server: %s", detail);
}

static void
request_complete (Request *req, const GError *error)
{
  EsimdHttpClient *client = req->client;
  g_autoptr (GBytes) body = NULL;
  long status = 0;

  g_ptr_array_remove_fast (client->in_flight, req);
  if (!error)
    {
      curl_easy_getinfo (req->easy, CURLINFO_RESPONSE_CODE, &status);
      body = g_byte_array_free_to_bytes (g_steal_pointer (&req->response));
    }
  req->callback ((guint) status, body, error, req->user_data);
  request_free (req);
}

/* Where a request's time went, as libcurl measured it from its start (the benchmark reads it:
 * a new connection's TCP and TLS set-up against the server's own time). The path only: it
 * names the ES9+/ES11 function, never a secret. */
static void
log_timings (Request *req, long connects)
{
  curl_off_t connect = 0, tls = 0, sent = 0, first_byte = 0, total = 0;
  const char *url = NULL;
  const char *path;

  curl_easy_getinfo (req->easy, CURLINFO_EFFECTIVE_URL, &url);
  curl_easy_getinfo (req->easy, CURLINFO_CONNECT_TIME_T, &connect);
  curl_easy_getinfo (req->easy, CURLINFO_APPCONNECT_TIME_T, &tls);
  curl_easy_getinfo (req->easy, CURLINFO_PRETRANSFER_TIME_T, &sent);
  curl_easy_getinfo (req->easy, CURLINFO_STARTTRANSFER_TIME_T, &first_byte);
  curl_easy_getinfo (req->easy, CURLINFO_TOTAL_TIME_T, &total);
  path = url && g_str_has_prefix (url, "https://") ? strchr (url + strlen ("https://"), '/') : NULL;
  g_debug ("HTTP %s: %s connection; connected %.3f ms, TLS up %.3f ms, request sent %.3f ms, "
           "first byte %.3f ms, done %.3f ms",
           path ? path : "?", connects ? "new" : "reused", connect / 1000.0, tls / 1000.0,
           sent / 1000.0, first_byte / 1000.0, total / 1000.0);
}

static void
check_finished (EsimdHttp *http)
{
  CURLMsg *msg;
  int left;

  while ((msg = curl_multi_info_read (http->multi, &left)))
    {
      Request *req = NULL;
      g_autoptr (GError) error = NULL;
      long connects = 0;
      curl_off_t up = 0, down = 0;

      if (msg->msg != CURLMSG_DONE)
        continue;
      curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, (char **) &req);
      curl_multi_remove_handle (http->multi, req->easy);

      curl_easy_getinfo (req->easy, CURLINFO_NUM_CONNECTS, &connects);
      curl_easy_getinfo (req->easy, CURLINFO_SIZE_UPLOAD_T, &up);
      curl_easy_getinfo (req->easy, CURLINFO_SIZE_DOWNLOAD_T, &down);
      log_timings (req, connects);
      http->stats.requests++;
      http->stats.connections += (guint64) connects;
      http->stats.bytes_sent += (guint64) up;
      http->stats.bytes_received += (guint64) down;

      if (msg->data.result != CURLE_OK)
        error = error_from_curl (msg->data.result, req);
      request_complete (req, error);
    }
}

static gboolean
complete_deferred (gpointer data)
{
  Request *req = data;
  g_autoptr (GError) error = g_steal_pointer (&req->deferred_error);

  request_complete (req, error);
  return G_SOURCE_REMOVE;
}

/* The transport contract forbids completing from inside post(): failures found there, and
 * cancellations, complete from an idle. */
static void
complete_later (Request *req, GError *error)
{
  req->deferred_error = error;
  g_idle_add (complete_deferred, req);
}

/* ---- requests ---------------------------------------------------------------------------- */

static size_t
write_cb (char *ptr, size_t size, size_t nmemb, void *userdata)
{
  Request *req = userdata;
  size_t n = size * nmemb;

  if (req->response->len + n > req->max_response)
    {
      req->too_large = TRUE;
      return 0;
    }
  if (req->response->len == 0 && !req->response_sized)
    {
      curl_off_t length = -1;

      /* Room for the whole body at once: appending would double the buffer up to the next
       * power of two (256 KiB for a 136 KiB BPP response) and move it on the way. */
      req->response_sized = TRUE;
      curl_easy_getinfo (req->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
      if (length > 0 && (gsize) length <= req->max_response)
        {
          g_byte_array_unref (req->response);
          /* g_byte_array_sized_new() would round up to a power of two as well. */
          req->response = g_byte_array_new_take (g_malloc ((gsize) length), (gsize) length);
          g_byte_array_set_size (req->response, 0);
        }
    }
  g_byte_array_append (req->response, (const guint8 *) ptr, (guint) n);
  return n;
}

/* Counts the answer's header bytes (each call is one whole header line, the status line and
 * the blank line included) against MAX_RESPONSE_HEADER_BYTES. */
static size_t
header_cb (char *ptr, size_t size, size_t nmemb, void *userdata)
{
  Request *req = userdata;
  size_t n = size * nmemb;

  req->header_bytes += n;
  if (req->header_bytes > MAX_RESPONSE_HEADER_BYTES)
    {
      req->headers_too_large = TRUE;
      return 0;
    }
  return n;
}

/* Host names come from activation codes and from the eUICC's notification list: only a plain
 * DNS name (optionally with a port, for test rigs) may reach the URL. */
static gboolean
host_is_valid (const char *host)
{
  const char *p = host;
  gsize len = strlen (host);

  if (len == 0 || len > 253 || host[0] == '.' || host[0] == '-')
    return FALSE;
  for (; *p && *p != ':'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
      return FALSE;
  if (*p == ':')
    {
      guint64 port;

      if (!g_ascii_string_to_unsigned (p + 1, 10, 1, 65535, &port, NULL))
        return FALSE;
    }
  return TRUE;
}

/* Runs once a connection is up (a new handshake or a reused connection) and before a byte of
 * the request goes out: the place to refuse a server whose certificate GnuTLS accepted but
 * SGP.22's TLS profile does not, before it sees a matching ID or a signed eUICC answer. */
static int
prereq_cb (void *clientp, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
  Request *req = clientp;
  struct curl_tlssessioninfo *tls = NULL;
  const gnutls_datum_t *chain;
  unsigned int n_chain = 0;

  /* A second time for one request: a kept-alive connection closed before a byte of the answer
   * came, and libcurl is about to send the request again on a new one ("Connection died,
   * retrying a fresh connect"). The server may have read and processed the first: an
   * authenticateClient or getBoundProfilePackage sent twice is refused by a strict SM-DP+
   * (unknown transaction), which would hide the real failure and leave the server's session
   * open. Those fail here, as on a new connection; a request the server may process twice
   * goes again (path_is_repeatable). */
  if (++req->sends > 1)
    {
      if (!req->repeatable)
        {
          req->resend_refused = TRUE;
          return CURL_PREREQFUNC_ABORT;
        }
      g_info ("HTTP %s: the kept-alive connection closed without an answer; sent again on a new "
              "connection",
              req->function);
    }

  if (curl_easy_getinfo (req->easy, CURLINFO_TLS_SSL_PTR, &tls) != CURLE_OK || !tls ||
      tls->backend != CURLSSLBACKEND_GNUTLS || !tls->internals)
    {
      req->tls_error =
          g_error_new_literal (LPA_ERROR, LPA_ERROR_TLS_VERIFICATION, "no TLS session to check");
      return CURL_PREREQFUNC_ABORT;
    }
  chain = gnutls_certificate_get_peers ((gnutls_session_t) tls->internals, &n_chain);
  if (!esimd_tls_profile_check (req->client->tls_profile, chain, n_chain, &req->tls_error))
    return CURL_PREREQFUNC_ABORT;
  return CURL_PREREQFUNC_OK;
}

static gboolean
path_is_bpp (const char *path)
{
  return g_str_has_suffix (path, "/getBoundProfilePackage");
}

/* Requests a server may process twice without harm: initiateAuthentication opens a new session
 * (the first holds no order and times out at the server), a notification is acknowledged again,
 * and a cancelSession the server already processed is answered Failed, which tells the same
 * (the session is over: esimd_cancel_session_heard). authenticateClient and
 * getBoundProfilePackage (ES9+ and ES11) act on a session's state and must not reach it twice. */
static gboolean
path_is_repeatable (const char *path)
{
  return g_str_has_suffix (path, "/initiateAuthentication") ||
         g_str_has_suffix (path, "/handleNotification") ||
         g_str_has_suffix (path, "/cancelSession");
}

/* How long a connection may have been idle for a request that is not repeatable to go on it.
 *
 * Servers close kept-alive connections after an idle timeout (Apache httpd and Node.js: 5 s). A
 * request sent just as the server closes is lost unanswered, and prereq_cb refuses to send an
 * authenticateClient or getBoundProfilePackage again: the download would fail for nothing. Those
 * two go on a connection only if it has been idle briefly, else on a new one. CURLOPT_MAXAGE_CONN
 * is the time since the connection's last transfer ended (not its age: CURLOPT_MAXLIFETIME_CONN),
 * checked by the transfer that picks it. libcurl 7.88 counts it in whole seconds and refuses when
 * they exceed the bound, so 1 keeps a connection idle under 2 s (libcurl from mid-2025 counts
 * milliseconds: up to 1 s). The server counts from its answer sent and sees our request a round
 * trip later than we measure: 2 s leaves 3 s of a 5 s timeout for that. A card's AuthenticateServer
 * or PrepareDownload takes 0.1 to 2 s, so a download mostly keeps its one connection; a slower
 * step or the user's confirmation costs a new TCP connection and a resumed TLS handshake (one or
 * two round trips), far less than a failed download. initiateAuthentication, handleNotification
 * and cancelSession keep libcurl's default (118 s): a resend is harmless there. libcurl also
 * prunes its cache once a second with the bound of the transfer that runs then, so another
 * eUICC's connection idle longer than the bound may close early: its next request makes a new one.
 */
#define UNREPEATABLE_MAX_IDLE_S 1L

static void
client_post (gpointer self, const char *host, const char *path, GBytes *body,
             LpaHttpCallback callback, gpointer user_data)
{
  EsimdHttpClient *client = self;
  EsimdHttp *http = client->http;
  Request *req = g_new0 (Request, 1);
  g_autofree char *url = NULL;
  gsize body_len = 0;
  const char *body_data = g_bytes_get_data (body, &body_len);
  CURLMcode mrc;

  req->client = esimd_http_client_ref (client);
  req->callback = callback;
  req->user_data = user_data;
  req->body = g_bytes_ref (body);
  req->response = g_byte_array_new ();
  /* Only getBoundProfilePackage carries a profile; every other answer is a few KiB of JSON. */
  req->max_response = path_is_bpp (path) ? http->max_bpp_response : http->max_response;
  req->function = g_strdup (strrchr (path, '/') ? strrchr (path, '/') + 1 : path);
  req->repeatable = path_is_repeatable (path);
  g_ptr_array_add (client->in_flight, req);

  if (!host_is_valid (host) || path[0] != '/')
    {
      complete_later (req, g_error_new (LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                                        "\"%s\" is not a server address", host));
      return;
    }
  url = g_strconcat ("https://", host, path, NULL);
  req->easy = curl_easy_init ();
  req->headers = curl_slist_append (req->headers, "Content-Type: application/json");
  req->headers = curl_slist_append (req->headers, "Accept: application/json");
  req->headers = curl_slist_append (req->headers, "X-Admin-Protocol: gsma/rsp/v2.2.2");
  /* curl would wait for "100 Continue" before sending bodies over 1 KiB: a wasted round trip. */
  req->headers = curl_slist_append (req->headers, "Expect:");

  curl_easy_setopt (req->easy, CURLOPT_URL, url);
  curl_easy_setopt (req->easy, CURLOPT_PRIVATE, req);
  curl_easy_setopt (req->easy, CURLOPT_ERRORBUFFER, req->errbuf);
  curl_easy_setopt (req->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (req->easy, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt (req->easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt (req->easy, CURLOPT_USERAGENT, "gsma-rsp-lpad");
  curl_easy_setopt (req->easy, CURLOPT_HTTPHEADER, req->headers);
  curl_easy_setopt (req->easy, CURLOPT_POST, 1L);
  curl_easy_setopt (req->easy, CURLOPT_POSTFIELDS, body_data);
  curl_easy_setopt (req->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_len);
  /* "Accept-Encoding: identity": an SGP.22 body is JSON of a few KiB or a BPP, encrypted and so
   * incompressible. Without the header HTTP lets a server pick any content coding (RFC 9110
   * 12.5.3), and a proxy or load balancer in front of an SM-DP+ may compress anyway: with this
   * option set libcurl decodes a gzip, deflate, br or zstd body it did not ask for, where the raw
   * bytes failed as "not JSON". write_cb counts the decoded bytes against max_response, so a
   * small compressed body cannot expand past the limit. */
  curl_easy_setopt (req->easy, CURLOPT_ACCEPT_ENCODING, "identity");
  curl_easy_setopt (req->easy, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt (req->easy, CURLOPT_WRITEDATA, req);
  curl_easy_setopt (req->easy, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt (req->easy, CURLOPT_HEADERDATA, req);
  /* header_cb counts the server's answer only, not an HTTP proxy's answer to CONNECT. */
  curl_easy_setopt (req->easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
  curl_easy_setopt (req->easy, CURLOPT_SHARE, http->share);

  /* Trust is exactly what esimd decided: the CA bundle built for this eUICC, never libcurl's
   * compiled-in path or the environment. */
  curl_easy_setopt (req->easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt (req->easy, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt (req->easy, CURLOPT_CAINFO, client->ca_path);
  curl_easy_setopt (req->easy, CURLOPT_CAPATH, NULL);
  curl_easy_setopt (req->easy, CURLOPT_CERTINFO, 1L);
  curl_easy_setopt (req->easy, CURLOPT_PREREQFUNCTION, prereq_cb);
  curl_easy_setopt (req->easy, CURLOPT_PREREQDATA, req);
  curl_easy_setopt (req->easy, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
  curl_easy_setopt (req->easy, CURLOPT_PROXY, http->proxy ? http->proxy : "");
  if (http->connect_to)
    curl_easy_setopt (req->easy, CURLOPT_CONNECT_TO, http->connect_to);

  if (!req->repeatable)
    curl_easy_setopt (req->easy, CURLOPT_MAXAGE_CONN, UNREPEATABLE_MAX_IDLE_S);

  curl_easy_setopt (req->easy, CURLOPT_CONNECTTIMEOUT_MS, http->connect_timeout_ms);
  curl_easy_setopt (req->easy, CURLOPT_TIMEOUT_MS,
                    path_is_bpp (path) ? http->bpp_timeout_ms : http->request_timeout_ms);

  mrc = curl_multi_add_handle (http->multi, req->easy);
  if (mrc != CURLM_OK)
    complete_later (req, g_error_new (LPA_ERROR, LPA_ERROR_NETWORK, "cannot start request: %s",
                                      curl_multi_strerror (mrc)));
}

const LpaHttpOps esimd_http_client_ops = {
  .post = client_post,
};

void
esimd_http_client_cancel_all (EsimdHttpClient *client)
{
  /* Work on a copy: completions scheduled below must not see a half-walked array. */
  g_autoptr (GPtrArray) reqs = g_ptr_array_copy (client->in_flight, NULL, NULL);

  for (guint i = 0; i < reqs->len; i++)
    {
      Request *req = reqs->pdata[i];

      if (req->deferred_error)
        continue; /* already finishing */
      if (req->easy)
        curl_multi_remove_handle (client->http->multi, req->easy);
      complete_later (req,
                      g_error_new_literal (LPA_ERROR, LPA_ERROR_CANCELLED, "request cancelled"));
    }
}

/* ---- objects ----------------------------------------------------------------------------- */

EsimdHttpClient *
esimd_http_client_new (EsimdHttp *http, GBytes *ca_bundle_pem, GBytes *ci_pem, GError **error)
{
  g_autoptr (EsimdHttpClient) client = g_new0 (EsimdHttpClient, 1);
  gsize len;
  const guint8 *data = g_bytes_get_data (ca_bundle_pem, &len);

  client->ref_count = 1;
  client->http = http;
  client->in_flight = g_ptr_array_new ();
  client->ca_fd = -1;
  client->tls_profile = esimd_tls_profile_new (ci_pem, error);
  if (!client->tls_profile)
    return NULL;
  /* A memfd keeps the bundle out of the file system (the service has no writable paths for
   * it) while still giving GnuTLS a file name to read. */
  client->ca_fd = memfd_create ("esimd-trust", MFD_CLOEXEC);
  if (client->ca_fd < 0)
    {
      int e = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "memfd_create: %s",
                   g_strerror (e));
      return NULL;
    }
  while (len > 0)
    {
      ssize_t n = write (client->ca_fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          int e = errno;

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "writing trust bundle: %s",
                       g_strerror (e));
          return NULL;
        }
      data += n;
      len -= (gsize) n;
    }
  client->ca_path = g_strdup_printf ("/proc/self/fd/%d", client->ca_fd);
  client->counted = TRUE;
  http->n_clients++;
  cache_resize (http);
  return g_steal_pointer (&client);
}

EsimdHttpClient *
esimd_http_client_ref (EsimdHttpClient *client)
{
  g_atomic_int_inc (&client->ref_count);
  return client;
}

void
esimd_http_client_unref (EsimdHttpClient *client)
{
  if (!client || !g_atomic_int_dec_and_test (&client->ref_count))
    return;
  g_assert (client->in_flight->len == 0);
  g_ptr_array_unref (client->in_flight);
  if (client->counted)
    {
      client->http->n_clients--;
      cache_resize (client->http);
    }
  if (client->ca_fd >= 0)
    close (client->ca_fd);
  g_free (client->ca_path);
  esimd_tls_profile_free (client->tls_profile);
  g_free (client);
}

EsimdHttp *
esimd_http_new (const EsimdConfig *config)
{
  EsimdHttp *http = g_new0 (EsimdHttp, 1);

  http->multi = curl_multi_init ();
  curl_multi_setopt (http->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
  curl_multi_setopt (http->multi, CURLMOPT_SOCKETDATA, http);
  curl_multi_setopt (http->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt (http->multi, CURLMOPT_TIMERDATA, http);
  cache_resize (http);
  /* Reuse TLS sessions across connections: a download is five ES9+ calls to one server. */
  http->share = curl_share_init ();
  curl_share_setopt (http->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  curl_share_setopt (http->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);

  for (char **e = config->connect_to; e && *e; e++)
    http->connect_to = curl_slist_append (http->connect_to, *e);
  http->proxy = g_strdup (config->proxy);
  http->connect_timeout_ms = (long) config->connect_timeout * 1000;
  http->request_timeout_ms = (long) config->request_timeout * 1000;
  http->bpp_timeout_ms = (long) config->bpp_timeout * 1000;
  http->max_response = config->max_response_size;
  http->trust_system_cas = config->trust_system_cas;
  /* The BPP arrives base64-encoded inside JSON: 4/3 of it, plus the other members. */
  http->max_bpp_response = (gsize) config->max_bpp_size / 3 * 4 + 8 * 1024;
  return http;
}

void
esimd_http_free (EsimdHttp *http)
{
  if (!http)
    return;
  if (http->timer_id)
    g_source_remove (http->timer_id);
  curl_multi_cleanup (http->multi);
  curl_share_cleanup (http->share);
  curl_slist_free_all (http->connect_to);
  g_free (http->proxy);
  g_free (http);
}

const EsimdHttpStats *
esimd_http_get_stats (EsimdHttp *http)
{
  return &http->stats;
}
