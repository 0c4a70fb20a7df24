// The images' HEALTHCHECK: GET http://127.0.0.1:<port>/healthz, exit 0 on a 2xx answer
// and 1 otherwise (no answer within 4 s included). Plain node, so the slim images need
// no curl. Usage: node healthcheck.mjs <name of the port variable> <default port>
const [portVariable = 'PORT', fallback = '3000'] = process.argv.slice(2);
const port = process.env[portVariable]?.trim() || fallback;

try {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(4_000) });
  if (!res.ok) console.error(`GET /healthz on port ${port} answered ${res.status}`);
  process.exit(res.ok ? 0 : 1);
} catch (error) {
  console.error(`GET /healthz on port ${port} failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
