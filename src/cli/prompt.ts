import { createInterface } from 'node:readline';

/** Reads one line from stdin: piped (`--password-stdin`) or typed at a prompt without echo. */
export async function readSecretInput(question: string, piped: boolean): Promise<string> {
  if (piped || !process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Hide what is typed: readline echoes through _writeToOutput.
  const mutable = rl as unknown as { _writeToOutput: (s: string) => void };
  process.stderr.write(question);
  mutable._writeToOutput = () => {};
  try {
    return await new Promise<string>((resolve) => rl.question('', resolve));
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}
