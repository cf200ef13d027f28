/* secret.h — holding secrets (matching IDs, confirmation codes, and every buffer built from them:
 * the activation code, ctxParams1, the AuthenticateServer request and answer, the JSON that
 * carries them, hashCc and its inputs). Every owner of such a buffer frees it with these
 * functions, which overwrite it first (explicit_bzero(), which the compiler may not drop). GLib
 * frees a buffer it grows (GString, GByteArray, g_realloc) without wiping the old block: buffers
 * that hold a secret are sized up front or grown with lpa_secret_byte_array_reserve(). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Overwrites @len bytes at @data (NULL is allowed with 0). */
void lpa_secret_wipe (gpointer data, gsize len);

/* A string that holds a secret: zeroed up to its NUL before it is freed. */
typedef char LpaSecret;
void lpa_secret_free (LpaSecret *secret);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaSecret, lpa_secret_free)

/* A string vector (g_strsplit()) whose strings may hold a secret. */
typedef char **LpaSecretStrv;
void lpa_secret_strv_free (char **strv);
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (LpaSecretStrv, lpa_secret_strv_free, NULL)

/* A GBytes whose data is overwritten when its last reference goes: a copy of @data, or @data
 * itself (g_malloc()ed, @len bytes) taken over. Slices (g_bytes_new_from_bytes()) keep it. */
GBytes *lpa_secret_bytes_new (gconstpointer data, gsize len);
GBytes *lpa_secret_bytes_new_take (gpointer data, gsize len);

/* A GByteArray that may hold a secret: created with room for @capacity bytes, grown only with
 * lpa_secret_byte_array_reserve() (a new block, the old one wiped, instead of GLib's
 * realloc()), and freed wiped, or turned into a wiping GBytes. The caller keeps the capacity. */
GByteArray *lpa_secret_byte_array_new (gsize capacity);
void lpa_secret_byte_array_reserve (GByteArray **array, gsize *capacity, gsize extra);
void lpa_secret_byte_array_free (GByteArray *array);
GBytes *lpa_secret_byte_array_free_to_bytes (GByteArray *array);

G_END_DECLS
