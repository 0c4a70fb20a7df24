// A small SMTP server on loopback (RFC 5321's plain-text subset: EHLO/HELO,
// MAIL, RCPT, DATA, RSET, NOOP, QUIT; no TLS, no AUTH) that the real nodemailer
// transport talks to. It keeps what it received, can refuse recipients, and can
// hold a message after DATA so a test can look at the database mid-delivery.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The DATA section as sent (headers and body, dot-unstuffed). */
  data: string;
}

export interface FakeSmtpServer {
  url: string;
  received: ReceivedMail[];
  /** Recipients answered with 550 at RCPT TO. */
  refuse: Set<string>;
  /** When set, the reply to the end of DATA waits until this resolves. */
  holdDelivery: Promise<void> | null;
  /** Resolves when the next message's DATA has arrived (before it is answered). */
  nextData(): Promise<ReceivedMail>;
  close(): Promise<void>;
}

export async function startFakeSmtpServer(): Promise<FakeSmtpServer> {
  const sockets = new Set<Socket>();
  const waiting: Array<(mail: ReceivedMail) => void> = [];
  const state: FakeSmtpServer = {
    url: '',
    received: [],
    refuse: new Set(),
    holdDelivery: null,
    nextData: () => new Promise((resolve) => waiting.push(resolve)),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.setEncoding('utf8');
    const reply = (line: string) => socket.write(`${line}\r\n`);
    let buffer = '';
    let inData = false;
    let dataLines: string[] = [];
    let envelope: { from: string; to: string[] } = { from: '', to: [] };
    // Lines are handled one after another, so a held DATA reply keeps the order of the replies.
    let chain = Promise.resolve();

    const handle = async (line: string): Promise<void> => {
      if (inData) {
        if (line !== '.') {
          dataLines.push(line.startsWith('..') ? line.slice(1) : line);
          return;
        }
        inData = false;
        const mail: ReceivedMail = { ...envelope, data: dataLines.join('\r\n') };
        envelope = { from: '', to: [] };
        dataLines = [];
        state.received.push(mail);
        for (const resolve of waiting.splice(0)) resolve(mail);
        if (state.holdDelivery) await state.holdDelivery;
        reply('250 2.0.0 OK: queued');
        return;
      }
      const [verb = '', ...rest] = line.split(' ');
      const argument = rest.join(' ');
      switch (verb.toUpperCase()) {
        case 'EHLO':
          reply('250-fake-smtp.localhost');
          reply('250 8BITMIME');
          return;
        case 'HELO':
          reply('250 fake-smtp.localhost');
          return;
        case 'MAIL':
          envelope.from = /<([^>]*)>/.exec(argument)?.[1] ?? '';
          reply('250 2.1.0 OK');
          return;
        case 'RCPT': {
          const to = /<([^>]*)>/.exec(argument)?.[1] ?? '';
          if (state.refuse.has(to)) {
            reply('550 5.1.1 No such user here');
            return;
          }
          envelope.to.push(to);
          reply('250 2.1.5 OK');
          return;
        }
        case 'DATA':
          inData = true;
          reply('354 End data with <CR><LF>.<CR><LF>');
          return;
        case 'RSET':
          envelope = { from: '', to: [] };
          reply('250 2.0.0 OK');
          return;
        case 'NOOP':
          reply('250 2.0.0 OK');
          return;
        case 'QUIT':
          reply('221 2.0.0 Bye');
          socket.end();
          return;
        default:
          reply('502 5.5.2 Command not implemented');
      }
    };

    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        chain = chain.then(() => handle(line));
      }
    });
    reply('220 fake-smtp.localhost ESMTP ready');
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `smtp://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
