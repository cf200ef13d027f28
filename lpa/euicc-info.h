/* euicc-info.h — EUICCInfo1 (BF20) and EUICCInfo2 (BF22): what the eUICC says it is. */
#pragma once

#include <glib.h>

#include "der.h"

G_BEGIN_DECLS

/* EUICCInfo1: enough for an SM-DP+ to pick keys. @raw is the whole BF20 TLV as received, which
 * is what ES9+/ES11 initiateAuthentication carries. */
typedef struct
{
  char *svn;                        /* "2.2.0" */
  GPtrArray *ci_pkids_verification; /* GBytes, 20-byte subject key identifiers */
  GPtrArray *ci_pkids_signing;
  GBytes *raw;
} LpaEuiccInfo1;

/* Named bits of UICCCapability (bit n = 1 << n). */
typedef enum
{
  LPA_UICC_CAP_CONTACTLESS = 0,
  LPA_UICC_CAP_USIM = 1,
  LPA_UICC_CAP_ISIM = 2,
  LPA_UICC_CAP_CSIM = 3,
  LPA_UICC_CAP_AKA_MILENAGE = 4,
  LPA_UICC_CAP_AKA_CAVE = 5,
  LPA_UICC_CAP_AKA_TUAK128 = 6,
  LPA_UICC_CAP_AKA_TUAK256 = 7,
  LPA_UICC_CAP_GBA_AUTHEN_USIM = 10,
  LPA_UICC_CAP_GBA_AUTHEN_ISIM = 11,
  LPA_UICC_CAP_MBMS_AUTHEN_USIM = 12,
  LPA_UICC_CAP_EAP_CLIENT = 13,
  LPA_UICC_CAP_JAVACARD = 14,
  LPA_UICC_CAP_MULTOS = 15,
  LPA_UICC_CAP_MULTIPLE_USIM = 16,
  LPA_UICC_CAP_MULTIPLE_ISIM = 17,
  LPA_UICC_CAP_MULTIPLE_CSIM = 18,
  LPA_UICC_CAP_BER_TLV_FILE = 19,
  LPA_UICC_CAP_DF_LINK = 20,
  LPA_UICC_CAP_CAT_TP = 21,
  LPA_UICC_CAP_GET_IDENTITY = 22,
  LPA_UICC_CAP_PROFILE_A_X25519 = 23,
  LPA_UICC_CAP_PROFILE_B_P256 = 24,
  LPA_UICC_CAP_SUCI_CALCULATOR_API = 25,
} LpaUiccCapabilityBit;

/* Named bits of RspCapability. */
typedef enum
{
  LPA_RSP_CAP_ADDITIONAL_PROFILE = 0,
  LPA_RSP_CAP_CRL = 1,
  LPA_RSP_CAP_RPM = 2,
  LPA_RSP_CAP_TEST_PROFILE = 3,
  LPA_RSP_CAP_DEVICE_INFO_EXTENSIBILITY = 4,
} LpaRspCapabilityBit;

typedef enum
{
  LPA_EUICC_CATEGORY_ABSENT = -1,
  LPA_EUICC_CATEGORY_OTHER = 0,
  LPA_EUICC_CATEGORY_BASIC = 1,
  LPA_EUICC_CATEGORY_MEDIUM = 2,
  LPA_EUICC_CATEGORY_CONTACTLESS = 3,
} LpaEuiccCategory;

/* Every field of the v2.2.2 EUICCInfo2. Versions are "major.minor.revision" strings; absent
 * optional fields are NULL / FALSE / LPA_EUICC_CATEGORY_ABSENT. */
typedef struct
{
  char *profile_version;     /* 81: SIMalliance profile package version */
  char *svn;                 /* 82: SGP.22 version */
  char *firmware_version;    /* 83 */
  GBytes *ext_card_resource; /* 84, raw (TS 102 226), decoded into the next three */
  gboolean has_installed_applications;
  guint64 installed_applications;
  gboolean has_free_nvm;
  guint64 free_nvm; /* bytes */
  gboolean has_free_ram;
  guint64 free_ram;
  guint64 uicc_capability;          /* 85: bit n = LpaUiccCapabilityBit n */
  char *ts102241_version;           /* 86 */
  char *globalplatform_version;     /* 87 */
  guint64 rsp_capability;           /* 88: bit n = LpaRspCapabilityBit n */
  GPtrArray *ci_pkids_verification; /* A9: GBytes */
  GPtrArray *ci_pkids_signing;      /* AA: GBytes */
  LpaEuiccCategory euicc_category;  /* 8B */
  gboolean has_forbidden_ppr;
  guint64 forbidden_ppr;                  /* 99: LpaPprIds bits */
  char *pp_version;                       /* 04 */
  char *sas_accreditation_number;         /* 0C */
  char *certification_platform_label;     /* AC 80 */
  char *certification_discovery_base_url; /* AC 81 */
  GBytes *raw;
} LpaEuiccInfo2;

/* Decodes a whole BF20 TLV. svn and both key lists are required. */
LpaEuiccInfo1 *lpa_euicc_info1_parse (GBytes *bf20, GError **error);
void lpa_euicc_info1_free (LpaEuiccInfo1 *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaEuiccInfo1, lpa_euicc_info1_free)

/* TRUE if @pkid (20 bytes) is in @list (GBytes). */
gboolean lpa_pkid_list_contains (GPtrArray *list, GBytes *pkid);

/* Decodes a whole BF22 TLV. svn and both key lists are required; every other field is decoded
 * when present (older eUICCs omit some) and left out when it does not decode (it only describes
 * the eUICC), and unknown tags are ignored. */
LpaEuiccInfo2 *lpa_euicc_info2_parse (GBytes *bf22, GError **error);
void lpa_euicc_info2_free (LpaEuiccInfo2 *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaEuiccInfo2, lpa_euicc_info2_free)

/* Names of the bits set in @bits ("usimSupport", …; "bit26" for bits SGP.22 v2.2.2 does not
 * name), as a NULL-terminated array. */
GStrv lpa_uicc_capability_names (guint64 bits);
GStrv lpa_rsp_capability_names (guint64 bits);
GStrv lpa_ppr_names (guint64 bits);
const char *lpa_euicc_category_name (LpaEuiccCategory category);

/* "2.2.0" from a 3-byte VersionType; NULL with LPA_ERROR_MALFORMED if not 3 bytes. */
char *lpa_version_parse (const LpaTlv *tlv, GError **error);

G_END_DECLS
