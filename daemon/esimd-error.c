/* esimd-error.c — the ESIMD_ERROR domain. */
#include "esimd-error.h"

G_DEFINE_QUARK (esimd - error - quark, esimd_error)
