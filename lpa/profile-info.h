/* profile-info.h — ProfileInfo (E3) and StoreMetadataRequest (BF25): what a profile says it is. */
#pragma once

#include <glib.h>

#include "der.h"

G_BEGIN_DECLS

typedef enum
{
  LPA_PROFILE_STATE_UNKNOWN = -1, /* not reported */
  LPA_PROFILE_STATE_DISABLED = 0,
  LPA_PROFILE_STATE_ENABLED = 1,
} LpaProfileState;

typedef enum
{
  LPA_ICON_TYPE_NONE = -1,
  LPA_ICON_TYPE_JPG = 0,
  LPA_ICON_TYPE_PNG = 1,
} LpaIconType;

typedef enum
{
  LPA_PROFILE_CLASS_TEST = 0,
  LPA_PROFILE_CLASS_PROVISIONING = 1,
  LPA_PROFILE_CLASS_OPERATIONAL = 2,
} LpaProfileClass;

/* NotificationEvent bits (profileManagementOperation). */
typedef enum
{
  LPA_NOTIFICATION_INSTALL = 1 << 0,
  LPA_NOTIFICATION_ENABLE = 1 << 1,
  LPA_NOTIFICATION_DISABLE = 1 << 2,
  LPA_NOTIFICATION_DELETE = 1 << 3,
  /* SGP.22 v3: done by Remote Profile Management (an RPM package from an SM-DP+), and the
   * result of loading such a package. */
  LPA_NOTIFICATION_RPM_ENABLE = 1 << 4,
  LPA_NOTIFICATION_RPM_DISABLE = 1 << 5,
  LPA_NOTIFICATION_RPM_DELETE = 1 << 6,
  LPA_NOTIFICATION_RPM_PACKAGE_RESULT = 1 << 7,
} LpaNotificationEvent;

/* PprIds bits (profilePolicyRules, RAT pprIds, forbiddenProfilePolicyRules). */
typedef enum
{
  LPA_PPR_UPDATE_CONTROL = 1 << 0,
  LPA_PPR1 = 1 << 1, /* disabling this profile is not allowed */
  LPA_PPR2 = 1 << 2, /* deleting this profile is not allowed */
} LpaPprIds;

typedef struct
{
  guint events; /* LpaNotificationEvent bits */
  char *address;
} LpaNotificationConfig;

/* OperatorId: mccMnc as TS 24.008 codes it, plus the digits it spells ("E" is the RAT wildcard
 * digit and is kept; an F nibble ends the MNC). */
typedef struct
{
  GBytes *mcc_mnc; /* the 3 bytes */
  char *mcc;
  char *mnc;
  GBytes *gid1; /* NULL if absent */
  GBytes *gid2;
} LpaOperatorId;

/* One carrier privilege rule (refArDo, E2). */
typedef struct
{
  GBytes *device_app_id; /* C1: hash of the app's signing certificate (20 or 32 bytes) */
  GBytes *pkg_ref;       /* CA: package name, NULL if absent */
  GBytes *perm;          /* DB: permissions (8 bytes), NULL if absent */
} LpaRefArDo;

void lpa_notification_config_free (LpaNotificationConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaNotificationConfig, lpa_notification_config_free)
void lpa_ref_ar_do_free (LpaRefArDo *rule);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaRefArDo, lpa_ref_ar_do_free)

/* Every field of ProfileInfo; NULL / UNKNOWN / FALSE flags for absent ones. The same struct holds
 * a StoreMetadataRequest (BF25 profileMetadata), which uses the same tags. */
typedef struct
{
  char *iccid;                     /* 5A, digits */
  GBytes *isdp_aid;                /* 4F */
  LpaProfileState state;           /* 9F70 */
  char *nickname;                  /* 90 */
  char *service_provider_name;     /* 91 */
  char *profile_name;              /* 92 */
  LpaIconType icon_type;           /* 93 */
  GBytes *icon;                    /* 94 */
  LpaProfileClass profile_class;   /* 95; OPERATIONAL when absent (the ASN.1 default) */
  gboolean has_profile_class;      /* whether 95 was present */
  GPtrArray *notification_configs; /* B6: LpaNotificationConfig*, NULL if absent */
  LpaOperatorId *owner;            /* B7 */
  GBytes *dp_proprietary_data;     /* B8, the whole TLV */
  char *dp_oid;                    /* B8's 06 dpOid */
  guint64 ppr;                     /* 99: LpaPprIds bits */
  gboolean has_ppr;                /* whether 99 was present */
  GPtrArray *ref_ar_do;            /* BF76: LpaRefArDo*, NULL if absent */
} LpaProfileInfo;

/* Decodes a ProfileInfo (E3) or StoreMetadataRequest (BF25) TLV read from @base. With
 * @metadata, the fields StoreMetadataRequest makes mandatory (ICCID, service provider and
 * profile name) must be present, and every member must decode. Without it (an eUICC's
 * ProfileInfo), a member that only describes the profile and does not decode (AID, texts, icon,
 * class, notificationConfigurationInfo, profileOwner, dpProprietaryData, PPRs, refArDo) is left
 * out; the ICCID and the state must decode. Unknown tags are ignored (later versions add some);
 * a repeated known tag is malformed. */
LpaProfileInfo *lpa_profile_info_parse_tlv (GBytes *base, const LpaTlv *tlv, gboolean metadata,
                                            GError **error);

/* Decodes a complete BF25 TLV (ES9+ profileMetadata, or reassembled from the BPP's 88 TLVs). */
LpaProfileInfo *lpa_profile_metadata_parse (GBytes *bf25, GError **error);

void lpa_profile_info_free (LpaProfileInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaProfileInfo, lpa_profile_info_free)

LpaOperatorId *lpa_operator_id_parse (GBytes *base, const LpaTlv *tlv, GError **error);
void lpa_operator_id_free (LpaOperatorId *op);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaOperatorId, lpa_operator_id_free)

/* The name of the lowest set bit: "install", "enable", "disable", "delete", and SGP.22 v3's
 * "rpm-enable", "rpm-disable", "rpm-delete", "rpm-package-result"; "unknown" for none. These are
 * the operation names of the D-Bus API (ListNotifications, NotificationPending). */
const char *lpa_notification_event_name (guint events);

/* Every name lpa_notification_event_name() gives for a bit, NULL-terminated. */
extern const char *const lpa_notification_event_names[];
/* Every operation a notification is listed with: those names and "unknown" (no bit SGP.22
 * names), NULL-terminated. The values a filter's "operation" may take. */
extern const char *const lpa_notification_operation_names[];

const char *lpa_profile_class_name (LpaProfileClass profile_class);
const char *lpa_profile_state_name (LpaProfileState state);

G_END_DECLS
