/**
 * The package as a user gets it: `npm pack`, then a fresh project that installs the tarball
 * (from the npm registry for its dependencies, as any install does), runs the README's library
 * examples as they are, in JavaScript and as strict TypeScript, and the command line with npx.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { join, randomBytes, withTempDir } from './helpers/files.js';
import { qemuTest, qemuCompare } from './helpers/qemu.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The ```js blocks of the README's Library section. */
async function libraryExamples(): Promise<string[]> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Library'), readme.indexOf('\n## ', readme.indexOf('\n## Library') + 1));
  return [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

qemuTest('the packed package installs without warnings, runs the README examples in JavaScript and strict TypeScript, and its command line', async (t) => {
  await withTempDir(async (dir) => {
    // --ignore-scripts: prepack would rebuild build/ under the other tests' feet; npm test built it.
    const { stdout: packed } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 16 << 20 });
    const [{ filename, files }] = JSON.parse(packed) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const paths = files.map((file) => file.path);
    t.true(paths.includes('LICENSE'));
    t.deepEqual(paths.filter((path) => path.endsWith('.map')), [], 'no source map points at sources the package does not ship');

    const project = join(dir, 'consumer');
    await mkdir(project);
    // The one native optional dependency, allowed as the README says.
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'module', allowScripts: { 'fs-ext': true } }));
    const install = await run('npm', ['install', '--no-audit', '--no-fund', join(dir, filename), 'it-pipe@3'], { cwd: project, maxBuffer: 16 << 20 });
    t.notRegex(`${install.stdout}\n${install.stderr}`, /warn/i, `npm install warned:\n${install.stderr}`);
    t.false((await readdir(join(project, 'node_modules'))).includes('@aws-sdk'), 'the AWS SDK is an optional peer, not installed');

    const help = await run('npx', ['--no-install', 'qcow2-stream', '--help'], { cwd: project });
    t.regex(help.stdout, /^Usage: qcow2-stream COMMAND/);

    // S3 from the command line works without the SDK installed: it carries its own.
    const s3 = await run('npx', ['--no-install', 'qcow2-stream', 'convert', '-f', 'qcow2', '-O', 'raw', '--timeout', '2', '--endpoint', 'http://127.0.0.1:9', 's3://bucket/disk.qcow2', 'x.raw'], { cwd: project, env: { ...process.env, AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b', AWS_REGION: 'us-east-1' } }).catch((error: { stderr: string }) => error);
    t.regex((s3 as { stderr: string }).stderr, /^qcow2-stream: cannot read 's3:\/\/bucket\/disk\.qcow2'/, 'the CLI reached for the store (and failed to connect)');
    // The library without it says what to install.
    const library = await run(process.execPath, ['--input-type=module', '-e', "import { s3Source } from 'qcow2-stream'; await s3Source('bucket', 'key').catch((error) => { console.log(error.message); });"], { cwd: project });
    t.regex(library.stdout, /need the package @aws-sdk\/client-s3/);

    const raw = join(project, 'disk.raw');
    const bytes = randomBytes(3 << 20, 4);
    bytes.fill(0, 1 << 20, 2 << 20);
    await writeFile(raw, bytes);
    const examples = await libraryExamples();
    t.is(examples.length, 4, 'the README has four library examples');
    // Strict TypeScript with the repository's compiler and Node's types.
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', skipLibCheck: true, typeRoots: [join(ROOT, 'node_modules/@types')], types: ['node'], outDir: 'ts-out' }, include: ['*.ts'] }),
    );
    for (const [i, code] of examples.entries()) {
      await writeFile(join(project, `example${i}.mjs`), code);
      await writeFile(join(project, `example${i}.ts`), `${code}\nexport {};\n`);
    }
    const tsc = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project]).catch((error: { stdout: string }) => error);
    t.is((tsc as { stdout: string }).stdout ?? '', '', 'the examples compile as strict TypeScript');
    for (const [i] of examples.entries()) {
      for (const script of [`example${i}.mjs`, join('ts-out', `example${i}.js`)]) {
        const ran = await run(process.execPath, [script], { cwd: project }).catch((error: { stderr: string; code: number }) => error);
        t.is((ran as { code?: number }).code ?? 0, 0, `${script}: ${(ran as { stderr: string }).stderr}`);
      }
    }
    for (const image of ['disk.qcow2', 'piped.qcow2', 'streamed.qcow2']) t.true((await qemuCompare(raw, join(project, image))).identical, `${image} differs from its source`);
    const padded = Buffer.alloc(bytes.length);
    padded.set(bytes);
    t.true((await readFile(join(project, 'back.raw'))).equals(padded), 'back.raw is not the image');
  });
});
