/* fuzz.h — what every harness shares: the libFuzzer entry point, fatal property checks, helpers. */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

/* Defined by each harness; called by libFuzzer, or by fuzz-main.c once per corpus file. */
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* A property of the parser's output that does not hold. Sanitizers only see memory and UB
 * errors; these checks make the fuzzers (and the replayed corpus) catch wrong answers too.
 * abort() rather than g_assert(): G_DISABLE_ASSERT must not turn a harness into a no-op. */
#define FUZZ_CHECK(cond)                                                                           \
  do                                                                                               \
    {                                                                                              \
      if (G_UNLIKELY (!(cond)))                                                                    \
        fuzz_fail (G_STRLOC, #cond);                                                               \
    }                                                                                              \
  while (0)

G_NORETURN void fuzz_fail (const char *where, const char *what);

/* Once per process: GLib criticals and warnings abort, so a g_return_if_fail() reached from
 * untrusted bytes is a finding, not a log line. */
void fuzz_setup (void);

/* A parser that failed must say why in liblpa's error domain. */
void fuzz_check_error (const GError *error);

/* The input as the transports hand it over: g_bytes_new(), so an empty input is a GBytes whose
 * data pointer is NULL, exactly like an empty response from the modem or a server. */
GBytes *fuzz_bytes (const uint8_t *data, size_t size);

/* TRUE if @a holds exactly @len bytes equal to @data. */
gboolean fuzz_bytes_equal (GBytes *a, const guint8 *data, gsize len);

/* TRUE if @text is a non-empty string of ASCII digits. */
gboolean fuzz_all_digits (const char *text);

G_END_DECLS
