/* polkit-agent.h — a text-mode polkit agent (pkttyagent) for the time esimctl waits on esimd. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Starts pkttyagent as a fallback agent for this session, so polkit can ask for a password on
 * this terminal, and waits until it is registered. Does nothing for root (polkit never asks
 * root), when stdin is no terminal, when already started or when pkttyagent is missing:
 * authorization then simply succeeds or fails without asking. */
void esimctl_polkit_agent_open (void);

/* Stops the agent, if one was started. */
void esimctl_polkit_agent_close (void);

G_END_DECLS
