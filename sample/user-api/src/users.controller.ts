import { Controller, Get, NotFoundException, Param, ParseIntPipe, type OnModuleInit } from '@nestjs/common';
import type { ClientGrpc } from '@nestjs/microservices';
import { ConsulService } from 'nestjs-consul-kit';
import { catchError, firstValueFrom, type Observable, throwError } from 'rxjs';

interface User {
  id: number;
  name: string;
  servedBy: string;
}

/** user.UserService as a typed client (what @grpc/proto-loader's TypeScript generator would emit). */
interface UserServiceClient {
  getUser(request: { id: number }): Observable<User>;
  listUsers(request: object): Observable<{ users: User[]; servedBy: string }>;
}

const GRPC_NOT_FOUND = 5;

@Controller('users')
export class UsersController implements OnModuleInit {
  private users!: UserServiceClient;

  constructor(@ConsulService('user_service') private readonly client: ClientGrpc) {}

  onModuleInit() {
    this.users = this.client.getService<UserServiceClient>('UserService');
  }

  @Get()
  list() {
    return firstValueFrom(this.users.listUsers({}));
  }

  @Get(':id')
  get(@Param('id', ParseIntPipe) id: number) {
    return firstValueFrom(
      this.users
        .getUser({ id })
        .pipe(
          catchError((error: { code?: number }) =>
            throwError(() => (error.code === GRPC_NOT_FOUND ? new NotFoundException(`no user ${id}`) : error)),
          ),
        ),
    );
  }
}
