// Entry point for the worker threads when the pool runs from TypeScript sources (vitest,
// tsx, the benchmark): worker threads do not inherit the parent's TypeScript loader, so
// register tsx's loader in this thread, then load the real worker. A built server uses
// dist/synth.worker.js and never loads this file.
import { register } from 'tsx/esm/api';

register();
const worker = await import('./synth.worker.ts');

export default worker.default;
