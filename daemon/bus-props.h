/* bus-props.h — what clients were last told of an object's properties, so each change is sent
 * once. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* The values of one interface of one object as its clients last saw them: in InterfacesAdded
 * (or GetManagedObjects) when it appeared, then in each PropertiesChanged.
 *
 * The model announces what *may* have changed (a job's start touches State and CurrentJob,
 * the end of a read touches everything it read), often more than once for one change; a panel
 * that redraws on every PropertiesChanged must get each change once. So the value of every
 * property named is read again through the interface's own getter (the one Get uses, so the
 * two never disagree) and compared with the last one sent. */
typedef struct _EsimdBusProps EsimdBusProps;

/* @vtable and @iface as registered; the getters are called with @userdata as the object. */
EsimdBusProps *esimd_bus_props_new (const sd_bus_vtable *vtable, const char *iface);
void esimd_bus_props_free (EsimdBusProps *props);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdBusProps, esimd_bus_props_free)

/* The object appeared: clients were told every property that emits changes, as it is now. */
void esimd_bus_props_seen (EsimdBusProps *props, const char *path, void *userdata);

/* Sends one PropertiesChanged on @path with those of @names whose value is not the one last
 * sent (none: no signal). Returns how many were sent, or a negative errno. */
int esimd_bus_props_changed (EsimdBusProps *props, const char *path, void *userdata,
                             const char *const *names);

G_END_DECLS
