import { EXIT } from '../exit-codes.js';
import { ApiClient } from './api-client.js';
import { type ClientEnvironment, clientEnvironment } from './environment.js';
import { ClientError } from './errors.js';
import { profilePath } from './profile.js';

/** The options every client command takes. */
export interface ClientOptions {
  server?: string;
  profile?: string;
  json?: boolean;
}

/** What a client command runs with: the API client, where to print, and how. */
export interface ClientContext {
  api: ApiClient;
  env: ClientEnvironment;
  json: boolean;
  /** Progress bars and tables: only when a person is watching and not for --json. */
  interactive: boolean;
  out(line: string): void;
  /** The command's result: one JSON line with --json, else the human lines. */
  result(value: unknown, human: () => string | string[]): void;
}

export async function clientContext(o: ClientOptions): Promise<ClientContext> {
  const env = clientEnvironment();
  const api = await ApiClient.open(profilePath(env.configDir, o.profile), o.server, env.server);
  const json = o.json === true;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  return {
    api,
    env,
    json,
    interactive: !json && process.stderr.isTTY === true,
    out,
    result(value, human) {
      if (json) out(JSON.stringify(value));
      else for (const line of [human()].flat()) out(line);
    },
  };
}

export const usage = (message: string) => new ClientError('USAGE', message, EXIT.usage);
