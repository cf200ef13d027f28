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

/* How @arg may be read, without esimd: 18 to 20 digits (0-9, and A-E as some cards' ICCIDs
 * hold, in either case, F padding and spaces around ignored: lpa_iccid_canonical()) as an ICCID;
 * 1 to 3 digits as a number from esimctl list; anything else as a nickname. Only "" is refused
 * here: which profile @arg names is decided against the list (esimctl_profile_arg_find()). */
gboolean esimctl_profile_arg_parse (const char *arg, EsimctlProfileBy *by, GError **error);

/* The profile @arg names among @profiles (ListProfiles(true)'s aa{sv}, in its order: the
 * numbers of esimctl list), with a new reference. @arg is read every way at once: as the ICCID
 * of a listed profile, as a list number, and as a nickname (exactly, else ignoring case). When
 * the readings find one profile, that is it; when they find different profiles (a nickname
 * that is another profile's ICCID or number) or a nickname names several, NULL with a usage
 * error naming them; NULL with one listing the choices when none matches. */
GVariant *esimctl_profile_arg_find (GVariant *profiles, const char *arg, GError **error);

/* The ICCID @arg names on @euicc, found in the eUICC's list (esimctl_profile_arg_find()); an
 * ICCID that no listed profile has is given as it is (esimd says it is not installed). *@profile
 * (if not NULL) gets the profile's ListProfiles dictionary, or NULL when it was not found. */
char *esimctl_profile_arg_resolve (Esimctl *ctl, const char *euicc, const char *arg,
                                   GVariant **profile, GError **error);

G_END_DECLS
