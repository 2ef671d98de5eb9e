/** A 1×1 PNG. */
export const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

/** POST /api/files with multipart parts, as a browser's FormData would send them. */
export async function uploadMultipart(base: string, token: string, files: { name: string; data: Buffer; field?: string }[]) {
  const form = new FormData();
  for (const f of files) form.append(f.field ?? 'file', new Blob([f.data]), f.name);
  const res = await fetch(`${base}/api/files`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}
