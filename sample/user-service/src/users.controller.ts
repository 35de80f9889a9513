import { Controller, Inject } from '@nestjs/common';
import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';
import { GrpcMethod, RpcException } from '@nestjs/microservices';
import { ConsulRegistrar } from 'nestjs-consul-kit';

const USERS = [
  { id: 1, name: 'Ada Lovelace' },
  { id: 2, name: 'Alan Turing' },
  { id: 3, name: 'Grace Hopper' },
];
const NOT_FOUND = 5;

/** Over Connect: the caller's SPIFFE id, from the client certificate the mTLS handshake verified. */
function callerOf(call: ServerUnaryCall<unknown, unknown>): string | undefined {
  const names = call.getAuthContext().sslPeerCertificate?.subjectaltname?.split(', ') ?? [];
  return names.find((name) => name.startsWith('URI:spiffe://'))?.slice('URI:'.length);
}

@Controller()
export class UsersController {
  constructor(@Inject(ConsulRegistrar) private readonly registrar: ConsulRegistrar) {}

  @GrpcMethod('UserService', 'GetUser')
  getUser({ id }: { id: number }, _metadata: Metadata, call: ServerUnaryCall<unknown, unknown>) {
    const user = USERS.find((u) => u.id === id);
    if (!user) throw new RpcException({ code: NOT_FOUND, message: `no user ${id}` });
    return { ...user, servedBy: this.registrar.instanceId, caller: callerOf(call) };
  }

  @GrpcMethod('UserService', 'ListUsers')
  listUsers() {
    return { users: USERS, servedBy: this.registrar.instanceId };
  }
}
