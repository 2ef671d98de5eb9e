import { closeSync, fsyncSync, openSync } from 'node:fs';

/**
 * fsyncs a file or a directory by path. A directory's fsync makes the names created, renamed or
 * removed in it durable; a file's, its bytes.
 */
export function fsyncPath(p: string): void {
  const fd = openSync(p, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
