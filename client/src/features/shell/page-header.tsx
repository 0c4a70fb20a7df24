import type { ReactNode } from 'react';
import { useDocumentTitle } from '../../lib/use-document-title.ts';

export function PageHeader({ title, description, actions }: { title: string; description?: ReactNode; actions?: ReactNode }) {
  useDocumentTitle(title);
  return (
    <div className="page-header">
      <div>
        <h1 className="page-header__title">{title}</h1>
        {description ? <p className="page-header__description">{description}</p> : null}
      </div>
      {actions ? <div className="page-header__actions">{actions}</div> : null}
    </div>
  );
}

/** An honest "not built yet" panel: what this area will hold, with no invented data. */
export function ComingSoon({ title, children, items }: { title: string; children: ReactNode; items: readonly string[] }) {
  return (
    <section className="panel empty-state" aria-labelledby="coming-soon-title">
      <h2 id="coming-soon-title" className="empty-state__title">
        {title}
      </h2>
      <div className="empty-state__text">{children}</div>
      <ul className="checklist">
        {items.map((item) => (
          <li key={item}>{item}</li>
        ))}
      </ul>
    </section>
  );
}
