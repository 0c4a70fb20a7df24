/// <reference types="vitest/config" />
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';
import { precompress } from './build/precompress.ts';

// The API runs on :3000 in development. No changeOrigin: the server's CSRF check
// compares the Origin header's host with the Host header, so the proxy must pass
// the browser's Host through unchanged.
const API = 'http://localhost:3000';
const proxy = Object.fromEntries(['/trpc', '/healthz', '/audio', '/webhooks', '/metrics', '/export'].map((prefix) => [prefix, { target: API }]));

export default defineConfig({
  plugins: [react(), precompress()],
  server: { port: 5173, proxy },
  preview: { port: 4173, proxy },
  // Hidden maps: written for decoding a reported stack trace, but no `sourceMappingURL`
  // points browsers at them, and the server does not serve *.map in production.
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: 'hidden' },
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx', 'build/**/*.test.ts', 'test/**/*.test.ts'],
    environment: 'node',
  },
});
