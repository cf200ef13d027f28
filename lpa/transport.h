/* transport.h — the two asynchronous operations liblpa's procedures are driven through.
 *
 * liblpa never does I/O: the daemon implements these with libqmi and libcurl on its main loop,
 * unit tests with scripted answers. The contract, for both kinds of operation:
 *   - the callback runs exactly once per call;
 *   - never from inside the call itself (always later, from the driver's loop), so a
 *     procedure may issue the next operation from a callback without re-entrancy;
 *   - on failure the callback gets a GError in the LPA_ERROR domain (transport codes:
 *     LPA_ERROR_TRANSPORT for APDUs; LPA_ERROR_NETWORK, LPA_ERROR_TLS_VERIFICATION,
 *     LPA_ERROR_TIMEOUT or LPA_ERROR_CANCELLED for HTTP) and no data;
 *   - data passed to a callback is only borrowed for the duration of the call: ref it to keep it.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* @response: the whole response APDU, data followed by SW1 SW2 (so at least 2 bytes). */
typedef void (*LpaApduCallback) (GBytes *response, const GError *error, gpointer user_data);

typedef struct
{
  /* Send one command APDU on the logical channel the caller holds open to the ISD-R. The CLA
   * byte already carries the channel number (lpa/apdu.c codes it). */
  void (*transmit) (gpointer self, GBytes *command, LpaApduCallback callback, gpointer user_data);
} LpaApduOps;

/* @status: the HTTP status code; @body: the response body (possibly empty). A response with any
 * status is a success at this layer: the procedure decides what each status means. */
typedef void (*LpaHttpCallback) (guint status, GBytes *body, const GError *error,
                                 gpointer user_data);

typedef struct
{
  /* POST @body as application/json to https://@host@path (host as in the activation code,
   * path e.g. "/gsma/rsp2/es9plus/initiateAuthentication"). The transport adds the ES9+
   * headers (X-Admin-Protocol, User-Agent), verifies TLS and applies its own timeouts. */
  void (*post) (gpointer self, const char *host, const char *path, GBytes *body,
                LpaHttpCallback callback, gpointer user_data);
} LpaHttpOps;

G_END_DECLS
