export { ConsulModule } from './consul.module.js';
export { CONSUL_MODULE_OPTIONS, CONSUL_OPTIONS_TYPE, CONSUL_ASYNC_OPTIONS_TYPE } from './consul.module-definition.js';
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
export { ConsulOptionsError, type OptionProblem } from './options/consul-options.error.js';
export { parseDuration } from './options/duration.js';
export { ConsulRequestError } from './consul-api/consul-request.error.js';
export { ConsulRegistrar } from './registration/consul.registrar.js';
export type { RegistrationState } from './registration/registration-state.js';
export { ConsulUnavailableError } from './registration/consul-unavailable.error.js';
export { AddressDetectionError } from './registration/address.detector.js';
export {
  GRPC_HEALTH_PACKAGE,
  GRPC_HEALTH_PROTO_PATH,
  GrpcServingStatus,
  withGrpcHealth,
} from './registration/grpc-health.js';
export { ConsulHealthService } from './health/consul-health.service.js';
export { ConsulHealthIndicator } from './health/consul.health-indicator.js';
export type { ServiceInstance, InstanceStatus } from './common/service-instance.js';
export { ConsulDiscoveryService, type DiscoveryQuery } from './discovery/consul-discovery.service.js';
export { NoAvailableInstanceError } from './discovery/no-available-instance.error.js';
export {
  ConsulDnsResolver,
  ConsulDnsError,
  type DnsInstance,
  type DnsLookupOptions,
} from './discovery/consul-dns.resolver.js';
export type { Lease, LoadBalancer, LoadBalancerOption, LoadBalancerStrategy } from './balancing/load-balancer.js';
export { acquireLease } from './balancing/load-balancer.js';
export { createLoadBalancer } from './balancing/create-load-balancer.js';
export { ConsulService, getConsulServiceToken } from './clients/consul-service.decorator.js';
export type { ConsulClientDefinition, ConsulHttpFeatureOptions } from './clients/consul-client.options.js';
export type { ConsulGrpcClient, ConsulGrpcClientOptions } from './clients/grpc/consul-grpc.client.js';
export {
  ConsulHttpClient,
  type ConsulHttpClientOptions,
  type ConsulHttpRequest,
} from './clients/http/consul-http.client.js';
export { ConsulHttpResponseError, ConsulHttpTransportError } from './clients/http/consul-http.errors.js';
export { ConsulClientProxy, type ConsulProxyOptions } from './clients/proxy/consul-client.proxy.js';
export { ConsulConfigService } from './config/consul-config.service.js';
export { ConsulConfigModule } from './config/consul-config.module.js';
export { consulConfigLoader } from './config/consul-config.loader.js';
export { OnConsulConfigChange } from './config/on-consul-config-change.decorator.js';
export type { ConsulConfigOptions, ConsulConfigContextOptions } from './options/consul-config.options.js';
export type { ConfigFormat } from './config/formats/config-formats.js';
export type { ConfigChange } from './config/config-paths.js';
export { ConsulConfigLoadError, ConsulConfigMissingError } from './config/consul-config.errors.js';
export { ConsulConfigParseError } from './config/config-context.parser.js';
export * from './locks/index.js';
export {
  ConsulStatusService,
  type ConsulRegistrationStatus,
  type ConsulStatusSnapshot,
  type ConsulWatchStatus,
} from './observability/consul-status.service.js';
