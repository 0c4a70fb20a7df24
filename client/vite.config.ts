/// <reference types="vitest/config" />
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The API runs on :3000 in development. No changeOrigin: the server's CSRF check
// compares the Origin header's host with the Host header, so the proxy must pass
// the browser's Host through unchanged.
const API = 'http://localhost:3000';
const proxy = Object.fromEntries(['/trpc', '/healthz', '/audio', '/webhooks', '/metrics', '/export'].map((prefix) => [prefix, { target: API }]));

export default defineConfig({
  plugins: [react()],
  server: { port: 5173, proxy },
  preview: { port: 4173, proxy },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    environment: 'node',
  },
});
