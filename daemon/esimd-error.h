/* esimd-error.h — ESIMD_ERROR: the model's own failures, beside liblpa's LPA_ERROR. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Failures that belong to the daemon rather than to the protocol. Each front-end names them in
 * its own terms (bus-errors.c: org.esim.Error.*). */
#define ESIMD_ERROR (esimd_error_quark ())
GQuark esimd_error_quark (void);

typedef enum
{
  ESIMD_ERROR_NOT_AUTHORIZED,
  ESIMD_ERROR_UNAVAILABLE,
  ESIMD_ERROR_BUSY,
  ESIMD_ERROR_WRONG_JOB_STATE,
  ESIMD_ERROR_NOTIFICATION_NOT_FOUND,
  ESIMD_ERROR_FAILED,
  ESIMD_ERROR_STATE_NOT_WRITABLE, /* StateDirectory cannot keep what a download must record */
} EsimdError;

G_END_DECLS
