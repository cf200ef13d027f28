/* lpa.h — liblpa's umbrella header: the SGP.22 protocol core, one include for its users. */
#pragma once

#include "lpa-error.h"
#include "transport.h"
#include "der.h"
#include "iccid.h"
#include "text.h"
