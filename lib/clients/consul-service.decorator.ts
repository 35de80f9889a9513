import { Inject } from '@nestjs/common';

/**
 * Injection token of the client for `service` (use with `overrideProvider` in tests). It says
 * where the client comes from, because Nest's "can't resolve dependencies" error prints it as it
 * is: the fix for a missing client is then in the message.
 */
export function getConsulServiceToken(service: string): string {
  return `CONSUL:SERVICE:${service} (from ConsulModule.forFeature([{ service: '${service}', transport }]) in this module's imports)`;
}

/** Injects the client registered for `service` with `ConsulModule.forFeature()`. */
export const ConsulService = (service: string): ParameterDecorator & PropertyDecorator =>
  Inject(getConsulServiceToken(service));
