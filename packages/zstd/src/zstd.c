// zstd through the system's libzstd. Levels 1-19, as zstd's -1 … -19:
//
//   compressBound(length)                -> number           the most bytes a frame of `length` bytes can take
//   compressSync(input, level, output)   -> number           one frame, on the calling thread (small inputs)
//   compress(input, level, output)       -> Promise<number>  one frame, on libuv's thread pool
//   createDecompressor()                 -> handle           a streaming decoder (any number of frames)
//   decompress(handle, input, output)    -> [read, written, frameLeft]
//                                                            on the calling thread: decodes what fits into
//                                                            `output`; frameLeft 0 = every frame begun has ended
//
// Each compress call writes one complete zstd frame (with its content size and checksum) into
// `output` (at least compressBound bytes) and returns its size; the N-API side of these three is
// scripts/native/buffer-codec.h, shared with @hesaab/gzip. Decompression runs on the calling thread:
// a few ms of CPU per MiB, and a restore's COPY into PostgreSQL is what it waits on.
#include <zstd.h>
#include <zstd_errors.h>
#include <stdbool.h>
#include <stddef.h>

#define CODEC_NAME "zstd"
#define CODEC_ERROR_CODE "ERR_ZSTD"
#define CODEC_MAX_LEVEL 19

// A compression context is not thread-safe and keeps its tables between calls: one per thread, kept
// for the thread's life (the main thread and the pool's threads live as long as the process).
static _Thread_local ZSTD_CCtx *cctx;

static size_t codec_bound(size_t length) {
  return ZSTD_compressBound(length);
}

// The frame's size, or a zstd error code (ZSTD_isError); the context's parameters are set per call.
static size_t codec_compress(int level, const void *in, size_t in_len, void *out, size_t out_avail) {
  if (cctx == NULL) cctx = ZSTD_createCCtx();
  if (cctx == NULL) return (size_t)-ZSTD_error_memory_allocation;
  ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  size_t r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);  // zstd -d checks it, as gunzip checks gzip's CRC
  if (ZSTD_isError(r)) return r;
  return ZSTD_compress2(cctx, out, out_avail, in, in_len);
}

static bool codec_failed(size_t result) {
  return ZSTD_isError(result);
}

static const char *codec_error(size_t result) {
  return ZSTD_getErrorName(result);
}

#include "buffer-codec.h"

static void free_dctx(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  ZSTD_freeDCtx(data);
}

static napi_value create_decompressor(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value handle;
  ZSTD_DCtx *dctx = ZSTD_createDCtx();
  if (dctx == NULL) return throw_codec_error(env, (size_t)-ZSTD_error_memory_allocation);
  if (napi_create_external(env, dctx, free_dctx, NULL, &handle) != napi_ok) {
    ZSTD_freeDCtx(dctx);
    return NULL;
  }
  return handle;
}

static napi_value decompress(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result, n;
  void *dctx = NULL;
  ZSTD_inBuffer in = {NULL, 0, 0};
  ZSTD_outBuffer out = {NULL, 0, 0};
  napi_valuetype type = napi_undefined;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 || napi_typeof(env, argv[0], &type) != napi_ok ||
      type != napi_external || napi_get_value_external(env, argv[0], &dctx) != napi_ok || !get_bytes(env, argv[1], (void **)&in.src, &in.size) ||
      !get_output(env, argv[2], &out.dst, &out.size)) {
    napi_throw_type_error(env, NULL, "zstd: expected (decompressor, Uint8Array input, Buffer output)");
    return NULL;
  }
  size_t left = ZSTD_decompressStream(dctx, &out, &in);
  if (ZSTD_isError(left)) return throw_codec_error(env, left);
  int64_t values[3] = {(int64_t)in.pos, (int64_t)out.pos, (int64_t)left};
  if (napi_create_array_with_length(env, 3, &result) != napi_ok) return NULL;
  for (uint32_t i = 0; i < 3; i++) {
    if (napi_create_int64(env, values[i], &n) != napi_ok || napi_set_element(env, result, i, n) != napi_ok) return NULL;
  }
  return result;
}

NAPI_MODULE_INIT() {
  if (!codec_export(env, exports, 1, "compressBound", "compressSync", "compress") ||
      !export_function(env, exports, "createDecompressor", create_decompressor) || !export_function(env, exports, "decompress", decompress)) {
    return NULL;
  }
  return exports;
}
