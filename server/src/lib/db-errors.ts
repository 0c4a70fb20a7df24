// Telling a lost database connection from a wrong statement.
/** SQLSTATEs and driver messages that mean "the connection went away", not "the statement is wrong". */
const CONNECTION_CODES = /\b(57P01|57P02|57P03|08000|08001|08003|08006|08004)\b/;
const CONNECTION_MESSAGES =
  /terminating connection|connection terminated|connection closed|server closed the connection|ECONNRESET|ECONNREFUSED|EPIPE|Client has encountered a connection error|Connection terminated|socket hang up|the database system is (shutting down|starting up)/i;

export function isConnectionError(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e: unknown = error; e && typeof e === 'object' && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && CONNECTION_CODES.test(code)) return true;
    if (typeof message === 'string' && (CONNECTION_MESSAGES.test(message) || CONNECTION_CODES.test(message))) return true;
  }
  return false;
}
