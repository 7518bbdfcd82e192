// The native side of RowChecksum (checksum.ts, hesaab-row-sum-v1): one call per COPY chunk walks its
// lines and sums their SHA-256 prefixes, instead of one JS → C++ call, two Buffers and an indexOf per row.
//
// SHA-256 is the OpenSSL that Node itself carries (<openssl/evp.h> from Node's headers): the addon links
// no library, its symbols resolve against the node binary when it is loaded, as node-gyp addons' do
// (official Node builds and Debian's export them). The digest is fetched once per environment and one
// context serves a whole chunk: OpenSSL 3's one-shot SHA256() looks the algorithm up on every call,
// which cost more than twice the CPU of the hashing itself on 150-byte rows.
#include <node_api.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

// What checksum.ts expects: bump it with any change of sumRows.
#define ROWSUM_VERSION 1

// The first 8 bytes of SHA-256(row), big-endian; false when OpenSSL failed.
static bool row_hash(EVP_MD_CTX *ctx, const EVP_MD *sha256, const unsigned char *row, size_t len, uint64_t *h) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  if (!EVP_DigestInit_ex2(ctx, sha256, NULL) || !EVP_DigestUpdate(ctx, row, len) || !EVP_DigestFinal_ex(ctx, digest, NULL)) return false;
  *h = 0;
  for (int i = 0; i < 8; i++) *h = (*h << 8) | digest[i];
  return true;
}

static napi_value number(napi_env env, double value) {
  napi_value v = NULL;
  napi_create_double(env, value, &v);
  return v;
}

// sumRows(chunk: Uint8Array, from: number) → [hi, lo, rows, next]: every line of chunk[from…] that ends
// in a newline, hashed without it; hi and lo are the two 32-bit halves of their sum modulo 2^64, rows how
// many, next the offset after the last newline (chunk.length when the chunk ends with one). What follows
// `next` is a row cut in two: the caller keeps it.
static napi_value sum_rows_js(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  bool is_array = false;
  napi_typedarray_type type = napi_int8_array;
  unsigned char *data = NULL;
  size_t len = 0;
  int64_t from = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || napi_is_typedarray(env, argv[0], &is_array) != napi_ok ||
      !is_array || napi_get_typedarray_info(env, argv[0], &type, &len, (void **)&data, NULL, NULL) != napi_ok || type != napi_uint8_array ||
      napi_get_value_int64(env, argv[1], &from) != napi_ok || from < 0 || (uint64_t)from > len) {
    napi_throw_type_error(env, NULL, "rowsum: expected (Uint8Array chunk, offset 0 to chunk.length)");
    return NULL;
  }
  const EVP_MD *sha256 = NULL;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (ctx == NULL || napi_get_instance_data(env, (void **)&sha256) != napi_ok) {
    EVP_MD_CTX_free(ctx);
    napi_throw_error(env, NULL, "rowsum: out of memory");
    return NULL;
  }
  uint64_t sum = 0, h = 0;
  double rows = 0;
  size_t start = (size_t)from;
  for (;;) {
    const unsigned char *nl = start < len ? memchr(data + start, '\n', len - start) : NULL;
    if (nl == NULL) break;
    size_t end = (size_t)(nl - data);
    if (!row_hash(ctx, sha256, data + start, end - start, &h)) {
      EVP_MD_CTX_free(ctx);
      napi_throw_error(env, NULL, "rowsum: OpenSSL's SHA-256 failed");
      return NULL;
    }
    sum += h;  // unsigned overflow: exactly modulo 2^64
    rows++;
    start = end + 1;
  }
  EVP_MD_CTX_free(ctx);
  if (napi_create_array_with_length(env, 4, &result) != napi_ok || napi_set_element(env, result, 0, number(env, (double)(sum >> 32))) != napi_ok ||
      napi_set_element(env, result, 1, number(env, (double)(sum & 0xffffffffu))) != napi_ok || napi_set_element(env, result, 2, number(env, rows)) != napi_ok ||
      napi_set_element(env, result, 3, number(env, (double)start)) != napi_ok)
    return NULL;
  return result;
}

static void free_sha256(napi_env env, void *sha256, void *hint) {
  (void)env;
  (void)hint;
  EVP_MD_free(sha256);
}

NAPI_MODULE_INIT() {
  napi_value version, fn;
  EVP_MD *sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  if (sha256 == NULL) {
    napi_throw_error(env, NULL, "rowsum: OpenSSL has no SHA-256");
    return NULL;
  }
  if (napi_set_instance_data(env, sha256, free_sha256, NULL) != napi_ok) {
    EVP_MD_free(sha256);
    return NULL;
  }
  if (napi_create_int32(env, ROWSUM_VERSION, &version) != napi_ok || napi_set_named_property(env, exports, "version", version) != napi_ok ||
      napi_create_function(env, "sumRows", NAPI_AUTO_LENGTH, sum_rows_js, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "sumRows", fn) != napi_ok)
    return NULL;
  return exports;
}
