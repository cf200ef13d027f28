/* test-activation-code.c — unit tests of activation code parsing, its reject rules, and building.
 */
#include "unit-support.h"

static void
test_examples (void)
{
  static const struct
  {
    const char *text;
    const char *address;
    const char *matching_id;
    const char *oid;
    gboolean cc;
  } cases[] = {
    /* The digest's §1 examples (spec-style, also ONO's tests). */
    { "1$SMDP.EXAMPLE.COM$04386-AGYFT-A74Y8-3F815", "SMDP.EXAMPLE.COM", "04386-AGYFT-A74Y8-3F815",
      NULL, FALSE },
    { "1$SMDP.EXAMPLE.COM$04386-AGYFT-A74Y8-3F815$$1", "SMDP.EXAMPLE.COM",
      "04386-AGYFT-A74Y8-3F815", NULL, TRUE },
    { "1$SMDP.EXAMPLE.COM$04386-AGYFT-A74Y8-3F815$1.3.6.1.4.1.31746$1", "SMDP.EXAMPLE.COM",
      "04386-AGYFT-A74Y8-3F815", "1.3.6.1.4.1.31746", TRUE },
    { "1$SMDP.EXAMPLE.COM$04386-AGYFT-A74Y8-3F815$1.3.6.1.4.1.31746", "SMDP.EXAMPLE.COM",
      "04386-AGYFT-A74Y8-3F815", "1.3.6.1.4.1.31746", FALSE },
    /* An empty matching ID is legal. */
    { "1$SMDP.GSMA.COM$$1.3.6.1.4.1.31746", "SMDP.GSMA.COM", "", "1.3.6.1.4.1.31746", FALSE },
    /* QR form, prefix in any case, surrounding whitespace. */
    { "LPA:1$testsmdpplus1.example.com$TS48V2-SAIP2-1-NOBERTLV", "testsmdpplus1.example.com",
      "TS48V2-SAIP2-1-NOBERTLV", NULL, FALSE },
    { "  lpa:1$rsp.example.com$abc-123\n", "rsp.example.com", "abc-123", NULL, FALSE },
    /* Later versions' trailing fields are ignored. */
    { "1$rsp.example.com$ABC$2.999.10$1$CIKEY$1", "rsp.example.com", "ABC", "2.999.10", TRUE },
    { "1$rsp.example.com$ABC$$$", "rsp.example.com", "ABC", NULL, FALSE },
    { "1$rsp.example.com$ABC$2.999.18446744073709551615$1", "rsp.example.com", "ABC",
      "2.999.18446744073709551615", TRUE },
    { "1$rsp.example.com$ABC$1.39", "rsp.example.com", "ABC", "1.39", FALSE },
    { "1$rsp.example.com$ABC$2.18446744073709551535", "rsp.example.com", "ABC",
      "2.18446744073709551535", FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (LpaActivationCode) ac = lpa_activation_code_parse (cases[i].text, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (ac->smdp_address, ==, cases[i].address);
      g_assert_cmpstr (ac->matching_id, ==, cases[i].matching_id);
      g_assert_cmpstr (ac->smdp_oid, ==, cases[i].oid);
      g_assert_cmpint (ac->cc_required, ==, cases[i].cc);
    }
}

static void
test_rejects (void)
{
  static const struct
  {
    const char *text;
    const char *rule;
  } cases[] = {
    { "", "empty" },
    { "   ", "empty" },
    { "LPA:", "empty" },
    { "1$rsp.example.com", "fewer than three" },
    { "1", "fewer than three" },
    { "2$rsp.example.com$ABC", "format" },
    { "01$rsp.example.com$ABC", "format" },
    { "1$$ABC", "address is empty" },
    { "1$https://rsp.example.com$ABC", "scheme" },
    { "1$rsp.example.com/path$ABC", "path" },
    { "1$rsp.example.com:443$ABC", "port" },
    { "1$rsp example.com$ABC", "space" },
    { "1$rsp_example.com$ABC", "not a host name" },
    { "1$rsp..example.com$ABC", "not a host name" },
    { "1$-rsp.example.com$ABC", "not a host name" },
    { "1$rsp.example.com.$ABC", "not a host name" },
    /* An address, not a name (RFC 1123 2.1: a host name's top label is never all digits; the
     * resolver, glibc's getaddrinfo(), takes inet_aton()'s forms as IPv4 addresses: 127.1,
     * 0x7f000001, 2130706433 and 0177.0.0.1 all reach 127.0.0.1). A hostile QR code would
     * point esimd, as root, at a machine's own or its LAN's services. */
    { "1$127.0.0.1$ABC", "an IP address" },
    { "1$169.254.169.254$ABC", "an IP address" },
    { "1$127.1$ABC", "an IP address" },
    { "1$2130706433$ABC", "an IP address" },
    { "1$0x7f000001$ABC", "an IP address" },
    { "1$0X7F.1$ABC", "an IP address" },
    { "1$0177.0.0.1$ABC", "an IP address" },
    { "1$rsp.example.123$ABC", "not a host name" },
    { "1$rsp.example.com$AB_C", "matching ID" },
    { "1$rsp.example.com$AB C", "matching ID" },
    { "1$rsp.example.com$ABÇ", "matching ID" },
    { "1$rsp.example.com$ABC$1.3.x", "OID" },
    { "1$rsp.example.com$ABC$1", "OID" },
    { "1$rsp.example.com$ABC$1..3", "OID" },
    { "1$rsp.example.com$ABC$1.03", "OID" },
    { "1$rsp.example.com$ABC$1.3.$1", "OID" },
    /* X.660: the first arc is 0, 1 or 2, the second under 40 below 2; an arc fits the 64 bits
     * lpa_der_get_oid() reads a certificate's into: any other could never match the SM-DP+'s. */
    { "1$rsp.example.com$ABC$3.6.1", "OID" },
    { "1$rsp.example.com$ABC$1.40.5", "OID" },
    { "1$rsp.example.com$ABC$2.999.18446744073709551616", "OID" },
    /* The first subidentifier, 40 * 2 + Y, is past 64 bits from Y = 2^64 - 80 (fuzz-activation-code
     * encodes every accepted OID as a certificate would and reads it back). */
    { "1$rsp.example.com$ABC$2.18446744073709551536", "OID" },
    { "1$rsp.example.com$ABC$2.18446744073709551615", "OID" },
    /* A control character anywhere, also in a field a later version adds (ignored as such): no
     * QR code of a real activation code holds one, and a terminal or a log would act on it. */
    { "1$rsp.example.com$ABC$$1$\x1b[2J", "control character" },
    { "1$rsp.example.com$ABC$\x7f", "control character" },
    { "1$rsp.example.com$ABC$$$\xC2\x9B" "2J", "control character" },
    { "1$rsp.example.com$ABC\r\n$$1", "control character" },
    { "1$rsp.example.com$ABC$$0", "confirmation code flag" },
    { "1$rsp.example.com$ABC$$2", "confirmation code flag" },
    { "1$rsp.example.com$ABC$$yes", "confirmation code flag" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (LpaActivationCode) ac = lpa_activation_code_parse (cases[i].text, &error);

      if (ac)
        g_error ("accepted \"%s\"", cases[i].text);
      unit_assert_error (error, LPA_ERROR_INVALID_ACTIVATION_CODE, cases[i].rule);
    }

  /* 256 characters without the prefix is one too many; 255 is fine. */
  {
    g_autoptr (GString) s = g_string_new ("1$rsp.example.com$");
    g_autoptr (LpaActivationCode) ok = NULL;
    g_autoptr (LpaActivationCode) ac = NULL;
    g_autoptr (GError) error = NULL;
    g_autofree char *qr = NULL;

    while (s->len < 255)
      g_string_append_c (s, 'A');
    ok = lpa_activation_code_parse (s->str, &error);
    g_assert_no_error (error);
    qr = g_strconcat ("LPA:", s->str, NULL);
    g_clear_pointer (&ok, lpa_activation_code_free);
    ok = lpa_activation_code_parse (qr, &error);
    g_assert_no_error (error);
    g_string_append_c (s, 'A');
    ac = lpa_activation_code_parse (s->str, &error);
    g_assert_null (ac);
    g_assert_error (error, LPA_ERROR, LPA_ERROR_INVALID_ACTIVATION_CODE);
    g_assert_nonnull (strstr (error->message, "255"));
  }
}

static void
test_build (void)
{
  static const struct
  {
    LpaActivationCode ac;
    gboolean qr;
    const char *text;
  } cases[] = {
    { { "rsp.example.com", "ABC", NULL, FALSE }, FALSE, "1$rsp.example.com$ABC" },
    { { "rsp.example.com", "ABC", NULL, TRUE }, TRUE, "LPA:1$rsp.example.com$ABC$$1" },
    { { "rsp.example.com", "", "2.999.10", FALSE }, FALSE, "1$rsp.example.com$$2.999.10" },
    { { "rsp.example.com", NULL, "2.999.10", TRUE }, FALSE, "1$rsp.example.com$$2.999.10$1" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *text = lpa_activation_code_to_string (&cases[i].ac, cases[i].qr, &error);
      g_autoptr (LpaActivationCode) back = NULL;

      g_assert_no_error (error);
      g_assert_cmpstr (text, ==, cases[i].text);
      /* And it parses back to the same parts. */
      back = lpa_activation_code_parse (text, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (back->smdp_address, ==, cases[i].ac.smdp_address);
      g_assert_cmpstr (back->matching_id, ==,
                       cases[i].ac.matching_id ? cases[i].ac.matching_id : "");
      g_assert_cmpstr (back->smdp_oid, ==, cases[i].ac.smdp_oid);
      g_assert_cmpint (back->cc_required, ==, cases[i].ac.cc_required);
    }
  {
    LpaActivationCode bad_address = { "rsp.example.com:8443", "ABC", NULL, FALSE };
    LpaActivationCode bad_id = { "rsp.example.com", "A$B", NULL, FALSE };
    LpaActivationCode bad_oid = { "rsp.example.com", "ABC", "two.nine", FALSE };
    LpaActivationCode no_address = { NULL, "ABC", NULL, FALSE };
    g_autoptr (GError) error = NULL;

    g_assert_null (lpa_activation_code_to_string (&bad_address, FALSE, &error));
    g_assert_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    g_assert_null (lpa_activation_code_to_string (&bad_id, FALSE, &error));
    g_assert_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    g_assert_null (lpa_activation_code_to_string (&bad_oid, FALSE, &error));
    g_assert_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    g_assert_null (lpa_activation_code_to_string (&no_address, FALSE, &error));
    g_assert_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT);
  }
}

static void
test_host_names (void)
{
  g_autoptr (GString) label = g_string_new (NULL);
  g_autofree char *long_label = NULL;
  g_autofree char *max_label = NULL;

  g_assert_true (lpa_host_name_is_valid ("a.b"));
  g_assert_true (lpa_host_name_is_valid ("smdp-plus.example.com"));
  g_assert_true (lpa_host_name_is_valid ("localhost"));
  g_assert_false (lpa_host_name_is_valid (""));
  g_assert_false (lpa_host_name_is_valid ("a-.example.com"));
  g_assert_false (lpa_host_name_is_valid (".example.com"));
  g_assert_false (lpa_host_name_is_valid ("10.0.0.1"));
  g_assert_false (lpa_host_name_is_valid ("0x0a000001"));
  g_assert_false (lpa_host_name_is_valid ("example.42"));
  g_assert_true (lpa_host_name_is_valid ("1.example.com"));
  g_assert_true (lpa_host_name_is_valid ("0x7f.example.com"));
  g_assert_true (lpa_host_name_is_valid ("deadbeef"));
  while (label->len < 63)
    g_string_append_c (label, 'a');
  max_label = g_strconcat (label->str, ".com", NULL);
  g_assert_true (lpa_host_name_is_valid (max_label));
  long_label = g_strconcat (label->str, "a.com", NULL);
  g_assert_false (lpa_host_name_is_valid (long_label));
}

/* The rules esimd and esimctl both apply to what a person or a program hands them (issue 11,
 * items 16, 18-20): one rule and one sentence each, wherever the value comes from. */
static void
test_input_rules (void)
{
  static const char matching_rule[] =
      "the matching ID may hold only the letters A-Z and a-z, the digits 0-9 and '-'";
  g_autofree char *long_id = g_strnfill (256, 'A');
  g_autofree char *long_cc = g_strnfill (33, '1');
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaActivationCode) bom = NULL;
  g_autoptr (LpaActivationCode) lower = NULL;

  /* Matching IDs: either case, digits and '-'; the parser says the same sentence. */
  g_assert_null (lpa_matching_id_problem ("ABC-123"));
  g_assert_null (lpa_matching_id_problem ("abc-123"));
  g_assert_null (lpa_matching_id_problem (""));
  g_assert_cmpstr (lpa_matching_id_problem ("AB_C"), ==, matching_rule);
  g_assert_cmpstr (lpa_matching_id_problem ("AB\nC"), ==, matching_rule);
  g_assert_nonnull (strstr (lpa_matching_id_problem (long_id), "255"));
  lower = lpa_activation_code_parse ("1$rsp.example.com$abc-123", &error);
  g_assert_no_error (error);
  g_assert_null (lpa_activation_code_parse ("1$rsp.example.com$AB_C", &error));
  g_assert_nonnull (strstr (error->message, matching_rule));
  g_clear_error (&error);

  /* A byte order mark in front is ignored; garbage in front is not "an unsupported format". */
  bom = lpa_activation_code_parse ("\xEF\xBB\xBFLPA:1$rsp.example.com$ABC", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (bom->smdp_address, ==, "rsp.example.com");
  g_assert_null (lpa_activation_code_parse ("\xC2\xA0LPA:1$rsp.example.com$ABC", &error));
  g_assert_nonnull (strstr (error->message, "does not start with a format number"));
  g_clear_error (&error);

  /* Nicknames: UTF-8, no control character, at most 64 bytes. */
  g_assert_null (lpa_nickname_problem ("Work – Zürich"));
  g_assert_null (lpa_nickname_problem (""));
  g_assert_nonnull (lpa_nickname_problem ("bad \xFF"));
  g_assert_nonnull (lpa_nickname_problem ("two\nlines"));
  g_assert_nonnull (lpa_nickname_problem ("tab\there"));
  g_assert_nonnull (lpa_nickname_problem ("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
                                          "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
                                          "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
                                          "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
                                          "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
                                          "\xC3\xA9\xC3\xA9\xC3\xA9")); /* 33 characters, 66 bytes */

  /* Confirmation codes: one line of text, 1 to 32 bytes; the message never quotes the code. */
  g_assert_null (lpa_confirmation_code_problem ("12345678"));
  g_assert_nonnull (lpa_confirmation_code_problem (""));
  g_assert_nonnull (lpa_confirmation_code_problem ("1234\n5678"));
  g_assert_nonnull (strstr (lpa_confirmation_code_problem (long_cc), "32"));
  g_assert_null (strstr (lpa_confirmation_code_problem (long_cc), "111"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/activation-code/input-rules", test_input_rules);
  g_test_add_func ("/activation-code/examples", test_examples);
  g_test_add_func ("/activation-code/rejects", test_rejects);
  g_test_add_func ("/activation-code/build", test_build);
  g_test_add_func ("/activation-code/host-names", test_host_names);
  return g_test_run ();
}
