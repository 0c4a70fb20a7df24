import { Link } from 'react-router';
import { useDocumentTitle } from '../../lib/use-document-title.ts';

export function NotFoundPage() {
  useDocumentTitle('Page not found');
  return (
    <main className="page-center" id="main">
      <div className="panel panel--narrow">
        <p className="eyebrow">404</p>
        <h1>This page does not exist</h1>
        <p className="muted">The address may be mistyped, or the page has moved.</p>
        <Link to="/" className="btn btn--primary">
          Go to ChatMeter
        </Link>
      </div>
    </main>
  );
}
