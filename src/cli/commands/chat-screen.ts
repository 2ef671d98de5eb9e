import { createInterface, type Interface } from 'node:readline';

/** How `plaza chat` shows events and reads lines: a full screen on a terminal, plain lines otherwise. */
export interface ChatView {
  /** An event line (history). */
  say(line: string): void;
  /** The status bar's text (room, connection, unsent messages); lines only mode prints nothing. */
  status(text: string): void;
  /** Starts reading typed lines. */
  start(onLine: (line: string) => void, onQuit: () => void): void;
  close(): void;
}

const HISTORY_MAX = 2000;
const ESC = '\x1b[';

/** A line cut into rows of at most `cols` characters (code points; wide characters count as one). */
function wrap(line: string, cols: number): string[] {
  const chars = [...line];
  if (chars.length === 0) return [''];
  const rows: string[] = [];
  for (let i = 0; i < chars.length; i += cols) rows.push(chars.slice(i, i + cols).join(''));
  return rows;
}

/**
 * The terminal view (decision 0010): the alternate screen, history in the rows above, a status bar,
 * and readline's input line on the last row. History is redrawn as a whole (coalesced to one write
 * per tick) with the cursor saved and restored around it, so a message arriving mid-typing never
 * touches the input row. PageUp/PageDown scroll back; a resize redraws.
 */
export function screenView(input: NodeJS.ReadStream, output: NodeJS.WriteStream): ChatView {
  const history: string[] = [];
  let statusText = '';
  let back = 0;
  let queued = false;
  let rl: Interface | undefined;
  let closed = false;
  const size = () => ({ rows: Math.max(output.rows ?? 24, 4), cols: Math.max(output.columns ?? 80, 20) });

  const render = () => {
    queued = false;
    if (closed) return;
    const { rows, cols } = size();
    const height = rows - 2;
    const visual = history.flatMap((l) => wrap(l, cols));
    back = Math.min(back, Math.max(visual.length - height, 0));
    const end = visual.length - back;
    const shown = visual.slice(Math.max(end - height, 0), end);
    let out = '\x1b7';
    for (let r = 0; r < height; r++) out += `${ESC}${r + 1};1H${ESC}2K${shown[r - (height - shown.length)] ?? ''}`;
    const more = back > 0 ? ` · ${back} rows below (PageDown)` : '';
    const bar = [...`${statusText}${more}`].slice(0, cols).join('').padEnd(cols);
    out += `${ESC}${rows - 1};1H${ESC}2K${ESC}7m${bar}${ESC}0m\x1b8`;
    output.write(out);
  };
  const schedule = () => {
    if (queued) return;
    queued = true;
    setImmediate(render);
  };
  /** Everything again (a resize, the start): history, bar, and the input line on the last row. */
  const full = () => {
    // The scrolling region stops above the bar: the newline readline writes after each typed line
    // leaves the cursor on the last row instead of scrolling the whole screen.
    const { rows } = size();
    output.write(`${ESC}1;${rows - 2}r${ESC}2J${ESC}${rows};1H`);
    render();
    rl?.prompt(true);
  };
  const onResize = () => full();
  const onKey = (_s: string, key: { name?: string } | undefined) => {
    const page = size().rows - 3;
    if (key?.name === 'pageup') back += page;
    else if (key?.name === 'pagedown') back = Math.max(back - page, 0);
    else return;
    schedule();
  };

  return {
    say(line) {
      history.push(line);
      if (history.length > HISTORY_MAX) history.splice(0, history.length - HISTORY_MAX);
      schedule();
    },
    status(text) {
      statusText = text;
      schedule();
    },
    start(onLine, onQuit) {
      output.write(`${ESC}?1049h`);
      rl = createInterface({ input, output, terminal: true, prompt: '> ', historySize: 100 });
      full();
      rl.on('line', (line) => {
        // The typed line leaves the input row; it comes back from the server as a message.
        onLine(line);
        if (!closed) rl?.prompt();
      });
      rl.on('close', onQuit);
      rl.on('SIGINT', onQuit);
      input.on('keypress', onKey);
      output.on('resize', onResize);
    },
    close() {
      if (closed) return;
      closed = true;
      input.off('keypress', onKey);
      output.off('resize', onResize);
      rl?.close();
      output.write(`${ESC}r${ESC}?1049l`);
    },
  };
}

/** Lines mode (stdout is not a terminal, or --json): events on stdout, errors on stderr, stdin lines read. */
export function lineView(out: (line: string) => void): ChatView & { started: boolean } {
  let rl: Interface | undefined;
  return {
    started: false,
    say(line) {
      if (line.startsWith('!')) process.stderr.write(`${line}\n`);
      else out(line);
    },
    status() {},
    start(onLine, onQuit) {
      this.started = true;
      rl = createInterface({ input: process.stdin, terminal: false });
      rl.on('line', onLine);
      rl.on('close', onQuit);
    },
    close() {
      rl?.close();
    },
  };
}
