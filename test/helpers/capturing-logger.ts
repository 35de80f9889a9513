import type { LoggerService } from '@nestjs/common';

/** Keeps every log line an app writes, so tests can assert on what a user would read. */
export class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];

  constructor(private readonly echo = process.env.TEST_LOGS === '1') {}

  log(message: unknown, context?: string) {
    this.push('LOG', message, context);
  }
  error(message: unknown, ...rest: unknown[]) {
    this.push('ERROR', message, rest.at(-1) as string, rest.slice(0, -1));
  }
  warn(message: unknown, context?: string) {
    this.push('WARN', message, context);
  }
  debug(message: unknown, context?: string) {
    this.push('DEBUG', message, context);
  }
  verbose(message: unknown, context?: string) {
    this.push('VERBOSE', message, context);
  }
  fatal(message: unknown, context?: string) {
    this.push('FATAL', message, context);
  }

  /** Everything captured, one line per entry. */
  get text(): string {
    return this.lines.join('\n');
  }

  /** Lines from one context (e.g. "ConsulRegistrar") at one level. */
  find(level: string, context: string): string[] {
    return this.lines.filter((line) => line.startsWith(`${level} [${context}]`));
  }

  private push(level: string, message: unknown, context?: string, extra: unknown[] = []) {
    const text =
      message instanceof Error
        ? `${message.message}\n${message.stack}`
        : typeof message === 'string'
          ? message
          : JSON.stringify(message);
    const line = `${level} [${context ?? ''}] ${text}${extra.length ? ` ${extra.map(String).join(' ')}` : ''}`;
    this.lines.push(line);
    if (this.echo) process.stderr.write(`${line}\n`);
  }
}
