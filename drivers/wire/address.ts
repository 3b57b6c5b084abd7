// Where the device model listens: `tcp:HOST:PORT`, `unix:PATH`, or the
// `tcp://` / `unix://` forms that WireServer.address() prints.

export type WireAddress =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string };

/** Parse an address; throws RangeError naming what is wrong. */
export function parseWireAddress(s: string): WireAddress {
  const m = /^(tcp|unix):(?:\/\/)?(.*)$/.exec(s);
  if (!m) throw new RangeError(`wire address "${s}": expected tcp:HOST:PORT or unix:PATH`);
  if (m[1] === 'unix') {
    if (m[2] === '') throw new RangeError(`wire address "${s}": empty socket path`);
    return { kind: 'unix', path: m[2] };
  }
  // [v6]:port, or host:port with the port after the last colon.
  const hp = /^\[([^\]]+)\]:(\d+)$/.exec(m[2]) ?? /^([^:[\]]+):(\d+)$/.exec(m[2]);
  if (!hp) throw new RangeError(`wire address "${s}": expected tcp:HOST:PORT`);
  const port = Number(hp[2]);
  if (!Number.isInteger(port) || port > 65535) throw new RangeError(`wire address "${s}": bad port`);
  return { kind: 'tcp', host: hp[1], port };
}

/** The printable form: tcp://HOST:PORT (IPv6 in brackets) or unix://PATH. */
export function formatWireAddress(a: WireAddress): string {
  if (a.kind === 'unix') return `unix://${a.path}`;
  return a.host.includes(':') ? `tcp://[${a.host}]:${a.port}` : `tcp://${a.host}:${a.port}`;
}
