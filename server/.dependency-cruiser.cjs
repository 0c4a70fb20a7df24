// Import rules for server/src (issue 16): no cycles, imports point down.
// Checked by test/architecture.test.ts with dependency-cruiser; type-only imports
// (erased at compile time, e.g. `import type { Deps }`) do not count.
// Layers, bottom up: lib -> plans, metering, auth, rate-limit, mail, ... (domains)
// -> admin (reads every domain) -> trpc -> routers -> app.ts / deps.ts.
const DOMAINS = 'account|alerts|audit|auth|billing|chat|cluster|mail|metering|notifications|planner|plans|preferences|rate-limit|reconcile|tts|usage';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A cycle of value imports: split the shared part into a module both can import.',
      severity: 'error',
      from: {},
      to: { circular: true, dependencyTypesNot: ['type-only'], viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'nothing-imports-routers',
      comment: 'Routers are the top: only the app mounts them.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(routers/|app\\.ts)' },
      to: { path: '^src/routers/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'domains-do-not-import-trpc',
      comment: 'Services know nothing of tRPC; the HTTP edge (trpc/, routers/, app.ts) calls them.',
      severity: 'error',
      from: { path: `^src/(${DOMAINS}|lib|admin)/` },
      to: { path: '^src/trpc/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'lib-is-the-bottom',
      comment: 'lib/ holds what every domain may use; it imports no domain.',
      severity: 'error',
      from: { path: '^src/lib/' },
      to: { path: '^src/', pathNot: '^src/lib/' },
    },
    {
      name: 'only-the-top-imports-admin',
      comment: 'admin/ reads every domain; no domain reads admin/.',
      severity: 'error',
      from: { path: `^src/(${DOMAINS}|lib)/` },
      to: { path: '^src/admin/' },
    },
    {
      name: 'auth-below-billing-and-chat',
      comment: 'Sessions and accounts sit below what is sold and used on them.',
      severity: 'error',
      from: { path: '^src/auth/' },
      to: { path: '^src/(account|alerts|billing|chat|planner|reconcile|tts|usage)/' },
    },
  ],
  options: {
    parser: 'swc',
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(\\.test\\.ts$|node_modules)' },
  },
};
