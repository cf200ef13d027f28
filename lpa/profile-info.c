/* profile-info.c — ProfileInfo (E3) and StoreMetadataRequest (BF25): what a profile says it is. */
#include "profile-info.h"

#include "iccid.h"
#include "lpa-error.h"

void
lpa_notification_config_free (LpaNotificationConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->address);
  g_free (config);
}

void
lpa_ref_ar_do_free (LpaRefArDo *rule)
{
  if (rule == NULL)
    return;
  g_clear_pointer (&rule->device_app_id, g_bytes_unref);
  g_clear_pointer (&rule->pkg_ref, g_bytes_unref);
  g_clear_pointer (&rule->perm, g_bytes_unref);
  g_free (rule);
}

void
lpa_operator_id_free (LpaOperatorId *op)
{
  if (op == NULL)
    return;
  g_clear_pointer (&op->mcc_mnc, g_bytes_unref);
  g_clear_pointer (&op->gid1, g_bytes_unref);
  g_clear_pointer (&op->gid2, g_bytes_unref);
  g_free (op->mcc);
  g_free (op->mnc);
  g_free (op);
}

void
lpa_profile_info_free (LpaProfileInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->iccid);
  g_clear_pointer (&info->isdp_aid, g_bytes_unref);
  g_free (info->nickname);
  g_free (info->service_provider_name);
  g_free (info->profile_name);
  g_clear_pointer (&info->icon, g_bytes_unref);
  g_clear_pointer (&info->notification_configs, g_ptr_array_unref);
  lpa_operator_id_free (info->owner);
  g_clear_pointer (&info->dp_proprietary_data, g_bytes_unref);
  g_free (info->dp_oid);
  g_clear_pointer (&info->ref_ar_do, g_ptr_array_unref);
  g_free (info);
}

static gboolean
fail (GError **error, const char *what, guint32 tag)
{
  g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "%s: bad or misplaced tag %02X", what, tag);
  return FALSE;
}

static gpointer
fail_null (GError **error, const char *what, guint32 tag)
{
  fail (error, what, tag);
  return NULL;
}

LpaOperatorId *
lpa_operator_id_parse (GBytes *base, const LpaTlv *tlv, GError **error)
{
  static const char nibble_digit[] = "0123456789ABCDEF";
  g_autoptr (LpaOperatorId) op = g_new0 (LpaOperatorId, 1);
  LpaDerReader reader;
  LpaTlv child;

  if (!lpa_der_expect_constructed (tlv, error))
    return NULL;
  lpa_der_reader_init_children (&reader, tlv);
  while (!lpa_der_reader_at_end (&reader))
    {
      if (!lpa_der_reader_next (&reader, &child, error))
        return NULL;
      switch (child.tag)
        {
        case 0x80:
          if (op->mcc_mnc)
            return fail_null (error, "OperatorId", child.tag);
          if (!lpa_der_expect_length (&child, 3, error))
            return NULL;
          op->mcc_mnc = lpa_der_value_bytes (base, &child);
          break;
        case 0x81:
          if (op->gid1)
            return fail_null (error, "OperatorId", child.tag);
          op->gid1 = lpa_der_value_bytes (base, &child);
          break;
        case 0x82:
          if (op->gid2)
            return fail_null (error, "OperatorId", child.tag);
          op->gid2 = lpa_der_value_bytes (base, &child);
          break;
        default:
          break;
        }
    }
  if (op->mcc_mnc == NULL)
    return fail_null (error, "OperatorId without mccMnc", tlv->tag);

  {
    const guint8 *b = g_bytes_get_data (op->mcc_mnc, NULL);
    char mcc[4] = { nibble_digit[b[0] & 0xF], nibble_digit[b[0] >> 4], nibble_digit[b[1] & 0xF],
                    0 };
    char mnc[4] = { nibble_digit[b[2] & 0xF], nibble_digit[b[2] >> 4], 0, 0 };

    /* TS 24.008: the third MNC digit sits in the high nibble of byte 2; F means a 2-digit MNC. */
    if ((b[1] >> 4) != 0xF)
      mnc[2] = nibble_digit[b[1] >> 4];
    op->mcc = g_strdup (mcc);
    op->mnc = g_strdup (mnc);
  }
  return g_steal_pointer (&op);
}

/* NotificationConfigurationInformation: 30 { 80 events, 81 address }. */
static gpointer
parse_notification_config (GBytes *base, const LpaTlv *item, GError **error)
{
  LpaDerReader fields;
  LpaTlv field;
  guint64 events = 0;
  gboolean have_events = FALSE;
  g_autofree char *address = NULL;
  LpaNotificationConfig *config;

  if (item->tag != 0x30)
    return fail_null (error, "notificationConfigurationInfo", item->tag);
  lpa_der_reader_init_children (&fields, item);
  while (!lpa_der_reader_at_end (&fields))
    {
      if (!lpa_der_reader_next (&fields, &field, error))
        return NULL;
      if (field.tag == 0x80 && !have_events)
        {
          if (!lpa_der_get_bits (&field, &events, error))
            return NULL;
          have_events = TRUE;
        }
      else if (field.tag == 0x81 && address == NULL)
        {
          /* Read as display text: one bad byte must not fail the profile list (see text.h). */
          if (!(address = lpa_der_get_display_text (&field, error)))
            return NULL;
        }
      else if (field.tag == 0x80 || field.tag == 0x81)
        return fail_null (error, "notificationConfigurationInfo", field.tag);
    }
  if (!have_events || address == NULL)
    return fail_null (error, "incomplete notificationConfigurationInfo", item->tag);
  config = g_new0 (LpaNotificationConfig, 1);
  config->events = (guint) (events & 0xF);
  config->address = g_strstrip (g_steal_pointer (&address));
  return config;
}

static gboolean
parse_dp_proprietary_data (LpaProfileInfo *info, GBytes *base, const LpaTlv *tlv, GError **error)
{
  LpaDerReader reader;
  LpaTlv child;

  if (!lpa_der_expect_constructed (tlv, error))
    return FALSE;
  info->dp_proprietary_data = lpa_der_tlv_bytes (base, tlv);
  lpa_der_reader_init_children (&reader, tlv);
  while (!lpa_der_reader_at_end (&reader))
    {
      if (!lpa_der_reader_next (&reader, &child, error))
        return FALSE;
      /* With AUTOMATIC TAGS the lone dpOid member is [0] (80); 06 is what the digest shows and
       * what an encoder without automatic tagging emits. Either is accepted. */
      if ((child.tag == 0x80 || child.tag == 0x06) && info->dp_oid == NULL)
        {
          if (!(info->dp_oid = lpa_der_get_oid (&child, error)))
            return FALSE;
        }
    }
  return TRUE;
}

/* RefArDo: E2 { E1 { C1 deviceAppId, [CA pkg] }, E3 { DB perm } }; other data objects that
 * access rules may carry are ignored. */
static gpointer
parse_ref_ar_do (GBytes *base, const LpaTlv *item, GError **error)
{
  g_autoptr (LpaRefArDo) rule = NULL;
  LpaDerReader parts;
  LpaTlv part;

  if (item->tag != 0xE2 || !item->constructed)
    return fail_null (error, "refArDo", item->tag);
  rule = g_new0 (LpaRefArDo, 1);
  lpa_der_reader_init_children (&parts, item);
  while (!lpa_der_reader_at_end (&parts))
    {
      LpaDerReader inner;
      LpaTlv x;

      if (!lpa_der_reader_next (&parts, &part, error))
        return NULL;
      if ((part.tag != 0xE1 && part.tag != 0xE3) || !part.constructed)
        continue;
      lpa_der_reader_init_children (&inner, &part);
      while (!lpa_der_reader_at_end (&inner))
        {
          GBytes **slot = NULL;

          if (!lpa_der_reader_next (&inner, &x, error))
            return NULL;
          if (part.tag == 0xE1 && x.tag == 0xC1)
            slot = &rule->device_app_id;
          else if (part.tag == 0xE1 && x.tag == 0xCA)
            slot = &rule->pkg_ref;
          else if (part.tag == 0xE3 && x.tag == 0xDB)
            slot = &rule->perm;
          if (slot && *slot == NULL)
            *slot = lpa_der_value_bytes (base, &x);
        }
    }
  if (rule->device_app_id == NULL)
    return fail_null (error, "refArDo without deviceAppIdRefDo", item->tag);
  return g_steal_pointer (&rule);
}

/* Bit per known field, to reject repeats. */
enum
{
  F_ICCID = 1 << 0,
  F_AID = 1 << 1,
  F_STATE = 1 << 2,
  F_NICK = 1 << 3,
  F_SPN = 1 << 4,
  F_NAME = 1 << 5,
  F_ICON_TYPE = 1 << 6,
  F_ICON = 1 << 7,
  F_CLASS = 1 << 8,
  F_NOTIF = 1 << 9,
  F_OWNER = 1 << 10,
  F_DP = 1 << 11,
  F_PPR = 1 << 12,
  F_ARDO = 1 << 13,
};

static guint
field_of (guint32 tag)
{
  switch (tag)
    {
    case 0x5A:
      return F_ICCID;
    case 0x4F:
      return F_AID;
    case 0x9F70:
      return F_STATE;
    case 0x90:
      return F_NICK;
    case 0x91:
      return F_SPN;
    case 0x92:
      return F_NAME;
    case 0x93:
      return F_ICON_TYPE;
    case 0x94:
      return F_ICON;
    case 0x95:
      return F_CLASS;
    case 0xB6:
      return F_NOTIF;
    case 0xB7:
      return F_OWNER;
    case 0xB8:
      return F_DP;
    case 0x99:
      return F_PPR;
    case 0xBF76:
      return F_ARDO;
    default:
      return 0;
    }
}

static gboolean
parse_field (LpaProfileInfo *info, GBytes *base, const LpaTlv *f, GError **error)
{
  gint32 v;

  switch (f->tag)
    {
    case 0x5A:
      if (!lpa_der_expect_primitive (f, error))
        return FALSE;
      info->iccid = lpa_iccid_from_bcd (f->value, f->value_len);
      if (info->iccid == NULL)
        return fail (error, "ICCID not 10 bytes of BCD digits", f->tag);
      return TRUE;
    case 0x4F:
      if (!lpa_der_expect_primitive (f, error))
        return FALSE;
      if (f->value_len < 5 || f->value_len > 16)
        return fail (error, "ISD-P AID of bad length", f->tag);
      info->isdp_aid = lpa_der_value_bytes (base, f);
      return TRUE;
    case 0x9F70:
      if (!lpa_der_get_int (f, &v, error))
        return FALSE;
      info->state = (LpaProfileState) v;
      return TRUE;
    case 0x90:
      return (info->nickname = lpa_der_get_display_text (f, error)) != NULL;
    case 0x91:
      return (info->service_provider_name = lpa_der_get_display_text (f, error)) != NULL;
    case 0x92:
      return (info->profile_name = lpa_der_get_display_text (f, error)) != NULL;
    case 0x93:
      if (!lpa_der_get_int (f, &v, error))
        return FALSE;
      info->icon_type = (LpaIconType) v;
      return TRUE;
    case 0x94:
      if (!lpa_der_expect_primitive (f, error))
        return FALSE;
      info->icon = lpa_der_value_bytes (base, f);
      return TRUE;
    case 0x95:
      if (!lpa_der_get_int (f, &v, error))
        return FALSE;
      info->profile_class = (LpaProfileClass) v;
      info->has_profile_class = TRUE;
      return TRUE;
    case 0xB6:
      info->notification_configs = lpa_der_parse_list (
          base, f, parse_notification_config, (GDestroyNotify) lpa_notification_config_free, error);
      return info->notification_configs != NULL;
    case 0xB7:
      return (info->owner = lpa_operator_id_parse (base, f, error)) != NULL;
    case 0xB8:
      return parse_dp_proprietary_data (info, base, f, error);
    case 0x99:
      if (!lpa_der_get_bits (f, &info->ppr, error))
        return FALSE;
      info->has_ppr = TRUE;
      return TRUE;
    case 0xBF76:
      info->ref_ar_do =
          lpa_der_parse_list (base, f, parse_ref_ar_do, (GDestroyNotify) lpa_ref_ar_do_free, error);
      return info->ref_ar_do != NULL;
    default:
      return TRUE;
    }
}

/* The members of a ProfileInfo that only describe the profile. The eUICC keeps the SM-DP+'s
 * StoreMetadataRequest as the BPP's 88 TLVs carried it and answers every GetProfilesInfo with
 * those members, so a third-party server's encoding comes back for as long as the profile stays
 * installed. One that did not decode failed the whole ProfileInfoList: no profile of the eUICC
 * could be listed, enabled or deleted, for good. lpac lists such a profile (it skips B6, B7, B8
 * and 99 and reads an unknown state, class or icon type as "undefined": estkme-group/lpac
 * euicc/es10c.c, es10c_get_profiles_info); here the member is left out. The ICCID and the state
 * identify the profile and stay strict, and so does all of a StoreMetadataRequest (@metadata):
 * the download checks it and acts on its rules. */
static gboolean
is_descriptive (guint32 tag)
{
  switch (tag)
    {
    case 0x4F:
    case 0x90:
    case 0x91:
    case 0x92:
    case 0x93:
    case 0x94:
    case 0x95:
    case 0xB6:
    case 0xB7:
    case 0xB8:
    case 0x99:
    case 0xBF76:
      return TRUE;
    default:
      return FALSE;
    }
}

/* Leaves the member of @tag out, as if the eUICC had not sent it. */
static void
drop_field (LpaProfileInfo *info, guint32 tag)
{
  switch (tag)
    {
    case 0x4F:
      g_clear_pointer (&info->isdp_aid, g_bytes_unref);
      break;
    case 0x90:
      g_clear_pointer (&info->nickname, g_free);
      break;
    case 0x91:
      g_clear_pointer (&info->service_provider_name, g_free);
      break;
    case 0x92:
      g_clear_pointer (&info->profile_name, g_free);
      break;
    case 0x93:
      info->icon_type = LPA_ICON_TYPE_NONE;
      break;
    case 0x94:
      g_clear_pointer (&info->icon, g_bytes_unref);
      break;
    case 0x95:
      info->profile_class = LPA_PROFILE_CLASS_OPERATIONAL;
      info->has_profile_class = FALSE;
      break;
    case 0xB6:
      g_clear_pointer (&info->notification_configs, g_ptr_array_unref);
      break;
    case 0xB7:
      g_clear_pointer (&info->owner, lpa_operator_id_free);
      break;
    case 0xB8:
      g_clear_pointer (&info->dp_proprietary_data, g_bytes_unref);
      g_clear_pointer (&info->dp_oid, g_free);
      break;
    case 0x99:
      info->ppr = 0;
      info->has_ppr = FALSE;
      break;
    case 0xBF76:
      g_clear_pointer (&info->ref_ar_do, g_ptr_array_unref);
      break;
    default:
      break;
    }
}

LpaProfileInfo *
lpa_profile_info_parse_tlv (GBytes *base, const LpaTlv *tlv, gboolean metadata, GError **error)
{
  g_autoptr (LpaProfileInfo) info = g_new0 (LpaProfileInfo, 1);
  LpaDerReader reader;
  LpaTlv f;
  guint seen = 0;
  g_autoptr (GError) local = NULL;

  info->state = LPA_PROFILE_STATE_UNKNOWN;
  info->icon_type = LPA_ICON_TYPE_NONE;
  info->profile_class = LPA_PROFILE_CLASS_OPERATIONAL;

  if (!lpa_der_expect_constructed (tlv, error))
    return NULL;
  lpa_der_reader_init_children (&reader, tlv);
  while (!lpa_der_reader_at_end (&reader))
    {
      guint bit;

      if (!lpa_der_reader_next (&reader, &f, error))
        return NULL;
      bit = field_of (f.tag);
      if (seen & bit)
        return fail_null (error, "repeated field in ProfileInfo", f.tag);
      seen |= bit;
      if (!parse_field (info, base, &f, &local))
        {
          if (metadata || !is_descriptive (f.tag))
            {
              g_propagate_error (error, g_steal_pointer (&local));
              return NULL;
            }
          drop_field (info, f.tag);
          g_clear_error (&local);
        }
    }

  if (metadata &&
      (info->iccid == NULL || info->service_provider_name == NULL || info->profile_name == NULL))
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                           "StoreMetadataRequest lacks its ICCID, service provider or name");
      return NULL;
    }
  return g_steal_pointer (&info);
}

LpaProfileInfo *
lpa_profile_metadata_parse (GBytes *bf25, GError **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bf25, &len);
  LpaTlv tlv;

  if (!lpa_der_parse_expect (data, len, 0xBF25, &tlv, error))
    return NULL;
  return lpa_profile_info_parse_tlv (bf25, &tlv, TRUE, error);
}

/* Bit n's name, n = 0 to 7 (NotificationEvent). A v3 eUICC's RPM notification used to be listed
 * as "unknown", which no caller could filter on nor tell from another kind. */
const char *const lpa_notification_event_names[] = {
  "install",    "enable",      "disable",    "delete",
  "rpm-enable", "rpm-disable", "rpm-delete", "rpm-package-result",
  NULL,
};

const char *const lpa_notification_operation_names[] = {
  "install",    "enable",      "disable",    "delete",
  "rpm-enable", "rpm-disable", "rpm-delete", "rpm-package-result",
  "unknown",    NULL,
};

const char *
lpa_notification_event_name (guint events)
{
  for (guint bit = 0; lpa_notification_event_names[bit]; bit++)
    if (events & (1u << bit))
      return lpa_notification_event_names[bit];
  return "unknown";
}

const char *
lpa_profile_class_name (LpaProfileClass profile_class)
{
  switch (profile_class)
    {
    case LPA_PROFILE_CLASS_TEST:
      return "test";
    case LPA_PROFILE_CLASS_PROVISIONING:
      return "provisioning";
    case LPA_PROFILE_CLASS_OPERATIONAL:
      return "operational";
    }
  return "unknown";
}

const char *
lpa_profile_state_name (LpaProfileState state)
{
  switch (state)
    {
    case LPA_PROFILE_STATE_DISABLED:
      return "disabled";
    case LPA_PROFILE_STATE_ENABLED:
      return "enabled";
    case LPA_PROFILE_STATE_UNKNOWN:
      break;
    }
  return "unknown";
}
