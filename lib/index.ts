export { ConsulModule } from './consul.module.js';
export { CONSUL_MODULE_OPTIONS, CONSUL_OPTIONS_TYPE, CONSUL_ASYNC_OPTIONS_TYPE } from './consul.module-definition.js';
export type {
  ConsulAddressOptions,
  ConsulCheckOptions,
  ConsulCheckType,
  ConsulConnectionOptions,
  ConsulHealthOptions,
  ConsulModuleOptions,
  ConsulRegistrationOptions,
  ConsulRetryOptions,
  ConsulServiceOptions,
} from './options/consul-options.interface.js';
export { ConsulOptionsError, type OptionProblem } from './options/consul-options.error.js';
export { parseDuration } from './options/duration.js';
export { ConsulRequestError } from './client/consul-request.error.js';
export { ConsulRegistrar } from './registration/consul.registrar.js';
export { ConsulUnavailableError } from './registration/consul-unavailable.error.js';
export { AddressDetectionError } from './registration/address.detector.js';
export { GRPC_HEALTH_PACKAGE, GRPC_HEALTH_PROTO_PATH, withGrpcHealth } from './registration/grpc-health.js';
export { GrpcServingStatus } from './registration/grpc-health.controller.js';
export { ConsulHealthService } from './health/consul-health.service.js';
export { ConsulHealthIndicator } from './health/consul.health-indicator.js';
