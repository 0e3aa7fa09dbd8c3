/**
 * TCP over loopback: one side listens, the other connects, in both directions; what arrives
 * is checked with qemu-img. A peer that is not there is one line naming the address.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { CLI, isOneLineError, runCli } from '../helpers/cli.js';
import { join, withTempDir } from '../helpers/files.js';
import { makeExt4 } from '../helpers/inputs.js';
import { qemuCheck, qemuCompare, qemuTest } from '../helpers/qemu.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts the listening side and resolves once it listens (its stderr says nothing, so poll). */
function listener(args: string[], cwd: string): { done: Promise<{ code: number | null; stderr: string }> } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, QCOW2_STREAM_DEBUG_BUFFERS: '1' } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return { done: new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr }))) };
}

async function connectWhenListening(args: string[], cwd: string): Promise<{ code: number | null; stderr: string }> {
  for (let attempt = 0; ; attempt++) {
    const result = await runCli(args, { cwd });
    if (result.code === 0 || attempt === 50 || !/connection refused/.test(result.stderr)) return result;
    await new Promise((r) => setTimeout(r, 100));
  }
}

qemuTest('raw to qcow2 sent over TCP to a listener that writes it; and qcow2 sent back to a listener that makes it raw', async (t) => {
  await withTempDir(async (dir) => {
    const raw = await makeExt4(dir, 8);
    const port = await freePort();
    // Receiver stores the qcow2 as it comes (-f qcow2 -O qcow2 rewrites it; plain bytes would do too).
    const receiver = listener(['convert', '-f', 'qcow2', '-O', 'qcow2', `tcp-listen://127.0.0.1:${port}`, 'received.qcow2'], dir);
    const sender = await connectWhenListening(['convert', '-c', '-O', 'qcow2', raw, `tcp://127.0.0.1:${port}`], dir);
    t.is(sender.code, 0, sender.stderr);
    const received = await receiver.done;
    t.is(received.code, 0, received.stderr);
    const check = await qemuCheck(join(dir, 'received.qcow2'));
    t.is(check.corruptions + check.leaks + check.checkErrors, 0, check.raw);
    t.true((await qemuCompare(raw, join(dir, 'received.qcow2'))).identical);

    // The other way round: the sender listens, the receiver connects.
    const port2 = await freePort();
    const server = listener(['convert', '-O', 'qcow2', raw, `tcp-listen://127.0.0.1:${port2}`], dir);
    const client = await connectWhenListening(['convert', '-f', 'qcow2', '-O', 'raw', `tcp://127.0.0.1:${port2}`, 'back.raw'], dir);
    t.is(client.code, 0, client.stderr);
    t.is((await server.done).code, 0);
    t.true((await readFile(join(dir, 'back.raw'))).equals(await readFile(raw)));
  });
});

test('TCP failures: nobody listening, nobody connecting: one line each, nothing left behind', async (t) => {
  await withTempDir(async (dir) => {
    const port = await freePort();
    const refused = await runCli(['convert', '-f', 'raw', '-O', 'qcow2', `tcp://127.0.0.1:${port}`, 'out.qcow2'], { cwd: dir });
    t.is(refused.code, 1);
    t.true(isOneLineError(refused.stderr), refused.stderr);
    t.regex(refused.stderr, new RegExp(`cannot read 'tcp://127\\.0\\.0\\.1:${port}': connection refused`));
    const lonely = await runCli(['convert', '--timeout', '1', '-f', 'raw', '-O', 'qcow2', `tcp-listen://127.0.0.1:${port}`, 'out.qcow2'], { cwd: dir });
    t.is(lonely.code, 1);
    t.regex(lonely.stderr, /nobody connected in 1 s \(--timeout\)/);
    const bad = await runCli(['convert', '-O', 'qcow2', 'tcp://nohost', 'out.qcow2'], { cwd: dir });
    t.is(bad.code, 2);
    t.regex(bad.stderr, /is not HOST:PORT/);
    t.deepEqual(await readdir(dir), []);
  });
});
