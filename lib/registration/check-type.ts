import { ConsulOptionsError, type OptionProblem } from '../options/consul-options.error.js';
import type { ConsulCheckType } from '../options/service.options.js';
import type { ResolvedServiceOptions } from '../core/consul-module.options.js';

/**
 * Picks the check type for this app (`http` with an HTTP server, else `tcp`) and rejects
 * options that do not fit the app, before anything is sent to Consul.
 */
export async function resolveCheckType(
  service: ResolvedServiceOptions,
  hasHttpServer: boolean,
  /** Where the service sits in the options: `service`, or `microservices[0]` (never served over HTTP). */
  path = 'service',
): Promise<ConsulCheckType> {
  const type = service.check.type ?? (hasHttpServer ? 'http' : 'tcp');
  const problems: OptionProblem[] = [];
  if (type === 'http' && !hasHttpServer) {
    problems.push({
      option: `${path}.check.type`,
      problem: '"http" needs an HTTP server, and this app has none (it is a microservice-only app)',
      fix: 'use "tcp" or "grpc", or create the app with NestFactory.create()',
    });
  }
  if (service.port === undefined && !hasHttpServer) {
    problems.push({
      option: `${path}.port`,
      problem: 'is required in a microservice-only app: there is no HTTP server to read the port from',
      fix: 'set it to the port your microservice listens on',
    });
  } else if (service.port === undefined && type === 'grpc') {
    problems.push({
      option: `${path}.port`,
      problem: `is required with ${path}.check.type "grpc": the HTTP server port is not the gRPC port`,
      fix: 'set it to the port your gRPC microservice listens on',
    });
  }
  if (type === 'grpc' && !(await canImport('@grpc/grpc-js'))) {
    problems.push({
      option: `${path}.check.type`,
      problem: '"grpc" needs the @grpc/grpc-js package, which is not installed',
      fix: 'npm install @grpc/grpc-js (a Nest gRPC microservice needs it anyway)',
    });
  }
  if (problems.length > 0) throw new ConsulOptionsError(problems);
  return type;
}

async function canImport(specifier: string): Promise<boolean> {
  try {
    await import(specifier);
    return true;
  } catch {
    return false;
  }
}
