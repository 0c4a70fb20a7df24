// The HTTP server `npm start` listens with: its requests and responses are born
// express's, not made express's by express on arrival (issue 17).
//
// Express gives each request and response its own prototypes on arrival
// (`Object.setPrototypeOf(req, app.request)` in `app.handle`, and the front door
// in app.ts does the same). In V8 (Node 20's 11.3) an object whose prototype was
// changed after it got its own properties has a map outside any transition tree
// (a "detached" map), and every property added to it afterwards (express's
// `res.locals`, the router's `req.next`, the session, the body...) makes a map of
// its own for that one object. Each request and response thus ends up with maps no
// other one shares, so every property access on them in node's HTTP and stream
// code, in express and in ours misses V8's inline caches and looks the property up
// in the runtime: in a CPU profile of the server at 50 streams, about 8 % of its
// time (docs/performance.md, "The lean path, sixth part").
//
// Here node's http server makes them as instances of subclasses whose prototypes
// ARE express's `app.request` / `app.response` (the same methods and `app`, the
// same chain down to IncomingMessage / ServerResponse), so express's
// `setPrototypeOf` changes nothing and the objects keep shared maps. A request
// that reaches the app through another server (a plain `http.createServer(app)`,
// as express's own `app.listen` makes) is made express's on arrival, as before.
import http, { IncomingMessage, ServerResponse } from 'node:http';
import type { Express } from 'express';

// biome-ignore lint/suspicious/noExplicitAny: TypeScript's mixin rule wants exactly `any[]` here.
type Constructor = new (...args: any[]) => object;

/** A subclass of `Base` whose prototype stands in for `current` (express's `app.request` or `app.response`). */
function bornAs<T extends Constructor>(Base: T, current: object): T {
  const Born = class extends Base {};
  // What `current` inherits (express's request or response methods), then its own properties (`app`).
  Object.setPrototypeOf(Born.prototype, Object.getPrototypeOf(current));
  Object.defineProperties(Born.prototype, Object.getOwnPropertyDescriptors(current));
  return Born;
}

/**
 * The classes node's http server makes requests and responses with, for this app; the app's
 * `request` and `response` become their prototypes (done once per app).
 */
export function expressBornClasses(app: Express): { IncomingMessage: typeof IncomingMessage; ServerResponse: typeof ServerResponse } {
  const holder = app as unknown as { request: object; response: object; bornClasses?: ReturnType<typeof expressBornClasses> };
  if (holder.bornClasses) return holder.bornClasses;
  const Request = bornAs(IncomingMessage, holder.request);
  const Response = bornAs(ServerResponse, holder.response);
  holder.request = Request.prototype;
  holder.response = Response.prototype;
  holder.bornClasses = { IncomingMessage: Request, ServerResponse: Response as typeof ServerResponse };
  return holder.bornClasses;
}

/** `http.createServer(app)`, its requests and responses born express's. */
export function createHttpServer(app: Express): http.Server {
  return http.createServer(expressBornClasses(app), app);
}

/**
 * As express's `app.listen(port, host, callback)`, on `createHttpServer`: the callback is called
 * once, with no argument when listening, with the error when the port cannot be had.
 */
export function listen(app: Express, port: number, host: string, callback: (error?: Error) => void): http.Server {
  const server = createHttpServer(app);
  let called = false;
  const once = (error?: Error) => {
    if (called) return;
    called = true;
    if (error) callback(error);
    else callback();
  };
  server.once('error', once);
  return server.listen(port, host, () => once());
}
