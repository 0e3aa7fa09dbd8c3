/**
 * Where the memory part of a spool lives on Linux: an unlinked file on /dev/shm, a tmpfs, so
 * memory the kernel gives out in bulk as it copies, not page by page as the process first
 * touches it. On the virtual machines we run on, first touches cost about 4 ms a megabyte
 * (a gigabyte of fresh buffers is 4-5 s of page faults) while copying into tmpfs costs a tenth
 * of that: a 1 GiB raw image spooled with --spool-memory 2G took 4.6 s in pooled slabs and
 * 1.4 s through /dev/shm (`cat ext4.raw | convert -O qcow2 - - | cat > /dev/null`). It is still
 * memory, bounded by the spool's memory limit, but counted as the system's shared memory (and
 * a container's cgroup), not as this process's RSS.
 *
 * Used only where /dev/shm is a tmpfs this process can write with room for the whole memory
 * part; anywhere else (not Linux, a container's tiny /dev/shm) the spool keeps its memory part
 * in pooled slabs.
 */
import { constants } from 'node:fs';
import { access, statfs } from 'node:fs/promises';

const SHM = '/dev/shm';
/** statfs's f_type for tmpfs (linux/magic.h). */
const TMPFS_MAGIC = 0x01021994;

/** The directory for a memory part of `bytes`, or undefined to keep it in the process. */
export async function memoryFileDir(bytes: number): Promise<string | undefined> {
  if (process.platform !== 'linux' || bytes <= 0) return undefined;
  try {
    const info = await statfs(SHM);
    if (info.type !== TMPFS_MAGIC || info.bavail * info.bsize < 2 * bytes) return undefined;
    await access(SHM, constants.W_OK);
    return SHM;
  } catch {
    return undefined;
  }
}
