// A cpio archive in the kernel's initramfs format ("newc"), for the few files the harness adds
// to the cached base images at boot (their /init). The kernel unpacks concatenated archives,
// compressed or not, one after the other, so this + base.cpio.gz = an initramfs whose /init is
// the checkout's. Format: Documentation/driver-api/early-userspace/buffer-format.rst.

export interface CpioFile {
  /** Path inside the archive, without a leading slash. */
  name: string;
  data: string | Uint8Array;
  /** Permission bits; a regular file either way. */
  mode: number;
}

const S_IFREG = 0o100000;

/** The archive of `files`, trailer included. */
export function cpioNewc(files: readonly CpioFile[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const f of files) parts.push(entry(f.name, S_IFREG | f.mode, Buffer.from(f.data), ino++));
  parts.push(entry('TRAILER!!!', 0, Buffer.alloc(0), 0));
  return Buffer.concat(parts);
}

function entry(name: string, mode: number, data: Buffer, ino: number): Buffer {
  const nameBytes = Buffer.from(`${name}\0`);
  const fields = [ino, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0];
  const header = Buffer.from(`070701${fields.map((v) => v.toString(16).padStart(8, '0')).join('')}`, 'ascii');
  // The name is padded so that the data starts on a multiple of 4; the data so the next header does.
  return Buffer.concat([header, nameBytes, pad(header.length + nameBytes.length), data, pad(data.length)]);
}

function pad(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}
