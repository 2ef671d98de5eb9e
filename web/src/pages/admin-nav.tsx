import { useLocation } from 'preact-iso';

const PAGES = [
  { href: '/admin', label: 'Users' },
  { href: '/admin/console', label: 'Database console' },
  { href: '/admin/audit', label: 'Audit log' },
];

/** The admin area's pages. */
export function AdminNav() {
  const { path } = useLocation();
  return (
    <nav aria-label="Admin pages" class="admin-nav">
      {PAGES.map((p) => (
        <a key={p.href} href={p.href} aria-current={path === p.href ? 'page' : undefined}>
          {p.label}
        </a>
      ))}
    </nav>
  );
}

/** What a non-admin sees on an admin page. */
export function NotAllowed() {
  return (
    <section class="page narrow">
      <h1>Not allowed</h1>
      <p>Only administrators can open the admin pages.</p>
    </section>
  );
}
