/* euicc-info.c — EUICCInfo1 (BF20) and EUICCInfo2 (BF22): what the eUICC says it is. */
#include "euicc-info.h"

#include <string.h>

#include "lpa-error.h"

void
lpa_euicc_info1_free (LpaEuiccInfo1 *info)
{
  if (info == NULL)
    return;
  g_free (info->svn);
  g_clear_pointer (&info->ci_pkids_verification, g_ptr_array_unref);
  g_clear_pointer (&info->ci_pkids_signing, g_ptr_array_unref);
  g_clear_pointer (&info->raw, g_bytes_unref);
  g_free (info);
}

void
lpa_euicc_info2_free (LpaEuiccInfo2 *info)
{
  if (info == NULL)
    return;
  g_free (info->profile_version);
  g_free (info->svn);
  g_free (info->firmware_version);
  g_clear_pointer (&info->ext_card_resource, g_bytes_unref);
  g_free (info->ts102241_version);
  g_free (info->globalplatform_version);
  g_clear_pointer (&info->ci_pkids_verification, g_ptr_array_unref);
  g_clear_pointer (&info->ci_pkids_signing, g_ptr_array_unref);
  g_free (info->pp_version);
  g_free (info->sas_accreditation_number);
  g_free (info->certification_platform_label);
  g_free (info->certification_discovery_base_url);
  g_clear_pointer (&info->raw, g_bytes_unref);
  g_free (info);
}

static gboolean
malformed (GError **error, const char *what, guint32 tag)
{
  g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "%s: bad or repeated tag %02X", what, tag);
  return FALSE;
}

char *
lpa_version_parse (const LpaTlv *tlv, GError **error)
{
  if (tlv->constructed || tlv->value_len != 3)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "tag %02X: not a 3-byte VersionType",
                   tlv->tag);
      return NULL;
    }
  return g_strdup_printf ("%u.%u.%u", tlv->value[0], tlv->value[1], tlv->value[2]);
}

/* One SubjectKeyIdentifier of a SEQUENCE OF: an 04 TLV. */
static gpointer
parse_pkid (GBytes *base, const LpaTlv *item, GError **error)
{
  if (item->tag != 0x04 || item->value_len == 0)
    {
      malformed (error, "CI public key identifier list", item->tag);
      return NULL;
    }
  return lpa_der_value_bytes (base, item);
}

static GPtrArray *
parse_pkid_list (GBytes *base, const LpaTlv *tlv, GError **error)
{
  return lpa_der_parse_list (base, tlv, parse_pkid, (GDestroyNotify) g_bytes_unref, error);
}

gboolean
lpa_pkid_list_contains (GPtrArray *list, GBytes *pkid)
{
  for (guint i = 0; list && i < list->len; i++)
    if (g_bytes_equal (g_ptr_array_index (list, i), pkid))
      return TRUE;
  return FALSE;
}

static gboolean
parse_top (GBytes *bytes, guint32 tag, LpaTlv *tlv, GError **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  return lpa_der_parse_answer (data, len, tag, tlv, error) &&
         lpa_der_expect_constructed (tlv, error);
}

LpaEuiccInfo1 *
lpa_euicc_info1_parse (GBytes *bf20, GError **error)
{
  g_autoptr (LpaEuiccInfo1) info = g_new0 (LpaEuiccInfo1, 1);
  LpaDerReader reader;
  LpaTlv outer, f;

  if (!parse_top (bf20, 0xBF20, &outer, error))
    goto fail;
  lpa_der_reader_init_children (&reader, &outer);
  while (!lpa_der_reader_at_end (&reader))
    {
      if (!lpa_der_reader_next (&reader, &f, error))
        goto fail;
      if (f.tag == 0x82 && !info->svn)
        {
          if (!(info->svn = lpa_version_parse (&f, error)))
            goto fail;
        }
      else if (f.tag == 0xA9 && !info->ci_pkids_verification)
        {
          if (!(info->ci_pkids_verification = parse_pkid_list (bf20, &f, error)))
            goto fail;
        }
      else if (f.tag == 0xAA && !info->ci_pkids_signing)
        {
          if (!(info->ci_pkids_signing = parse_pkid_list (bf20, &f, error)))
            goto fail;
        }
      else if (f.tag == 0x82 || f.tag == 0xA9 || f.tag == 0xAA)
        {
          malformed (error, "EUICCInfo1", f.tag);
          goto fail;
        }
    }
  if (!info->svn || !info->ci_pkids_verification || !info->ci_pkids_signing)
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                           "lacks svn or a CI public key list");
      goto fail;
    }
  info->raw = lpa_der_tlv_bytes (bf20, &outer);
  return g_steal_pointer (&info);

fail:
  g_prefix_error (error, "EUICCInfo1: ");
  return NULL;
}

static guint64
be_uint (const LpaTlv *tlv)
{
  guint64 v = 0;

  for (gsize i = 0; i < tlv->value_len; i++)
    v = (v << 8) | tlv->value[i];
  return v;
}

/* ETSI TS 102 226 Extended Card Resource Information: 81 installed applications, 82 free
 * non-volatile memory, 83 free volatile memory. Informational only, so a value that does not
 * decode leaves the fields unset rather than failing the whole EUICCInfo2. */
static void
parse_ext_card_resource (LpaEuiccInfo2 *info, const LpaTlv *tlv)
{
  LpaDerReader reader;
  LpaTlv f;

  lpa_der_reader_init_children (&reader, tlv);
  while (!lpa_der_reader_at_end (&reader))
    {
      if (!lpa_der_reader_next (&reader, &f, NULL))
        return;
      if (f.value_len == 0 || f.value_len > 8)
        continue;
      switch (f.tag)
        {
        case 0x81:
          info->has_installed_applications = TRUE;
          info->installed_applications = be_uint (&f);
          break;
        case 0x82:
          info->has_free_nvm = TRUE;
          info->free_nvm = be_uint (&f);
          break;
        case 0x83:
          info->has_free_ram = TRUE;
          info->free_ram = be_uint (&f);
          break;
        default:
          break;
        }
    }
}

static gboolean
parse_certification_data (LpaEuiccInfo2 *info, const LpaTlv *tlv, GError **error)
{
  LpaDerReader reader;
  LpaTlv f;

  if (!lpa_der_expect_constructed (tlv, error))
    return FALSE;
  lpa_der_reader_init_children (&reader, tlv);
  while (!lpa_der_reader_at_end (&reader))
    {
      char **slot;

      if (!lpa_der_reader_next (&reader, &f, error))
        return FALSE;
      if (f.tag == 0x80)
        slot = &info->certification_platform_label;
      else if (f.tag == 0x81)
        slot = &info->certification_discovery_base_url;
      else
        continue;
      if (*slot)
        return malformed (error, "certificationDataObject", f.tag);
      /* Informational text: made safe, never a reason to fail (see sasAcreditationNumber). */
      if (!(*slot = lpa_der_get_display_text (&f, error)))
        return FALSE;
    }
  return TRUE;
}

static gboolean
parse_info2_field (LpaEuiccInfo2 *info, GBytes *base, const LpaTlv *f, GError **error)
{
  char **version = NULL;
  gint32 category;

  switch (f->tag)
    {
    case 0x81:
      version = &info->profile_version;
      break;
    case 0x82:
      version = &info->svn;
      break;
    case 0x83:
      version = &info->firmware_version;
      break;
    case 0x86:
      version = &info->ts102241_version;
      break;
    case 0x87:
      version = &info->globalplatform_version;
      break;
    case 0x04:
      version = &info->pp_version;
      break;
    case 0x84:
      if (info->ext_card_resource)
        return malformed (error, "EUICCInfo2", f->tag);
      if (!lpa_der_expect_primitive (f, error))
        return FALSE;
      info->ext_card_resource = lpa_der_value_bytes (base, f);
      parse_ext_card_resource (info, f);
      return TRUE;
    case 0x85:
      return lpa_der_get_bits (f, &info->uicc_capability, error);
    case 0x88:
      return lpa_der_get_bits (f, &info->rsp_capability, error);
    case 0xA9:
      if (info->ci_pkids_verification)
        return malformed (error, "EUICCInfo2", f->tag);
      return (info->ci_pkids_verification = parse_pkid_list (base, f, error)) != NULL;
    case 0xAA:
      if (info->ci_pkids_signing)
        return malformed (error, "EUICCInfo2", f->tag);
      return (info->ci_pkids_signing = parse_pkid_list (base, f, error)) != NULL;
    case 0x8B:
      if (!lpa_der_get_int (f, &category, error))
        return FALSE;
      info->euicc_category = (LpaEuiccCategory) category;
      return TRUE;
    case 0x99:
      info->has_forbidden_ppr = TRUE;
      return lpa_der_get_bits (f, &info->forbidden_ppr, error);
    case 0x0C:
      if (info->sas_accreditation_number)
        return malformed (error, "EUICCInfo2", f->tag);
      /* A card's text, shown and never acted on: a byte that is not UTF-8 reads as U+FFFD.
       * Refusing it failed the whole EUICCInfo2, and with it every operation
       * that needs it (the eUICC was unusable). */
      return (info->sas_accreditation_number = lpa_der_get_display_text (f, error)) != NULL;
    case 0xAC:
      return parse_certification_data (info, f, error);
    default:
      return TRUE;
    }
  if (*version)
    return malformed (error, "EUICCInfo2", f->tag);
  return (*version = lpa_version_parse (f, error)) != NULL;
}

/* The members of EUICCInfo2 that only describe the eUICC: shown to callers, never acted on
 * (esimd needs the svn and the two CI lists, which stay strict). One that did not decode - a
 * version of other than 3 bytes, a BIT STRING of no bytes, an out-of-range category - failed
 * the whole EUICCInfo2 and with it every operation that needs it: the eUICC was unusable for a
 * field no operation reads. It is left out, as an odd sasAcreditationNumber reads as text. */
static gboolean
info2_descriptive (guint32 tag)
{
  switch (tag)
    {
    case 0x81:
    case 0x83:
    case 0x84:
    case 0x85:
    case 0x86:
    case 0x87:
    case 0x88:
    case 0x8B:
    case 0x99:
    case 0x04:
    case 0x0C:
    case 0xAC:
      return TRUE;
    default:
      return FALSE;
    }
}

/* Leaves the member of @tag out, as if the eUICC had not sent it. */
static void
info2_drop (LpaEuiccInfo2 *info, guint32 tag)
{
  switch (tag)
    {
    case 0x81:
      g_clear_pointer (&info->profile_version, g_free);
      break;
    case 0x83:
      g_clear_pointer (&info->firmware_version, g_free);
      break;
    case 0x84:
      g_clear_pointer (&info->ext_card_resource, g_bytes_unref);
      info->has_installed_applications = info->has_free_nvm = info->has_free_ram = FALSE;
      break;
    case 0x85:
      info->uicc_capability = 0;
      break;
    case 0x86:
      g_clear_pointer (&info->ts102241_version, g_free);
      break;
    case 0x87:
      g_clear_pointer (&info->globalplatform_version, g_free);
      break;
    case 0x88:
      info->rsp_capability = 0;
      break;
    case 0x8B:
      info->euicc_category = LPA_EUICC_CATEGORY_ABSENT;
      break;
    case 0x99:
      info->forbidden_ppr = 0;
      info->has_forbidden_ppr = FALSE;
      break;
    case 0x04:
      g_clear_pointer (&info->pp_version, g_free);
      break;
    case 0x0C:
      g_clear_pointer (&info->sas_accreditation_number, g_free);
      break;
    case 0xAC:
      g_clear_pointer (&info->certification_platform_label, g_free);
      g_clear_pointer (&info->certification_discovery_base_url, g_free);
      break;
    default:
      break;
    }
}

LpaEuiccInfo2 *
lpa_euicc_info2_parse (GBytes *bf22, GError **error)
{
  g_autoptr (LpaEuiccInfo2) info = g_new0 (LpaEuiccInfo2, 1);
  LpaDerReader reader;
  LpaTlv outer, f;
  guint64 seen_bits = 0;
  g_autoptr (GError) local = NULL;

  info->euicc_category = LPA_EUICC_CATEGORY_ABSENT;
  if (!parse_top (bf22, 0xBF22, &outer, error))
    goto fail;
  lpa_der_reader_init_children (&reader, &outer);
  while (!lpa_der_reader_at_end (&reader))
    {
      /* Repeats of the bit-string and integer fields are caught here; the others by their slot. */
      guint64 bit = 0;

      if (!lpa_der_reader_next (&reader, &f, error))
        goto fail;
      if (f.tag == 0x85 || f.tag == 0x88 || f.tag == 0x8B || f.tag == 0x99 || f.tag == 0xAC)
        bit = G_GUINT64_CONSTANT (1) << (f.tag & 0x1F);
      if (seen_bits & bit)
        {
          malformed (error, "EUICCInfo2", f.tag);
          goto fail;
        }
      if (!parse_info2_field (info, bf22, &f, &local))
        {
          if (!info2_descriptive (f.tag))
            {
              g_propagate_error (error, g_steal_pointer (&local));
              goto fail;
            }
          info2_drop (info, f.tag);
          g_clear_error (&local);
        }
      seen_bits |= bit;
    }
  if (!info->svn || !info->ci_pkids_verification || !info->ci_pkids_signing)
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                           "lacks svn or a CI public key list");
      goto fail;
    }
  info->raw = lpa_der_tlv_bytes (bf22, &outer);
  return g_steal_pointer (&info);

fail:
  g_prefix_error (error, "EUICCInfo2: ");
  return NULL;
}

static GStrv
bit_names (guint64 bits, const char *const *names, guint n_names)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  for (guint n = 0; n < 64; n++)
    {
      if (!(bits & (G_GUINT64_CONSTANT (1) << n)))
        continue;
      if (n < n_names && names[n])
        g_strv_builder_add (builder, names[n]);
      else
        {
          g_autofree char *name = g_strdup_printf ("bit%u", n);
          g_strv_builder_add (builder, name);
        }
    }
  return g_strv_builder_end (builder);
}

GStrv
lpa_uicc_capability_names (guint64 bits)
{
  static const char *const names[] = {
    "contactlessSupport",
    "usimSupport",
    "isimSupport",
    "csimSupport",
    "akaMilenage",
    "akaCave",
    "akaTuak128",
    "akaTuak256",
    "rfu1",
    "rfu2",
    "gbaAuthenUsim",
    "gbaAuthenISim",
    "mbmsAuthenUsim",
    "eapClient",
    "javacard",
    "multos",
    "multipleUsimSupport",
    "multipleIsimSupport",
    "multipleCsimSupport",
    "berTlvFileSupport",
    "dfLinkSupport",
    "catTp",
    "getIdentity",
    "profile-a-x25519",
    "profile-b-p256",
    "suciCalculatorApi",
  };
  return bit_names (bits, names, G_N_ELEMENTS (names));
}

GStrv
lpa_rsp_capability_names (guint64 bits)
{
  static const char *const names[] = {
    "additionalProfile",
    "crlSupport",
    "rpmSupport",
    "testProfileSupport",
    "deviceInfoExtensibilitySupport",
  };
  return bit_names (bits, names, G_N_ELEMENTS (names));
}

GStrv
lpa_ppr_names (guint64 bits)
{
  static const char *const names[] = { "pprUpdateControl", "ppr1", "ppr2" };
  return bit_names (bits, names, G_N_ELEMENTS (names));
}

const char *
lpa_euicc_category_name (LpaEuiccCategory category)
{
  switch (category)
    {
    case LPA_EUICC_CATEGORY_ABSENT:
      return "absent";
    case LPA_EUICC_CATEGORY_OTHER:
      return "other";
    case LPA_EUICC_CATEGORY_BASIC:
      return "basicEuicc";
    case LPA_EUICC_CATEGORY_MEDIUM:
      return "mediumEuicc";
    case LPA_EUICC_CATEGORY_CONTACTLESS:
      return "contactlessEuicc";
    }
  return "unknown";
}
