// The client type-checks the server's router (for `import type { AppRouter }`), and
// the server's request context reads `req.id`, which pino-http adds to Node's
// request type. Load that augmentation here too; nothing reaches the bundle.
import type {} from 'pino-http';
