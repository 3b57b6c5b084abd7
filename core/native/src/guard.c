// SIGBUS caught only inside our own copies. A MAP_SHARED mapping of a file
// raises SIGBUS when a page past the file's end is touched, and anyone with
// the file open may truncate it. The handler jumps back into the copy that
// faulted only when this thread is inside one and the fault address lies in
// the mapping's side of it; any other SIGBUS gets what it would have got
// without us: the previous handler, or the previous disposition put back
// and the signal raised again (by default the process ends with a core).
//
// The fast path is one sigsetjmp and one memcpy. The signal mask is not
// saved (that would be a syscall per copy): the handler runs with
// SA_NODEFER, so nothing is left blocked after the jump. memcpy copies in
// no fixed order, so after a fault the copy is redone page by page to learn
// how far it really got.
#define _GNU_SOURCE
#include "guard.h"
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

struct guard {
  sigjmp_buf env;
  const char *lo, *hi; // the mapping's side of the copy
};

// initial-exec: the handler reads it, and a dynamic TLS access may allocate.
static __thread struct guard *volatile current __attribute__((tls_model("initial-exec")));
static struct sigaction previous;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int install_err;
static size_t page = 4096;

static void on_sigbus(int sig, siginfo_t *si, void *uc) {
  struct guard *g = current;
  const char *a = si->si_addr;
  if (g && si->si_code > 0 && a >= g->lo && a < g->hi) {
    current = NULL;
    siglongjmp(g->env, 1);
  }
  // Not ours.
  if (previous.sa_flags & SA_SIGINFO) {
    if (previous.sa_sigaction) { previous.sa_sigaction(sig, si, uc); return; }
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
    return;
  }
  if (si->si_code <= 0) {
    // Sent (kill, tgkill), not a fault: ignored, or delivered again as before.
    if (!(previous.sa_flags & SA_SIGINFO) && previous.sa_handler == SIG_IGN) return;
    sigaction(SIGBUS, &previous, NULL);
    raise(sig);
    return;
  }
  // A fault: the instruction runs again on return and faults again, now
  // under the previous disposition.
  sigaction(SIGBUS, &previous, NULL);
}

static void install(void) {
  long p = sysconf(_SC_PAGESIZE);
  if (p > 0) page = (size_t)p;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGBUS, &sa, &previous) != 0) install_err = errno;
}

int guard_install(void) {
  pthread_once(&once, install);
  return install_err;
}

// One memcpy under the guard; -1 when a page of [lo, lo + n) faulted.
__attribute__((noinline)) static int copy_once(void *dst, const void *src, size_t n, const char *lo) {
  struct guard g;
  g.lo = lo;
  g.hi = lo + n;
  if (sigsetjmp(g.env, 0)) return -1; // the handler cleared `current`
  current = &g;
  __asm__ __volatile__("" ::: "memory");
  memcpy(dst, src, n);
  __asm__ __volatile__("" ::: "memory");
  current = NULL;
  return 0;
}

// Page by page on the mapping's side, up to the first page that faults.
static size_t copy_pages(char *dst, const char *src, size_t n, int map_is_src) {
  size_t done = 0;
  while (done < n) {
    const char *m = map_is_src ? src + done : dst + done;
    size_t chunk = page - ((uintptr_t)m & (page - 1));
    if (chunk > n - done) chunk = n - done;
    if (copy_once(dst + done, src + done, chunk, m) != 0) break;
    done += chunk;
  }
  return done;
}

size_t guard_copy_from(void *dst, const void *src, size_t n) {
  if (n == 0 || copy_once(dst, src, n, src) == 0) return n;
  size_t done = copy_pages(dst, src, n, 1);
  memset((char *)dst + done, 0, n - done);
  return done;
}

size_t guard_copy_to(void *dst, const void *src, size_t n) {
  if (n == 0 || copy_once(dst, src, n, dst) == 0) return n;
  return copy_pages(dst, src, n, 0);
}
