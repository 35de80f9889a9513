// The package's public API: every name here is kept across minor versions and listed in the API
// report (etc/nestjs-consul-kit.api.md, checked by npm test). Internal helpers stay out of this file.
export { ConsulModule } from './consul.module.js';
export type { ConsulModuleAsyncOptions } from './consul.module-definition.js';
export type { ConsulModuleOptions, ConsulConfigModuleOptions } from './core/consul-module.options.js';
export type { ConsulConnectionOptions } from './options/connection.options.js';
export type {
  ConsulCheckOptions,
  ConsulCheckType,
  ConsulMicroserviceOptions,
  ConsulServiceOptions,
} from './options/service.options.js';
export type { ConsulRegistrationOptions } from './options/registration.options.js';
export type { ConsulRetryOptions } from './options/retry.options.js';
export type { ConsulAddressOptions } from './options/address.options.js';
export type { ConsulHealthOptions } from './options/health.options.js';
export type { ConsulDiscoveryOptions, ConsulWatchOptions } from './options/discovery.options.js';
export { ConsulKitError } from './common/consul-kit.error.js';
export { ConsulKitUsageError } from './common/consul-kit-usage.error.js';
export { MissingPeerError } from './common/missing-peer.error.js';
export { ConsulOptionsError, type OptionProblem } from './options/consul-options.error.js';
export { ConsulRequestError } from './consul-api/consul-request.error.js';
export { ConsulRegistrar, type ServiceRegistrationStatus } from './registration/consul.registrar.js';
export { REGISTRATION_STATES, type RegistrationState } from './registration/registration-state.js';
export { ConsulUnavailableError } from './registration/consul-unavailable.error.js';
export { AddressDetectionError } from './registration/address.detector.js';
export {
  GRPC_HEALTH_PACKAGE,
  GRPC_HEALTH_PROTO_PATH,
  GrpcServingStatus,
  withGrpcHealth,
  type GrpcPackageOptions,
} from './registration/grpc-health.js';
export { ConsulHealthService } from './health/consul-health.service.js';
export { ConsulHealthIndicator } from './health/consul.health-indicator.js';
export type { ServiceInstance, InstanceStatus } from './common/service-instance.js';
export { ConsulDiscoveryService, type DiscoveryQuery } from './discovery/consul-discovery.service.js';
export { NoAvailableInstanceError } from './discovery/no-available-instance.error.js';
export { ConsulDnsError, type DnsInstance, type DnsLookupOptions } from './discovery/consul-dns.resolver.js';
export type { Lease, LoadBalancer, LoadBalancerOption, LoadBalancerStrategy } from './balancing/load-balancer.js';
export { ConsulService, getConsulServiceToken } from './clients/consul-service.decorator.js';
export type { ConsulClientDefinition, ConsulHttpFeatureOptions } from './clients/consul-client.options.js';
export type { ConsulGrpcClient, ConsulGrpcClientOptions, NestGrpcOptions } from './clients/grpc/consul-grpc.client.js';
export { ConsulHttpClient, type ConsulHttpRequest } from './clients/http/consul-http.client.js';
export { UpstreamHttpResponseError, UpstreamHttpTransportError } from './clients/http/upstream-http.errors.js';
export { ConsulClientProxy } from './clients/proxy/consul-client.proxy.js';
export { ConsulConfigService } from './config/consul-config.service.js';
export { ConsulConfigModule } from './config/consul-config.module.js';
export { consulConfigLoader } from './config/consul-config.loader.js';
export { OnConsulConfigChange } from './config/on-consul-config-change.decorator.js';
export type { ConsulConfigOptions, ConsulConfigContextOptions } from './options/consul-config.options.js';
export type { ConfigFormat, ConfigObject } from './config/formats/config-formats.js';
export type { ConfigChange } from './config/config-paths.js';
export { ConsulConfigLoadError, ConsulConfigMissingError } from './config/consul-config.errors.js';
export { ConsulConfigParseError } from './config/config-context.parser.js';
export * from './locks/index.js';
export { ConsulConnect, consulConnectHttpsOptions } from './connect/consul-connect.service.js';
export { ConsulConnectError } from './connect/connect.errors.js';
export type { ConsulConnectOptions } from './options/connect.options.js';
// The base of ConsulLock and ConsulSemaphoreLease (signal, isHeld, release), under a public name.
export { SessionHold as ConsulSessionHold } from './locks/session-hold.js';
export {
  ConsulStatusService,
  type ConsulRegistrationStatus,
  type ConsulStatusSnapshot,
  type ConsulWatchStatus,
} from './consul-status.service.js';
