import type { Command } from 'commander';
import { type ClientContext, type ClientOptions, clientContext } from './client/context.js';
import { loginCommand, logoutCommand, privilegeCommand, registerCommand, whoamiCommand } from './commands/account.js';

type Fail = (err: unknown) => never;
type JsonSwitch = (on: boolean) => void;
// biome-ignore lint: commander hands options as a loose record
type Opts = any;
type Run = (ctx: ClientContext, o: Opts, ...args: string[]) => Promise<void>;

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
      .option('--json', 'print the result (or error) as one JSON line on stdout');

  /** commander calls an action with the positional arguments, then the options, then the command. */
  const act = (fn: Run) => async (...args: unknown[]) => {
    const o = args.at(-2) as ClientOptions;
    setJson(o.json === true);
    try {
      await fn(await clientContext(o), o, ...(args.slice(0, -2) as string[]));
    } catch (err) {
      fail(err);
    }
  };
  return { verb, act };
}

export function registerAccountCommands(verb: ReturnType<typeof clientVerbs>['verb'], act: ReturnType<typeof clientVerbs>['act']) {
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
