/* es10c.h — ES10c: the profiles on the eUICC, the EID, and memory reset. */
#pragma once

#include <glib.h>

#include "profile-info.h"

G_BEGIN_DECLS

/* Which profile a command targets: set exactly one of the two. */
typedef struct
{
  const char *iccid; /* 18-20 digits */
  GBytes *isdp_aid;  /* 5..16 bytes */
} LpaProfileId;

typedef enum
{
  LPA_PROFILE_SEARCH_ALL,
  LPA_PROFILE_SEARCH_ICCID,
  LPA_PROFILE_SEARCH_ISDP_AID,
  LPA_PROFILE_SEARCH_CLASS,
} LpaProfileSearchKind;

typedef struct
{
  LpaProfileSearchKind kind;
  const char *iccid;
  GBytes *isdp_aid;
  LpaProfileClass profile_class;
} LpaProfileSearch;

/* eUICCMemoryReset options (resetOptions bits). */
typedef enum
{
  LPA_RESET_DELETE_OPERATIONAL_PROFILES = 1 << 0,
  LPA_RESET_DELETE_FIELD_LOADED_TEST_PROFILES = 1 << 1,
  LPA_RESET_DEFAULT_SMDP_ADDRESS = 1 << 2,
} LpaMemoryResetOptions;

/* GetEID: BF3E { 5C 01 5A } → BF3E { 5A EID(16) }; the EID as 32 digits. */
GBytes *lpa_es10c_get_eid_request (void);
char *lpa_es10c_parse_eid (GBytes *response, GError **error);

/* Every ProfileInfo tag (without the icon, 94, unless @with_icon: icons are up to 1 KiB each). */
const guint32 *lpa_es10c_profile_info_tags (gboolean with_icon, gsize *n_tags);

/* GetProfilesInfo: BF2D { [A0 { 5A | 4F | 95 }], [5C tagList] }. @search NULL means all
 * profiles; @n_tags 0 omits the tag list (the eUICC's default set). */
GBytes *lpa_es10c_get_profiles_info_request (const LpaProfileSearch *search, const guint32 *tags,
                                             gsize n_tags, GError **error);
/* → GPtrArray of LpaProfileInfo (possibly empty), or NULL with the error result mapped
 * ("GetProfilesInfo: incorrectInputValues(1)") or LPA_ERROR_MALFORMED. */
GPtrArray *lpa_es10c_parse_profiles_info (GBytes *response, GError **error);

/* EnableProfile / DisableProfile: BF31/BF32 { A0 { 5A | 4F }, 81 refreshFlag }. */
GBytes *lpa_es10c_enable_profile_request (const LpaProfileId *id, gboolean refresh, GError **error);
GBytes *lpa_es10c_disable_profile_request (const LpaProfileId *id, gboolean refresh,
                                           GError **error);
/* DeleteProfile: BF33 { 5A | 4F }. */
GBytes *lpa_es10c_delete_profile_request (const LpaProfileId *id, GError **error);
/* eUICCMemoryReset: BF34 { 82 resetOptions }; @options are LpaMemoryResetOptions bits. */
GBytes *lpa_es10c_memory_reset_request (guint options, GError **error);
/* The rule for a nickname, wherever it comes from (esimd's SetNickname and download option,
 * esimctl): valid UTF-8 of at most 64 bytes (what the eUICC stores) without control characters (a
 * newline would break every list that shows it). NULL when @nickname follows it, else why not. */
const char *lpa_nickname_problem (const char *nickname);

/* SetNickname: BF29 { 5A iccid, 90 nickname }; the nickname follows lpa_nickname_problem(). */
GBytes *lpa_es10c_set_nickname_request (const char *iccid, const char *nickname, GError **error);

/* Result parsers: TRUE when the result means success, else the mapped error (see
 * lpa_es10_parse_result()); *@code (may be NULL) receives the raw code. */
gboolean lpa_es10c_parse_enable_profile (GBytes *response, gint *code, GError **error);
gboolean lpa_es10c_parse_disable_profile (GBytes *response, gint *code, GError **error);
gboolean lpa_es10c_parse_delete_profile (GBytes *response, gint *code, GError **error);
gboolean lpa_es10c_parse_memory_reset (GBytes *response, gint *code, GError **error);
gboolean lpa_es10c_parse_set_nickname (GBytes *response, gint *code, GError **error);

G_END_DECLS
