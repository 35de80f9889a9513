import { Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { HttpAdapterHost } from '@nestjs/core';
import type { ChannelCredentials, ServerCredentials } from '@grpc/grpc-js';
import { Server as TlsServer } from 'node:tls';
import type { ConsulApi } from '../consul-api/consul-api.js';
import { LOG_CONTEXT } from '../consul.constants.js';
import type { ResolvedConsulOptions } from '../core/consul-module.options.js';
import { ConnectAuthorizer } from './connect-authorizer.js';
import { ConsulConnectError } from './connect.errors.js';
import { ConnectCertificates } from './connect-certificates.js';
import { ConnectHttpGate } from './connect-http-gate.js';
import { connectGrpcChannelCredentials, connectGrpcJs, connectGrpcServerCredentials } from './connect-grpc.js';

/**
 * `httpsOptions` for `NestFactory.create()` of a Connect-native app: a TLS server that asks
 * callers for their certificate. The certificate it serves comes later, from the agent, and is
 * swapped in place on every renewal; callers are admitted by the intentions (see ConsulConnect).
 *
 * ```ts
 * const app = await NestFactory.create(AppModule, { httpsOptions: consulConnectHttpsOptions() });
 * ```
 */
export function consulConnectHttpsOptions(): { requestCert: true; rejectUnauthorized: false } {
  // Not rejectUnauthorized: the agent's health check has no Connect certificate, and the gate
  // answers other callers without one with a 403 that says why, not a bare TLS alert.
  return { requestCert: true, rejectUnauthorized: false };
}

/**
 * Consul Connect native for this app (`connect: { native: true }`): the leaf certificates of its
 * services and the CA roots, followed live; the HTTP server's mTLS and its gate; the decisions of
 * the intentions. Nothing starts unless Connect is on.
 */
export class ConsulConnect implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(LOG_CONTEXT.connect);
  private readonly certificatesByService = new Map<string, ConnectCertificates>();
  private readonly authorizersByTarget = new Map<string, ConnectAuthorizer>();
  private readonly grpcServerCredentialsByService = new Map<string, ServerCredentials>();
  private readonly grpcChannelCredentialsByTarget = new Map<string, ChannelCredentials>();
  private gate?: ConnectHttpGate;

  /** @internal Nest builds it; inject it instead. */
  constructor(
    private readonly options: ResolvedConsulOptions,
    private readonly api: ConsulApi,
    private readonly adapterHost: HttpAdapterHost | undefined,
  ) {}

  /** Whether the app runs Connect native (`connect.native`). */
  get enabled(): boolean {
    return this.options.connect.native;
  }

  /**
   * Before the app listens: the main service's certificate is in hand and the HTTP server (if
   * any) serves it and admits callers by the intentions. A refusal by the agent (Connect off, a
   * token that may not get the certificate) fails the start with a ConsulConnectError.
   */
  async onModuleInit(): Promise<void> {
    if (!this.enabled) return;
    const service = this.options.service!.name;
    const material = await this.certificates(service).start();
    this.logger.log(`Connect native as ${material.serviceUri} (certificate serial ${material.serial})`);
    const server: unknown = this.adapterHost?.httpAdapter?.getHttpServer();
    if (server === undefined) return; // a microservice-only app
    if (!(server instanceof TlsServer)) {
      throw new ConsulConnectError(
        `connect.native is on but the HTTP server of "${service}" is plain HTTP, which would take calls ` +
          'without mTLS: create the app with NestFactory.create(AppModule, { httpsOptions: consulConnectHttpsOptions() })',
        service,
      );
    }
    const check = this.options.service!.check;
    this.gate = new ConnectHttpGate(
      server,
      this.certificates(service),
      this.authorizer(service),
      check.type === 'http' || check.type === undefined ? check.path : undefined,
      this.logger,
    );
    this.gate.attach(material);
  }

  /**
   * Credentials for the Nest gRPC microservice of `service` (default: the app's `service`; in a
   * hybrid app, the name of one of `microservices`): it serves the service's Connect certificate,
   * renewed in place, and admits each call by the intentions. Calls without a certificate of the
   * mesh reach `grpc.health.v1.Health/Check` only (Consul's check); a denied call ends with
   * `PERMISSION_DENIED`, one from a caller without a mesh certificate with `UNAUTHENTICATED`.
   * Needs `@grpc/grpc-js` 1.14 or later.
   *
   * ```ts
   * app.connectMicroservice({
   *   transport: Transport.GRPC,
   *   options: { ...withGrpcHealth({ package, protoPath, url }), credentials: app.get(ConsulConnect).grpcServerCredentials('greeter') },
   * });
   * ```
   *
   * @throws ConsulConnectError when `connect.native` is off or `service` is none of this app's.
   */
  // Declared as `object`: grpc-js is an optional peer, and naming its ServerCredentials here would put an
  // import of it in the published declarations, which an HTTP-only app without grpc-js could not compile.
  grpcServerCredentials(service?: string): object {
    const name = this.ownService(service);
    let credentials = this.grpcServerCredentialsByService.get(name);
    if (!credentials) {
      credentials = connectGrpcServerCredentials(
        connectGrpcJs(name, 'server'),
        this.certificates(name),
        this.authorizer(name),
        this.logger,
      );
      this.grpcServerCredentialsByService.set(name, credentials);
    }
    return credentials;
  }

  /**
   * @internal Channel credentials to call `target` over Connect as the app's `service`: its leaf
   * as the client certificate, and only a server whose certificate names `target` is accepted.
   */
  grpcChannelCredentials(target: string): ChannelCredentials {
    const own = this.ownService(undefined);
    let credentials = this.grpcChannelCredentialsByTarget.get(target);
    if (!credentials) {
      credentials = connectGrpcChannelCredentials(
        connectGrpcJs(own, 'client'),
        this.certificates(own),
        target,
        this.logger,
      );
      this.grpcChannelCredentialsByTarget.set(target, credentials);
    }
    return credentials;
  }

  /** `service`, checked to be one of this app's (the main service by default), with Connect on. */
  private ownService(service: string | undefined): string {
    const main = this.options.service?.name;
    if (!this.enabled || main === undefined) {
      throw new ConsulConnectError(
        'Consul Connect over gRPC needs connect: { native: true } (and a service) in ConsulModule.forRoot()',
        service ?? main ?? '(none)',
      );
    }
    if (service === undefined || service === main) return main;
    if (this.options.microservices.some((microservice) => microservice.name === service)) return service;
    const known = [main, ...this.options.microservices.map((microservice) => microservice.name)];
    throw new ConsulConnectError(
      `"${service}" is not a service of this app, so it has no Connect certificate: use one of ` +
        `${known.map((name) => `"${name}"`).join(', ')} (service.name or a name in microservices)`,
      service,
    );
  }

  /** @internal The followed certificates of `service` (one of this app's), started on first use. */
  certificates(service: string): ConnectCertificates {
    let certificates = this.certificatesByService.get(service);
    if (!certificates) {
      certificates = new ConnectCertificates(this.api, service, this.options.discovery, this.logger);
      this.certificatesByService.set(service, certificates);
    }
    return certificates;
  }

  /** @internal Who may call `target` (one of this app's services), by the intentions; started on first use. */
  authorizer(target: string): ConnectAuthorizer {
    let authorizer = this.authorizersByTarget.get(target);
    if (!authorizer) {
      authorizer = new ConnectAuthorizer(this.api, target, this.options.discovery, this.logger);
      authorizer.start();
      this.authorizersByTarget.set(target, authorizer);
    }
    return authorizer;
  }

  onApplicationShutdown(): void {
    this.gate?.detach();
    for (const certificates of this.certificatesByService.values()) certificates.stop();
    for (const authorizer of this.authorizersByTarget.values()) authorizer.stop();
    this.certificatesByService.clear();
    this.authorizersByTarget.clear();
    this.grpcServerCredentialsByService.clear();
    this.grpcChannelCredentialsByTarget.clear();
  }
}
