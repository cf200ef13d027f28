/* test-output.c — esimctl's table layout, terminal-safe text, snake_case names and JSON mapping. */
#include "errors.h"
#include "output.h"

#include <gio/gio.h>

static void
test_table_layout (void)
{
  const char *headers[] = { "ICCID", "STATE", "NAME" };
  g_autoptr (EsimctlTable) t = esimctl_table_new (3, headers);
  g_autofree char *text = NULL;

  esimctl_table_add (t, "8944476500001224158", "enabled", "Main");
  esimctl_table_add (t, "89444765000012241", "disabled", "");
  g_assert_cmpuint (esimctl_table_rows (t), ==, 2);
  text = esimctl_table_render (t, FALSE);
  /* Columns as wide as their widest cell plus two; nothing after the last column; "" is "-". */
  g_assert_cmpstr (text, ==,
                   "ICCID                STATE     NAME\n"
                   "8944476500001224158  enabled   Main\n"
                   "89444765000012241    disabled  -\n");
}

static void
test_table_wide_and_combining (void)
{
  g_autoptr (EsimctlTable) t = esimctl_table_new (2, NULL);
  g_autofree char *text = NULL;

  /* 日本 takes four columns; "é" written as e + U+0301 takes one. */
  esimctl_table_add (t, "日本", "x");
  esimctl_table_add (t, "e\xcc\x81", "y");
  esimctl_table_add (t, "abcde", "z");
  text = esimctl_table_render (t, FALSE);
  g_assert_cmpstr (text, ==,
                   "日本   x\n"
                   "e\xcc\x81      y\n"
                   "abcde  z\n");
}

static void
test_table_blank_and_bold (void)
{
  const char *headers[] = { "A", "B" };
  g_autoptr (EsimctlTable) list = esimctl_table_new (2, NULL);
  g_autoptr (EsimctlTable) t = esimctl_table_new (2, headers);
  g_autofree char *text = NULL;
  g_autofree char *bold = NULL;

  /* NULL is a blank continuation cell; a blank last cell leaves no trailing spaces. */
  esimctl_table_add (list, "Keys:", "one");
  esimctl_table_add (list, NULL, "two");
  esimctl_table_add (list, "Profile:", NULL);
  text = esimctl_table_render (list, FALSE);
  g_assert_cmpstr (text, ==,
                   "Keys:     one\n"
                   "          two\n"
                   "Profile:\n");

  esimctl_table_add (t, "1", "2");
  bold = esimctl_table_render (t, TRUE);
  g_assert_cmpstr (bold, ==, "\033[1mA  B\033[0m\n1  2\n");
}

static void
test_text_width (void)
{
  g_assert_cmpuint (esimctl_text_width (""), ==, 0);
  g_assert_cmpuint (esimctl_text_width ("abc"), ==, 3);
  g_assert_cmpuint (esimctl_text_width ("Opérateur"), ==, 9);
  g_assert_cmpuint (esimctl_text_width ("日本"), ==, 4);
  g_assert_cmpuint (esimctl_text_width ("e\xcc\x81"), ==, 1);
  /* Invalid UTF-8: one column per byte. */
  g_assert_cmpuint (esimctl_text_width ("a\xff\xfe"), ==, 3);
}

static void
test_sanitize (void)
{
  g_autofree char *esc = esimctl_text_sanitize ("Test \033[31mred\033]0;title\007");
  g_autofree char *nl = esimctl_text_sanitize ("two\nlines\r");
  g_autofree char *bad = esimctl_text_sanitize ("a\xff"
                                                "b");
  g_autofree char *fine = esimctl_text_sanitize ("Opérateur 日本");

  /* No byte a terminal would act on survives. */
  g_assert_null (strchr (esc, '\033'));
  g_assert_null (strchr (esc, '\007'));
  g_assert_cmpstr (esc, ==, "Test \xef\xbf\xbd[31mred\xef\xbf\xbd]0;title\xef\xbf\xbd");
  g_assert_cmpstr (nl, ==, "two\xef\xbf\xbdlines\xef\xbf\xbd");
  g_assert_true (g_utf8_validate (bad, -1, NULL));
  g_assert_cmpstr (bad, ==,
                   "a\xef\xbf\xbd"
                   "b");
  g_assert_cmpstr (fine, ==, "Opérateur 日本");
}

static void
test_snake_case (void)
{
  static const char *const cases[][2] = {
    { "Eid", "eid" },
    { "FreeNonVolatileMemory", "free_non_volatile_memory" },
    { "IsdpAid", "isdp_aid" },
    { "ServiceProvider", "service_provider" },
    { "DefaultSmdpAddress", "default_smdp_address" },
    { "ProfileMetadata", "profile_metadata" },
    { "SMDPAddress", "smdp_address" },
    { "Ts102241Version", "ts102241_version" },
    { "already_snake", "already_snake" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got = esimctl_snake_case (cases[i][0]);

      g_assert_cmpstr (got, ==, cases[i][1]);
    }
}

static char *
to_json (JsonNode *node)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();

  json_generator_set_root (gen, node);
  return json_generator_to_data (gen, NULL);
}

static void
test_json_from_variant (void)
{
  static const guint8 icon[] = { 0x89, 'P', 'N', 'G' };
  g_autoptr (GVariant) v = g_variant_ref_sink (g_variant_new_parsed (
      "{'iccid': <'8944476500001224158'>, 'seq': <uint32 7>, 'free_nvm': <uint64 300000>, "
      "'enabled': <true>, 'progress': <0.5>, 'icon': <%@ay>, 'rules': <['ppr1', 'ppr2']>, "
      "'path': <objectpath '/org/esim/euicc/0'>, 'meta': <{'name': <'x'>}>, "
      "'list': <[{'a': <int32 -1>}]>}",
      g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, icon, sizeof icon, 1)));
  g_autoptr (JsonNode) node = esimctl_json_from_variant (v);
  g_autofree char *text = to_json (node);

  g_assert_cmpstr (text, ==,
                   "{\"iccid\":\"8944476500001224158\",\"seq\":7,\"free_nvm\":300000,"
                   "\"enabled\":true,\"progress\":0.5,\"icon\":\"iVBORw==\","
                   "\"rules\":[\"ppr1\",\"ppr2\"],\"path\":\"/org/esim/euicc/0\","
                   "\"meta\":{\"name\":\"x\"},\"list\":[{\"a\":-1}]}");
}

static void
test_json_from_properties (void)
{
  g_autoptr (GVariant) props = g_variant_ref_sink (g_variant_new_parsed (
      "{'Eid': <'89049032'>, 'PendingNotifications': <uint32 2>, "
      "'ActiveProfile': <objectpath '/'>, 'ProfileMetadata': <{'service_provider': <'X'>}>}"));
  g_autoptr (JsonObject) obj = esimctl_json_from_properties (props);
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), obj);
  g_autofree char *text = to_json (node);

  /* Top-level names become snake_case; the keys of nested dictionaries stay as esimd sent;
   * the path "/" (no object) is null. */
  g_assert_cmpstr (text, ==,
                   "{\"eid\":\"89049032\",\"pending_notifications\":2,\"active_profile\":null,"
                   "\"profile_metadata\":{\"service_provider\":\"X\"}}");
}

/* The pretty form esimctl prints: empty containers are {} and [] (json-glib writes an empty
 * object as "{      }"), strings escaped, nesting two spaces a level. */
static void
test_json_print (void)
{
  g_autoptr (GVariant) props = g_variant_ref_sink (g_variant_new_parsed (
      "{'Result': <@a{sv} {}>, 'Rules': <@as []>, 'Name': <'a \"b\"\\n'>, "
      "'Job': <objectpath '/org/esim/job/3'>, 'Nested': <{'k': <{'x': <int32 1>}>}>}"));
  g_autoptr (JsonObject) obj = esimctl_json_from_properties (props);
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), obj);
  g_autoptr (JsonNode) empty = json_node_init_object (json_node_alloc (), json_object_new ());
  char *buf = NULL;
  size_t len = 0;
  FILE *out = open_memstream (&buf, &len);

  json_object_unref (json_node_get_object (empty));
  esimctl_json_print (node, FALSE, out);
  esimctl_json_print (empty, FALSE, out);
  esimctl_json_print (node, TRUE, out);
  fclose (out);
  g_assert_cmpstr (buf, ==,
                   "{\n"
                   "  \"result\" : {},\n"
                   "  \"rules\" : [],\n"
                   "  \"name\" : \"a \\\"b\\\"\\n\",\n"
                   "  \"job\" : \"/org/esim/job/3\",\n"
                   "  \"nested\" : {\n"
                   "    \"k\" : {\n"
                   "      \"x\" : 1\n"
                   "    }\n"
                   "  }\n"
                   "}\n"
                   "{}\n"
                   "{\"result\":{},\"rules\":[],\"name\":\"a \\\"b\\\"\\n\",\"job\":\"/org/esim/job/3\","
                   "\"nested\":{\"k\":{\"x\":1}}}\n");
  free (buf);
}

static void
test_json_error (void)
{
  g_autoptr (GError) remote =
      esimctl_error_new_remote ("org.esim.Error.WrongProfileState", "profile is enabled");
  g_autoptr (GError) local = g_error_new (ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE, "bad ICCID");
  g_autoptr (JsonNode) r = esimctl_json_error (remote);
  g_autoptr (JsonNode) l = esimctl_json_error (local);
  g_autofree char *rt = to_json (r);
  g_autofree char *lt = to_json (l);

  g_assert_cmpstr (rt, ==,
                   "{\"name\":\"org.esim.Error.WrongProfileState\",\"message\":\"profile is "
                   "enabled\",\"exit_status\":1}");
  g_assert_cmpstr (lt, ==, "{\"name\":null,\"message\":\"bad ICCID\",\"exit_status\":2}");
}

static void
test_format_value (void)
{
  static const struct
  {
    const char *variant;
    const char *text;
  } cases[] = {
    { "'plain'", "plain" },
    { "<'inside a variant'>", "inside a variant" },
    { "true", "yes" },
    { "false", "no" },
    { "uint32 42", "42" },
    { "uint64 300000", "300000" },
    { "0.125", "0.12" },
    { "['usim', 'isim']", "usim, isim" },
    { "@as []", "" },
    { "[objectpath '/org/esim/euicc/0/profile/1', '/org/esim/euicc/0/profile/2']",
      "/org/esim/euicc/0/profile/1, /org/esim/euicc/0/profile/2" },
    { "@ao []", "" },
    { "[byte 1, 2, 3]", "3 bytes" },
    { "{'state': <'running'>, 'progress': <0.5>}", "{state=running, progress=0.50}" },
    { "'esc\x1b[2J'", "esc\xef\xbf\xbd[2J" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GVariant) v = g_variant_ref_sink (g_variant_new_parsed (cases[i].variant));
      g_autofree char *text = esimctl_format_value (v);

      g_assert_cmpstr (text, ==, cases[i].text);
    }
}

static void
test_dict_str (void)
{
  g_autoptr (GVariant) d = g_variant_ref_sink (
      g_variant_new_parsed ("{'s': <'x'>, 'o': <objectpath '/a'>, 'u': <uint32 1>}"));

  g_assert_cmpstr (esimctl_dict_str (d, "s"), ==, "x");
  g_assert_cmpstr (esimctl_dict_str (d, "o"), ==, "/a");
  g_assert_cmpstr (esimctl_dict_str (d, "u"), ==, "");
  g_assert_cmpstr (esimctl_dict_str (d, "missing"), ==, "");
  g_assert_cmpstr (esimctl_dict_str (NULL, "s"), ==, "");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/output/table/layout", test_table_layout);
  g_test_add_func ("/output/table/wide-and-combining", test_table_wide_and_combining);
  g_test_add_func ("/output/table/blank-and-bold", test_table_blank_and_bold);
  g_test_add_func ("/output/text-width", test_text_width);
  g_test_add_func ("/output/sanitize", test_sanitize);
  g_test_add_func ("/output/snake-case", test_snake_case);
  g_test_add_func ("/output/json/variant", test_json_from_variant);
  g_test_add_func ("/output/json/properties", test_json_from_properties);
  g_test_add_func ("/output/json/print", test_json_print);
  g_test_add_func ("/output/json/error", test_json_error);
  g_test_add_func ("/output/format-value", test_format_value);
  g_test_add_func ("/output/dict-str", test_dict_str);
  return g_test_run ();
}
