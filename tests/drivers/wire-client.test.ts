// The guest's end of the wire alone (connectWire), against raw device
// models: one killed mid-read, one that answers a read nobody asked, none
// listening, one that never answers.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { Errno } from '../../core/errno';
import { encodeRegValue, encodeWelcome } from '../../drivers/wire/frames';
import { connectWire } from '../../drivers/wire/tcp-transport.node';
import { RAM, TOKEN, WINDOW, rejection, sleep, within } from './wire-kit';

const t = suite('wire client');

t('a device model killed mid-read fails pending reads with EIO promptly', async () => {
  // A raw device in a child process: WELCOME, then silence; SIGKILL it mid-read.
  const welcome = Buffer.from(encodeWelcome({ version: 1, ram: RAM, window: null })).toString('hex');
  const script = `const net=require('net');const s=net.createServer(c=>{c.once('data',()=>{c.write(Buffer.from('${welcome}','hex'))})});`
    + `s.listen(0,'127.0.0.1',()=>process.stdout.write(String(s.address().port)+'\\n'));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await within(new Promise<string>((r) => child.stdout.once('data', (d) => r(String(d).trim()))), 5000, 'child port');
    const c = await connectWire(`tcp:127.0.0.1:${port}`, TOKEN);
    const closed = new Promise<Error>((r) => c.onClose(r));
    const reads = [c.read(0x70, 4), c.read(0x34, 4), c.read(0x100, 1)];
    await sleep(20);
    const t0 = Date.now();
    child.kill('SIGKILL');
    for (const p of reads) assert.is((await within(rejection(p), 2000, 'read fails')).errno, Errno.EIO);
    await within(closed, 2000, 'onClose');
    assert.ok(Date.now() - t0 < 1500, 'promptly');
    assert.ok(c.closed);
  } finally {
    child.kill('SIGKILL');
  }
});

t('the guest closes on a REG_VALUE for no pending read, failing the rest with EIO', async () => {
  const socks: net.Socket[] = [];
  const srv = net.createServer((s) => {
    socks.push(s);
    s.once('data', () => {
      s.write(encodeWelcome({ version: 1, ram: RAM, window: WINDOW }));
      s.once('data', () => s.write(encodeRegValue(999, 1)));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const port = (srv.address() as net.AddressInfo).port;
    const c = await connectWire(`tcp:127.0.0.1:${port}`, TOKEN);
    const closed = new Promise<Error>((r) => c.onClose(r));
    const e = await within(rejection(c.read(0, 4)), 2000, 'read fails');
    assert.is(e.errno, Errno.EIO);
    assert.match((await closed).message, /REG_VALUE for no pending read/);
  } finally {
    await new Promise((r) => { srv.close(r); for (const s of socks) s.destroy(); });
  }
});

t('connectWire fails clearly: nothing listening, or a device that never answers', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wire-'));
  const mute = net.createServer((s) => socks.push(s));
  const socks: net.Socket[] = [];
  try {
    const e = await rejection(connectWire(`unix:${path.join(dir, 'absent.sock')}`, TOKEN));
    assert.is(e.errno, Errno.ENOENT);
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    const port = (mute.address() as net.AddressInfo).port;
    const t0 = Date.now();
    const slow = await rejection(connectWire(`tcp:127.0.0.1:${port}`, TOKEN, { timeoutMs: 50 }));
    assert.is(slow.errno, Errno.ETIMEDOUT);
    assert.ok(Date.now() - t0 < 1000);
  } finally {
    await new Promise((r) => { mute.close(r); for (const s of socks) s.destroy(); });
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
