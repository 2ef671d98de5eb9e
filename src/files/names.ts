import { AppError } from '../shared/errors.js';

/**
 * Original names are metadata, never paths: the last path segment only, no control characters,
 * Unicode NFC, at most 255 UTF-8 bytes. Reserved dot names are refused.
 */
export function cleanOriginalName(input: string): string {
  let name = input.normalize('NFC').replace(/[\u0000-\u001f\u007f]/g, '');
  name = name.split(/[/\\]/).pop() ?? '';
  name = name.trim();
  if (name === '' || name === '.' || name === '..') throw new AppError('VALIDATION_FAILED', 'File name is empty or not allowed');
  while (Buffer.byteLength(name) > 255) name = [...name].slice(0, -1).join('');
  return name;
}

/** A stored name is ours: `<random>.<ext>` with a short lower-case alphanumeric extension. */
export function isStoredName(name: string): boolean {
  return /^[A-Za-z0-9_-]{16,40}(\.[a-z0-9]{1,10})?$/.test(name);
}
