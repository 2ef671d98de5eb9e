import { render } from 'preact';
import { lazy, LocationProvider, Route, Router } from 'preact-iso';
import { sentence } from './api.js';
import { connect } from './chat-socket.js';
import { Layout, NotFound } from './layout.js';
import { AdminPage } from './pages/admin.js';
import { ChatPage } from './pages/chat.js';
import { FilesPage } from './pages/files.js';
import { ProfilePage } from './pages/profile.js';
import { loadSession, session } from './session.js';
import './styles.css';

// The console (with chart.js, loaded later still) and the audit log are chunks of their own.
const ConsolePage = lazy(() => import('./pages/admin-console.js').then((m) => m.ConsolePage));
const AuditPage = lazy(() => import('./pages/admin-audit.js').then((m) => m.AuditPage));

function App() {
  if (!session.value) return <p class="loading">Loading…</p>;
  return (
    <LocationProvider>
      <Layout>
        <Router>
          <Route path="/files" component={FilesPage} />
          {/* Seed 002's file manager address: browsers get the app's files page there. */}
          <Route path="/index" component={FilesPage} />
          <Route path="/chat" component={ChatPage} />
          <Route path="/chat/:room" component={ChatPage} />
          <Route path="/profile" component={ProfilePage} />
          <Route path="/admin" component={AdminPage} />
          <Route path="/admin/console" component={ConsolePage} />
          <Route path="/admin/audit" component={AuditPage} />
          <Route default component={NotFound} />
        </Router>
      </Layout>
    </LocationProvider>
  );
}

const root = document.getElementById('app');
if (root) {
  render(<App />, root);
  loadSession()
    // One chat connection for the whole visit: presence and unread counts stay live on every page.
    .then((me) => connect(me.user.id))
    .catch((err: unknown) => {
    root.textContent = '';
    const p = document.createElement('p');
    p.className = 'fatal';
    p.textContent = `Plaza could not load: ${sentence(err)}`;
    root.append(p);
  });
}
