import { useEffect, useRef } from 'react';

/**
 * An invisible marker that calls `onVisible` when it scrolls into view (inside
 * whatever scroll container holds it): the trigger for loading the next page.
 * Pair it with a visible button for keyboards and old browsers.
 */
export function InfiniteSentinel({ onVisible, disabled = false, margin = '160px' }: { onVisible(): void; disabled?: boolean; margin?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const callback = useRef(onVisible);
  useEffect(() => {
    callback.current = onVisible;
  });
  useEffect(() => {
    const el = ref.current;
    if (!el || disabled || typeof IntersectionObserver === 'undefined') return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) callback.current();
      },
      { rootMargin: margin },
    );
    observer.observe(el);
    return () => observer.disconnect();
  }, [disabled, margin]);
  return <div ref={ref} className="sentinel" aria-hidden="true" />;
}
