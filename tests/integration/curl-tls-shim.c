/* curl-tls-shim.c — LD_PRELOADed into esimd by test_tls_backend.py: libcurl as it is, except that
 * curl_version_info() names the TLS library given in ESIMD_TEST_CURL_TLS, as a libcurl built with
 * another TLS backend would. (_GNU_SOURCE, for RTLD_NEXT, comes from the build.) */
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdlib.h>

curl_version_info_data *
curl_version_info (CURLversion version)
{
  static curl_version_info_data copy;
  curl_version_info_data *(*real) (CURLversion) = dlsym (RTLD_NEXT, "curl_version_info");
  const char *tls = getenv ("ESIMD_TEST_CURL_TLS");

  copy = *real (version);
  copy.ssl_version = tls && *tls ? tls : NULL;
  return &copy;
}
