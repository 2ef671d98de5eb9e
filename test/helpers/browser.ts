import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';

/** Debian's Chromium (apt-get install chromium); Plaza never downloads a browser. */
export const CHROMIUM = process.env.PLAZA_TEST_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = path.resolve('test-results/e2e');

/**
 * Whether browser tests can run here. In CI a missing Chromium fails the run (.ci/run installs it);
 * elsewhere the suites are skipped with a clear line.
 */
export function browserAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI === 'true' || process.env.CI === '1') {
    throw new Error(`Chromium is required in CI but ${CHROMIUM} is missing (apt-get install -y chromium)`);
  }
  console.warn(`SKIPPING browser tests: ${CHROMIUM} is missing (apt-get install -y chromium). They run in CI.`);
  return false;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // This machine's network is closed: background fetches would only fail, many at a time.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A screenshot (the whole page unless told otherwise) under test-results/e2e/, for a person to look at. */
export async function screenshot(page: Page, name: string, fullPage = true) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
}
