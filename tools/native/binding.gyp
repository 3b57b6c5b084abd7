{
  'targets': [
    {
      'target_name': 'hostcalls',
      'sources': ['src/hostcalls.c', 'src/unixsock.c'],
      # napi-util.h, shared with core/native (the layer below).
      'include_dirs': ['../../core/native/src'],
      'cflags': ['-Wall', '-Wextra', '-O2'],
    },
  ],
}
