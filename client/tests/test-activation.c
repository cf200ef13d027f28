/* test-activation.c — the SM-DP+ address and confirmation-code flag esimctl reads from a code. */
#include "activation.h"

static void
test_peek (void)
{
  static const struct
  {
    const char *code;
    gboolean shaped;
    const char *smdp;
    gboolean cc;
  } cases[] = {
    { "LPA:1$SMDP.EXAMPLE.COM$04386-AGYFT-A74Y8-3F815", TRUE, "SMDP.EXAMPLE.COM", FALSE },
    { "1$SMDP.EXAMPLE.COM$04386-AGYFT-A74Y8-3F815", TRUE, "SMDP.EXAMPLE.COM", FALSE },
    { "lpa:1$smdp.example.com$X", TRUE, "smdp.example.com", FALSE },
    { "  LPA:1$smdp.example.com$X$$1\n", TRUE, "smdp.example.com", TRUE },
    { "1$smdp.example.com$X$1.3.6.1.4.1.31746$1", TRUE, "smdp.example.com", TRUE },
    { "1$smdp.example.com$X$1.3.6.1.4.1.31746", TRUE, "smdp.example.com", FALSE },
    { "1$smdp.example.com$X$$", TRUE, "smdp.example.com", FALSE },
    { "1$smdp.example.com$X$$0", TRUE, "smdp.example.com", FALSE },
    /* Later versions add fields after the flag. */
    { "1$smdp.example.com$X$$1$ci-key$more", TRUE, "smdp.example.com", TRUE },
    /* An empty matching ID is allowed. */
    { "1$SMDP.GSMA.COM$$1.3.6.1.4.1.31746", TRUE, "SMDP.GSMA.COM", FALSE },
    /* Not shaped like one: esimd decides, esimctl only does not look inside. */
    { "", FALSE, NULL, FALSE },
    { "LPA:", FALSE, NULL, FALSE },
    { "2$smdp.example.com$X", FALSE, NULL, FALSE },
    { "1$smdp.example.com", FALSE, NULL, FALSE },
    { "1$$X$$1", FALSE, NULL, FALSE },
    { "https://smdp.example.com", FALSE, NULL, FALSE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *smdp = NULL;
      gboolean cc = TRUE;
      gboolean shaped = esimctl_activation_code_peek (cases[i].code, &smdp, &cc);

      g_test_message ("case %" G_GSIZE_FORMAT ": %s", i, cases[i].code);
      g_assert_cmpint (shaped, ==, cases[i].shaped);
      g_assert_cmpstr (smdp, ==, cases[i].smdp);
      g_assert_cmpint (cc, ==, cases[i].cc);
    }
}

static void
test_peek_optional_outputs (void)
{
  gboolean cc = FALSE;
  g_autofree char *smdp = NULL;

  g_assert_true (esimctl_activation_code_peek ("1$a.b$X$$1", NULL, &cc));
  g_assert_true (cc);
  g_assert_true (esimctl_activation_code_peek ("1$a.b$X$$1", &smdp, NULL));
  g_assert_cmpstr (smdp, ==, "a.b");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/activation/peek", test_peek);
  g_test_add_func ("/activation/peek-optional-outputs", test_peek_optional_outputs);
  return g_test_run ();
}
