/* es10c.c — ES10c: the profiles on the eUICC, the EID, and memory reset. */
#include "es10c.h"

#include <string.h>

#include "der.h"
#include "es10-result.h"
#include "iccid.h"
#include "lpa-error.h"
#include "text.h"

static gboolean
invalid (GError **error, const char *message)
{
  g_set_error_literal (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT, message);
  return FALSE;
}

static gpointer
invalid_null (GError **error, const char *message)
{
  invalid (error, message);
  return NULL;
}

static gboolean
aid_is_valid (GBytes *aid)
{
  gsize len = g_bytes_get_size (aid);

  return len >= 5 && len <= 16;
}

/* Writes the `5A iccid` or `4F aid` choice. */
static gboolean
write_profile_id (LpaDerWriter *w, const LpaProfileId *id, GError **error)
{
  guint8 bcd[LPA_ICCID_BCD_LEN];

  if (id == NULL || (id->iccid == NULL) == (id->isdp_aid == NULL))
    return invalid (error, "give exactly one of ICCID and ISD-P AID");
  if (id->iccid)
    {
      if (!lpa_iccid_to_bcd (id->iccid, bcd, error))
        return FALSE;
      lpa_der_write (w, 0x5A, bcd, sizeof bcd);
    }
  else
    {
      if (!aid_is_valid (id->isdp_aid))
        return invalid (error, "ISD-P AID must be 5 to 16 bytes");
      lpa_der_write_bytes (w, 0x4F, id->isdp_aid);
    }
  return TRUE;
}

GBytes *
lpa_es10c_get_eid_request (void)
{
  static const guint8 tag_list[] = { 0x5A };
  g_auto (LpaDerWriter) w = { 0 };

  lpa_der_writer_init (&w);
  lpa_der_writer_begin (&w, 0xBF3E);
  lpa_der_write (&w, 0x5C, tag_list, sizeof tag_list);
  lpa_der_writer_end (&w);
  return lpa_der_writer_finish (&w);
}

char *
lpa_es10c_parse_eid (GBytes *response, GError **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (response, &len);
  LpaTlv outer, eid;

  if (!lpa_der_parse_answer (data, len, 0xBF3E, &outer, error) ||
      !lpa_der_expect_constructed (&outer, error) ||
      !lpa_der_get_child (&outer, 0x5A, &eid, error) || !lpa_der_expect_length (&eid, 16, error))
    {
      g_prefix_error (error, "GetEID response: ");
      return NULL;
    }
  return lpa_eid_from_bytes (eid.value, eid.value_len);
}

const guint32 *
lpa_es10c_profile_info_tags (gboolean with_icon, gsize *n_tags)
{
  static const guint32 all[] = { 0x5A, 0x4F, 0x9F70, 0x90, 0x91, 0x92,   0x93,
                                 0x95, 0xB6, 0xB7,   0xB8, 0x99, 0xBF76, 0x94 };

  /* The icon is last so that leaving it out is a shorter list. */
  *n_tags = with_icon ? G_N_ELEMENTS (all) : G_N_ELEMENTS (all) - 1;
  return all;
}

GBytes *
lpa_es10c_get_profiles_info_request (const LpaProfileSearch *search, const guint32 *tags,
                                     gsize n_tags, GError **error)
{
  g_auto (LpaDerWriter) w = { 0 };
  g_autoptr (GByteArray) tag_list = g_byte_array_new ();

  lpa_der_writer_init (&w);
  lpa_der_writer_begin (&w, 0xBF2D);
  if (search && search->kind != LPA_PROFILE_SEARCH_ALL)
    {
      LpaProfileId id = { NULL, NULL };

      lpa_der_writer_begin (&w, 0xA0);
      switch (search->kind)
        {
        case LPA_PROFILE_SEARCH_ICCID:
          id.iccid = search->iccid;
          if (!write_profile_id (&w, &id, error))
            return NULL;
          break;
        case LPA_PROFILE_SEARCH_ISDP_AID:
          id.isdp_aid = search->isdp_aid;
          if (!write_profile_id (&w, &id, error))
            return NULL;
          break;
        case LPA_PROFILE_SEARCH_CLASS:
          if ((guint) search->profile_class > LPA_PROFILE_CLASS_OPERATIONAL)
            return invalid_null (error, "unknown profile class");
          lpa_der_write_uint (&w, 0x95, (guint32) search->profile_class);
          break;
        case LPA_PROFILE_SEARCH_ALL:
        default:
          return invalid_null (error, "unknown profile search");
        }
      lpa_der_writer_end (&w);
    }
  for (gsize i = 0; i < n_tags; i++)
    {
      guint8 header[9];
      /* Each tag as its own bytes: encoding a zero-length TLV yields the tag then one 00. */
      gsize n = lpa_der_encode_header (tags[i], 0, header);
      g_byte_array_append (tag_list, header, (guint) (n - 1));
    }
  if (n_tags > 0)
    lpa_der_write (&w, 0x5C, tag_list->data, tag_list->len);
  lpa_der_writer_end (&w);
  return lpa_der_writer_finish (&w);
}

static gpointer
parse_profile_item (GBytes *base, const LpaTlv *item, GError **error)
{
  /* An item that is not a ProfileInfo (E3) is skipped: each item is a whole TLV, so the
   * profiles around it are still read right, and failing the list hid them all. */
  if (item->tag != 0xE3)
    return NULL;
  return lpa_profile_info_parse_tlv (base, item, FALSE, error);
}

GPtrArray *
lpa_es10c_parse_profiles_info (GBytes *response, GError **error)
{
  return lpa_es10_parse_list (response, 0xBF2D, LPA_ES10_GET_PROFILES_INFO, -1, parse_profile_item,
                              (GDestroyNotify) lpa_profile_info_free, error);
}

static GBytes *
switch_request (guint32 tag, const LpaProfileId *id, gboolean refresh, GError **error)
{
  g_auto (LpaDerWriter) w = { 0 };

  lpa_der_writer_init (&w);
  lpa_der_writer_begin (&w, tag);
  lpa_der_writer_begin (&w, 0xA0);
  if (!write_profile_id (&w, id, error))
    return NULL;
  lpa_der_writer_end (&w);
  lpa_der_write_bool (&w, 0x81, refresh);
  lpa_der_writer_end (&w);
  return lpa_der_writer_finish (&w);
}

GBytes *
lpa_es10c_enable_profile_request (const LpaProfileId *id, gboolean refresh, GError **error)
{
  return switch_request (0xBF31, id, refresh, error);
}

GBytes *
lpa_es10c_disable_profile_request (const LpaProfileId *id, gboolean refresh, GError **error)
{
  return switch_request (0xBF32, id, refresh, error);
}

GBytes *
lpa_es10c_delete_profile_request (const LpaProfileId *id, GError **error)
{
  g_auto (LpaDerWriter) w = { 0 };

  lpa_der_writer_init (&w);
  /* DeleteProfileRequest is a tagged CHOICE: the identifier sits directly inside BF33. */
  lpa_der_writer_begin (&w, 0xBF33);
  if (!write_profile_id (&w, id, error))
    return NULL;
  lpa_der_writer_end (&w);
  return lpa_der_writer_finish (&w);
}

GBytes *
lpa_es10c_memory_reset_request (guint options, GError **error)
{
  g_auto (LpaDerWriter) w = { 0 };

  if (options == 0 || (options & ~0x7u) != 0)
    return invalid_null (error, "memory reset needs at least one known option");
  lpa_der_writer_init (&w);
  lpa_der_writer_begin (&w, 0xBF34);
  lpa_der_write_bits (&w, 0x82, options);
  lpa_der_writer_end (&w);
  return lpa_der_writer_finish (&w);
}

const char *
lpa_nickname_problem (const char *nickname)
{
  if (nickname == NULL)
    return "no nickname";
  if (!g_utf8_validate (nickname, -1, NULL))
    return "the nickname is not valid UTF-8";
  if (!lpa_text_is_clean (nickname, -1, LPA_TEXT_ONE_LINE))
    return "the nickname has a control character (a newline, a tab, …)";
  if (strlen (nickname) > 64)
    return "the nickname is longer than 64 bytes (UTF-8)";
  return NULL;
}

GBytes *
lpa_es10c_set_nickname_request (const char *iccid, const char *nickname, GError **error)
{
  g_auto (LpaDerWriter) w = { 0 };
  guint8 bcd[LPA_ICCID_BCD_LEN];

  if (!lpa_iccid_to_bcd (iccid, bcd, error))
    return NULL;
  if (lpa_nickname_problem (nickname))
    return invalid_null (error, lpa_nickname_problem (nickname));
  lpa_der_writer_init (&w);
  lpa_der_writer_begin (&w, 0xBF29);
  lpa_der_write (&w, 0x5A, bcd, sizeof bcd);
  lpa_der_write_utf8 (&w, 0x90, nickname);
  lpa_der_writer_end (&w);
  return lpa_der_writer_finish (&w);
}

gboolean
lpa_es10c_parse_enable_profile (GBytes *response, gint *code, GError **error)
{
  return lpa_es10_parse_result (response, 0xBF31, LPA_ES10_ENABLE_PROFILE, code, error);
}

gboolean
lpa_es10c_parse_disable_profile (GBytes *response, gint *code, GError **error)
{
  return lpa_es10_parse_result (response, 0xBF32, LPA_ES10_DISABLE_PROFILE, code, error);
}

gboolean
lpa_es10c_parse_delete_profile (GBytes *response, gint *code, GError **error)
{
  return lpa_es10_parse_result (response, 0xBF33, LPA_ES10_DELETE_PROFILE, code, error);
}

gboolean
lpa_es10c_parse_memory_reset (GBytes *response, gint *code, GError **error)
{
  return lpa_es10_parse_result (response, 0xBF34, LPA_ES10_EUICC_MEMORY_RESET, code, error);
}

gboolean
lpa_es10c_parse_set_nickname (GBytes *response, gint *code, GError **error)
{
  return lpa_es10_parse_result (response, 0xBF29, LPA_ES10_SET_NICKNAME, code, error);
}
