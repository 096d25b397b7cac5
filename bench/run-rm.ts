/**
 * bench/run-rm: a batch job end to end, `run --rm IMAGE true` through the
 * local door (a fresh `dcm --user bench` process each time, the way `sudo
 * dcm run` runs), against `docker run --rm IMAGE true`, alternating in one
 * run. The door is measured twice: while dcm-server serves the installation
 * (the command goes to its socket) and for an installation no server serves
 * (the process loads the whole program). The raw baseline runs twice too: on
 * Docker's default bridge, and on a network of its own as dcm's containers
 * are (each user's containers are on their own network: what Docker itself
 * charges for that isolation is not dcm's). Prints medians and ratios
 * (aim <= 1.2).
 *
 *   bash scripts/bench.sh run-rm [-- --rounds N]
 */
import { execFile, execFileSync } from 'node:child_process';
import { TestEnv, BASE_IMAGE, BIN } from '../test/helpers/env.js';
import { tp } from '../test/helpers/ports.js';
import { startServer } from '../test/helpers/ssh.js';
import { median } from '../test/helpers/stats.js';
import { doorEnv, doorPair } from './door-pair.js';

const rounds = Math.min(Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 10, 40);
const DEADLINE = Date.now() + 10 * 60 * 1000;

/** Runs a program to its end and returns how long it took; fails on a non-zero exit. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr}`));
      else resolve(performance.now() - t);
    });
  });
}

async function main(): Promise<void> {
  const env = new TestEnv({ tag: 'benchrun', sshPorts: '30090-30094', extraYaml: 'defaults:\n  commands: { allow: [run] }' });
  const alone = new TestEnv({ tag: 'benchrun2', sshPorts: '30095-30097', extraYaml: 'defaults:\n  commands: { allow: [run] }' });
  const rawNet = `${env.instance}-raw-net`;
  try {
    await doorPair(env, alone);
    execFileSync('docker', ['network', 'create', '--label', `dcm.instance=${env.instance}`, rawNet], { stdio: 'ignore' });
    const server = await startServer(env, tp(30099));
    const door = ['--user', 'bench', 'run', '--rm', BASE_IMAGE, 'true'];
    // One of each first: the user's network is made at the first job, and the image's layers are warm.
    await timed(process.execPath, [BIN.dcm, ...door], doorEnv(env));
    await timed(process.execPath, [BIN.dcm, ...door], doorEnv(alone));
    const viaServer: number[] = [];
    const inDoor: number[] = [];
    const raw: number[] = [];
    const rawOwnNet: number[] = [];
    const label = ['--label', `dcm.instance=${env.instance}`];
    for (let i = 0; i < rounds && Date.now() < DEADLINE; i++) {
      viaServer.push(await timed(process.execPath, [BIN.dcm, ...door], doorEnv(env)));
      raw.push(await timed('docker', ['run', '--rm', ...label, BASE_IMAGE, 'true'], process.env));
      inDoor.push(await timed(process.execPath, [BIN.dcm, ...door], doorEnv(alone)));
      rawOwnNet.push(await timed('docker', ['run', '--rm', ...label, '--network', rawNet, BASE_IMAGE, 'true'], process.env));
      process.stderr.write(
        `round ${i + 1}: dcm ${viaServer.at(-1)!.toFixed(0)} ms, dcm without server ${inDoor.at(-1)!.toFixed(0)} ms, docker run ${raw.at(-1)!.toFixed(0)} ms, docker run on its own network ${rawOwnNet.at(-1)!.toFixed(0)} ms\n`,
      );
    }
    await server.stop();
    const r = median(raw);
    const rn = median(rawOwnNet);
    const ratio = (xs: number[], base: number) => (median(xs) / base).toFixed(2);
    console.log(
      `run-rm (${raw.length} rounds): docker run --rm median ${r.toFixed(0)} ms; dcm run --rm (dcm-server serving) median ${median(viaServer).toFixed(0)} ms, ratio ${ratio(viaServer, r)}; without dcm-server median ${median(inDoor).toFixed(0)} ms, ratio ${ratio(inDoor, r)} (aim <= 1.2)`,
    );
    console.log(
      `against docker run --rm on a network of its own (median ${rn.toFixed(0)} ms): dcm-server serving ratio ${ratio(viaServer, rn)}; without dcm-server ratio ${ratio(inDoor, rn)}`,
    );
  } finally {
    execFileSync('docker', ['network', 'rm', rawNet], { stdio: 'ignore' });
    await env.cleanup();
    await alone.cleanup();
  }
}

void main();
