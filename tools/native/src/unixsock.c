// The vhost-user front-end's socket calls, which Node's net does not offer:
// connect a unix stream socket without blocking, and sendmsg with file
// descriptors as SCM_RIGHTS. Each is one synchronous, non-blocking syscall
// on a plain fd the caller owns: no handle, no thread, no callback, nothing
// the garbage collector frees, so no close or GC can race one. (The npm
// package usocket, used before, ran connect on libuv's thread pool and
// closed a uv_poll_t embedded in a collectable object: both crashed.)
// Reading is left to a net.Socket over the fd; see connection.ts.
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <node_api.h>
#include "napi-util.h"
#include "unixsock.h"

#define MAX_FDS 253 // SCM_MAX_FD: the most one message may carry

// A non-empty Buffer's bytes; -1 when v is not one.
static int get_buffer(napi_env env, napi_value v, void **data, size_t *len) {
  bool is_buf = false;
  if (napi_is_buffer(env, v, &is_buf) != napi_ok || !is_buf) return -1;
  if (napi_get_buffer_info(env, v, data, len) != napi_ok || *len == 0) return -1;
  return 0;
}

// An fd: an integer from 0 to INT32_MAX (napi_get_value_int32 would truncate 1.5).
static int get_fd(napi_env env, napi_value v, int *fd) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0 && d <= INT32_MAX) || d != (double)(int)d) return -1;
  *fd = (int)d;
  return 0;
}

// unixConnect(path: Buffer) -> fd: a SOCK_STREAM socket, non-blocking and
// close-on-exec, connected to path. A unix connect is immediate or fails;
// EAGAIN (the listener's backlog is full) is thrown for the caller to retry,
// and so is an EINPROGRESS no unix socket gives. On failure the socket is
// closed before the throw: the caller owns an fd only when one is returned.
static napi_value js_unix_connect(napi_env env, napi_callback_info info) {
  napi_value a[1], out;
  void *path; size_t len;
  if (get_args(env, info, 1, a) || get_buffer(env, a[0], &path, &len) || memchr(path, 0, len)) {
    return throw_type(env, "unixConnect(path: a non-empty Buffer without NUL)");
  }
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (len >= sizeof sa.sun_path) return throw_errno(env, ENAMETOOLONG, "connect");
  memcpy(sa.sun_path, path, len);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
  if (connect(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1)) < 0) {
    int err = errno == EINPROGRESS || errno == EINTR ? EAGAIN : errno;
    close(fd);
    return throw_errno(env, err, "connect");
  }
  napi_create_int32(env, fd, &out);
  return out;
}

// sendmsg(fd, data: Buffer, fds: number[]) -> bytes sent, the fds (if any)
// riding with the first byte; 0 when the socket is full (EAGAIN): nothing,
// fds included, was sent then. MSG_NOSIGNAL: a gone peer is EPIPE, not a signal.
static napi_value js_sendmsg(napi_env env, napi_callback_info info) {
  napi_value a[3], out;
  int fd;
  void *data; size_t len;
  bool is_arr = false;
  uint32_t nfds = 0;
  if (get_args(env, info, 3, a) || get_fd(env, a[0], &fd) || get_buffer(env, a[1], &data, &len)
      || napi_is_array(env, a[2], &is_arr) != napi_ok || !is_arr
      || napi_get_array_length(env, a[2], &nfds) != napi_ok || nfds > MAX_FDS) {
    return throw_type(env, "sendmsg(fd, data: a non-empty Buffer, fds: an array of at most 253 fds)");
  }
  int fds[MAX_FDS];
  for (uint32_t i = 0; i < nfds; i++) {
    napi_value v;
    if (napi_get_element(env, a[2], i, &v) != napi_ok || get_fd(env, v, &fds[i])) {
      return throw_type(env, "sendmsg: each fd a non-negative integer");
    }
  }
  struct iovec iov = { .iov_base = data, .iov_len = len };
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  union { char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)]; struct cmsghdr align; } control;
  if (nfds > 0) {
    memset(&control, 0, sizeof control);
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  ssize_t n;
  do n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT); while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) n = 0;
  if (n < 0) return throw_errno(env, errno, "sendmsg");
  napi_create_int64(env, (int64_t)n, &out);
  return out;
}

void unixsock_register(napi_env env, napi_value exports) {
  napi_value f;
  napi_create_function(env, "unixConnect", NAPI_AUTO_LENGTH, js_unix_connect, NULL, &f);
  napi_set_named_property(env, exports, "unixConnect", f);
  napi_create_function(env, "sendmsg", NAPI_AUTO_LENGTH, js_sendmsg, NULL, &f);
  napi_set_named_property(env, exports, "sendmsg", f);
}
