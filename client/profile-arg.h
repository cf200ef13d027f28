/* profile-arg.h — what a PROFILE argument names: an ICCID, a number from esimctl list, or a
 * nickname. */
#pragma once

#include "esimctl.h"

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  ESIMCTL_PROFILE_BY_ICCID,
  ESIMCTL_PROFILE_BY_NUMBER,   /* the "#" column of esimctl list, from 1 */
  ESIMCTL_PROFILE_BY_NICKNAME, /* then, when no nickname matches exactly, case-insensitively */
} EsimctlProfileBy;

/* How @arg is read, without esimd: 18 to 20 digits (0-9, and A-E as some cards' ICCIDs hold, in
 * either case, F padding and spaces around ignored: lpa_iccid_canonical()) are an ICCID; 1 to 3
 * digits a number from esimctl list; any other run of digits, or 18 to 20 letters and digits
 * starting with "89" (an ICCID mistyped), is a usage error; anything else is a nickname (a nickname
 * of digits only is reached through its ICCID or number). */
gboolean esimctl_profile_arg_parse (const char *arg, EsimctlProfileBy *by, GError **error);

/* The profile @arg names among @profiles (ListProfiles(true)'s aa{sv}, in its order: the
 * numbers of esimctl list), with a new reference; NULL with a usage error naming the choices
 * when none or several match. An ICCID matches only the profile installed with it. */
GVariant *esimctl_profile_arg_find (GVariant *profiles, const char *arg, GError **error);

/* The ICCID @arg names on @euicc: an ICCID as it is (esimd says whether it is installed) unless
 * @profile is wanted; a number or a nickname looked up in the eUICC's list. *@profile (if not
 * NULL) gets the profile's ListProfiles dictionary, or NULL when it was not read. */
char *esimctl_profile_arg_resolve (Esimctl *ctl, const char *euicc, const char *arg,
                                   GVariant **profile, GError **error);

G_END_DECLS
