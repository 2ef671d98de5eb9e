import { type Command, InvalidArgumentError, Option } from 'commander';
import { type ClientContext, type ClientOptions, clientContext } from './client/context.js';
import { sendCommand } from './commands/chat.js';
import { imagesGetCommand } from './commands/images.js';
import { chatCommand } from './commands/chat-lines.js';
import { filesCommand, rmCommand, shareCommand } from './commands/files.js';
import { downloadCommand, uploadCommand } from './commands/transfers.js';
import { loginCommand, logoutCommand, privilegeCommand, registerCommand, whoamiCommand } from './commands/account.js';

type Fail = (err: unknown) => never;
type JsonSwitch = (on: boolean) => void;
// biome-ignore lint: commander hands options as a loose record
type Opts = any;
type Run = (ctx: ClientContext, o: Opts, ...args: Array<string | string[]>) => Promise<void>;

/**
 * The client verbs of `plaza` (parsing only): each gets --server and --json, builds its context
 * and hands its options and arguments to its run function in cli/commands/.
 */
export function clientVerbs(program: Command, fail: Fail, setJson: JsonSwitch) {
  const verb = (name: string, description: string) =>
    program
      .command(name)
      .description(description)
      .option('--server <url>', 'the Plaza server (default: PLAZA_SERVER, then the saved profile)')
      .option('--profile <name>', 'use a named profile (several servers or accounts); default: "default"')
      .option('--json', 'print the result (or error) as one JSON line on stdout');

  /** commander calls an action with the positional arguments, then the options, then the command. */
  const act = (fn: Run) => async (...args: unknown[]) => {
    const o = args.at(-2) as ClientOptions;
    setJson(o.json === true);
    try {
      await fn(await clientContext(o), o, ...(args.slice(0, -2) as Array<string | string[]>));
    } catch (err) {
      fail(err);
    }
  };
  return { verb, act, program };
}

export function registerAccountCommands(verb: Verbs['verb'], act: Verbs['act']) {
  verb('register', 'create an account on the server and log in')
    .argument('<username>')
    .option('--email <email>', 'an email address')
    .option('--password-stdin', 'read the password from standard input')
    .action(act((ctx, o, username) => registerCommand(ctx, username as string, o)));
  verb('login', 'log in and save the profile (server URL and refresh token; never the password)')
    .argument('<username>', 'username or email')
    .option('--password-stdin', 'read the password from standard input')
    .action(act((ctx, o, identifier) => loginCommand(ctx, identifier as string, o)));
  verb('logout', 'end the session on the server and forget the profile').action(act((ctx) => logoutCommand(ctx)));
  verb('whoami', 'who you are logged in as, and where').action(act((ctx) => whoamiCommand(ctx)));
  verb('privilege', 'elevate: get an access key (valid one hour) for protected resources').action(act((ctx) => privilegeCommand(ctx)));
}

type Verbs = ReturnType<typeof clientVerbs>;

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number ≥ 1');
  return n;
};

export function registerFileCommands(verb: Verbs['verb'], act: Verbs['act'], program: Command) {
  verb('files', 'list your files (a table on a terminal; tab-separated lines otherwise)')
    .addOption(new Option('--category <category>', 'only this category').choices(['images', 'documents', 'files']))
    .addOption(new Option('--sort <key>', 'sort by').choices(['name', 'size', 'created']))
    .option('--desc', 'largest, newest or last name first')
    .action(act((ctx, o) => filesCommand(ctx, o)));
  verb('upload', 'upload files (resumable: an interrupted upload of the same file resumes on the next run)')
    .argument('<path...>')
    .option('-r, --recursive', 'upload the files inside directories')
    .action(act((ctx, o, ...paths) => uploadCommand(ctx, paths.flat(), o)));
  verb('download', 'download a file (resumes a partial download; verifies its SHA-256)')
    .argument('<file>', 'a file id (fil_…) or name')
    .option('-o, --output <path>', 'a directory to download into, or a file path')
    .option('--force', 'replace an existing file')
    .action(act((ctx, o, ref) => downloadCommand(ctx, ref as string, o)));
  // `images get`: a verb with a sub-verb; the sub-verb takes --server/--profile/--json too.
  const images = program.command('images').description('your images, through a local web cache');
  images
    .command('get')
    .description('fetch an image into the local cache (a second view is revalidated: no body when unchanged)')
    .argument('<image>', 'an image name or id')
    .option('--open', "show it with the system's viewer")
    .option('--server <url>', 'the Plaza server (default: PLAZA_SERVER, then the saved profile)')
    .option('--profile <name>', 'use a named profile')
    .option('--json', 'print the result (or error) as one JSON line on stdout')
    .action(act((ctx, o, ref) => imagesGetCommand(ctx, ref as string, o)));
  verb('rm', 'delete files')
    .argument('<file...>', 'file ids (fil_…) or names')
    .action(act((ctx, _o, ...refs) => rmCommand(ctx, refs.flat())));
  verb('share', 'make a share link for a file')
    .argument('<file>', 'a file id (fil_…) or name')
    .option('--expires <duration>', 'how long the link lives: 30m, 12h, 7d (default: the server\'s)')
    .option('--max-downloads <n>', 'how many downloads the link allows', positiveInt)
    .action(act((ctx, o, ref) => shareCommand(ctx, ref as string, o)));
}

export function registerChatCommands(verb: Verbs['verb'], act: Verbs['act']) {
  verb('send', 'send a message to a room (by name or id) or to @user; the text from the arguments or stdin')
    .argument('<room|@user>')
    .argument('[text...]', 'the message (default: read from stdin)')
    .action(act((ctx, _o, target, text) => sendCommand(ctx, target as string, (text as string[] | undefined) ?? [])));
  verb('chat', 'chat in line mode: events as lines on stdout, stdin lines sent (/join, /leave, /dm, /who, /quit)')
    .argument('[room]', 'a room name or id, or @user (default: only follow your rooms until /join)')
    .action(act((ctx, _o, room) => chatCommand(ctx, room as string | undefined)));
}
