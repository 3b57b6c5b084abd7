// A mistake in how a program was called: its message is one line that names
// the fix, printed without a stack trace; the program exits 2.

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
