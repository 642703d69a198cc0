/*
 * N-API binding of the few MPI calls @optimkit/zero-mpi needs: init, the non-blocking collectives
 * (MPI-3 Ialltoallv, Iallgatherv, Ibcast, Ibarrier), MPI_Test, MPI_Abort and finalize. JavaScript
 * polls MPI_Test, so every operation can time out instead of blocking forever.
 *
 * libmpi is opened with RTLD_GLOBAL before MPI_Init (as mpi4py does): Node loads this addon with
 * RTLD_LOCAL, and Open MPI's plugins (mca_*.so) resolve MPI symbols from the global namespace.
 */
#include <dlfcn.h>
#include <mpi.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REQUESTS 1024

static MPI_Request requests[MAX_REQUESTS];
static int in_use[MAX_REQUESTS];
static int initialized_here = 0;

static napi_value throw_error(napi_env env, const char *message) {
  napi_throw_error(env, "ERR_OPTIMKIT_MPI", message);
  return NULL;
}

static napi_value throw_mpi(napi_env env, const char *call, int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  char message[MPI_MAX_ERROR_STRING + 64];
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) snprintf(text, sizeof text, "error %d", code);
  snprintf(message, sizeof message, "%s failed: %s", call, text);
  return throw_error(env, message);
}

static int get_args(napi_env env, napi_callback_info info, size_t expected, napi_value *args) {
  size_t count = expected;
  if (napi_get_cb_info(env, info, &count, args, NULL, NULL) != napi_ok || count < expected) {
    throw_error(env, "wrong number of arguments");
    return 0;
  }
  return 1;
}

/* The data pointer and element count of a typed array of the given type. */
static void *typed(napi_env env, napi_value value, napi_typedarray_type want, size_t *length) {
  bool is_typed = false;
  napi_typedarray_type type;
  void *data = NULL;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return NULL;
  if (napi_get_typedarray_info(env, value, &type, length, &data, NULL, NULL) != napi_ok || type != want) return NULL;
  return data;
}

static int new_request(napi_env env) {
  for (int i = 0; i < MAX_REQUESTS; i++) {
    if (!in_use[i]) {
      in_use[i] = 1;
      return i;
    }
  }
  throw_error(env, "too many MPI operations in flight");
  return -1;
}

/* The handle of a started operation, or the MPI error (releasing the handle). */
static napi_value started(napi_env env, int handle, const char *call, int code) {
  if (code != MPI_SUCCESS) {
    in_use[handle] = 0;
    return throw_mpi(env, call, code);
  }
  napi_value out;
  napi_create_int32(env, handle, &out);
  return out;
}

static void finalize_at_exit(void *unused) {
  (void)unused;
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized_here && initialized && !finalized) MPI_Finalize();
}

/* init() -> [rank, size]. Opens libmpi globally, initializes MPI once. */
static napi_value init(napi_env env, napi_callback_info info) {
  (void)info;
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    const char *names[] = {"libmpi.so.40", "libmpi.so.12", "libmpi.so", NULL};
    void *lib = NULL;
    for (int i = 0; names[i] && !lib; i++) lib = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
    for (int i = 0; names[i] && !lib; i++) lib = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
    if (!lib) return throw_error(env, "cannot dlopen libmpi.so with RTLD_GLOBAL (is Open MPI installed?)");
    int provided = 0;
    int code = MPI_Init_thread(NULL, NULL, MPI_THREAD_SINGLE, &provided);
    if (code != MPI_SUCCESS) return throw_mpi(env, "MPI_Init_thread", code);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    initialized_here = 1;
    napi_add_env_cleanup_hook(env, finalize_at_exit, NULL);
  }
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  napi_value out, r, s;
  napi_create_array_with_length(env, 2, &out);
  napi_create_int32(env, rank, &r);
  napi_create_int32(env, size, &s);
  napi_set_element(env, out, 0, r);
  napi_set_element(env, out, 1, s);
  return out;
}

/* ialltoallv(send: Float32Array, sendCounts, sendDispls, recv: Float32Array, recvCounts, recvDispls: Int32Array) -> handle */
static napi_value ialltoallv(napi_env env, napi_callback_info info) {
  napi_value args[6];
  if (!get_args(env, info, 6, args)) return NULL;
  size_t n[6];
  float *send = typed(env, args[0], napi_float32_array, &n[0]);
  int *sc = typed(env, args[1], napi_int32_array, &n[1]);
  int *sd = typed(env, args[2], napi_int32_array, &n[2]);
  float *recv = typed(env, args[3], napi_float32_array, &n[3]);
  int *rc = typed(env, args[4], napi_int32_array, &n[4]);
  int *rd = typed(env, args[5], napi_int32_array, &n[5]);
  if (!sc || !sd || !rc || !rd || (!send && n[0]) || (!recv && n[3])) return throw_error(env, "ialltoallv: bad arguments");
  int handle = new_request(env);
  if (handle < 0) return NULL;
  return started(env, handle, "MPI_Ialltoallv", MPI_Ialltoallv(send, sc, sd, MPI_FLOAT, recv, rc, rd, MPI_FLOAT, MPI_COMM_WORLD, &requests[handle]));
}

/* iallgatherv(send: Float32Array, recv: Float32Array, recvCounts, displs: Int32Array) -> handle */
static napi_value iallgatherv(napi_env env, napi_callback_info info) {
  napi_value args[4];
  if (!get_args(env, info, 4, args)) return NULL;
  size_t n[4];
  float *send = typed(env, args[0], napi_float32_array, &n[0]);
  float *recv = typed(env, args[1], napi_float32_array, &n[1]);
  int *rc = typed(env, args[2], napi_int32_array, &n[2]);
  int *rd = typed(env, args[3], napi_int32_array, &n[3]);
  if (!rc || !rd) return throw_error(env, "iallgatherv: bad arguments");
  int handle = new_request(env);
  if (handle < 0) return NULL;
  return started(env, handle, "MPI_Iallgatherv", MPI_Iallgatherv(send, (int)n[0], MPI_FLOAT, recv, rc, rd, MPI_FLOAT, MPI_COMM_WORLD, &requests[handle]));
}

/* ibcast(buffer: Uint8Array, root) -> handle */
static napi_value ibcast(napi_env env, napi_callback_info info) {
  napi_value args[2];
  if (!get_args(env, info, 2, args)) return NULL;
  size_t n = 0;
  unsigned char *data = typed(env, args[0], napi_uint8_array, &n);
  int root = 0;
  if ((!data && n) || napi_get_value_int32(env, args[1], &root) != napi_ok) return throw_error(env, "ibcast: bad arguments");
  int handle = new_request(env);
  if (handle < 0) return NULL;
  return started(env, handle, "MPI_Ibcast", MPI_Ibcast(data, (int)n, MPI_BYTE, root, MPI_COMM_WORLD, &requests[handle]));
}

static napi_value ibarrier(napi_env env, napi_callback_info info) {
  (void)info;
  int handle = new_request(env);
  if (handle < 0) return NULL;
  return started(env, handle, "MPI_Ibarrier", MPI_Ibarrier(MPI_COMM_WORLD, &requests[handle]));
}

/* test(handle) -> true once the operation completed (the handle is then released). */
static napi_value test(napi_env env, napi_callback_info info) {
  napi_value args[1];
  if (!get_args(env, info, 1, args)) return NULL;
  int handle = -1;
  if (napi_get_value_int32(env, args[0], &handle) != napi_ok || handle < 0 || handle >= MAX_REQUESTS || !in_use[handle]) {
    return throw_error(env, "test: unknown handle");
  }
  int done = 0;
  int code = MPI_Test(&requests[handle], &done, MPI_STATUS_IGNORE);
  if (code != MPI_SUCCESS) {
    in_use[handle] = 0;
    return throw_mpi(env, "MPI_Test", code);
  }
  if (done) in_use[handle] = 0;
  napi_value out;
  napi_get_boolean(env, done != 0, &out);
  return out;
}

/* abort(code): ends every process of the job (MPI_Abort). */
static napi_value abort_job(napi_env env, napi_callback_info info) {
  napi_value args[1];
  if (!get_args(env, info, 1, args)) return NULL;
  int code = 1;
  napi_get_value_int32(env, args[0], &code);
  fflush(stdout);
  fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  return NULL;
}

static napi_value finalize(napi_env env, napi_callback_info info) {
  (void)info;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) {
    int code = MPI_Finalize();
    if (code != MPI_SUCCESS) return throw_mpi(env, "MPI_Finalize", code);
  }
  return NULL;
}

static napi_value library_version(napi_env env, napi_callback_info info) {
  (void)info;
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(text, &length);
  napi_value out;
  napi_create_string_utf8(env, text, (size_t)length, &out);
  return out;
}

static napi_value module_init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"init", NULL, init, NULL, NULL, NULL, napi_default, NULL},
      {"ialltoallv", NULL, ialltoallv, NULL, NULL, NULL, napi_default, NULL},
      {"iallgatherv", NULL, iallgatherv, NULL, NULL, NULL, napi_default, NULL},
      {"ibcast", NULL, ibcast, NULL, NULL, NULL, napi_default, NULL},
      {"ibarrier", NULL, ibarrier, NULL, NULL, NULL, napi_default, NULL},
      {"test", NULL, test, NULL, NULL, NULL, napi_default, NULL},
      {"abort", NULL, abort_job, NULL, NULL, NULL, napi_default, NULL},
      {"finalize", NULL, finalize, NULL, NULL, NULL, napi_default, NULL},
      {"libraryVersion", NULL, library_version, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, module_init)
