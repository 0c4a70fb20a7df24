// Zod must be told not to compile with `new Function` before any schema parses.
import './lib/zod-config.ts';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app.tsx';
import { applyTheme, readClientPrefs } from './lib/client-prefs.ts';
import './styles.css';
import './theme.css';

// Before the first paint, so a chosen theme does not flash the OS one.
applyTheme(readClientPrefs().theme);

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
