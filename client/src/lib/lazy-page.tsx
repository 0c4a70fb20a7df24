// Pages other than the chat load on first visit: their code (and the chart and
// captcha libraries some of them use) stays out of the initial script, which
// client/test/initial-js.test.ts holds to its budget.
import { Component, lazy, Suspense, type ComponentType, type ReactNode } from 'react';
import { ErrorAlert } from '../components/alerts.tsx';
import { PageLoading } from '../components/spinner.tsx';

/**
 * A route element that loads `load()`'s export `name` on first render, with a
 * loading state while it arrives and a way out if it cannot (offline, or a new
 * deploy removed the old chunk files).
 */
export function lazyPage<Name extends string>(load: () => Promise<Record<Name, ComponentType>>, name: Name, label: string): ComponentType {
  const Page = lazy<ComponentType>(async () => ({ default: (await load())[name] }));
  function LazyPage() {
    return (
      <PageLoadBoundary>
        <Suspense fallback={<PageLoading label={label} />}>
          <Page />
        </Suspense>
      </PageLoadBoundary>
    );
  }
  LazyPage.displayName = `Lazy(${name})`;
  return LazyPage;
}

/** Catches a failed chunk load; a reload fetches the current index.html and its chunks. */
class PageLoadBoundary extends Component<{ children: ReactNode }, { failed: boolean }> {
  override state = { failed: false };

  static getDerivedStateFromError(): { failed: boolean } {
    return { failed: true };
  }

  override render() {
    if (!this.state.failed) return this.props.children;
    return (
      <div className="page-loading">
        <ErrorAlert title="This page could not be loaded">
          <p>The connection may have dropped, or ChatMeter was just updated.</p>
          <button type="button" className="btn btn--primary" onClick={() => window.location.reload()}>
            Reload
          </button>
        </ErrorAlert>
      </div>
    );
  }
}
