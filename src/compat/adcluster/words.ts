/**
 * Seed 004's reply strings, and Python's ways of printing values (the seed printed Python lists
 * and `json.dumps` output). Every line a seed 004 socket sends is worded here.
 */

export const ADCLUSTER_HELP =
  'Commands: /send_to <client_id> <message>, /join <group>, /leave <group>, /group <message>, /groups, ' +
  '/group_members <group>, /my_groups; any other text goes to your groups';

export const GROUP_NAME_RULE = 'Group names are 1-64 letters, digits, "_", "." or "-"';

export const words = {
  welcome: (id: string, group?: string) =>
    `Connected as client '${id}'${group !== undefined ? ` in group '${group}'` : ''}. ${ADCLUSTER_HELP}`,
  echo: (text: string) => `Message text was: ${text}`,
  sent: (id: string) => `Message sent to client '${id}'`,
  sendFailed: (id: string) => `Failed to send message to client '${id}'. Client not found or disconnected.`,
  joined: (group: string) => `Joined group: ${group}`,
  left: (group: string) => `Left group: ${group}`,
  groups: (json: string) => `Available groups: ${json}`,
  members: (group: string, names: string[]) => `Members in group '${group}': ${pyList(names)}`,
  myGroups: (names: string[]) => `Your groups: ${pyList(names)}`,
  private: (from: string, text: string) => `Private message from client '${from}': ${text}`,
  group: (from: string, text: string) => `Group message from client '${from}': ${text}`,
  text: (from: string, text: string) => `Client '${from}': ${text}`,
  /** Plain text outside any group: the seed's own words to the sender. */
  says: (from: string, text: string) => `Client '${from}' says: ${text}`,
  joinedGroup: (name: string, group: string) => `Client '${name}' joined group '${group}'`,
  leftGroup: (name: string, group: string) => `Client '${name}' left group '${group}'`,
  disconnected: (name: string) => `Client '${name}' has disconnected`,
  error: (reason: string) => `Error: ${reason}`,
  notInGroup: (group: string) => `You are not in group '${group}'`,
  noGroupAtAll: 'You are not in any group; use /join <group> first',
  onlyText: 'Only text frames are supported',
  tooMany: (per10s: number) => `Too many messages: at most ${per10s} per 10 seconds; slow down`,
  /** A fault's message is never shown; this is. */
  fault: 'Something went wrong; try again',
};

/** Python's repr of a string (seed 004 printed Python lists). */
export function pyStr(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}

export const pyList = (items: string[]) => `[${items.map(pyStr).join(', ')}]`;

/**
 * What Python's `json.dumps` writes with its defaults (seed 004 printed its group list so): ", " and
 * ": " between items, everything beyond ASCII as \uXXXX (UTF-16 units, as Python does).
 */
export function pyJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pyJson).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${pyJson(k)}: ${pyJson(v)}`).join(', ')}}`;
  }
  return JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
