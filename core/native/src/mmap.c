// Guest RAM and DAX window ranges mapped into this process: mmap of a file
// range (MAP_SHARED) shown to JavaScript as an external ArrayBuffer, an
// explicit unmap that detaches it (so no view can reach the range after), the
// sealed memfd guest RAM lives in, and copies that survive SIGBUS
// (guard.c). A failure throws an Error whose `code` is the errno name and
// `errno` its negated number, as Node's own fs errors.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <node_api.h>
#include "guard.h"
#include "napi-util.h"

// What one ArrayBuffer maps. Freed by the buffer's finalizer, which V8 runs
// once the buffer is collected, or soon after it is detached by unmap().
struct mapping {
  void *addr;
  size_t len;
  int live;
};

// Node's limit for a Buffer (buffer.constants.MAX_LENGTH on 64-bit).
#define MAX_MAP ((size_t)1 << 32)

static size_t page_size;

// A non-negative integral number below 2^53.
static int get_count(napi_env env, napi_value v, size_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d > 9007199254740991.0 || d != (double)(int64_t)d) return -1;
  *out = (size_t)d;
  return 0;
}

static napi_value undef(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env; (void)data;
  struct mapping *m = hint;
  if (m->live) munmap(m->addr, m->len);
  free(m);
}

// mmap(fd, offset, len, writable) -> ArrayBuffer over [offset, offset + len) of the file
static napi_value js_mmap(napi_env env, napi_callback_info info) {
  napi_value a[4], ab;
  int32_t fd; size_t off, len; bool writable;
  if (get_args(env, info, 4, a) || get_i32(env, a[0], &fd) || get_count(env, a[1], &off) || get_count(env, a[2], &len)
      || napi_get_value_bool(env, a[3], &writable) != napi_ok) return throw_type(env, "mmap(fd, offset, len, writable)");
  if (fd < 0 || len == 0 || len > MAX_MAP || off % page_size != 0) return throw_errno(env, EINVAL, "mmap");
  struct mapping *m = malloc(sizeof *m);
  if (!m) return throw_errno(env, ENOMEM, "mmap");
  void *p = mmap(NULL, len, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, (off_t)off);
  if (p == MAP_FAILED) { int err = errno; free(m); return throw_errno(env, err, "mmap"); }
  m->addr = p; m->len = len; m->live = 1;
  if (napi_create_external_arraybuffer(env, p, len, finalize, m, &ab) != napi_ok) {
    munmap(p, len);
    free(m);
    napi_throw_error(env, "ENOTSUP", "mmap: this runtime cannot wrap external memory in an ArrayBuffer");
    return NULL;
  }
  // The record rides on the buffer, for unmap() to find.
  if (napi_wrap(env, ab, m, NULL, NULL, NULL) != napi_ok) {
    napi_throw_error(env, "EINVAL", "mmap: cannot tag the ArrayBuffer");
    return NULL; // the finalizer unmaps
  }
  return ab;
}

// unmap(ab): munmap now and detach ab; idempotent.
static napi_value js_unmap(napi_env env, napi_callback_info info) {
  napi_value a[1];
  bool detached = false;
  if (get_args(env, info, 1, a) || napi_is_detached_arraybuffer(env, a[0], &detached) != napi_ok) return throw_type(env, "unmap(arraybuffer)");
  if (detached) return undef(env);
  struct mapping *m;
  if (napi_unwrap(env, a[0], (void **)&m) != napi_ok) return throw_type(env, "unmap: not a buffer from mmap()");
  // Detach first: if it fails nothing is unmapped, and once it succeeds no
  // view of the buffer can touch the range.
  if (napi_detach_arraybuffer(env, a[0]) != napi_ok) return throw_errno(env, EBUSY, "unmap: detach");
  napi_remove_wrap(env, a[0], NULL);
  munmap(m->addr, m->len);
  m->live = 0;
  return undef(env);
}

// The mapping's bytes at ab[offset..] and a typed array's bytes; -1 with an
// error thrown for an unmapped buffer or a range past its end.
static int copy_args(napi_env env, napi_callback_info info, const char *call, char **map, char **buf, size_t *n) {
  napi_value a[3];
  void *ab_data, *ta_data; size_t ab_len, off, ta_len, esize = 1; napi_typedarray_type type; bool is_ab = false, is_ta = false;
  if (get_args(env, info, 3, a) || napi_is_arraybuffer(env, a[0], &is_ab) != napi_ok || !is_ab || get_count(env, a[1], &off)
      || napi_is_typedarray(env, a[2], &is_ta) != napi_ok || !is_ta
      || napi_get_arraybuffer_info(env, a[0], &ab_data, &ab_len) != napi_ok
      || napi_get_typedarray_info(env, a[2], &type, &ta_len, &ta_data, NULL, NULL) != napi_ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s(arraybuffer, offset, typedarray)", call);
    throw_type(env, msg);
    return -1;
  }
  if (type == napi_int16_array || type == napi_uint16_array) esize = 2;
  else if (type == napi_int32_array || type == napi_uint32_array || type == napi_float32_array) esize = 4;
  else if (type == napi_float64_array || type == napi_bigint64_array || type == napi_biguint64_array) esize = 8;
  ta_len *= esize;
  bool detached = false;
  napi_is_detached_arraybuffer(env, a[0], &detached);
  if (detached) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s: the mapping is unmapped", call);
    napi_throw_error(env, "EFAULT", msg);
    return -1;
  }
  if (off > ab_len || ta_len > ab_len - off) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s: [%zu, +%zu) outside the mapping of %zu bytes", call, off, ta_len, ab_len);
    napi_throw_range_error(env, "ERANGE", msg);
    return -1;
  }
  *map = (char *)ab_data + off;
  *buf = ta_data;
  *n = ta_len;
  return 0;
}

// copyFrom(ab, offset, dst) -> bytes copied before a fault; the rest of dst reads 0
static napi_value js_copy_from(napi_env env, napi_callback_info info) {
  char *map, *buf; size_t n; napi_value out;
  if (copy_args(env, info, "copyFrom", &map, &buf, &n)) return NULL;
  napi_create_double(env, (double)guard_copy_from(buf, map, n), &out);
  return out;
}

// copyTo(ab, offset, src) -> bytes stored before a fault
static napi_value js_copy_to(napi_env env, napi_callback_info info) {
  char *map, *buf; size_t n; napi_value out;
  if (copy_args(env, info, "copyTo", &map, &buf, &n)) return NULL;
  napi_create_double(env, (double)guard_copy_to(map, buf, n), &out);
  return out;
}

// memfdCreate(name, size) -> fd of a memfd of `size` zero bytes that can
// neither shrink nor grow, and whose seals are final.
static napi_value js_memfd_create(napi_env env, napi_callback_info info) {
  napi_value a[2], out;
  char name[250]; size_t nlen, size;
  if (get_args(env, info, 2, a) || napi_get_value_string_utf8(env, a[0], name, sizeof name, &nlen) != napi_ok
      || get_count(env, a[1], &size) || size == 0) return throw_type(env, "memfdCreate(name, size)");
  int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return throw_errno(env, errno, "memfd_create");
  if (ftruncate(fd, (off_t)size) != 0) { int err = errno; close(fd); return throw_errno(env, err, "ftruncate"); }
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "fcntl(F_ADD_SEALS)");
  }
  napi_create_int32(env, fd, &out);
  return out;
}

// getSeals(fd) -> F_SEAL_* bits; 0 for a file that cannot carry seals
static napi_value js_get_seals(napi_env env, napi_callback_info info) {
  napi_value a[1], out;
  int32_t fd;
  if (get_args(env, info, 1, a) || get_i32(env, a[0], &fd)) return throw_type(env, "getSeals(fd)");
  int r = fcntl(fd, F_GET_SEALS);
  if (r < 0 && errno == EINVAL) r = 0;
  if (r < 0) return throw_errno(env, errno, "fcntl(F_GET_SEALS)");
  napi_create_int32(env, r, &out);
  return out;
}

static void set_int(napi_env env, napi_value obj, const char *name, int64_t v) {
  napi_value n;
  napi_create_int64(env, v, &n);
  napi_set_named_property(env, obj, name, n);
}

static napi_value init(napi_env env, napi_value exports) {
  long p = sysconf(_SC_PAGESIZE);
  page_size = p > 0 ? (size_t)p : 4096;
  int err = guard_install();
  if (err) return throw_errno(env, err, "sigaction(SIGBUS)");
  struct { const char *name; napi_callback fn; } fns[] = {
    { "mmap", js_mmap }, { "unmap", js_unmap }, { "copyFrom", js_copy_from }, { "copyTo", js_copy_to },
    { "memfdCreate", js_memfd_create }, { "getSeals", js_get_seals },
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
  set_int(env, exports, "pageSize", (int64_t)page_size);
  set_int(env, exports, "F_SEAL_SEAL", F_SEAL_SEAL);
  set_int(env, exports, "F_SEAL_SHRINK", F_SEAL_SHRINK);
  set_int(env, exports, "F_SEAL_GROW", F_SEAL_GROW);
  set_int(env, exports, "F_SEAL_WRITE", F_SEAL_WRITE);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
