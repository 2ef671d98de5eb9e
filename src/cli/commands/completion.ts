import type { Command } from 'commander';

interface Verb {
  name: string;
  options: string[];
  description: string;
}

/** Every verb of the program (sub-verbs as "admin create"), with its long options. */
function verbs(program: Command): Verb[] {
  const found: Verb[] = [];
  const walk = (cmd: Command, prefix: string) => {
    for (const c of cmd.commands) {
      const name = prefix ? `${prefix} ${c.name()}` : c.name();
      found.push({ name, description: c.description(), options: c.options.map((o) => o.long).filter((l): l is string => !!l) });
      walk(c, name);
    }
  };
  walk(program, '');
  return found;
}

const top = (vs: Verb[]) => vs.filter((v) => !v.name.includes(' '));

function bash(program: Command, vs: Verb[]): string {
  const name = program.name();
  const cases = vs
    .filter((v) => !v.name.includes(' '))
    .map((v) => {
      const subs = vs.filter((s) => s.name.startsWith(`${v.name} `)).map((s) => s.name.split(' ')[1]);
      return `    ${v.name}) words="${[...subs, ...v.options, '--help'].join(' ')}" ;;`;
    })
    .join('\n');
  return `# bash completion for ${name}: eval "$(${name} completion bash)"
_${name}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" words
  if [ "$COMP_CWORD" -eq 1 ]; then
    words="${top(vs).map((v) => v.name).join(' ')} --help --version"
  else
    case "\${COMP_WORDS[1]}" in
${cases}
    *) words="" ;;
    esac
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
  [ \${#COMPREPLY[@]} -eq 0 ] && COMPREPLY=($(compgen -f -- "$cur"))
  return 0
}
complete -o default -F _${name} ${name}
`;
}

const quote = (s: string) => s.replace(/'/g, "'\\''").replace(/:/g, '\\:');

function zsh(program: Command, vs: Verb[]): string {
  const name = program.name();
  const list = top(vs).map((v) => `'${v.name}:${quote(v.description)}'`).join(' ');
  const cases = top(vs)
    .map((v) => `    ${v.name}) _values 'option' ${[...v.options, '--help'].map((o) => `'${o}'`).join(' ')} ; _files ;;`)
    .join('\n');
  return `#compdef ${name}
# zsh completion for ${name}: eval "$(${name} completion zsh)"
_${name}() {
  if (( CURRENT == 2 )); then
    local -a verbs; verbs=(${list})
    _describe 'command' verbs
    return
  fi
  case "\${words[2]}" in
${cases}
    *) _files ;;
  esac
}
compdef _${name} ${name}
`;
}

function fish(program: Command, vs: Verb[]): string {
  const name = program.name();
  const lines = [`# fish completion for ${name}: ${name} completion fish | source`, `complete -c ${name} -f`];
  for (const v of top(vs)) {
    lines.push(`complete -c ${name} -n '__fish_use_subcommand' -a '${v.name}' -d '${v.description.replace(/'/g, "\\'")}'`);
    for (const o of v.options) lines.push(`complete -c ${name} -n '__fish_seen_subcommand_from ${v.name}' -l '${o.replace(/^--/, '')}'`);
    if (['upload', 'download'].includes(v.name)) lines.push(`complete -c ${name} -n '__fish_seen_subcommand_from ${v.name}' -F`);
  }
  return `${lines.join('\n')}\n`;
}

/** `plaza completion bash|zsh|fish`: a script for that shell, from the program's own verbs. */
export function completionScript(program: Command, shell: 'bash' | 'zsh' | 'fish'): string {
  const vs = verbs(program);
  return shell === 'bash' ? bash(program, vs) : shell === 'zsh' ? zsh(program, vs) : fish(program, vs);
}
