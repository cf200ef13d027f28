/* profile-dict.h — a profile as named fields, the form every front-end shows it in. */
#pragma once

#include <glib.h>

#include "profile-info.h" /* liblpa */

G_BEGIN_DECLS

/* Where the fields go: a GVariant builder, a D-Bus message... */
typedef struct
{
  void (*string) (gpointer sink, const char *key, const char *value);
  void (*bytes) (gpointer sink, const char *key, GBytes *value);
  void (*strv) (gpointer sink, const char *key, const char *const *values);
} EsimdProfileSink;

/* Writes every field of @p (iccid, state, class, nickname, service_provider, name, icon_type,
 * icon, owner, policy_rules, isdp_aid) to @sink, the fields listed once for every form. */
void esimd_profile_fields (const LpaProfileInfo *p, const EsimdProfileSink *ops, gpointer sink);

/* The fields as an a{sv} (floating). */
GVariant *esimd_profile_to_vardict (const LpaProfileInfo *p);

/* The names of the policy rules set in @ppr ("pprUpdateControl", "ppr1", "ppr2"),
 * NULL-terminated in @out (room for 4). */
const char *const *esimd_ppr_names (guint64 ppr, const char *out[4]);

G_END_DECLS
