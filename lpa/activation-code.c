/* activation-code.c — the SGP.22 activation code ("LPA:1$address$matchingId…"). */
#include "activation-code.h"

#include <arpa/inet.h>
#include <string.h>

#include "lpa-error.h"
#include "secret.h"

#define MAX_AC_LENGTH 255

void
lpa_activation_code_free (LpaActivationCode *code)
{
  if (code == NULL)
    return;
  g_free (code->smdp_address);
  lpa_secret_free (code->matching_id);
  g_free (code->smdp_oid);
  g_free (code);
}

/* @host (letters, digits, '-' and '.') is an IPv4 address as the resolver reads one: glibc's
 * getaddrinfo() takes every inet_aton() form (127.1, 0x7f000001, 2130706433, 0177.0.0.1), and
 * RFC 1123 2.1 says a host name's top-level label is never all digits. */
static gboolean
is_ip_literal (const char *host)
{
  const char *top = strrchr (host, '.');
  struct in_addr unused;

  top = top ? top + 1 : host;
  return (*top && strspn (top, "0123456789") == strlen (top)) || inet_aton (host, &unused);
}

gboolean
lpa_host_name_is_valid (const char *host)
{
  gsize total = strlen (host);
  gsize label = 0;

  if (total == 0 || total > 253 || is_ip_literal (host))
    return FALSE;
  for (const char *p = host;; p++)
    {
      if (*p == '.' || *p == '\0')
        {
          /* Labels are 1..63 characters and neither start nor end with a hyphen. */
          if (label == 0 || label > 63 || p[-1] == '-' || p[-(gssize) label] == '-')
            return FALSE;
          if (*p == '\0')
            return TRUE;
          label = 0;
        }
      else if (g_ascii_isalnum (*p) || *p == '-')
        label++;
      else
        return FALSE;
    }
}

static gboolean
reject (GError **error, LpaError code, const char *rule)
{
  g_set_error (error, LPA_ERROR, code, "activation code: %s", rule);
  return FALSE;
}

static gpointer
reject_null (GError **error, LpaError code, const char *rule)
{
  reject (error, code, rule);
  return NULL;
}

static gboolean
check_address (const char *address, LpaError code, GError **error)
{
  struct in_addr ip;

  if (address[0] == '\0')
    return reject (error, code, "the SM-DP+ address is empty");
  if (strstr (address, "://"))
    return reject (error, code, "the SM-DP+ address has a scheme (it must be a bare host name)");
  if (strchr (address, '/'))
    return reject (error, code, "the SM-DP+ address has a path");
  if (strchr (address, ':'))
    return reject (error, code, "the SM-DP+ address has a port");
  if (strpbrk (address, " \t\r\n"))
    return reject (error, code, "the SM-DP+ address contains a space");
  if (inet_aton (address, &ip))
    return reject (error, code,
                   "the SM-DP+ address is an IP address (it must be a host name, an FQDN)");
  if (!lpa_host_name_is_valid (address))
    return reject (error, code, "the SM-DP+ address is not a host name");
  return TRUE;
}

const char *
lpa_matching_id_problem (const char *id)
{
  gsize n = 0;

  for (const char *p = id; p && *p; p++, n++)
    if (!g_ascii_isalnum (*p) && *p != '-')
      return "the matching ID may hold only the letters A-Z and a-z, the digits 0-9 and '-'";
  if (n > MAX_AC_LENGTH)
    return "the matching ID is longer than 255 characters";
  return NULL;
}

static gboolean
check_matching_id (const char *id, LpaError code, GError **error)
{
  const char *problem = lpa_matching_id_problem (id);

  return problem ? reject (error, code, problem) : TRUE;
}

/* Dotted decimal with at least two arcs, no empty arc, no leading zero in an arc; the first arc
 * 0, 1 or 2 and, below 2, the second under 40 (X.660, as X.690 8.19.4 encodes them); each arc
 * within 64 bits (lpa_der_get_oid()'s, which reads the SM-DP+ certificate's OID this must match:
 * any other never could), the first two packed as 40 * X + Y as well. */
static gboolean
oid_is_valid (const char *oid)
{
  guint arcs = 0;
  guint64 first = 0;
  const char *p = oid;

  while (*p)
    {
      const char *start = p;
      char digits[21];
      guint64 arc;

      while (g_ascii_isdigit (*p))
        p++;
      if (p == start || (*start == '0' && p - start > 1) || p - start >= (gssize) sizeof digits)
        return FALSE;
      memcpy (digits, start, p - start);
      digits[p - start] = '\0';
      if (!g_ascii_string_to_unsigned (digits, 10, 0, G_MAXUINT64, &arc, NULL))
        return FALSE;
      if ((arcs == 0 && arc > 2) || (arcs == 1 && first < 2 && arc >= 40) ||
          (arcs == 1 && arc > G_MAXUINT64 - 40 * first))
        return FALSE;
      if (arcs == 0)
        first = arc;
      arcs++;
      if (*p == '.')
        {
          p++;
          if (*p == '\0')
            return FALSE;
        }
      else if (*p != '\0')
        return FALSE;
    }
  return arcs >= 2;
}

LpaActivationCode *
lpa_activation_code_parse (const char *text, GError **error)
{
  const LpaError code = LPA_ERROR_INVALID_ACTIVATION_CODE;
  /* The text holds the matching ID: every copy of it is wiped. */
  g_autoptr (LpaSecret) copy = g_strstrip (g_strdup (text ? text : ""));
  g_autoptr (LpaActivationCode) ac = NULL;
  g_auto (LpaSecretStrv) fields = NULL;
  const char *body = copy;
  guint n;

  /* A UTF-8 byte order mark, then the whitespace it hid from g_strstrip(). */
  while (g_str_has_prefix (body, "\xEF\xBB\xBF"))
    body += 3;
  while (g_ascii_isspace (*body))
    body++;
  if (g_ascii_strncasecmp (body, "LPA:", 4) == 0)
    body += 4;
  if (body[0] == '\0')
    return reject_null (error, code, "empty");
  if (strlen (body) > MAX_AC_LENGTH)
    return reject_null (error, code, "longer than 255 characters");
  /* In any field, also one a later version adds and this one ignores. */
  for (const char *p = body; *p; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f ||
        ((guchar) p[0] == 0xC2 && (guchar) p[1] >= 0x80 && (guchar) p[1] <= 0x9F)) /* C1 */
      return reject_null (error, code, "it contains a control character");
  fields = g_strsplit (body, "$", -1);
  n = g_strv_length (fields);
  if (n < 3)
    return reject_null (error, code, "fewer than three '$'-separated fields");
  if (fields[0][0] == '\0' || strspn (fields[0], "0123456789") != strlen (fields[0]))
    return reject_null (error, code,
                        "it does not start with a format number (\"LPA:1$…\" or \"1$…\")");
  if (strcmp (fields[0], "1") != 0)
    return reject_null (error, code, "unsupported format (only 1 is defined)");
  if (!check_address (fields[1], code, error) || !check_matching_id (fields[2], code, error))
    return NULL;
  if (n > 3 && fields[3][0] != '\0' && !oid_is_valid (fields[3]))
    return reject_null (error, code, "the SM-DP+ OID is not a dotted-decimal OID");
  if (n > 4 && fields[4][0] != '\0' && strcmp (fields[4], "1") != 0)
    return reject_null (error, code, "the confirmation code flag is neither empty nor 1");

  ac = g_new0 (LpaActivationCode, 1);
  ac->smdp_address = g_strdup (fields[1]);
  ac->matching_id = g_strdup (fields[2]);
  ac->smdp_oid = n > 3 && fields[3][0] != '\0' ? g_strdup (fields[3]) : NULL;
  ac->cc_required = n > 4 && strcmp (fields[4], "1") == 0;
  return g_steal_pointer (&ac);
}

char *
lpa_activation_code_to_string (const LpaActivationCode *ac, gboolean qr_prefix, GError **error)
{
  const LpaError code = LPA_ERROR_INVALID_ARGUMENT;
  GString *s;
  gsize room;

  if (ac->smdp_address == NULL || !check_address (ac->smdp_address, code, error))
    {
      if (ac->smdp_address == NULL)
        reject (error, code, "the SM-DP+ address is empty");
      return NULL;
    }
  if (ac->matching_id && !check_matching_id (ac->matching_id, code, error))
    return NULL;
  if (ac->smdp_oid && !oid_is_valid (ac->smdp_oid))
    return reject_null (error, code, "the SM-DP+ OID is not a dotted-decimal OID");

  /* Sized for all of it: a GString that grows leaves the matching ID in the block it freed. */
  room = strlen ("LPA:1$$$$1") + strlen (ac->smdp_address) +
         (ac->matching_id ? strlen (ac->matching_id) : 0) +
         (ac->smdp_oid ? strlen (ac->smdp_oid) : 0) + 1;
  s = g_string_sized_new (room);
  g_string_append (s, qr_prefix ? "LPA:1$" : "1$");
  /* Appended, not printf'd: g_string_append_printf() formats into a temporary string. */
  g_string_append (s, ac->smdp_address);
  g_string_append_c (s, '$');
  if (ac->matching_id)
    g_string_append (s, ac->matching_id);
  if (ac->smdp_oid || ac->cc_required)
    {
      g_string_append_c (s, '$');
      if (ac->smdp_oid)
        g_string_append (s, ac->smdp_oid);
    }
  if (ac->cc_required)
    g_string_append (s, "$1");
  if (s->len - (qr_prefix ? 4 : 0) > MAX_AC_LENGTH)
    {
      lpa_secret_free (g_string_free (s, FALSE));
      return reject_null (error, code, "longer than 255 characters");
    }
  return g_string_free (s, FALSE);
}
