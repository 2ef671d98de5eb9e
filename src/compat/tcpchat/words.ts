import type { Failure } from '../../shared/error-map.js';

/** What seed 003's client reads: its headers, its login replies and every line a TCP user is shown. */

export const HEADER_MESSAGE = '[MESG]';
export const HEADER_FILE = '[FILE]';
export const HEADER_EXIT = '[!EXIT]';
export const REPLY_WELCOME = '환영';
export const REPLY_WRONG_PASSWORD = '비틀림';
export const REPLY_ALREADY_ONLINE = '아중복';

export const joinedText = (name: string, count: number) => `${name}님이 입장하셨습니다. (대화 참여자 수 ${count})`;
export const rejoinedText = (name: string) => `${name}님이 재입장하셨습니다.`;
export const leftText = (name: string) => `${name}님이 퇴장하셨습니다.`;
export const deactivatedText = (name: string) => `${name}님이 비활성되었습니다.`;
/** A chat line: the seed relays `[<id>] : <what the client sent>`, which ends in tkinter's newline. */
export const chatLine = (name: string, body: string) => `[${name}] : ${body}\n`;

export const FILE_REFUSED = '파일을 받을 수 없습니다';
export const MESSAGE_REFUSED = '메시지를 보낼 수 없습니다';

export const BAD_FILE_SIZE = `${FILE_REFUSED}: 파일 크기가 올바르지 않습니다.`;
export const BAD_FILE_NAME = `${FILE_REFUSED}: 파일 이름이 올바르지 않습니다.`;
export const BAD_FILE_INFO = `${FILE_REFUSED}: 파일 정보가 올바르지 않습니다.`;
export const REMOVED_FROM_ROOM = `${MESSAGE_REFUSED}: 대화방에서 내보내졌습니다.`;

/**
 * `<refusal>: <reason>.` for a failure without words of its own: the server's condition (a full
 * disk, the database down) is said in its own message, which tells the user to retry; anything
 * else (a fault included, whose message is masked anyway) is just the refusal.
 */
function otherwise(refused: string, f: Failure): string {
  if (f.kind !== 'unavailable') return `${refused}.`;
  return `${refused}: ${f.message}${/[.!?]$/.test(f.message) ? '' : '.'}`;
}

export function fileRefusal(f: Failure): string {
  switch (f.code) {
    case 'FILE_TOO_LARGE':
      return `${FILE_REFUSED}: 업로드 한도를 넘는 크기입니다.`;
    case 'QUOTA_EXCEEDED':
      return `${FILE_REFUSED}: 저장 공간이 부족합니다.`;
    case 'UPLOAD_INCOMPLETE':
      return `${FILE_REFUSED}: 파일 내용이 끝까지 오지 않았습니다.`;
    case 'VALIDATION_FAILED':
      return BAD_FILE_NAME;
    case 'RATE_LIMITED':
      return `${FILE_REFUSED}: 너무 빠르게 보내고 있습니다.`;
    default:
      return otherwise(FILE_REFUSED, f);
  }
}

export function messageRefusal(f: Failure): string {
  switch (f.code) {
    case 'RATE_LIMITED':
      return `${MESSAGE_REFUSED}: 너무 빠르게 보내고 있습니다.`;
    case 'NOT_MEMBER':
    case 'NOT_FOUND':
      return `${MESSAGE_REFUSED}: 대화방에 속해 있지 않습니다.`;
    default:
      return otherwise(MESSAGE_REFUSED, f);
  }
}
