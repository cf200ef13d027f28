/* daemon.h — the one esimd instance: configuration, HTTP engine, trust store, eUICCs. */
#pragma once

#include <glib.h>

#include "config.h"
#include "http.h"
#include "trust.h"

G_BEGIN_DECLS

typedef struct
{
  EsimdConfig *config;
  EsimdHttp *http;
  EsimdTrust *trust;
  GPtrArray *euiccs; /* EsimdEuicc*, index = N in /org/esim/euicc/N */
} EsimdDaemon;

/* esimd is a single daemon per system: one global keeps every callback's reach short. */
extern EsimdDaemon *esimd;

G_END_DECLS
