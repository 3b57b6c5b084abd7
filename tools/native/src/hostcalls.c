// The host calls the passthrough needs and Node does not offer: mknodat,
// renameat2, utimensat (UTIME_NOW/UTIME_OMIT), fallocate, lseek (SEEK_DATA,
// SEEK_HOLE), copy_file_range, the l*xattr family, and a directory listing
// with each entry's inode number (getdents64; Node's Dirent drops d_ino). Each is one syscall,
// synchronous, with arguments checked here; a failure throws an Error whose
// `code` is the errno name and `errno` its negated number, as Node's own
// fs errors, so the caller's errno mapping applies unchanged. The
// vhost-user front-end's socket calls are in unixsock.c, in the same addon.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/syscall.h>
#include <dirent.h>
#include <node_api.h>
#include "napi-util.h"
#include "unixsock.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

static int get_i64(napi_env env, napi_value v, int64_t *out) {
  bool lossless = true;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_bigint) return napi_get_value_bigint_int64(env, v, out, &lossless) == napi_ok && lossless ? 0 : -1;
  return napi_get_value_int64(env, v, out) == napi_ok ? 0 : -1;
}

// A NUL-terminated copy of a Buffer (names and paths are bytes); NULL for null.
static char *get_bytes(napi_env env, napi_value v, int *bad) {
  napi_valuetype t;
  *bad = 0;
  if (napi_typeof(env, v, &t) != napi_ok) { *bad = 1; return NULL; }
  if (t == napi_null || t == napi_undefined) return NULL;
  bool is_buf = false;
  napi_is_buffer(env, v, &is_buf);
  if (!is_buf) { *bad = 1; return NULL; }
  void *data; size_t len;
  if (napi_get_buffer_info(env, v, &data, &len) != napi_ok || memchr(data, 0, len) != NULL) { *bad = 1; return NULL; }
  char *s = malloc(len + 1);
  if (!s) { *bad = 1; return NULL; }
  memcpy(s, data, len);
  s[len] = 0;
  return s;
}

static napi_value undef(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// mknodat(dirfd, name, mode, dev)
static napi_value js_mknodat(napi_env env, napi_callback_info info) {
  napi_value a[4];
  int32_t dirfd, mode; int64_t dev; int bad;
  if (get_args(env, info, 4, a) || get_i32(env, a[0], &dirfd) || get_i32(env, a[2], &mode) || get_i64(env, a[3], &dev)) return throw_type(env, "mknodat(dirfd, name, mode, dev)");
  char *name = get_bytes(env, a[1], &bad);
  if (bad || !name) { free(name); return throw_type(env, "mknodat: name"); }
  int r = mknodat(dirfd, name, (mode_t)mode, (dev_t)dev);
  int err = errno;
  free(name);
  return r < 0 ? throw_errno(env, err, "mknodat") : undef(env);
}

// renameat2(olddirfd, oldname, newdirfd, newname, flags)
static napi_value js_renameat2(napi_env env, napi_callback_info info) {
  napi_value a[5];
  int32_t od, nd, flags; int bad1, bad2;
  if (get_args(env, info, 5, a) || get_i32(env, a[0], &od) || get_i32(env, a[2], &nd) || get_i32(env, a[4], &flags)) return throw_type(env, "renameat2(olddirfd, oldname, newdirfd, newname, flags)");
  char *on = get_bytes(env, a[1], &bad1), *nn = get_bytes(env, a[3], &bad2);
  if (bad1 || bad2 || !on || !nn) { free(on); free(nn); return throw_type(env, "renameat2: names"); }
  long r = syscall(SYS_renameat2, od, on, nd, nn, (unsigned)flags);
  int err = errno;
  free(on); free(nn);
  return r < 0 ? throw_errno(env, err, "renameat2") : undef(env);
}

// utimensat(dirfd, name|null, asec, ansec, msec, mnsec, flags): nsec may be UTIME_NOW or UTIME_OMIT
static napi_value js_utimensat(napi_env env, napi_callback_info info) {
  napi_value a[7];
  int32_t dirfd, flags; int64_t as, an, ms, mn; int bad;
  if (get_args(env, info, 7, a) || get_i32(env, a[0], &dirfd) || get_i64(env, a[2], &as) || get_i64(env, a[3], &an)
      || get_i64(env, a[4], &ms) || get_i64(env, a[5], &mn) || get_i32(env, a[6], &flags)) return throw_type(env, "utimensat(dirfd, name, asec, ansec, msec, mnsec, flags)");
  char *name = get_bytes(env, a[1], &bad);
  if (bad) return throw_type(env, "utimensat: name");
  struct timespec ts[2] = { { (time_t)as, (long)an }, { (time_t)ms, (long)mn } };
  int r = name ? utimensat(dirfd, name, ts, flags) : futimens(dirfd, ts);
  int err = errno;
  free(name);
  return r < 0 ? throw_errno(env, err, "utimensat") : undef(env);
}

// fallocate(fd, mode, offset, len)
static napi_value js_fallocate(napi_env env, napi_callback_info info) {
  napi_value a[4];
  int32_t fd, mode; int64_t off, len;
  if (get_args(env, info, 4, a) || get_i32(env, a[0], &fd) || get_i32(env, a[1], &mode) || get_i64(env, a[2], &off) || get_i64(env, a[3], &len)) return throw_type(env, "fallocate(fd, mode, offset, len)");
  int r = fallocate(fd, mode, (off_t)off, (off_t)len);
  return r < 0 ? throw_errno(env, errno, "fallocate") : undef(env);
}

// lseek(fd, offset, whence) -> offset
static napi_value js_lseek(napi_env env, napi_callback_info info) {
  napi_value a[3], out;
  int32_t fd, whence; int64_t off;
  if (get_args(env, info, 3, a) || get_i32(env, a[0], &fd) || get_i64(env, a[1], &off) || get_i32(env, a[2], &whence)) return throw_type(env, "lseek(fd, offset, whence)");
  off_t r = lseek(fd, (off_t)off, whence);
  if (r < 0) return throw_errno(env, errno, "lseek");
  napi_create_bigint_int64(env, (int64_t)r, &out);
  return out;
}

// copy_file_range(fdin, offin, fdout, offout, len) -> bytes copied
static napi_value js_copy_file_range(napi_env env, napi_callback_info info) {
  napi_value a[5], out;
  int32_t fi, fo; int64_t oi, oo, len;
  if (get_args(env, info, 5, a) || get_i32(env, a[0], &fi) || get_i64(env, a[1], &oi) || get_i32(env, a[2], &fo)
      || get_i64(env, a[3], &oo) || get_i64(env, a[4], &len) || len < 0) return throw_type(env, "copy_file_range(fdin, offin, fdout, offout, len)");
  loff_t li = oi, lo = oo;
  ssize_t r = copy_file_range(fi, &li, fo, &lo, (size_t)len, 0);
  if (r < 0) return throw_errno(env, errno, "copy_file_range");
  napi_create_int64(env, (int64_t)r, &out);
  return out;
}

// lgetxattr(path, name, size) -> Buffer (size > 0) or the size (size 0)
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  napi_value a[3], out;
  int32_t size; int b1, b2;
  if (get_args(env, info, 3, a) || get_i32(env, a[2], &size) || size < 0) return throw_type(env, "lgetxattr(path, name, size)");
  char *path = get_bytes(env, a[0], &b1), *name = get_bytes(env, a[1], &b2);
  if (b1 || b2 || !path || !name) { free(path); free(name); return throw_type(env, "lgetxattr: path, name"); }
  void *buf = size > 0 ? malloc((size_t)size) : NULL;
  ssize_t r = lgetxattr(path, name, buf, (size_t)size);
  int err = errno;
  free(path); free(name);
  if (r < 0) { free(buf); return throw_errno(env, err, "lgetxattr"); }
  if (size == 0) { napi_create_int64(env, r, &out); return out; }
  napi_create_buffer_copy(env, (size_t)r, buf, NULL, &out);
  free(buf);
  return out;
}

// llistxattr(path, size) -> Buffer or size
static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  napi_value a[2], out;
  int32_t size; int b;
  if (get_args(env, info, 2, a) || get_i32(env, a[1], &size) || size < 0) return throw_type(env, "llistxattr(path, size)");
  char *path = get_bytes(env, a[0], &b);
  if (b || !path) { free(path); return throw_type(env, "llistxattr: path"); }
  char *buf = size > 0 ? malloc((size_t)size) : NULL;
  ssize_t r = llistxattr(path, buf, (size_t)size);
  int err = errno;
  free(path);
  if (r < 0) { free(buf); return throw_errno(env, err, "llistxattr"); }
  if (size == 0) { napi_create_int64(env, r, &out); return out; }
  napi_create_buffer_copy(env, (size_t)r, buf, NULL, &out);
  free(buf);
  return out;
}

// lsetxattr(path, name, value, flags)
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  napi_value a[4];
  int32_t flags; int b1, b2;
  if (get_args(env, info, 4, a) || get_i32(env, a[3], &flags)) return throw_type(env, "lsetxattr(path, name, value, flags)");
  char *path = get_bytes(env, a[0], &b1), *name = get_bytes(env, a[1], &b2);
  void *value; size_t len; bool is_buf = false;
  napi_is_buffer(env, a[2], &is_buf);
  if (b1 || b2 || !path || !name || !is_buf || napi_get_buffer_info(env, a[2], &value, &len) != napi_ok) {
    free(path); free(name); return throw_type(env, "lsetxattr: path, name, value");
  }
  int r = lsetxattr(path, name, value, len, flags);
  int err = errno;
  free(path); free(name);
  return r < 0 ? throw_errno(env, err, "lsetxattr") : undef(env);
}

// lremovexattr(path, name)
static napi_value js_lremovexattr(napi_env env, napi_callback_info info) {
  napi_value a[2];
  int b1, b2;
  if (get_args(env, info, 2, a)) return throw_type(env, "lremovexattr(path, name)");
  char *path = get_bytes(env, a[0], &b1), *name = get_bytes(env, a[1], &b2);
  if (b1 || b2 || !path || !name) { free(path); free(name); return throw_type(env, "lremovexattr: path, name"); }
  int r = lremovexattr(path, name);
  int err = errno;
  free(path); free(name);
  return r < 0 ? throw_errno(env, err, "lremovexattr") : undef(env);
}

// listdir(dirfd): every entry of the directory but "." and "..", read with
// getdents64 through a fresh fd of its own (so the caller's fd keeps its
// offset), packed as records of u64 ino | u8 d_type | u16 name length |
// name bytes, little-endian. One call, one Buffer: no object per entry.
struct linux_dirent64_hdr { uint64_t d_ino; int64_t d_off; unsigned short d_reclen; unsigned char d_type; char d_name[]; };

static napi_value js_listdir(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int32_t dirfd;
  if (get_args(env, info, 1, a) || get_i32(env, a[0], &dirfd)) return throw_type(env, "listdir(dirfd)");
  int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return throw_errno(env, errno, "listdir: openat");
  size_t cap = 1 << 16, len = 0;
  unsigned char *out = malloc(cap);
  char buf[1 << 15];
  int err = out ? 0 : ENOMEM;
  while (!err) {
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n < 0) { err = errno; break; }
    if (n == 0) break;
    for (long at = 0; at < n;) {
      struct linux_dirent64_hdr *d = (struct linux_dirent64_hdr *)(buf + at);
      at += d->d_reclen;
      size_t nl = strlen(d->d_name);
      if ((nl == 1 && d->d_name[0] == '.') || (nl == 2 && d->d_name[0] == '.' && d->d_name[1] == '.')) continue;
      if (len + 11 + nl > cap) {
        unsigned char *bigger = realloc(out, cap * 2);
        if (!bigger) { err = ENOMEM; break; }
        out = bigger;
        cap *= 2;
      }
      uint64_t ino = d->d_ino;
      for (int k = 0; k < 8; k++) out[len + k] = (unsigned char)(ino >> (8 * k));
      out[len + 8] = d->d_type;
      out[len + 9] = (unsigned char)(nl & 0xff);
      out[len + 10] = (unsigned char)(nl >> 8);
      memcpy(out + len + 11, d->d_name, nl);
      len += 11 + nl;
    }
  }
  close(fd);
  if (err) { free(out); return throw_errno(env, err, "listdir: getdents64"); }
  napi_value result;
  napi_status st = napi_create_buffer_copy(env, len, out, NULL, &result);
  free(out);
  return st == napi_ok ? result : throw_errno(env, ENOMEM, "listdir");
}

static napi_value init(napi_env env, napi_value exports) {
  struct { const char *name; napi_callback fn; } fns[] = {
    { "mknodat", js_mknodat }, { "renameat2", js_renameat2 }, { "utimensat", js_utimensat },
    { "fallocate", js_fallocate }, { "lseek", js_lseek }, { "copyFileRange", js_copy_file_range },
    { "lgetxattr", js_lgetxattr }, { "llistxattr", js_llistxattr }, { "lsetxattr", js_lsetxattr },
    { "lremovexattr", js_lremovexattr }, { "listdir", js_listdir },
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
  unixsock_register(env, exports);
  napi_value n;
  napi_create_int64(env, UTIME_NOW, &n); napi_set_named_property(env, exports, "UTIME_NOW", n);
  napi_create_int64(env, UTIME_OMIT, &n); napi_set_named_property(env, exports, "UTIME_OMIT", n);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
