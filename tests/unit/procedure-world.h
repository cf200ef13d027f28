/* procedure-world.h — a scripted eUICC and a scripted SM-DP+/SM-DS that the download, discovery and
 * notification tests drive the procedures against, with a fault to inject at each step. */
#pragma once

#include "unit-support.h"

G_BEGIN_DECLS

#define WORLD_ADDRESS "smdp.example.com"
#define WORLD_ICCID   "8901234567890123456"
#define WORLD_OID     "2.999.10"

/* One fault per run, named after the step it breaks. */
typedef enum
{
  F_NONE,
  F_CHALLENGE_TRANSPORT,
  F_INFO1_TRANSPORT,
  F_INFO1_MALFORMED,
  F_INITIATE_NETWORK,
  F_INITIATE_HTTP_500,
  F_INITIATE_FAILED,
  F_INITIATE_MALFORMED,
  F_SIGNED1_TID,
  F_SIGNED1_CHALLENGE,
  F_SIGNED1_ADDRESS,
  F_SIGNED1_ADDRESS_TEXT, /* another name, with a newline and 4 KiB more */
  F_PKID_UNKNOWN,
  F_AUTH_SERVER_TRANSPORT,
  F_AUTH_SERVER_ERROR,
  F_AUTH_SERVER_MALFORMED,
  F_AUTH_CLIENT_NETWORK,
  F_AUTH_CLIENT_FAILED,
  F_AUTH_CLIENT_EXPIRED,
  F_AUTH_CLIENT_TID,
  F_AUTH_CLIENT_MALFORMED,
  F_SIGNED2_TID,
  F_RAT_TRANSPORT,
  F_RAT_STATUS, /* GetRAT answered 6D00, as by a card without the function */
  F_PPR_NOT_ALLOWED,
  F_PREPARE_TRANSPORT,
  F_PREPARE_ERROR,
  F_PREPARE_TID,
  F_GET_BPP_NETWORK,
  F_GET_BPP_FAILED_CC,
  F_GET_BPP_TID,
  F_BPP_MALFORMED,
  F_METADATA_MISMATCH,
  F_SEGMENT_TRANSPORT,
  F_LAST_SEGMENT_LOST, /* the last segment's answer is lost (a transport error) */
  F_SEGMENT_STATUS,
  F_SEGMENT_GARBAGE,
  F_NO_PIR,
  F_PIR_ERROR,
  F_PIR_MEMORY,
  F_PIR_EARLY,
  /* ES11 */
  F_ES11_CLIENT_404,
  F_ES11_CLIENT_FAILED,
  F_ES11_CLIENT_TID,
  /* Notifications */
  F_RETRIEVE_TRANSPORT,
  F_RETRIEVE_ERROR,
  F_RETRIEVE_OTHER_SEQ,
  F_NOTIFY_NETWORK,
  F_NOTIFY_HTTP_500,
  F_NOTIFY_FAILED,
  F_REMOVE_TRANSPORT,
  F_REMOVE_ERROR,
  F_REMOVE_NOTHING,
} Fault;

typedef struct
{
  Fault fault;
  /* Profile and server behaviour. */
  gboolean cc_required;
  gboolean ppr;     /* the profile carries PPR1 and an owner */
  gboolean consent; /* the RAT asks for consent */
  gboolean cancel_es10_fails;
  gboolean cancel_es10_no_session; /* CancelSession answers invalidTransactionId(5) */
  gboolean cancel_es9_fails;
  gboolean get_response;      /* the eUICC answers through 61xx / GET RESPONSE */
  guint server_path_families; /* ES11 tests: bit 0 es11 served, bit 1 es9plus served */

  UnitEuicc euicc;
  UnitHttp http;
  LpaEs10 *es10;

  GBytes *challenge;
  GBytes *tid;
  char *tid_hex;
  GBytes *cert;
  GBytes *info1;
  guint segment;
  guint n_segments;

  /* What happened, as text: "BF2E BF20 BF38 BF41:127", "initiateAuthentication …". */
  GString *es10_log;
  GString *http_log;
  GBytes *prepare_request;
  GBytes *ctx_params1;
  GBytes *pir;

  /* Called (if set) when a request with this log name reaches a scripted side, while it is in
   * flight: lets a test act in the middle of a step. */
  const char *hook_at;
  void (*hook) (gpointer data);
  gpointer hook_data;
} World;

void world_init (World *w, Fault fault);
void world_clear (World *w);

/* The outcome of a run: @error as unit_assert_error() checks it, and what each side saw. */
#define world_assert(w, error, code, fragment, es10, http)                                         \
  G_STMT_START                                                                                     \
  {                                                                                                \
    unit_assert_error ((error), (code), (fragment));                                               \
    g_assert_cmpstr ((w)->es10_log->str, ==, (es10));                                              \
    g_assert_cmpstr ((w)->http_log->str, ==, (http));                                              \
  }                                                                                                \
  G_STMT_END

/* The EUICCInfo1 this eUICC reports (to pass as a cache). */
GBytes *world_info1 (void);

G_END_DECLS
