// Where a layer tells what it cannot return to a caller: a protocol
// violation, a failed background request, a refused chain. One type and one
// default for every layer; programs pass their own (prefixed, to stderr).

export type Log = (message: string) => void;

/** The default: console.warn, which every JavaScript runtime has. */
export const consoleLog: Log = (message) => console.warn(message);
