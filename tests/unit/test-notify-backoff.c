/* test-notify-backoff.c — the back-off of notification delivery is per server address (issue 11,
 * item 6: one unreachable server held back every other server's notifications). */
#include "notify-backoff.h"

#include <glib.h>

#define S(x) ((gint64) (x) *G_USEC_PER_SEC)

/* A failing server waits; another is due at once; the wait doubles up to the maximum. */
static void
test_per_server (void)
{
  g_autoptr (EsimdNotifyBackoff) b = esimd_notify_backoff_new (30, 100);
  gint64 t0 = S (1000);

  g_assert_true (esimd_notify_backoff_is_due (b, "dead.example", t0));
  g_assert_cmpuint (esimd_notify_backoff_failed (b, "dead.example", t0), ==, 30);
  g_assert_false (esimd_notify_backoff_is_due (b, "dead.example", t0));
  g_assert_false (esimd_notify_backoff_is_due (b, "dead.example", t0 + S (29)));
  g_assert_true (esimd_notify_backoff_is_due (b, "dead.example", t0 + S (30)));
  /* the other server is not held back */
  g_assert_true (esimd_notify_backoff_is_due (b, "smdp.example", t0));
  g_assert_true (esimd_notify_backoff_is_due (b, NULL, t0));

  g_assert_cmpuint (esimd_notify_backoff_failed (b, "dead.example", t0 + S (30)), ==, 60);
  g_assert_cmpint (esimd_notify_backoff_due_time (b, "dead.example"), ==, t0 + S (90));
  g_assert_cmpuint (esimd_notify_backoff_failed (b, "dead.example", t0 + S (90)), ==, 100);
  g_assert_cmpuint (esimd_notify_backoff_failed (b, "dead.example", t0 + S (190)), ==, 100);
  g_assert_cmpuint (esimd_notify_backoff_current (b, "dead.example"), ==, 100);

  /* a success forgets the failures */
  esimd_notify_backoff_succeeded (b, "dead.example");
  g_assert_true (esimd_notify_backoff_is_due (b, "dead.example", t0 + S (190)));
  g_assert_cmpuint (esimd_notify_backoff_current (b, "dead.example"), ==, 0);
  g_assert_cmpuint (esimd_notify_backoff_failed (b, "dead.example", t0 + S (200)), ==, 30);
}

/* The address is the eUICC's notificationAddress: blanks around it and case do not matter. */
static void
test_address_key (void)
{
  g_autoptr (EsimdNotifyBackoff) b = esimd_notify_backoff_new (30, 100);
  g_autofree char *key = esimd_notify_backoff_key ("  SMDP.Example.COM \n");
  g_autofree char *none = esimd_notify_backoff_key (NULL);

  g_assert_cmpstr (key, ==, "smdp.example.com");
  g_assert_cmpstr (none, ==, "");
  esimd_notify_backoff_failed (b, "smdp.example.com", S (1));
  g_assert_false (esimd_notify_backoff_is_due (b, " SMDP.example.com", S (2)));
  g_assert_cmpuint (esimd_notify_backoff_current (b, "Smdp.Example.Com"), ==, 30);
}

/* A fresh notification releases its server at once, keeping the count; the modem's return
 * releases all. */
static void
test_release (void)
{
  g_autoptr (EsimdNotifyBackoff) b = esimd_notify_backoff_new (10, 1000);

  esimd_notify_backoff_failed (b, "a.example", S (0));
  esimd_notify_backoff_failed (b, "a.example", S (10));
  esimd_notify_backoff_failed (b, "b.example", S (10));
  esimd_notify_backoff_release (b, "a.example");
  g_assert_true (esimd_notify_backoff_is_due (b, "a.example", S (11)));
  g_assert_false (esimd_notify_backoff_is_due (b, "b.example", S (11)));
  /* released, not forgiven: the next failure doubles on */
  g_assert_cmpuint (esimd_notify_backoff_failed (b, "a.example", S (11)), ==, 40);
  esimd_notify_backoff_release (b, NULL);
  g_assert_true (esimd_notify_backoff_is_due (b, "a.example", S (12)));
  g_assert_true (esimd_notify_backoff_is_due (b, "b.example", S (12)));
  /* releasing an address that never failed is harmless */
  esimd_notify_backoff_release (b, "c.example");
  g_assert_true (esimd_notify_backoff_is_due (b, "c.example", S (12)));
}

/* A caller cancelled the delivery: the server waits its current back-off (at least the initial
 * one) without it growing. */
static void
test_postpone (void)
{
  g_autoptr (EsimdNotifyBackoff) b = esimd_notify_backoff_new (30, 1000);

  esimd_notify_backoff_postpone (b, "a.example", S (100));
  g_assert_false (esimd_notify_backoff_is_due (b, "a.example", S (129)));
  g_assert_true (esimd_notify_backoff_is_due (b, "a.example", S (130)));
  g_assert_cmpuint (esimd_notify_backoff_current (b, "a.example"), ==, 0);
  g_assert_cmpuint (esimd_notify_backoff_failed (b, "a.example", S (130)), ==, 30);
  g_assert_cmpuint (esimd_notify_backoff_failed (b, "a.example", S (160)), ==, 60);
  esimd_notify_backoff_postpone (b, "a.example", S (170));
  g_assert_cmpint (esimd_notify_backoff_due_time (b, "a.example"), ==, S (230));
  g_assert_cmpuint (esimd_notify_backoff_current (b, "a.example"), ==, 60);
  /* never earlier than a wait already running */
  esimd_notify_backoff_failed (b, "a.example", S (230));
  esimd_notify_backoff_postpone (b, "a.example", S (231));
  g_assert_cmpint (esimd_notify_backoff_due_time (b, "a.example"), ==, S (351));
}

/* RetryMax below RetryInitial is raised to it (esimd.conf(5)). */
static void
test_bounds (void)
{
  g_autoptr (EsimdNotifyBackoff) b = esimd_notify_backoff_new (60, 10);

  g_assert_cmpuint (esimd_notify_backoff_failed (b, "a", 0), ==, 60);
  g_assert_cmpuint (esimd_notify_backoff_failed (b, "a", 0), ==, 60);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/notify-backoff/per-server", test_per_server);
  g_test_add_func ("/notify-backoff/address-key", test_address_key);
  g_test_add_func ("/notify-backoff/release", test_release);
  g_test_add_func ("/notify-backoff/postpone", test_postpone);
  g_test_add_func ("/notify-backoff/bounds", test_bounds);
  return g_test_run ();
}
