/* discovery.c — SM-DS event discovery (ES11, digest §8) as a state machine over LpaEs10 and
 * LpaHttpOps. */
#include "discovery.h"

#include "activation-code.h"
#include "authentication.h"
#include "iccid.h"
#include "lpa-error.h"

static const LpaInitiatePath es11_initiate = { LPA_ES11_INITIATE_AUTHENTICATION, TRUE };
static const LpaInitiatePath es9p_initiate = { LPA_ES9P_INITIATE_AUTHENTICATION, FALSE };

struct _LpaDiscovery
{
  gboolean abandoned;
  gboolean started;
  gboolean cancel_requested;

  LpaEs10 *es10;
  const LpaHttpOps *http;
  gpointer http_self;
  LpaDiscoveryCallback callback;
  gpointer user_data;

  char *smds_address;
  char *imei;
  LpaDeviceCapabilities caps;
  gboolean has_caps;
  GBytes *euicc_info1;
  LpaInitiatePath paths[2];
  guint n_paths;

  LpaAuthentication *auth;
  guint client_path; /* index into paths of the authenticateClient being tried */
  gboolean client_fallback_tried;
  char *transaction_id;
  GBytes *authenticate_server_response;
  GError *euicc_error;
};

static LpaDiscovery *
discovery_ref (LpaDiscovery *self)
{
  return g_rc_box_acquire (self);
}

static void
discovery_clear (LpaDiscovery *self)
{
  lpa_authentication_free (self->auth);
  lpa_es10_unref (self->es10);
  g_free (self->smds_address);
  g_free (self->imei);
  g_clear_pointer (&self->euicc_info1, g_bytes_unref);
  g_free (self->transaction_id);
  g_clear_pointer (&self->authenticate_server_response, g_bytes_unref);
  g_clear_error (&self->euicc_error);
}

static void
discovery_unref (LpaDiscovery *self)
{
  g_rc_box_release_full (self, (GDestroyNotify) discovery_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaDiscovery, discovery_unref)

LpaDiscovery *
lpa_discovery_new (const LpaDiscoveryParams *params, LpaEs10 *es10, const LpaHttpOps *http,
                   gpointer http_self, LpaDiscoveryCallback callback, gpointer user_data,
                   GError **error)
{
  LpaDiscovery *self;

  g_return_val_if_fail (params && es10 && http && callback, NULL);
  if (params->smds_address == NULL || !lpa_host_name_is_valid (params->smds_address))
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                           "SM-DS address is not a host name");
      return NULL;
    }
  if (params->imei)
    {
      guint8 bcd[8];
      if (!lpa_imei_to_bcd (params->imei, bcd, error))
        return NULL;
    }
  self = g_rc_box_new0 (LpaDiscovery);
  self->es10 = lpa_es10_ref (es10);
  self->http = http;
  self->http_self = http_self;
  self->callback = callback;
  self->user_data = user_data;
  self->smds_address = g_strdup (params->smds_address);
  self->imei = g_strdup (params->imei);
  if (params->device_capabilities)
    {
      self->caps = *params->device_capabilities;
      self->has_caps = TRUE;
    }
  if (params->euicc_info1)
    self->euicc_info1 = g_bytes_ref (params->euicc_info1);
  switch (params->paths)
    {
    case LPA_DISCOVERY_PATHS_ES9PLUS_FIRST:
      self->paths[self->n_paths++] = es9p_initiate;
      self->paths[self->n_paths++] = es11_initiate;
      break;
    case LPA_DISCOVERY_PATHS_ES11_ONLY:
      self->paths[self->n_paths++] = es11_initiate;
      break;
    case LPA_DISCOVERY_PATHS_ES9PLUS_ONLY:
      self->paths[self->n_paths++] = es9p_initiate;
      break;
    case LPA_DISCOVERY_PATHS_ES11_FIRST:
    default:
      self->paths[self->n_paths++] = es11_initiate;
      self->paths[self->n_paths++] = es9p_initiate;
      break;
    }
  return self;
}

static void
finish (LpaDiscovery *self, GPtrArray *events, guint skipped, const GError *error)
{
  /* The caller may free the discovery from its callback. */
  discovery_ref (self);
  if (!self->abandoned)
    self->callback (self->user_data, events, skipped, error);
  discovery_unref (self);
}

static const char *
client_path (LpaDiscovery *self)
{
  return self->paths[self->client_path].smds_member ? LPA_ES11_AUTHENTICATE_CLIENT
                                                    : LPA_ES9P_AUTHENTICATE_CLIENT;
}

static void on_authenticated (gpointer user_data, LpaAuthenticationResult *result,
                              const GError *error);
static void on_authenticate_client (guint status, GBytes *body, const GError *error,
                                    gpointer user_data);

void
lpa_discovery_start (LpaDiscovery *self)
{
  LpaAuthenticationParams params = { 0 };

  g_return_if_fail (!self->started);
  self->started = TRUE;
  params.server_address = self->smds_address;
  params.imei = self->imei;
  params.caps = self->has_caps ? &self->caps : NULL;
  params.euicc_info1 = self->euicc_info1;
  params.paths = self->paths;
  params.n_paths = self->n_paths;
  self->auth = lpa_authentication_new (&params, self->es10, self->http, self->http_self,
                                       on_authenticated, self);
  if (self->cancel_requested)
    lpa_authentication_cancel (self->auth);
  lpa_authentication_start (self->auth);
}

static void
post_authenticate_client (LpaDiscovery *self)
{
  g_autoptr (GBytes) body = lpa_es11_authenticate_client_request (
      self->transaction_id, self->authenticate_server_response);

  self->http->post (self->http_self, self->smds_address, client_path (self), body,
                    on_authenticate_client, discovery_ref (self));
}

static void
on_authenticated (gpointer user_data, LpaAuthenticationResult *owned, const GError *error)
{
  g_autoptr (LpaDiscovery) self = discovery_ref (user_data);
  g_autoptr (LpaAuthenticationResult) result = owned;

  g_clear_pointer (&self->auth, lpa_authentication_free);
  if (error)
    {
      finish (self, NULL, 0, error);
      return;
    }
  if (!result->authenticate_server->ok)
    lpa_signed_response_check (result->authenticate_server, LPA_ES10_AUTHENTICATE_SERVER,
                               &self->euicc_error);
  else if (self->cancel_requested)
    {
      g_autoptr (GError) cancelled =
          g_error_new_literal (LPA_ERROR, LPA_ERROR_CANCELLED, "discovery cancelled");
      finish (self, NULL, 0, cancelled);
      return;
    }
  self->transaction_id = g_strdup (result->transaction_id);
  self->authenticate_server_response = g_bytes_ref (result->authenticate_server->raw);
  self->client_path = result->path_index;
  post_authenticate_client (self);
}

static void
on_authenticate_client (guint status, GBytes *body, const GError *error, gpointer user_data)
{
  g_autoptr (LpaDiscovery) self = user_data;
  g_autoptr (GError) local = NULL;
  g_autoptr (LpaEs11AuthenticateClientResponse) response = NULL;

  if (self->abandoned)
    return;
  if (self->euicc_error)
    {
      finish (self, NULL, 0, self->euicc_error);
      return;
    }
  if (error)
    {
      finish (self, NULL, 0, error);
      return;
    }
  if (status == 404 && self->n_paths == 2 && !self->client_fallback_tried)
    {
      /* Same transaction, other path family: servers are known to serve only one of them. */
      self->client_fallback_tried = TRUE;
      self->client_path = 1 - self->client_path;
      post_authenticate_client (self);
      return;
    }
  if (!(response = lpa_es11_parse_authenticate_client (status, body, &local)))
    {
      finish (self, NULL, 0, local);
      return;
    }
  if (g_ascii_strcasecmp (response->transaction_id, self->transaction_id) != 0)
    {
      g_set_error_literal (&local, LPA_ERROR, LPA_ERROR_UNEXPECTED,
                           "ES11 authenticateClient: transaction ID differs from the session's");
      finish (self, NULL, 0, local);
      return;
    }
  finish (self, response->events, response->skipped, NULL);
}

void
lpa_discovery_cancel (LpaDiscovery *self)
{
  self->cancel_requested = TRUE;
  if (self->auth)
    lpa_authentication_cancel (self->auth);
}

void
lpa_discovery_free (LpaDiscovery *self)
{
  if (self == NULL)
    return;
  self->abandoned = TRUE;
  g_clear_pointer (&self->auth, lpa_authentication_free);
  discovery_unref (self);
}
