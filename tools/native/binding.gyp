{
  'targets': [
    {
      'target_name': 'hostcalls',
      'sources': ['src/hostcalls.c'],
      'cflags': ['-Wall', '-Wextra', '-O2'],
    },
  ],
}
