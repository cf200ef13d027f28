/* bus-profile.c — the org.esim.Profile interface: one object per cached profile. */
#include "bus-profile.h"

#include "bus.h"
#include "bus-errors.h"
#include "bus-gvariant.h"
#include "bus-manager.h"
#include "bus-nodes.h"
#include "bus-paths.h"
#include "daemon.h"
#include "job-profile.h"
#include "observer.h"
#include "polkit.h"
#include "profile-dict.h"

#include <errno.h>
#include <string.h>

#define EUICC_PREFIX  "/org/esim/euicc"
#define PROFILE_IFACE "org.esim.Profile"

/* Splits /org/esim/euicc/N/profile/ICCID; the profile must be in the cache. */
static LpaProfileInfo *
profile_from_path (const char *path, EsimdEuicc **out_euicc)
{
  for (guint i = 0; i < esimd->euiccs->len; i++)
    {
      EsimdEuicc *e = esimd->euiccs->pdata[i];
      g_autofree char *e_path = esimd_bus_euicc_path (e);
      gsize n = strlen (e_path);

      if (!e->present)
        continue;
      if (strncmp (path, e_path, n) == 0 && g_str_has_prefix (path + n, "/profile/"))
        {
          LpaProfileInfo *p = esimd_euicc_find_profile (e, path + n + strlen ("/profile/"));

          if (p && out_euicc)
            *out_euicc = e;
          return p;
        }
    }
  return NULL;
}

static int
profile_find (sd_bus *bus, const char *path, const char *iface, void *userdata, void **found,
              sd_bus_error *error)
{
  EsimdEuicc *euicc = NULL;

  if (!profile_from_path (path, &euicc))
    return 0;
  *found = euicc;
  return 1;
}

static int
profile_enumerate (sd_bus *bus, const char *prefix, void *userdata, char ***nodes,
                   sd_bus_error *error)
{
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < esimd->euiccs->len; i++)
    {
      EsimdEuicc *e = esimd->euiccs->pdata[i];

      for (guint j = 0; e->present && e->profiles && j < e->profiles->len; j++)
        g_ptr_array_add (
            paths, esimd_bus_profile_path (e, ((LpaProfileInfo *) e->profiles->pdata[j])->iccid));
    }
  *nodes = esimd_bus_nodes_answer (bus, prefix, (const char *const *) paths->pdata, paths->len);
  return *nodes ? 0 : -ENOMEM;
}

static int
prop_get (sd_bus *bus, const char *path, const char *iface, const char *property,
          sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
  EsimdEuicc *e = userdata;
  LpaProfileInfo *p = profile_from_path (path, NULL);
  g_autoptr (GVariant) v = NULL;
  GVariant *field = NULL;
  static const struct
  {
    const char *property;
    const char *key;
  } map[] = {
    { "Iccid", "iccid" },
    { "State", "state" },
    { "Class", "class" },
    { "Nickname", "nickname" },
    { "ServiceProvider", "service_provider" },
    { "Name", "name" },
    { "IconType", "icon_type" },
    { "Icon", "icon" },
    { "IsdpAid", "isdp_aid" },
    { "Owner", "owner" },
    { "PolicyRules", "policy_rules" },
  };

  if (!p)
    return sd_bus_error_setf (error, ESIMD_BUS_ERROR_PROFILE_NOT_FOUND, "the profile is gone");
  if (g_str_equal (property, "Euicc"))
    {
      g_autofree char *e_path = esimd_bus_euicc_path (e);

      return sd_bus_message_append_basic (reply, 'o', e_path);
    }
  /* One list of fields serves ListProfiles and the properties, so they never disagree. */
  v = g_variant_ref_sink (esimd_profile_to_vardict (p));
  for (gsize i = 0; i < G_N_ELEMENTS (map); i++)
    if (g_str_equal (property, map[i].property))
      field = g_variant_lookup_value (v, map[i].key, NULL);
  if (!field)
    return sd_bus_message_append_basic (reply, 's', "");
  {
    int r = esimd_bus_append_gvariant (reply, field);

    g_variant_unref (field);
    return r;
  }
}

static int
profile_method (sd_bus_message *m, EsimdEuicc *e, EsimdProfileOp op, sd_bus_error *error)
{
  LpaProfileInfo *p = profile_from_path (sd_bus_message_get_path (m), NULL);
  const char *nickname = NULL;
  g_autoptr (GVariant) options = NULL;
  int r;

  if (!p)
    return sd_bus_error_setf (error, ESIMD_BUS_ERROR_PROFILE_NOT_FOUND, "the profile is gone");
  if (op == ESIMD_PROFILE_SET_NICKNAME)
    {
      if ((r = sd_bus_message_read (m, "s", &nickname)) < 0)
        return r;
      /* The one rule Manager.SetNickname and liblpa apply, before polkit is asked. */
      if (lpa_nickname_problem (nickname))
        return sd_bus_error_set (error, SD_BUS_ERROR_INVALID_ARGS, lpa_nickname_problem (nickname));
    }
  else if ((r = esimd_bus_read_options (m, NULL, &options, error)) < 0)
    return r;
  return esimd_bus_run_job (m, e, esimd_job_profile_new (e, op, p->iccid, nickname),
                            ESIMD_ACTION_MANAGE, FALSE);
}

static int
method_enable (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  return profile_method (m, userdata, ESIMD_PROFILE_ENABLE, error);
}

static int
method_disable (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  return profile_method (m, userdata, ESIMD_PROFILE_DISABLE, error);
}

static int
method_delete (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  return profile_method (m, userdata, ESIMD_PROFILE_DELETE, error);
}

static int
method_set_nickname (sd_bus_message *m, void *userdata, sd_bus_error *error)
{
  return profile_method (m, userdata, ESIMD_PROFILE_SET_NICKNAME, error);
}

static const sd_bus_vtable profile_vtable[] = {
  SD_BUS_VTABLE_START (0),
  SD_BUS_PROPERTY ("Iccid", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("State", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("Class", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("Nickname", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
  SD_BUS_PROPERTY ("ServiceProvider", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("Name", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("IconType", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("Icon", "ay", prop_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("IsdpAid", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("Owner", "s", prop_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("PolicyRules", "as", prop_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_PROPERTY ("Euicc", "o", prop_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
  SD_BUS_METHOD_WITH_NAMES ("Enable", "a{sv}", SD_BUS_PARAM (options), "", "", method_enable,
                            SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("Disable", "a{sv}", SD_BUS_PARAM (options), "", "", method_disable,
                            SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("Delete", "a{sv}", SD_BUS_PARAM (options), "", "", method_delete,
                            SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_METHOD_WITH_NAMES ("SetNickname", "s", SD_BUS_PARAM (nickname), "", "",
                            method_set_nickname, SD_BUS_VTABLE_UNPRIVILEGED),
  SD_BUS_VTABLE_END,
};

static LpaProfileInfo *
find_in (GPtrArray *list, const char *iccid)
{
  for (guint i = 0; list && i < list->len; i++)
    if (g_strcmp0 (((LpaProfileInfo *) list->pdata[i])->iccid, iccid) == 0)
      return list->pdata[i];
  return NULL;
}

/* The profile list was read again: InterfacesAdded/Removed for profiles that came or went,
 * PropertiesChanged for those that changed, and the Manager's Profiles/ActiveProfile. */
static void
on_profiles_changed (gpointer data, EsimdEuicc *euicc, GPtrArray *old)
{
  gboolean list_changed = FALSE, active_changed = FALSE;

  for (guint i = 0; old && i < old->len; i++)
    {
      LpaProfileInfo *p = old->pdata[i];

      if (!find_in (euicc->profiles, p->iccid))
        {
          g_autofree char *path = esimd_bus_profile_path (euicc, p->iccid);

          sd_bus_emit_interfaces_removed (esimd_bus, path, PROFILE_IFACE, NULL);
          list_changed = TRUE;
          active_changed |= p->state == LPA_PROFILE_STATE_ENABLED;
        }
    }
  for (guint i = 0; euicc->profiles && i < euicc->profiles->len; i++)
    {
      LpaProfileInfo *p = euicc->profiles->pdata[i];
      LpaProfileInfo *before = find_in (old, p->iccid);
      g_autofree char *path = esimd_bus_profile_path (euicc, p->iccid);

      if (!before)
        {
          sd_bus_emit_interfaces_added (esimd_bus, path, PROFILE_IFACE, NULL);
          list_changed = TRUE;
          active_changed |= p->state == LPA_PROFILE_STATE_ENABLED;
          continue;
        }
      if (before->state != p->state)
        {
          active_changed = TRUE;
          sd_bus_emit_properties_changed (esimd_bus, path, PROFILE_IFACE, "State", NULL);
        }
      if (g_strcmp0 (before->nickname, p->nickname) != 0)
        sd_bus_emit_properties_changed (esimd_bus, path, PROFILE_IFACE, "Nickname", NULL);
    }
  if (list_changed && active_changed)
    esimd_bus_manager_changed (euicc, "Profiles", "ActiveProfile");
  else if (list_changed)
    esimd_bus_manager_changed (euicc, "Profiles");
  else if (active_changed)
    esimd_bus_manager_changed (euicc, "ActiveProfile");
}

/* The eUICC leaves the bus: its profiles go first. */
static void
on_euicc_removed (gpointer data, EsimdEuicc *euicc)
{
  for (guint i = 0; euicc->profiles && i < euicc->profiles->len; i++)
    {
      g_autofree char *path =
          esimd_bus_profile_path (euicc, ((LpaProfileInfo *) euicc->profiles->pdata[i])->iccid);

      sd_bus_emit_interfaces_removed (esimd_bus, path, PROFILE_IFACE, NULL);
    }
}

static const EsimdObserver profile_observer = {
  .profiles_changed = on_profiles_changed,
  .euicc_removed = on_euicc_removed,
};

int
esimd_bus_profile_init (sd_bus *bus)
{
  int r = sd_bus_add_fallback_vtable (bus, NULL, EUICC_PREFIX, PROFILE_IFACE, profile_vtable,
                                      profile_find, NULL);

  if (r < 0)
    return r;
  r = sd_bus_add_node_enumerator (bus, NULL, EUICC_PREFIX, profile_enumerate, NULL);
  if (r < 0)
    return r;
  esimd_observer_add (&profile_observer, NULL);
  return 0;
}
