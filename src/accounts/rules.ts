import type { Config } from '../config.js';
import { AppError } from '../shared/errors.js';

/** Usernames: 3–32 of [a-z0-9_.-], compared case-insensitively (stored lower-case). */
const USERNAME = /^[a-z0-9_.-]{3,32}$/;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

export function normalizeUsername(input: string): string {
  return input.trim().toLowerCase();
}

export function checkUsername(input: string): string {
  const name = normalizeUsername(input);
  if (!USERNAME.test(name)) {
    throw new AppError('VALIDATION_FAILED', 'Username must be 3–32 characters of a–z, 0–9, "_", "." or "-"');
  }
  return name;
}

/** Emails are NFKC-normalised and lower-cased so look-alike spellings collide on the unique index. */
export function normalizeEmail(input: string): string {
  return input.normalize('NFKC').trim().toLowerCase();
}

export function checkEmail(input: string): string {
  const email = normalizeEmail(input);
  if (email.length > 254 || !EMAIL.test(email) || /[\u0000-\u001f\u007f]/.test(email)) {
    throw new AppError('VALIDATION_FAILED', 'Email address is not valid');
  }
  return email;
}

export function checkPassword(password: string, policy: Config['password']): string {
  const length = [...password].length;
  if (length < policy.minLength) {
    throw new AppError('VALIDATION_FAILED', `Password must be at least ${policy.minLength} characters`);
  }
  if (length > policy.maxLength) {
    throw new AppError('VALIDATION_FAILED', `Password must be at most ${policy.maxLength} characters`);
  }
  if (password.includes('\u0000')) throw new AppError('VALIDATION_FAILED', 'Password must not contain NUL');
  return password;
}

/** A username for a user created from an email alone (seeds 001 and 004): its local part, cleaned. */
export function usernameFromEmail(email: string): string {
  const local = normalizeEmail(email).split('@')[0] ?? '';
  let base = local
    .replace(/[^a-z0-9_.-]+/g, '_')
    .replace(/^[._-]+|[._-]+$/g, '')
    .slice(0, 24);
  if (base.length < 3) base = `user_${base}`.slice(0, 24);
  return base;
}
