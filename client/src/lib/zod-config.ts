// Imported first by main.tsx. Zod compiles object parsers with `new Function` unless
// told not to; the server's CSP has no 'unsafe-eval', so even zod's guarded probe
// would be reported as a violation. Jitless parsing is plenty fast for forms.
import { config } from 'zod';

config({ jitless: true });
