import type { ComponentChildren } from 'preact';
import { useLocation } from 'preact-iso';
import { totalUnread } from './chat-socket.js';
import { logout, session } from './session.js';

const NAV = [
  { href: '/files', label: 'Files' },
  { href: '/chat', label: 'Chat' },
  { href: '/profile', label: 'Profile' },
];

/** The frame around every page: the product's name, its sections, who is signed in. */
export function Layout({ children }: { children: ComponentChildren }) {
  const { path } = useLocation();
  const me = session.value;
  const items = me?.user.role === 'admin' ? [...NAV, { href: '/admin', label: 'Admin' }] : NAV;
  return (
    <div class="shell">
      <a class="skip" href="#main">Skip to content</a>
      <header class="topbar">
        <a class="brand" href="/files">
          <span class="logo" aria-hidden="true">P</span>
          <span>Plaza</span>
        </a>
        <nav aria-label="Sections" class="sections">
          {items.map((n) => (
            <a key={n.href} href={n.href} aria-current={path === n.href || path.startsWith(`${n.href}/`) ? 'page' : undefined}>
              {n.label}
              {n.href === '/chat' && totalUnread() > 0 && <span class="badge nav-badge" aria-label={`${totalUnread()} unread`}>{totalUnread()}</span>}
            </a>
          ))}
        </nav>
        <div class="who">
          <span class="muted" title="Signed in as">{me?.user.username}</span>
          <button type="button" class="ghost" onClick={() => void logout()}>
            Log out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}

export function NotFound() {
  return (
    <section class="page narrow">
      <h1>Page not found</h1>
      <p>
        There is nothing at this address. Go to your <a href="/files">files</a>.
      </p>
    </section>
  );
}
