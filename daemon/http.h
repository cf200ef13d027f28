/* http.h — ES9+/ES11 over HTTPS: libcurl's multi interface driven by the GLib main loop. */
#pragma once

#include <glib.h>

#include "config.h"
#include "transport.h"

G_BEGIN_DECLS

typedef struct
{
  guint64 requests;       /* transfers completed */
  guint64 connections;    /* new TCP+TLS connections made (the rest reused one) */
  guint64 bytes_sent;     /* request bodies */
  guint64 bytes_received; /* response bodies */
} EsimdHttpStats;

/* One per daemon: the multi handle, its sockets and timer on the default main context, a
 * connection cache and a TLS session cache shared by every transfer. */
typedef struct _EsimdHttp EsimdHttp;

EsimdHttp *esimd_http_new (const EsimdConfig *config);
void esimd_http_free (EsimdHttp *http);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdHttp, esimd_http_free)
const EsimdHttpStats *esimd_http_get_stats (EsimdHttp *http);

/* One per eUICC: the trust it implies (a PEM bundle of the CI roots it accepts, plus the system
 * store unless strict) and the requests in flight on its behalf. Implements LpaHttpOps with
 * itself as the ops' self pointer. Reference counted: a request in flight keeps it alive.
 * @ci_pem holds the CI roots alone (NULL if none): a server whose chain ends at one of them
 * must also follow SGP.22's TLS certificate profile (tls-profile.h), checked before the
 * request is sent. */
typedef struct _EsimdHttpClient EsimdHttpClient;

EsimdHttpClient *esimd_http_client_new (EsimdHttp *http, GBytes *ca_bundle_pem, GBytes *ci_pem,
                                        GError **error);
EsimdHttpClient *esimd_http_client_ref (EsimdHttpClient *client);
void esimd_http_client_unref (EsimdHttpClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdHttpClient, esimd_http_client_unref)

/* Ends every request in flight with LPA_ERROR_CANCELLED (callbacks run later, from the loop). */
void esimd_http_client_cancel_all (EsimdHttpClient *client);

extern const LpaHttpOps esimd_http_client_ops;

G_END_DECLS
