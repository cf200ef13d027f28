/* discovery-pcsc.h — pcscd's smart-card readers as a discovery source.
 *
 * pcsc-watch.c follows pcscd's readers and cards from a thread of its own (pcsc-lite only
 * blocks, so the GLib main loop never calls it). Each reader with a card in it is announced
 * to discovery.c as a modem with one port of transport pcsc, probed like any other port; a card
 * taken out, or its reader unplugged, is a modem gone. Without pcscd (not installed, not
 * running) the source is idle and says so only in the debug log, and tries again now and then:
 * pcscd is usually started on demand. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* FALSE when esimd was built without PC/SC. */
gboolean esimd_discovery_pcsc_start (void);
/* Ends the watch (blocking until its thread is out) and forgets every reader. */
void esimd_discovery_pcsc_stop (void);

G_END_DECLS
