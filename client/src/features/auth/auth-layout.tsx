import type { ReactNode } from 'react';
import { Brand } from '../../components/brand.tsx';
import { useDocumentTitle } from '../../lib/use-document-title.ts';
import './auth.css';

const POINTS = [
  { title: 'Every reply metered', text: 'Tokens and cost are shown per message, so nothing on your bill is a surprise.' },
  { title: 'Clear plan limits', text: 'See what your plan allows and how much of it you have used.' },
  { title: 'Runs on your server', text: 'Self-hosted: conversations stay in your own database.' },
];

export function AuthLayout({ title, subtitle, children, footer }: { title: string; subtitle?: ReactNode; children: ReactNode; footer?: ReactNode }) {
  useDocumentTitle(title);
  return (
    <div className="auth">
      <aside className="auth__aside">
        <Brand className="brand--inverse" />
        <div className="auth__pitch">
          <p className="auth__tagline">AI chat that shows you what it costs.</p>
          <ul className="auth__points">
            {POINTS.map((point) => (
              <li key={point.title}>
                <strong>{point.title}</strong>
                <span>{point.text}</span>
              </li>
            ))}
          </ul>
        </div>
      </aside>
      <main className="auth__main" id="main">
        <div className="auth__card">
          <Brand className="auth__brand-compact" />
          <h1 className="auth__title">{title}</h1>
          {subtitle ? <p className="auth__subtitle">{subtitle}</p> : null}
          {children}
        </div>
        {footer ? <p className="auth__footer">{footer}</p> : null}
      </main>
    </div>
  );
}
