/* activation.c — finds the SM-DP+ address and the confirmation-code flag in an activation code. */
#include "activation.h"

#include <string.h>

gboolean
esimctl_activation_code_peek (const char *code, char **smdp_address, gboolean *cc_required)
{
  g_autofree char *copy = g_strstrip (g_strdup (code));
  const char *ac = copy;
  g_auto (GStrv) fields = NULL;

  if (smdp_address)
    *smdp_address = NULL;
  if (cc_required)
    *cc_required = FALSE;
  if (g_ascii_strncasecmp (ac, "LPA:", 4) == 0)
    ac += 4;
  fields = g_strsplit (ac, "$", -1);
  /* Format 1 is the only one defined; fields beyond the fifth are for later versions. */
  if (g_strv_length (fields) < 3 || !g_str_equal (fields[0], "1") || !*fields[1])
    return FALSE;
  if (smdp_address)
    *smdp_address = g_strdup (fields[1]);
  if (cc_required)
    *cc_required = g_strv_length (fields) >= 5 && g_str_equal (fields[4], "1");
  return TRUE;
}
