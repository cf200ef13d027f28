/* config-defaults.h — the built-in defaults esimd.conf(5) documents, in one place. */
#pragma once

#include "build-config.h"

#define ESIMD_DEFAULT_CI_DIRS          DATADIR "/esimd/ci;" SYSCONFDIR "/esimd/ci"
#define ESIMD_DEFAULT_SYSTEM_CA_FILE   "/etc/ssl/certs/ca-certificates.crt"
#define ESIMD_DEFAULT_STATE_DIR        "/var/lib/esimd"
#define ESIMD_DEFAULT_MAX_RESPONSE_KIB 256
#define ESIMD_DEFAULT_MAX_BPP_SIZE     (1024 * 1024)
#define ESIMD_DEFAULT_PROBE_TIMEOUT    30
#define ESIMD_DEFAULT_DEVICE_DIR       "/dev"
