/**
 * A network namespace joined to the host by a veth pair, for partition tests: processes started
 * inside (`wrap`) reach the host only at `hostIp`, over the veth. `cut()` takes the host end of the
 * link down, so packets vanish as with a failed switch (no reset: connections hang until their
 * own timeouts); `heal()` brings it back. Needs root (CAP_NET_ADMIN) and iproute2.
 */
import { execFileSync } from 'node:child_process';

export interface Netns {
  name: string;
  /** The host's end of the link: what processes inside dial to reach the host. */
  hostIp: string;
  /** The namespace's end. */
  nsIp: string;
  /** `file args` as a command that runs inside the namespace (same pid: `ip netns exec` execs). */
  wrap(file: string, args: string[]): { file: string; args: string[] };
  cut(): void;
  heal(): void;
  remove(): void;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Why network namespaces cannot be used here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return `the partition test needs root to create network namespaces (running as uid ${process.getuid?.()})`;
  const probe = `kiln-probe-${process.pid}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return undefined;
  } catch (err) {
    return `\`ip netns add\` failed (iproute2 installed? CAP_NET_ADMIN?): ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
}

/** Creates the namespace and its link; removed by `remove()` or, at the latest, when this process exits. */
export function createNetns(): Netns {
  const id = process.pid % 100_000;
  const name = `kiln-part-${id}`;
  const [hostEnd, nsEnd] = [`kp${id}h`, `kp${id}n`]; // interface names: 15 characters at most
  const subnet = `10.231.${process.pid % 250}`;
  const [hostIp, nsIp] = [`${subnet}.1`, `${subnet}.2`];
  const remove = () => {
    try {
      ip('netns', 'del', name); // takes its end of the veth pair, and so the pair, with it
    } catch {
      // already gone
    }
  };
  remove();
  ip('netns', 'add', name);
  process.once('exit', remove);
  try {
    ip('link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', nsEnd);
    ip('link', 'set', nsEnd, 'netns', name);
    ip('addr', 'add', `${hostIp}/30`, 'dev', hostEnd);
    ip('link', 'set', hostEnd, 'up');
    ip('-n', name, 'addr', 'add', `${nsIp}/30`, 'dev', nsEnd);
    ip('-n', name, 'link', 'set', nsEnd, 'up');
    // torchrun's rendezvous and gloo between nodes inside run over the namespace's own loopback.
    ip('-n', name, 'link', 'set', 'lo', 'up');
  } catch (err) {
    remove();
    throw err;
  }
  return {
    name,
    hostIp,
    nsIp,
    wrap: (file, args) => ({ file: 'ip', args: ['netns', 'exec', name, file, ...args] }),
    cut: () => ip('link', 'set', hostEnd, 'down'),
    heal: () => ip('link', 'set', hostEnd, 'up'),
    remove,
  };
}
