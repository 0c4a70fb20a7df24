export function BrandMark({ size = 28 }: { size?: number }) {
  return (
    <svg className="brand__mark" aria-hidden="true" viewBox="0 0 32 32" width={size} height={size}>
      <rect width="32" height="32" rx="8" fill="currentColor" />
      <path d="M9 11.5A3.5 3.5 0 0 1 12.5 8h7A3.5 3.5 0 0 1 23 11.5v5a3.5 3.5 0 0 1-3.5 3.5H15l-4.5 4v-4.2A3.5 3.5 0 0 1 9 16.5z" fill="#fff" />
      <path d="M13 16.5v-2M16 16.5v-4.5M19 16.5v-3" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
    </svg>
  );
}

export function Brand({ className }: { className?: string }) {
  return (
    <span className={`brand${className ? ` ${className}` : ''}`}>
      <BrandMark />
      <span className="brand__name">ChatMeter</span>
    </span>
  );
}
