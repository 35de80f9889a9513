import { Inject } from '@nestjs/common';

/** Injection token of the client for `service` (use with `overrideProvider` in tests). */
export function getConsulServiceToken(service: string): string {
  return `CONSUL:SERVICE:${service}`;
}

/** Injects the client registered for `service` with `ConsulModule.forFeature()`. */
export const ConsulService = (service: string): ParameterDecorator & PropertyDecorator =>
  Inject(getConsulServiceToken(service));
