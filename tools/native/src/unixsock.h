// The vhost-user front-end's socket calls (unixsock.c), registered on the
// hostcalls addon's exports by its init.
#ifndef VIRTIOFS_UNIXSOCK_H
#define VIRTIOFS_UNIXSOCK_H
#include <node_api.h>

void unixsock_register(napi_env env, napi_value exports);

#endif
