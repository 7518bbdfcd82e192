// What the native addons of @hesaab/gzip (deflate.c) and @hesaab/zstd (zstd.c) share: N-API
// functions that compress one whole buffer into an output buffer the caller allocated, on the
// calling thread or on libuv's thread pool. While a pool job runs, neither buffer may be changed,
// detached or resized: N-API keeps the objects alive but cannot pin their memory, so the JavaScript
// side hands it private buffers only. The output is allocated by the main thread: memory malloc'd on
// the pool's threads would stay in their own malloc arenas and grow the RSS.
//
// A codec defines, before including this file:
//   CODEC_NAME, CODEC_ERROR_CODE  "gzip", "ERR_GZIP_NO_MEMORY": in messages and errors
//   CODEC_MAX_LEVEL               levels are 1 to this
//   static size_t codec_bound(size_t length);
//   static size_t codec_compress(int level, const void *in, size_t in_len, void *out, size_t out_avail);
//                                 the output's size, or a result codec_failed() recognises
//   static bool codec_failed(size_t result);
//   static const char *codec_error(size_t result);   that failure in words
// and exports the three functions with codec_export(env, exports, names).
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define CODEC_STR_(x) #x
#define CODEC_STR(x) CODEC_STR_(x)

static napi_value throw_codec_error(napi_env env, size_t result) {
  napi_throw_error(env, CODEC_ERROR_CODE, codec_error(result));
  return NULL;
}

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
  int32_t level = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) goto bad;
  if (!get_bytes(env, argv[0], &a->data, &a->len)) goto bad;
  if (napi_get_value_int32(env, argv[1], &level) != napi_ok || level < 1 || level > CODEC_MAX_LEVEL) goto bad;
  if (!get_output(env, argv[2], &a->out, &a->out_avail)) goto bad;
  if (a->out_avail < codec_bound(a->len)) {
    napi_throw_range_error(env, NULL, CODEC_NAME ": the output buffer is smaller than the bound of input.length");
    return false;
  }
  a->level = level;
  return true;
bad:
  napi_throw_type_error(env, NULL, CODEC_NAME ": expected (Uint8Array input, level 1-" CODEC_STR(CODEC_MAX_LEVEL) ", Buffer output)");
  return false;
}

static napi_value codec_bound_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int64_t length = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_int64(env, argv[0], &length) != napi_ok || length < 0) {
    napi_throw_type_error(env, NULL, CODEC_NAME ": the bound of what? expected a length");
    return NULL;
  }
  if (napi_create_int64(env, (int64_t)codec_bound((size_t)length), &result) != napi_ok) return NULL;
  return result;
}

static napi_value codec_sync_js(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  args_t a;
  if (!get_args(env, info, argv, &a)) return NULL;
  size_t n = codec_compress(a.level, a.data, a.len, a.out, a.out_avail);
  if (codec_failed(n)) return throw_codec_error(env, n);
  if (napi_create_int64(env, (int64_t)n, &result) != napi_ok) return NULL;
  return result;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input, output;  // keep both objects alive while a pool thread uses their memory
  args_t a;
  size_t result;
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
  job->result = codec_compress(job->a.level, job->a.data, job->a.len, job->a.out, job->a.out_avail);
}

static void job_complete(napi_env env, napi_status status, void *raw) {
  job_t *job = raw;
  napi_value value = NULL, message = NULL, code = NULL;
  if (status == napi_ok && !codec_failed(job->result) && napi_create_int64(env, (int64_t)job->result, &value) == napi_ok) {
    napi_resolve_deferred(env, job->deferred, value);
  } else {
    const char *text = status == napi_cancelled ? CODEC_NAME ": cancelled" : codec_error(job->result);
    if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message) != napi_ok ||
        napi_create_string_utf8(env, CODEC_ERROR_CODE, NAPI_AUTO_LENGTH, &code) != napi_ok || napi_create_error(env, code, message, &value) != napi_ok) {
      napi_get_undefined(env, &value);  // the environment is going away: reject with what there is
    }
    napi_reject_deferred(env, job->deferred, value);
  }
  job_free(env, job);
}

static napi_value codec_async_js(napi_env env, napi_callback_info info) {
  napi_value argv[3], promise, name;
  job_t *job = calloc(1, sizeof(job_t));
  if (job == NULL) {
    napi_throw_error(env, CODEC_ERROR_CODE, CODEC_NAME ": out of memory");
    return NULL;
  }
  if (!get_args(env, info, argv, &job->a)) goto fail;
  if (napi_create_reference(env, argv[0], 1, &job->input) != napi_ok) goto fail;
  if (napi_create_reference(env, argv[2], 1, &job->output) != napi_ok) goto fail;
  if (napi_create_string_utf8(env, "hesaab:" CODEC_NAME, NAPI_AUTO_LENGTH, &name) != napi_ok) goto fail;
  if (napi_create_async_work(env, NULL, name, job_execute, job_complete, job, &job->work) != napi_ok) goto fail;
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok) goto fail;
  if (napi_queue_async_work(env, job->work) != napi_ok) goto fail;
  return promise;
fail:
  job_free(env, job);
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && !pending) napi_throw_error(env, NULL, CODEC_NAME ": could not start the job");
  return NULL;
}

static bool export_function(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) == napi_ok && napi_set_named_property(env, exports, name, fn) == napi_ok;
}

// Sets `version` (what index.ts expects: bump it with any change of the functions) and the three
// functions under the names given; false with an exception pending when it could not.
static bool codec_export(napi_env env, napi_value exports, int32_t version, const char *bound, const char *sync, const char *async) {
  napi_value v;
  return napi_create_int32(env, version, &v) == napi_ok && napi_set_named_property(env, exports, "version", v) == napi_ok &&
         export_function(env, exports, bound, codec_bound_js) && export_function(env, exports, sync, codec_sync_js) &&
         export_function(env, exports, async, codec_async_js);
}
