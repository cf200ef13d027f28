/* activation.h — the two things esimctl reads from an activation code before sending it on. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Looks at @code ("LPA:1$SMDP.EXAMPLE.COM$MATCHING-ID[$OID[$1]]", with or without the
 * case-insensitive "LPA:" prefix, surrounding white space ignored) only as far as esimctl
 * needs: the SM-DP+ address it names (to tell the user where the download goes) and whether its
 * fifth field asks for a confirmation code (to ask for one before contacting the server).
 * FALSE if @code does not even have that shape; esimd alone decides whether a code is valid, so
 * such a code is still handed to it. Never copies the matching ID anywhere. */
gboolean esimctl_activation_code_peek (const char *code, char **smdp_address,
                                       gboolean *cc_required);

G_END_DECLS
