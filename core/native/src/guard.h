// Copies between a mapping and ordinary memory that survive SIGBUS (a page
// of a MAP_SHARED file mapping past the end of a truncated file).
#ifndef VIRTIOFS_GUARD_H
#define VIRTIOFS_GUARD_H
#include <stddef.h>

/** Installs the SIGBUS handler once per process; 0, or an errno. */
int guard_install(void);

/** Copies n bytes from the mapping at src to dst; returns how many were
 *  copied before a page of the mapping faulted (n when none did). The rest
 *  of dst is zeroed then: what a read past the end of a file shows. */
size_t guard_copy_from(void *dst, const void *src, size_t n);

/** Copies n bytes from src into the mapping at dst; returns how many were
 *  stored before a page of the mapping faulted (n when none did). */
size_t guard_copy_to(void *dst, const void *src, size_t n);

#endif
