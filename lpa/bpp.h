/* bpp.h — a Bound Profile Package cut into the segments LoadBoundProfilePackage sends. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Splits a received BF36 TLV into the ordered segments of SGP.22 §2.5.5 (digest §4.2), each to be
 * sent as its own ES10 STORE DATA sequence:
 *   1. the BF36 tag and length plus the whole BF23 TLV,
 *   2. the whole A0 TLV (ConfigureISDP 87),
 *   3. the A1 tag and length alone,  4. each 88 TLV,
 *   5. the whole A2 TLV if present (ReplaceSessionKeys 87),
 *   6. the A3 tag and length alone,  7. each 86 TLV.
 * Segments are slices of @bpp (no byte is copied or re-encoded). The structure is checked strictly:
 * one BF36 and nothing after it; BF23, A0, A1, [A2], A3 in that order and nothing else; A0/A2 hold
 * 87s, A1 only 88s, A3 only 86s, each at least one. Otherwise LPA_ERROR_MALFORMED. */
GPtrArray *lpa_bpp_segments (GBytes *bpp, GError **error);

/* The StoreMetadataRequest (BF25) the BPP carries: the values of its 88 TLVs without their
 * 8-byte MACs, concatenated (a copy; it is small). LPA_ERROR_MALFORMED if the BPP does not
 * decode, an 88 is shorter than its MAC, or the result is not one BF25 TLV. */
GBytes *lpa_bpp_metadata (GBytes *bpp, GError **error);

G_END_DECLS
