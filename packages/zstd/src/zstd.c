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
// `output` (at least compressBound bytes) and returns its size. While `compress` runs, neither buffer
// may be changed, detached or resized: N-API keeps the objects alive but cannot pin their memory, so
// the JavaScript side hands it private buffers only (index.ts). The output is allocated by the main
// thread: memory malloc'd on the pool's threads would stay in their own malloc arenas and grow the RSS.
// Decompression runs on the calling thread: it costs ~1 ms per MiB written, and a restore's COPY into
// PostgreSQL is what it waits on.
#include <zstd.h>
#include <zstd_errors.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define MAX_LEVEL 19
#define ADDON_VERSION 1

// A compression context is not thread-safe and keeps its tables between calls: one per thread, kept
// for the thread's life (the main thread and the pool's threads live as long as the process).
static _Thread_local ZSTD_CCtx *cctx;

// The frame's size, or a zstd error code (ZSTD_isError); the context's parameters are set per call.
static size_t compress(int level, const void *in, size_t in_len, void *out, size_t out_avail) {
  if (cctx == NULL) cctx = ZSTD_createCCtx();
  if (cctx == NULL) return (size_t)-ZSTD_error_memory_allocation;
  ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  size_t r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);  // zstd -d checks it, as gunzip checks gzip's CRC
  if (ZSTD_isError(r)) return r;
  return ZSTD_compress2(cctx, out, out_avail, in, in_len);
}

static napi_value throw_zstd(napi_env env, size_t code) {
  napi_throw_error(env, "ERR_ZSTD", ZSTD_getErrorName(code));
  return NULL;
}

typedef struct {
  void *data;
  size_t len;
  void *out;
  size_t out_avail;
  int level;
} args_t;

static bool get_bytes(napi_env env, napi_value value, void **data, size_t *len) {
  bool ok = false;
  napi_typedarray_type type = napi_int8_array;
  return napi_is_typedarray(env, value, &ok) == napi_ok && ok && napi_get_typedarray_info(env, value, &type, len, data, NULL, NULL) == napi_ok &&
         type == napi_uint8_array;
}

static bool get_output(napi_env env, napi_value value, void **data, size_t *len) {
  bool ok = false;
  return napi_is_buffer(env, value, &ok) == napi_ok && ok && napi_get_buffer_info(env, value, data, len) == napi_ok;
}

// (input, level, output) -> the bytes, or false with an exception pending.
static bool get_args(napi_env env, napi_callback_info info, napi_value argv[3], args_t *a) {
  size_t argc = 3;
  int32_t level = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) goto bad;
  if (!get_bytes(env, argv[0], &a->data, &a->len)) goto bad;
  if (napi_get_value_int32(env, argv[1], &level) != napi_ok || level < 1 || level > MAX_LEVEL) goto bad;
  if (!get_output(env, argv[2], &a->out, &a->out_avail)) goto bad;
  if (a->out_avail < ZSTD_compressBound(a->len)) {
    napi_throw_range_error(env, NULL, "zstd: the output buffer is smaller than compressBound(input.length)");
    return false;
  }
  a->level = level;
  return true;
bad:
  napi_throw_type_error(env, NULL, "zstd: expected (Uint8Array input, level 1-19, Buffer output)");
  return false;
}

static napi_value compress_bound(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int64_t length = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_int64(env, argv[0], &length) != napi_ok || length < 0) {
    napi_throw_type_error(env, NULL, "compressBound: expected a length");
    return NULL;
  }
  if (napi_create_int64(env, (int64_t)ZSTD_compressBound((size_t)length), &result) != napi_ok) return NULL;
  return result;
}

static napi_value compress_sync(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  args_t a;
  if (!get_args(env, info, argv, &a)) return NULL;
  size_t n = compress(a.level, a.data, a.len, a.out, a.out_avail);
  if (ZSTD_isError(n)) return throw_zstd(env, n);
  if (napi_create_int64(env, (int64_t)n, &result) != napi_ok) return NULL;
  return result;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input, output;  // keep both objects alive while a pool thread uses their memory
  args_t a;
  size_t result;  // the frame's size, or a zstd error code
} job_t;

static void job_free(napi_env env, job_t *job) {
  if (job->input != NULL) napi_delete_reference(env, job->input);
  if (job->output != NULL) napi_delete_reference(env, job->output);
  if (job->work != NULL) napi_delete_async_work(env, job->work);
  free(job);
}

static void job_execute(napi_env env, void *raw) {
  (void)env;
  job_t *job = raw;
  job->result = compress(job->a.level, job->a.data, job->a.len, job->a.out, job->a.out_avail);
}

static void job_complete(napi_env env, napi_status status, void *raw) {
  job_t *job = raw;
  napi_value value = NULL, message = NULL, code = NULL;
  if (status == napi_ok && !ZSTD_isError(job->result) && napi_create_int64(env, (int64_t)job->result, &value) == napi_ok) {
    napi_resolve_deferred(env, job->deferred, value);
  } else {
    const char *text = status == napi_cancelled ? "zstd: cancelled" : ZSTD_getErrorName(job->result);
    if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message) != napi_ok ||
        napi_create_string_utf8(env, "ERR_ZSTD", NAPI_AUTO_LENGTH, &code) != napi_ok || napi_create_error(env, code, message, &value) != napi_ok) {
      napi_get_undefined(env, &value);  // the environment is going away: reject with what there is
    }
    napi_reject_deferred(env, job->deferred, value);
  }
  job_free(env, job);
}

static napi_value compress_async(napi_env env, napi_callback_info info) {
  napi_value argv[3], promise, name;
  job_t *job = calloc(1, sizeof(job_t));
  if (job == NULL) return throw_zstd(env, (size_t)-ZSTD_error_memory_allocation);
  if (!get_args(env, info, argv, &job->a)) goto fail;
  if (napi_create_reference(env, argv[0], 1, &job->input) != napi_ok) goto fail;
  if (napi_create_reference(env, argv[2], 1, &job->output) != napi_ok) goto fail;
  if (napi_create_string_utf8(env, "hesaab:zstd", NAPI_AUTO_LENGTH, &name) != napi_ok) goto fail;
  if (napi_create_async_work(env, NULL, name, job_execute, job_complete, job, &job->work) != napi_ok) goto fail;
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok) goto fail;
  if (napi_queue_async_work(env, job->work) != napi_ok) goto fail;
  return promise;
fail:
  job_free(env, job);
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && !pending) napi_throw_error(env, NULL, "zstd: could not start the job");
  return NULL;
}

static void free_dctx(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  ZSTD_freeDCtx(data);
}

static napi_value create_decompressor(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value handle;
  ZSTD_DCtx *dctx = ZSTD_createDCtx();
  if (dctx == NULL) return throw_zstd(env, (size_t)-ZSTD_error_memory_allocation);
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
  if (ZSTD_isError(left)) return throw_zstd(env, left);
  int64_t values[3] = {(int64_t)in.pos, (int64_t)out.pos, (int64_t)left};
  if (napi_create_array_with_length(env, 3, &result) != napi_ok) return NULL;
  for (uint32_t i = 0; i < 3; i++) {
    if (napi_create_int64(env, values[i], &n) != napi_ok || napi_set_element(env, result, i, n) != napi_ok) return NULL;
  }
  return result;
}

static bool export_function(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) == napi_ok && napi_set_named_property(env, exports, name, fn) == napi_ok;
}

NAPI_MODULE_INIT() {
  napi_value version;  // what index.ts expects: bump with any change of these functions
  if (napi_create_int32(env, ADDON_VERSION, &version) != napi_ok || napi_set_named_property(env, exports, "version", version) != napi_ok) return NULL;
  if (!export_function(env, exports, "compressBound", compress_bound) || !export_function(env, exports, "compressSync", compress_sync) ||
      !export_function(env, exports, "compress", compress_async) || !export_function(env, exports, "createDecompressor", create_decompressor) ||
      !export_function(env, exports, "decompress", decompress)) {
    return NULL;
  }
  return exports;
}
