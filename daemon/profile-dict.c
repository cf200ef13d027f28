/* profile-dict.c — a profile's fields, listed once, written through a sink. */
#include "profile-dict.h"

#include "lpa.h"

static const char *
icon_type_name (LpaIconType t)
{
  return t == LPA_ICON_TYPE_JPG ? "jpg" : t == LPA_ICON_TYPE_PNG ? "png" : "";
}

const char *const *
esimd_ppr_names (guint64 ppr, const char *out[4])
{
  guint n = 0;

  /* SGP.22's names of the PprIds bits, in bit order. */
  if (ppr & LPA_PPR_UPDATE_CONTROL)
    out[n++] = "pprUpdateControl";
  if (ppr & LPA_PPR1)
    out[n++] = "ppr1";
  if (ppr & LPA_PPR2)
    out[n++] = "ppr2";
  out[n] = NULL;
  return out;
}

void
esimd_profile_fields (const LpaProfileInfo *p, const EsimdProfileSink *ops, gpointer sink)
{
  g_autofree char *aid = p->isdp_aid ? lpa_hex_encode_bytes (p->isdp_aid) : NULL;
  g_autofree char *owner = p->owner ? g_strconcat (p->owner->mcc ? p->owner->mcc : "",
                                                   p->owner->mnc ? p->owner->mnc : "", NULL)
                                    : NULL;
  const char *rules[4];

  ops->string (sink, "iccid", p->iccid ? p->iccid : "");
  if (p->state != LPA_PROFILE_STATE_UNKNOWN)
    ops->string (sink, "state", p->state == LPA_PROFILE_STATE_ENABLED ? "enabled" : "disabled");
  ops->string (sink, "class", lpa_profile_class_name (p->profile_class));
  ops->string (sink, "nickname", p->nickname ? p->nickname : "");
  ops->string (sink, "service_provider", p->service_provider_name ? p->service_provider_name : "");
  ops->string (sink, "name", p->profile_name ? p->profile_name : "");
  ops->string (sink, "icon_type", icon_type_name (p->icon_type));
  ops->bytes (sink, "icon", p->icon);
  ops->string (sink, "owner", owner ? owner : "");
  ops->strv (sink, "policy_rules", esimd_ppr_names (p->ppr, rules));
  if (aid)
    ops->string (sink, "isdp_aid", aid);
}

/* The GVariant sink: a GVariantBuilder of type a{sv}. */
static void
variant_string (gpointer sink, const char *key, const char *value)
{
  g_variant_builder_add (sink, "{sv}", key, g_variant_new_string (value));
}

static void
variant_bytes (gpointer sink, const char *key, GBytes *value)
{
  gsize len = 0;
  const guint8 *data = value ? g_bytes_get_data (value, &len) : NULL;

  g_variant_builder_add (
      sink, "{sv}", key,
      g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, data ? data : (const guint8 *) "", len, 1));
}

static void
variant_strv (gpointer sink, const char *key, const char *const *values)
{
  g_variant_builder_add (sink, "{sv}", key, g_variant_new_strv (values, -1));
}

static const EsimdProfileSink variant_sink = { variant_string, variant_bytes, variant_strv };

GVariant *
esimd_profile_to_vardict (const LpaProfileInfo *p)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  esimd_profile_fields (p, &variant_sink, &b);
  return g_variant_builder_end (&b);
}
