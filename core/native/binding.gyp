{
  'targets': [
    {
      'target_name': 'mmap',
      'sources': ['src/mmap.c', 'src/guard.c'],
      'cflags': ['-Wall', '-Wextra', '-O2'],
    },
  ],
}
