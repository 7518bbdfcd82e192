// gzip through libdeflate: whole-buffer DEFLATE, about 40 % less CPU than zlib at level 6 on COPY
// text, and a smaller output. Levels 1-9, as gzip's:
//
//   gzipBound(length)               -> number             the most bytes a member of `length` bytes can take
//   gzipSync(input, level, output)  -> number             on the calling thread (small inputs)
//   gzip(input, level, output)      -> Promise<number>    on libuv's thread pool
//
// Each call writes one complete gzip member into `output` (at least gzipBound bytes) and returns its
// size. While `gzip` runs, neither buffer may be changed, detached or resized: N-API keeps the objects
// alive but cannot pin their memory, so the JavaScript side hands it private buffers only (index.ts).
// The output is allocated by the main thread: memory malloc'd on the pool's threads would stay in
// their own malloc arenas and grow the RSS.
#include <libdeflate.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define MAX_LEVEL 9

// A compressor is not thread-safe and costs ~650 kB at level 6: one per level and thread, kept for
// the thread's life (the main thread and the pool's threads live as long as the process).
static _Thread_local struct libdeflate_compressor *compressors[MAX_LEVEL + 1];

static struct libdeflate_compressor *compressor(int level) {
  if (compressors[level] == NULL) compressors[level] = libdeflate_alloc_compressor(level);
  return compressors[level];
}

// 0 when no compressor could be allocated (out of memory) or the output is too small.
static size_t compress(int level, const void *in, size_t in_len, void *out, size_t out_avail) {
  struct libdeflate_compressor *c = compressor(level);
  return c == NULL ? 0 : libdeflate_gzip_compress(c, in, in_len, out, out_avail);
}

typedef struct {
  void *data;
  size_t len;
  void *out;
  size_t out_avail;
  int level;
} args_t;

// (input, level, output) -> the bytes, or false with an exception pending.
static bool get_args(napi_env env, napi_callback_info info, napi_value argv[3], args_t *a) {
  size_t argc = 3;
  bool input_ok = false, output_ok = false;
  int32_t level = -1;
  napi_typedarray_type type = napi_int8_array;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) goto bad;
  if (napi_is_typedarray(env, argv[0], &input_ok) != napi_ok || !input_ok) goto bad;
  if (napi_get_typedarray_info(env, argv[0], &type, &a->len, &a->data, NULL, NULL) != napi_ok || type != napi_uint8_array) goto bad;
  if (napi_get_value_int32(env, argv[1], &level) != napi_ok || level < 1 || level > MAX_LEVEL) goto bad;
  if (napi_is_buffer(env, argv[2], &output_ok) != napi_ok || !output_ok) goto bad;
  if (napi_get_buffer_info(env, argv[2], &a->out, &a->out_avail) != napi_ok) goto bad;
  if (a->out_avail < libdeflate_gzip_compress_bound(NULL, a->len)) {
    napi_throw_range_error(env, NULL, "gzip: the output buffer is smaller than gzipBound(input.length)");
    return false;
  }
  a->level = level;
  return true;
bad:
  napi_throw_type_error(env, NULL, "gzip: expected (Uint8Array input, level 1-9, Buffer output)");
  return false;
}

static napi_value out_of_memory(napi_env env) {
  napi_throw_error(env, "ERR_GZIP_NO_MEMORY", "gzip: out of memory");
  return NULL;
}

static napi_value gzip_bound(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int64_t length = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_int64(env, argv[0], &length) != napi_ok || length < 0) {
    napi_throw_type_error(env, NULL, "gzipBound: expected a length");
    return NULL;
  }
  if (napi_create_int64(env, (int64_t)libdeflate_gzip_compress_bound(NULL, (size_t)length), &result) != napi_ok) return NULL;
  return result;
}

static napi_value gzip_sync(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  args_t a;
  if (!get_args(env, info, argv, &a)) return NULL;
  size_t n = compress(a.level, a.data, a.len, a.out, a.out_avail);
  if (n == 0) return out_of_memory(env);
  if (napi_create_int64(env, (int64_t)n, &result) != napi_ok) return NULL;
  return result;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input, output;  // keep both objects alive while a pool thread uses their memory
  args_t a;
  size_t out_len;  // 0: no memory for a compressor
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
  job->out_len = compress(job->a.level, job->a.data, job->a.len, job->a.out, job->a.out_avail);
}

static void job_complete(napi_env env, napi_status status, void *raw) {
  job_t *job = raw;
  napi_value value = NULL, message = NULL, code = NULL;
  if (status == napi_ok && job->out_len > 0 && napi_create_int64(env, (int64_t)job->out_len, &value) == napi_ok) {
    napi_resolve_deferred(env, job->deferred, value);
  } else {
    const char *text = status == napi_cancelled ? "gzip: cancelled" : "gzip: out of memory";
    if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message) != napi_ok ||
        napi_create_string_utf8(env, "ERR_GZIP_NO_MEMORY", NAPI_AUTO_LENGTH, &code) != napi_ok ||
        napi_create_error(env, code, message, &value) != napi_ok) {
      napi_get_undefined(env, &value);  // the environment is going away: reject with what there is
    }
    napi_reject_deferred(env, job->deferred, value);
  }
  job_free(env, job);
}

static napi_value gzip_async(napi_env env, napi_callback_info info) {
  napi_value argv[3], promise, name;
  job_t *job = calloc(1, sizeof(job_t));
  if (job == NULL) return out_of_memory(env);
  if (!get_args(env, info, argv, &job->a)) goto fail;
  if (napi_create_reference(env, argv[0], 1, &job->input) != napi_ok) goto fail;
  if (napi_create_reference(env, argv[2], 1, &job->output) != napi_ok) goto fail;
  if (napi_create_string_utf8(env, "hesaab:gzip", NAPI_AUTO_LENGTH, &name) != napi_ok) goto fail;
  if (napi_create_async_work(env, NULL, name, job_execute, job_complete, job, &job->work) != napi_ok) goto fail;
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok) goto fail;
  if (napi_queue_async_work(env, job->work) != napi_ok) goto fail;
  return promise;
fail:
  job_free(env, job);
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && !pending) napi_throw_error(env, NULL, "gzip: could not start the job");
  return NULL;
}

static bool export_function(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) == napi_ok && napi_set_named_property(env, exports, name, fn) == napi_ok;
}

NAPI_MODULE_INIT() {
  napi_value version;  // what index.ts expects (ADDON_VERSION): bump with any change of these functions
  if (napi_create_int32(env, 2, &version) != napi_ok || napi_set_named_property(env, exports, "version", version) != napi_ok) return NULL;
  if (!export_function(env, exports, "gzipBound", gzip_bound) || !export_function(env, exports, "gzipSync", gzip_sync) ||
      !export_function(env, exports, "gzip", gzip_async)) {
    return NULL;
  }
  return exports;
}
