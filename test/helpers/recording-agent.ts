import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ConsulApi } from '../../lib/consul-api/consul-api.js';
import { resolveConsulOptions } from '../../lib/core/consul-module.options.js';

/** One request as the agent received it. */
export interface RecordedRequest {
  method: string;
  /** Path and query, as sent (still escaped). */
  url: string;
  /** The path, still escaped. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the agent answers one request with; `hang` never answers (the socket stays open until stop()). */
export type CannedAnswer =
  ({ json: unknown } & AnswerHead) | ({ text: string; type?: string } & AnswerHead) | { hang: true };

interface AnswerHead {
  status?: number;
  headers?: Record<string, string>;
  /** Answers this long (real time) after the request came, as a blocking query does. */
  afterMs?: number;
}

/**
 * Not a Consul: a `node:http` server on 127.0.0.1 that records every request and answers each with
 * the next canned answer (shaped like Consul 1.8.7's), for unit specs of the adapter's own behaviour
 * that a real agent cannot easily produce (odd bodies, hangs, statuses). Out of answers, it answers
 * 599 so that a test that sends more than it meant to fails loudly.
 */
export class RecordingAgent {
  readonly requests: RecordedRequest[] = [];
  private readonly answers: CannedAnswer[] = [];
  private readonly sockets = new Set<Socket>();
  private port = 0;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<RecordingAgent> {
    const agent: RecordingAgent = new RecordingAgent(createServer((req, res) => agent.handle(req, res)));
    agent.server.on('connection', (socket: Socket) => {
      agent.sockets.add(socket);
      socket.once('close', () => agent.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      agent.server.once('error', reject).listen(0, '127.0.0.1', () => resolve());
    });
    agent.port = (agent.server.address() as AddressInfo).port;
    return agent;
  }

  /** Where it listens, as the connection options name it. */
  get connection(): { host: string; port: number } {
    return { host: '127.0.0.1', port: this.port };
  }

  get address(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Queues the answers of the next requests, in order. */
  answer(...answers: CannedAnswer[]): this {
    this.answers.push(...answers);
    return this;
  }

  /** The one request sent since the last call (fails when there were more or none). */
  only(): RecordedRequest {
    expect(this.requests).toHaveLength(1);
    return this.requests.splice(0)[0];
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.sockets.forEach((socket) => socket.destroy());
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = req.url ?? '';
      const [path, search = ''] = url.split('?', 2);
      this.requests.push({
        method: req.method ?? '',
        url,
        path,
        query: new URLSearchParams(search),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const answer = this.answers.shift() ?? { status: 599, text: 'RecordingAgent: no answer queued' };
      if ('hang' in answer) return;
      if (answer.afterMs) {
        const timer = setTimeout(() => this.send(res, answer), answer.afterMs);
        res.once('close', () => clearTimeout(timer));
      } else {
        this.send(res, answer);
      }
    });
  }

  private send(res: ServerResponse, answer: Exclude<CannedAnswer, { hang: true }>): void {
    // Consul 1.8 sends these on every answer of its HTTP API.
    const headers: Record<string, string> = { vary: 'Accept-Encoding', ...answer.headers };
    if ('json' in answer) {
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(answer.json));
    } else {
      res.writeHead(answer.status ?? 200, { 'content-type': answer.type ?? 'text/plain; charset=utf-8', ...headers });
      res.end(answer.text);
    }
  }
}

/**
 * A recording agent and a ConsulApi over it for each test, both ended after it. Nest's Logger is
 * silenced; its warnings (the app-wide "Consul unreachable" line) are kept in `warnings`.
 */
export function useRecordingAgent(consul: { token?: string; timeout?: string } = {}) {
  const suite = {} as { agent: RecordingAgent; api: ConsulApi; warnings: string[] };
  beforeEach(async () => {
    suite.agent = await RecordingAgent.start();
    suite.api = apiOver(suite.agent, consul);
    suite.warnings = [];
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    jest
      .spyOn(Logger.prototype, 'warn')
      .mockImplementation((message: unknown) => void suite.warnings.push(String(message)));
  });
  afterEach(async () => {
    jest.restoreAllMocks();
    suite.api.close();
    await suite.agent.stop();
  });
  return suite;
}

/** A ConsulApi that talks to `agent` (timeout 2 s unless said otherwise); close() it in the test. */
export function apiOver(agent: RecordingAgent, consul: { token?: string; timeout?: string } = {}): ConsulApi {
  return new ConsulApi(resolveConsulOptions({ consul: { ...agent.connection, timeout: '2s', ...consul } }).consul);
}

/** Waits (real time, at most a second) until `done()`: for requests to reach the agent before the test acts. */
export async function untilRecorded(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(done()).toBe(true);
}
