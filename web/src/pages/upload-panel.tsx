import { formatBytes, formatSpeed, revealControls } from '../format.js';
import { cancel, clearFinished, dismiss, pause, resume, totals, type UploadItem, unfinishedFromEarlier, uploads } from '../uploads.js';

const STATUS: Record<UploadItem['status'], string> = {
  queued: 'Waiting',
  uploading: 'Uploading',
  paused: 'Paused',
  done: 'Done',
  error: 'Failed',
  cancelled: 'Cancelled',
};

function Row({ u }: { u: UploadItem }) {
  const pct = u.size > 0 ? Math.round(((u.status === 'done' ? u.size : u.sent) / u.size) * 100) : 100;
  return (
    <div class={`upload ${u.status}`} data-upload={u.name}>
      <div>
        <strong class="upload-name">{revealControls(u.name)}</strong>
        <div class="meta" role={u.status === 'error' ? 'alert' : undefined}>
          {u.status === 'error'
            ? u.error
            : `${u.status === 'uploading' && u.retrying ? 'Connection lost, retrying' : STATUS[u.status]}${u.resumed ? ' (resumed)' : ''} · ${formatBytes(u.status === 'done' ? u.size : u.sent)} of ${formatBytes(u.size)}${u.status === 'uploading' && u.speed && !u.retrying ? ` · ${formatSpeed(u.speed)}` : ''}`}
        </div>
      </div>
      <div class="row">
        {u.status === 'uploading' && <button type="button" class="small" onClick={() => pause(u.key)}>Pause</button>}
        {(u.status === 'paused' || (u.status === 'error' && !u.final)) && <button type="button" class="small" onClick={() => resume(u.key)}>Resume</button>}
        {u.status === 'error' && u.final ? (
          <button type="button" class="small" aria-label={`Remove ${u.name} from the list`} onClick={() => dismiss(u.key)}>Remove</button>
        ) : (
          u.status !== 'done' && u.status !== 'cancelled' && <button type="button" class="small" onClick={() => cancel(u.key)}>Cancel</button>
        )}
      </div>
      <div class="bar" role="progressbar" aria-label={`${u.name} progress`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
        <span style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}

/** Every upload of this visit, with the total on top; earlier unfinished ones are named. */
export function UploadPanel() {
  const list = uploads.value.filter((u) => u.status !== 'cancelled');
  const t = totals.value;
  const earlier = list.length === 0 ? unfinishedFromEarlier() : [];
  if (list.length === 0 && earlier.length === 0) return null;
  const pct = t.size > 0 ? Math.round((t.sent / t.size) * 100) : 0;
  return (
    <div class="card uploads" aria-label="Uploads">
      {list.length > 0 && (
        <div class="row" id="upload-total">
          <strong>
            {t.active > 0
              ? `Uploading ${t.active} of ${t.count} files`
              : [t.done > 0 ? `${t.done} ${t.done === 1 ? 'upload' : 'uploads'} finished` : '', t.failed > 0 ? `${t.failed} failed` : '', t.count - t.done - t.failed > 0 ? `${t.count - t.done - t.failed} paused` : '']
                  .filter(Boolean)
                  .join(' · ')}
          </strong>
          <span class="muted">{formatBytes(t.sent)} of {formatBytes(t.size)} · {pct}%{t.speed ? ` · ${formatSpeed(t.speed)}` : ''}</span>
          <span class="spacer" />
          {t.active === 0 && <button type="button" class="small" onClick={clearFinished}>Clear</button>}
        </div>
      )}
      {list.map((u) => <Row key={u.key} u={u} />)}
      {earlier.length > 0 && (
        <p class="muted" id="unfinished">
          Unfinished from before: {earlier.map((e) => `${e.name} (${formatBytes(e.size)})`).join(', ')}. Add the same files again to continue where they stopped.
        </p>
      )}
    </div>
  );
}
