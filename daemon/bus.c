/* bus.c — puts the org.esim objects on the bus; bus-*.c each serve one interface. */
#include "bus.h"

#include "bus-job.h"
#include "bus-manager.h"
#include "bus-watch.h"

sd_bus *esimd_bus;

int
esimd_bus_init (sd_bus *bus)
{
  int r;

  if ((r = esimd_bus_watch_init (bus)) < 0 || (r = esimd_bus_job_init (bus)) < 0 ||
      (r = esimd_bus_manager_init (bus)) < 0)
    return r;
  return sd_bus_add_object_manager (bus, NULL, "/org/esim");
}
