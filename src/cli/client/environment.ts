import { homedir } from 'node:os';
import path from 'node:path';

/**
 * Where the client keeps its files and which server it talks to by default. The client reads its
 * own few variables here (the server's settings are config.ts's): XDG_CONFIG_HOME, XDG_CACHE_HOME,
 * HOME, PLAZA_SERVER and PLAZA_CACHE_MAX_BYTES.
 */
export interface ClientEnvironment {
  configDir: string;
  cacheDir: string;
  server?: string | undefined;
  /** The image cache's bound (PLAZA_CACHE_MAX_BYTES), least recently used entries evicted past it. */
  cacheMaxBytes?: number | undefined;
}

export function clientEnvironment(env: NodeJS.ProcessEnv = process.env): ClientEnvironment {
  const home = env.HOME && env.HOME !== '' ? env.HOME : homedir();
  const xdg = (name: string, fallback: string) => {
    const v = env[name];
    // The XDG spec: a relative path is invalid and is ignored.
    return v && path.isAbsolute(v) ? v : path.join(home, fallback);
  };
  return {
    configDir: path.join(xdg('XDG_CONFIG_HOME', '.config'), 'plaza'),
    cacheDir: path.join(xdg('XDG_CACHE_HOME', '.cache'), 'plaza'),
    server: env.PLAZA_SERVER && env.PLAZA_SERVER !== '' ? env.PLAZA_SERVER : undefined,
    cacheMaxBytes: /^\d+$/.test(env.PLAZA_CACHE_MAX_BYTES ?? '') ? Number(env.PLAZA_CACHE_MAX_BYTES) : undefined,
  };
}
