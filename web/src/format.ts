// Sizes, dates and speeds as people read them (Intl does the dates: no library needed).

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function formatSpeed(bytesPerSecond: number): string {
  return bytesPerSecond > 0 ? `${formatBytes(Math.round(bytesPerSecond))}/s` : '';
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

export function formatDate(ms: number): string {
  return dateTime.format(ms);
}

export function formatTime(ms: number): string {
  return timeOnly.format(ms);
}

/** "3 minutes ago", "in 2 hours"; exact dates past a week. */
export function formatRelative(ms: number, now = Date.now()): string {
  const s = Math.round((ms - now) / 1000);
  const abs = Math.abs(s);
  if (abs < 45) return relative.format(0, 'second');
  if (abs < 3600) return relative.format(Math.round(s / 60), 'minute');
  if (abs < 86_400) return relative.format(Math.round(s / 3600), 'hour');
  if (abs < 7 * 86_400) return relative.format(Math.round(s / 86_400), 'day');
  return formatDate(ms);
}

export function categoryLabel(c: string): string {
  return c === 'images' ? 'Image' : c === 'documents' ? 'Document' : 'Other';
}

/** Invisible and direction-changing characters: harmless in text, but they can disguise it. */
const CONTROLS = /[\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/g;

/**
 * Text with its invisible and bidirectional control characters shown as `⟨U+202E⟩`, so
 * `evil\u202Egnp.exe` cannot pass for `evilexe.png` and zero-width tricks are seen.
 */
export function revealControls(s: string): string {
  return s.replace(CONTROLS, (c) => `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}⟩`);
}
