import { Argument, Command, InvalidArgumentError } from 'commander';
import { completionScript } from './cli/commands/completion.js';
import { ClientError } from './cli/client/errors.js';
import { clientVerbs, registerAccountCommands, registerChatCommands, registerFileCommands } from './cli/client-commands.js';
import { EXIT, UsageError } from './cli/exit-codes.js';
import { VERSION } from './ops/health.service.js';
import { AppError } from './shared/errors.js';

const out = (line: string) => process.stdout.write(`${line}\n`);

/** Set by commands given --json: failures are also one JSON line on stdout. */
let jsonErrors = false;

function fail(err: unknown): never {
  if (jsonErrors) {
    const code = err instanceof AppError || err instanceof ClientError ? err.code : err instanceof UsageError ? 'USAGE' : 'FAILED';
    out(JSON.stringify({ error: { code, message: (err as Error)?.message ?? String(err) } }));
  }
  if (err instanceof ClientError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(err.exit);
  }
  if (err instanceof UsageError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(EXIT.usage);
  }
  // config.ts's ConfigError and ops/secret.ts's SecretError, by name: config.ts loads only for server verbs.
  if (err instanceof Error && (err.name === 'ConfigError' || err.name === 'SecretError')) {
    process.stderr.write(`${err.message}\n`);
    process.exit(EXIT.config);
  }
  if (err instanceof AppError) {
    process.stderr.write(`Error: ${err.message}\n`);
    process.exit(err.status === 404 ? EXIT.notFound : err.status === 409 ? EXIT.conflict : EXIT.failure);
  }
  const e = err as { code?: string; message?: string };
  if (e?.code === 'EADDRINUSE')
    process.stderr.write(`Error: the port is already in use (${e.message}). Set PLAZA_PORT.\n`);
  else process.stderr.write(`Error: ${e?.message ?? String(err)}\n`);
  process.exit(EXIT.failure);
}

// The server verbs load the server only when run: a client verb starts without it (SPEC: a CLI must feel instant).
const admin$ = () => import('./cli/commands/admin.js');
const loadConfig = async () => (await import('./config.js')).loadConfig();
const backup$ = () => import('./cli/commands/backup.js');

const run =
  <A extends unknown[]>(fn: (...args: A) => Promise<void>) =>
  (...args: A) =>
    fn(...args).catch(fail);

function role(value: string): 'admin' | 'user' {
  if (value !== 'admin' && value !== 'user') throw new InvalidArgumentError('must be "admin" or "user"');
  return value;
}

const program = new Command()
  .name('plaza')
  .description("Plaza: a self-hosted server for a team's accounts, files and chat")
  .version(VERSION)
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage));

program
  .command('serve')
  .description('start the server (applies migrations first)')
  .action(run(async () => (await import('./cli/commands/serve.js')).serveCommand(await loadConfig())));

program
  .command('migrate')
  .description('apply database migrations and exit')
  .action(run(async () => (await admin$()).migrateCommand(await loadConfig(), out)));

const admin = program.command('admin').description('manage admins and users on this server (direct database access)');
admin
  .command('create')
  .description('create an admin account')
  .requiredOption('--username <name>', 'the admin username (3–32 of a-z 0-9 _ . -)')
  .option('--email <email>', 'an email address')
  .option('--password <password>', 'the password (visible in the process list; prefer --password-stdin)')
  .option('--password-stdin', 'read the password from standard input')
  .action(
    run(async (o: { username: string; email?: string; password?: string; passwordStdin?: boolean }) =>
      (await admin$()).adminCreate(await loadConfig(), o, out),
    ),
  );
admin
  .command('set-role')
  .description('make a user an admin or a regular user')
  .argument('<username>')
  .argument('<role>', 'admin or user', role)
  .action(run(async (username: string, r: 'admin' | 'user') => (await admin$()).adminSetRole(await loadConfig(), username, r, out)));
admin
  .command('reset-password')
  .description("set a user's password (generated and printed when none is given); ends their sessions")
  .argument('<username>')
  .option('--password <password>', 'the new password')
  .option('--password-stdin', 'read the new password from standard input')
  .action(
    run(async (username: string, o: { password?: string; passwordStdin?: boolean }) =>
      (await admin$()).adminResetPassword(await loadConfig(), username, o, out),
    ),
  );

program
  .command('backup')
  .description('write a backup archive (database snapshot + uploaded files + manifest) while the server may keep running')
  .option('--output <dir>', 'write the archive here instead of <data dir>/backups')
  .option('--json', 'print the result as one JSON line')
  .action(
    run(async (o: { output?: string; json?: boolean }) => {
      jsonErrors = o.json === true;
      await (await backup$()).backupCommand(await loadConfig(), o, out);
    }),
  );

program
  .command('restore')
  .description('restore a backup archive into the data dir (the server must be stopped)')
  .argument('[archive]', 'an archive path, or a name in <data dir>/backups (default: the newest there)')
  .option('--dry-run', 'verify the archive and show what would be replaced; change nothing')
  .option('--yes', 'do not ask for confirmation')
  .option('--json', 'print the result as one JSON line')
  .action(
    run(async (archive: string | undefined, o: { dryRun?: boolean; yes?: boolean; json?: boolean }) => {
      jsonErrors = o.json === true;
      await (await backup$()).restoreCommand(await loadConfig(), archive, o, out);
    }),
  );

const { verb, act } = clientVerbs(program, fail, (on) => {
  jsonErrors = on;
});
registerAccountCommands(verb, act);
registerFileCommands(verb, act, program);
registerChatCommands(verb, act);
program
  .command('completion')
  .description('print a shell completion script: eval "$(plaza completion bash)"')
  .addArgument(new Argument('<shell>').choices(['bash', 'zsh', 'fish']))
  .action((shell: 'bash' | 'zsh' | 'fish') => {
    process.stdout.write(completionScript(program, shell));
  });

program.parseAsync(process.argv).catch(fail);
