/* log.h — esimd's log output (journal or stderr) and the redaction of personal data. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

void esimd_log_init (gboolean debug);

/* EIDs and ICCIDs identify a person's subscription: logs show them only when the
 * administrator asked (LogPersonalData=true or --log-personal-data). Matching IDs and
 * confirmation codes are never logged at all: no helper exists for them on purpose. */
void esimd_log_set_personal_data (gboolean show);
gboolean esimd_log_get_personal_data (void);
const char *esimd_log_pd (const char *value);

/* Makes @value (an EID, ICCID or IMEI esimd has learnt) personal data: unless personal data is
 * shown, the log writer replaces it with "[hidden]" in every message, whoever wrote it. Call it
 * as soon as a value is known, before anything may quote it (a file name, an error). */
void esimd_log_add_personal (const char *value);

/* Makes @value (a matching ID or confirmation code esimd was given) a secret until the same
 * value is removed: the log writer replaces it, where a message quotes it as a whole token (a
 * server's refusal echoing what it was sent), with "[secret]", LogPersonalData or not. Values
 * shorter than 4 characters are not listed (they would hide unrelated numbers). */
void esimd_log_add_secret (const char *value);
void esimd_log_remove_secret (const char *value);

/* @text with the listed secrets replaced as the log writer does (a newly allocated copy): for
 * what leaves esimd otherwise, an error message other users read on the bus. */
char *esimd_log_hide_secrets (const char *text);

G_END_DECLS
