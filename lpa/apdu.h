/* apdu.h — ES10 over APDUs: STORE DATA chunking, GET RESPONSE, status words, channel coding. */
#pragma once

#include <glib.h>

#include "transport.h"

G_BEGIN_DECLS

#define LPA_SEGMENT_SIZE_DEFAULT 255
/* The smallest size the adaptive step-down goes to unless configured lower. */
#define LPA_SEGMENT_SIZE_FLOOR 63

/* One ES10 channel: sends each ES10 request (one DER TLV) as a sequence of STORE DATA commands on
 * a logical channel and collects the response. Calls are served one at a time in the order they
 * were made (the ISD-R keeps one STORE DATA context); later calls wait in a queue.
 *
 * Segment size: each STORE DATA block carries at most the current segment size (1..255, default
 * 255). When a block is rejected with 6700 or 6A80, or the transport fails on it before this
 * channel ever carried a block that long, and the block was longer than the next smaller step
 * (255 → 120 → 63, then the configured minimum if it is below 63), the size steps down and the
 * command restarts from block 0. The smaller size is on trial until a block at that size is
 * accepted: then the segment-size callback reports it, so the daemon can remember it per eUICC.
 * If the command fails anyway, the failure was not about size and the previous size comes back.
 * A size that works is kept for the channel. */
typedef struct _LpaEs10 LpaEs10;

/* @response: the response TLV(s), possibly empty (LoadBoundProfilePackage intermediate
 * segments); NULL on error. Errors: LPA_ERROR_STATUS_WORD (message "6A80 incorrect data"),
 * LPA_ERROR_TRANSPORT (from the APDU transport), LPA_ERROR_UNEXPECTED (data on an intermediate
 * block), LPA_ERROR_MALFORMED (response APDU shorter than 2 bytes, endless GET RESPONSE). Like the
 * transport's, this callback never runs from inside lpa_es10_call(), and exactly once. */
typedef void (*LpaEs10Callback) (GBytes *response, const GError *error, gpointer user_data);
typedef void (*LpaEs10SegmentSizeCallback) (guint segment_size, gpointer user_data);

/* @channel: the logical channel the APDUs go to, 0..19 (the ISD-R is already selected on it). */
LpaEs10 *lpa_es10_new (const LpaApduOps *ops, gpointer ops_self, guint channel);
LpaEs10 *lpa_es10_ref (LpaEs10 *self);
void lpa_es10_unref (LpaEs10 *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaEs10, lpa_es10_unref)

void lpa_es10_set_segment_size (LpaEs10 *self, guint segment_size);
guint lpa_es10_get_segment_size (LpaEs10 *self);
/* The floor of the adaptive step-down (default LPA_SEGMENT_SIZE_FLOOR; 1..255). */
void lpa_es10_set_min_segment_size (LpaEs10 *self, guint min_segment_size);
void lpa_es10_set_segment_size_callback (LpaEs10 *self, LpaEs10SegmentSizeCallback callback,
                                         gpointer user_data);

/* The longest request the current segment size can carry (255 blocks). */
gsize lpa_es10_max_request_size (LpaEs10 *self);

/* Queues @request. Returns FALSE (and @callback is never called) only when the request cannot be
 * sent at all: empty, or longer than lpa_es10_max_request_size() (LPA_ERROR_INVALID_ARGUMENT). */
gboolean lpa_es10_call (LpaEs10 *self, GBytes *request, LpaEs10Callback callback,
                        gpointer user_data, GError **error);

/* Counters since creation: command APDUs transmitted, their bytes, response bytes received. */
guint64 lpa_es10_get_apdus_sent (LpaEs10 *self);
guint64 lpa_es10_get_bytes_sent (LpaEs10 *self);
guint64 lpa_es10_get_bytes_received (LpaEs10 *self);

/* CLA byte for @channel (0..19): GlobalPlatform proprietary class (STORE DATA) or ISO
 * inter-industry class (GET RESPONSE, SELECT, MANAGE CHANNEL), per ETSI TS 102 221 §10.1.1. */
guint8 lpa_apdu_cla (guint channel, gboolean proprietary);

/* "incorrect data" for 0x6A80, …; "unknown status" if not in the table. */
const char *lpa_status_word_name (guint16 sw);

/* Whether @sw ends a command normally (ETSI TS 102 221 §10.2.1.1): 9000, and 91XX / 92XX, which
 * a UICC answers instead when it has a proactive command for the terminal (a REFRESH after an
 * enable) or news of a data transfer. The command's own answer is whole either way; what the
 * card has for the terminal is the modem's to FETCH, not the LPA's. */
gboolean lpa_status_word_is_normal (guint16 sw);

/* The status word of an LPA_ERROR_STATUS_WORD error (its message starts with the 4 hex digits),
 * or 0 for any other error. */
guint16 lpa_status_word_from_error (const GError *error);

G_END_DECLS
