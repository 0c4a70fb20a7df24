import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: run files two at a time; each file has its own database.
    maxWorkers: 2,
    setupFiles: ['test/setup.ts'],
  },
});
