/**
 * A small file system of its own for disk-full tests: a tmpfs of `sizeMb` mounted on a fresh
 * folder (root only: mount(2) needs CAP_SYS_ADMIN). `fill()` writes a ballast file until the
 * device reports ENOSPC; `free()` removes it, as an operator freeing space would; `unmount()`
 * ends it.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SmallDisk {
  dir: string;
  /** Bytes free now. */
  freeBytes(): number;
  /** Writes a ballast until the disk is full; returns its size. */
  fill(): number;
  /** Removes the ballast. */
  free(): void;
  unmount(): void;
}

export function mountSmallDisk(sizeMb: number): SmallDisk {
  if (process.getuid?.() !== 0) throw new Error('the disk-full test mounts a tmpfs and must run as root (mount needs CAP_SYS_ADMIN)');
  const dir = mkdtempSync(join(tmpdir(), 'kiln-small-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0755`, 'kiln-small-disk', dir], { stdio: 'pipe' });
  const ballast = join(dir, 'ballast.bin');
  return {
    dir,
    freeBytes() {
      const s = statfsSync(dir);
      return s.bavail * s.bsize;
    },
    fill() {
      const fd = openSync(ballast, 'a');
      const chunk = Buffer.alloc(64 * 1024, 0x6b);
      let written = 0;
      try {
        for (;;) written += writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        closeSync(fd);
      }
      return written;
    },
    free() {
      rmSync(ballast, { force: true });
    },
    unmount() {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
