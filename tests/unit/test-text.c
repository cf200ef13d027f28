/* test-text.c — foreign text made safe for D-Bus and the log (lpa_text_sanitize), and the ES9+/
 * ES11 answers whose text used to reach them as it came (issue 11: a JSON \udc80). */
#include "unit-support.h"

static void
check (const char *in, gssize len, gsize max, LpaTextFlags flags, const char *expected)
{
  g_autofree char *out = lpa_text_sanitize (in, len, max, flags);

  g_assert_cmpstr (out, ==, expected);
  g_assert_true (g_utf8_validate (out, -1, NULL));
  g_assert_true (lpa_text_is_clean (out, -1, flags));
}

static void
test_sanitize (void)
{
  check ("plain ASCII", -1, 0, LPA_TEXT_ONE_LINE, "plain ASCII");
  check ("Zürich – ok", -1, 0, LPA_TEXT_ONE_LINE, "Zürich – ok");
  /* A lone surrogate as json-glib decodes \udc80 (CESU-8 ED B3 80): one U+FFFD per byte. */
  check ("a\xED\xB3\x80z", -1, 0, LPA_TEXT_ONE_LINE, "a\uFFFD\uFFFD\uFFFDz");
  check ("stray \xFF byte", -1, 0, LPA_TEXT_ONE_LINE, "stray \uFFFD byte");
  check ("cut \xC3", -1, 0, LPA_TEXT_ONE_LINE, "cut \uFFFD");
  /* Control characters: a newline would forge a log line, ESC drive a terminal. */
  check ("a\nb\tc\r\x1b[2J\x7f\xC2\x9B", -1, 0, LPA_TEXT_ONE_LINE,
         "a\uFFFDb\uFFFDc\uFFFD\uFFFD[2J\uFFFD\uFFFD");
  check ("a\nb\tc\r", -1, 0, LPA_TEXT_KEEP_NEWLINES, "a\nb\tc\uFFFD");
  /* A NUL inside the given length is a control character, not the end. */
  check ("a\0b", 3, 0, LPA_TEXT_ONE_LINE, "a\uFFFDb");
  /* Cut at a character boundary, then "…". */
  check ("abcdef", -1, 4, LPA_TEXT_ONE_LINE, "abcd\u2026");
  check ("abcd", -1, 4, LPA_TEXT_ONE_LINE, "abcd");
  check ("ab\u00e9\u00e9", -1, 4, LPA_TEXT_ONE_LINE, "ab\u00e9\u2026");
  g_assert_null (lpa_text_sanitize (NULL, -1, 0, LPA_TEXT_ONE_LINE));

  g_assert_true (lpa_text_is_clean ("Zürich", -1, LPA_TEXT_ONE_LINE));
  g_assert_true (lpa_text_is_clean (NULL, -1, LPA_TEXT_ONE_LINE));
  g_assert_false (lpa_text_is_clean ("a\nb", -1, LPA_TEXT_ONE_LINE));
  g_assert_true (lpa_text_is_clean ("a\nb", -1, LPA_TEXT_KEEP_NEWLINES));
  g_assert_false (lpa_text_is_clean ("a\xED\xB3\x80", -1, LPA_TEXT_KEEP_NEWLINES));
  g_assert_false (lpa_text_is_clean ("a\0b", 3, LPA_TEXT_KEEP_NEWLINES));
  g_assert_false (lpa_text_is_clean ("\xC2\x85", -1, LPA_TEXT_KEEP_NEWLINES)); /* C1 NEL */
}

static GBytes *
body (const char *s)
{
  return g_bytes_new (s, strlen (s));
}

/* A Failed answer whose message (and codes) hold a JSON \udc80 and a forged log line: the error
 * is valid UTF-8 on one line, and says what it can. */
static void
test_failed_answer (void)
{
  g_autoptr (GBytes) b =
      body ("{\"header\":{\"functionExecutionStatus\":{\"status\":\"Failed\",\"statusCodeData\":"
            "{\"subjectCode\":\"8.2.6\",\"reasonCode\":\"3.8\",\"message\":"
            "\"bad \\udc80 text\\n** INFO: forged\\u001b[2J\"}}}}");
  g_autoptr (GBytes) huge = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *long_message = NULL;
  g_autofree char *json = NULL;

  g_assert_null (lpa_es9p_parse_authenticate_client (200, b, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MATCHING_ID_REFUSED);
  g_assert_true (lpa_text_is_clean (error->message, -1, LPA_TEXT_ONE_LINE));
  g_assert_nonnull (strstr (error->message, "matching ID refused; bad \uFFFD"));
  g_clear_error (&error);

  /* A 60 KB message is cut. */
  long_message = g_strnfill (60000, 'x');
  json = g_strdup_printf ("{\"header\":{\"functionExecutionStatus\":{\"status\":\"Failed\","
                          "\"statusCodeData\":{\"subjectCode\":\"8.1\",\"reasonCode\":\"%s\","
                          "\"message\":\"%s\"}}}}",
                          "6.1", long_message);
  huge = body (json);
  g_assert_false (lpa_es9p_parse_handle_notification (200, huge, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_SERVER_REJECTED);
  g_assert_cmpuint (strlen (error->message), <, 400);
  g_clear_error (&error);
}

/* A body json-glib refuses: its message quotes the bytes, made safe. */
static void
test_unparseable_answer (void)
{
  g_autoptr (GBytes) b = body ("{\"header\":{\"functionExecutionStatus\":{\"status\":\"Failed\","
                               "\"statusCodeData\":{\"subjectCode\":\"8.2.6\\udc80\"}}}}");
  g_autoptr (GError) error = NULL;

  g_assert_null (lpa_es9p_parse_authenticate_client (200, b, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
  g_assert_true (lpa_text_is_clean (error->message, -1, LPA_TEXT_ONE_LINE));
}

/* An event ID is the matching ID of the event's download, which refuses text that is not UTF-8
 * or holds a control character: such an event is left out on its own, the others kept. */
static void
test_event_ids (void)
{
  g_autoptr (GBytes) b =
      body ("{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\"}},"
            "\"transactionId\":\"0A0B\",\"eventEntries\":["
            "{\"eventId\":\"EV-\\udc80 1\",\"rspServerAddress\":\"smdp.example.com\"},"
            "{\"eventId\":\"EV-\\n2\",\"rspServerAddress\":\"smdp.example.com\"},"
            "{\"eventId\":\"EV-3\",\"rspServerAddress\":\"smdp.example.com\"}]}");
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaEs11AuthenticateClientResponse) r =
      lpa_es11_parse_authenticate_client (200, b, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (r->events->len, ==, 1);
  g_assert_cmpuint (r->skipped, ==, 2);
  g_assert_cmpstr (((LpaEventEntry *) g_ptr_array_index (r->events, 0))->event_id, ==, "EV-3");
}

/* A code pasted with the white space around it is the code; what is inside stays as it is. */
static void
test_strip (void)
{
  static const struct
  {
    const char *in, *out;
  } cases[] = {
    { "12345678", "12345678" },
    { " 12345678\n", "12345678" },
    { "\t12345678\r\n", "12345678" },
    { "\u00A012345678\u00A0", "12345678" }, /* no-break space, from an HTML e-mail */
    { "\uFEFF12345678\u200B", "12345678" }, /* byte order mark, zero-width space */
    { "1234 5678", "1234 5678" },           /* inside: the code's own */
    { "12\n34", "12\n34" },                 /* inside: refused later, not hidden */
    { " \n\t ", "" },
    { "", "" },
    { "\xff 1 ", "\xff 1 " }, /* not UTF-8: as it is, for the check to refuse */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = lpa_text_strip (cases[i].in);

      g_assert_cmpstr (out, ==, cases[i].out);
    }
  g_assert_null (lpa_text_strip (NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/text/sanitize", test_sanitize);
  g_test_add_func ("/text/strip", test_strip);
  g_test_add_func ("/text/es9p-failed-answer", test_failed_answer);
  g_test_add_func ("/text/es9p-unparseable-answer", test_unparseable_answer);
  g_test_add_func ("/text/es11-event-ids", test_event_ids);
  return g_test_run ();
}
