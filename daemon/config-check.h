/* config-check.h — what needs more than the file to judge (the CI certificates the directories
 * hold), and `esimd --check-config`. */
#pragma once

#include "config.h"
#include "trust.h"

G_BEGIN_DECLS

/* TrustSystemCAs=false with no CI certificate in CiCertificateDirs: no server could ever be
 * trusted. Appends that problem to @problems. */
void esimd_config_check_trust (const EsimdConfig *config, EsimdTrust *trust, GPtrArray *problems);

/* Reads @path (NULL: the default file, which may be missing), prints every problem on stderr or,
 * when there is none, what the file configures and the effective settings on stdout. Returns the
 * exit status: 0 usable, 1 not. */
int esimd_config_check_run (const char *path);

G_END_DECLS
