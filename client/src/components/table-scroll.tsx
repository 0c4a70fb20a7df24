import type { ReactNode } from 'react';

/**
 * A table that may be wider than a phone: it scrolls sideways inside its own
 * box, never the page. The box is a named region that takes keyboard focus, so
 * it can be scrolled with the arrow keys too (axe: scrollable-region-focusable).
 */
export function TableScroll({ label, className, children }: { label: string; className?: string; children: ReactNode }) {
  return (
    <div className={className ? `table-scroll ${className}` : 'table-scroll'} role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}
