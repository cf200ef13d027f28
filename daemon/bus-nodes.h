/* bus-nodes.h — what a node enumerator answers: every object for ObjectManager, one level for
 * Introspect. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* The answer of a node enumerator called for @prefix that knows the objects @paths (any depth
 * below the enumerator's own path; borrowed), as sd-bus wants it: a NULL-terminated array of
 * malloc()ed strings.
 *
 * sd-bus asks the same enumerator for GetManagedObjects, which needs every object below
 * @prefix, and for Introspect, which lists whatever it is given as child nodes of @prefix:
 * /org/esim/euicc would list both "0" and "0/profile/8949…", and a recursive introspection
 * (gdbus introspect --recurse, D-Feet) would find each profile twice. Within an Introspect
 * call the answer is therefore the direct children of @prefix only (the intermediate
 * /org/esim/euicc/0/profile included), each once. */
char **esimd_bus_nodes_answer (sd_bus *bus, const char *prefix, const char *const *paths,
                               gsize n_paths);

G_END_DECLS
