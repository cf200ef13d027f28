/* es10a.h — ES10a: the eUICC's configured SM-DP+ and SM-DS addresses. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  char *default_dp_address; /* NULL if none is set */
  char *root_ds_address;
} LpaConfiguredAddresses;

void lpa_configured_addresses_free (LpaConfiguredAddresses *addresses);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaConfiguredAddresses, lpa_configured_addresses_free)

/* GetEuiccConfiguredAddresses: BF3C 00 → BF3C { [80 defaultDpAddress], 81 rootDsAddress }. */
GBytes *lpa_es10a_get_configured_addresses_request (void);
LpaConfiguredAddresses *lpa_es10a_parse_configured_addresses (GBytes *response, GError **error);

/* SetDefaultDpAddress: BF3F { 80 address } → BF3F { 80 result }. An empty @address clears it.
 * The address must be at most 255 bytes of UTF-8 (LPA_ERROR_INVALID_ARGUMENT). */
GBytes *lpa_es10a_set_default_dp_address_request (const char *address, GError **error);
/* TRUE for ok; otherwise the LpaError of the result (see lpa_es10_parse_result()). */
gboolean lpa_es10a_parse_set_default_dp_address (GBytes *response, gint *code, GError **error);

G_END_DECLS
