import { Controller, Inject } from '@nestjs/common';
import { GrpcMethod, RpcException } from '@nestjs/microservices';
import { ConsulRegistrar } from 'nestjs-consul-kit';

const USERS = [
  { id: 1, name: 'Ada Lovelace' },
  { id: 2, name: 'Alan Turing' },
  { id: 3, name: 'Grace Hopper' },
];
const NOT_FOUND = 5;

@Controller()
export class UsersController {
  constructor(@Inject(ConsulRegistrar) private readonly registrar: ConsulRegistrar) {}

  @GrpcMethod('UserService', 'GetUser')
  getUser({ id }: { id: number }) {
    const user = USERS.find((u) => u.id === id);
    if (!user) throw new RpcException({ code: NOT_FOUND, message: `no user ${id}` });
    return { ...user, servedBy: this.registrar.instanceId };
  }

  @GrpcMethod('UserService', 'ListUsers')
  listUsers() {
    return { users: USERS, servedBy: this.registrar.instanceId };
  }
}
