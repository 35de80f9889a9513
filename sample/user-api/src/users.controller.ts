import {
  Controller,
  ForbiddenException,
  Get,
  NotFoundException,
  Param,
  ParseIntPipe,
  type OnModuleInit,
} from '@nestjs/common';
import type { ClientGrpc } from '@nestjs/microservices';
import { ConsulService } from 'nestjs-consul-kit';
import { catchError, firstValueFrom, type Observable, throwError } from 'rxjs';

interface User {
  id: number;
  name: string;
  servedBy: string;
  /** Connect mode: user_api's SPIFFE id, as user_service saw it. */
  caller?: string;
}

/** user.UserService as a typed client (what @grpc/proto-loader's TypeScript generator would emit). */
interface UserServiceClient {
  getUser(request: { id: number }): Observable<User>;
  listUsers(request: object): Observable<{ users: User[]; servedBy: string }>;
}

const GRPC_NOT_FOUND = 5;
const GRPC_PERMISSION_DENIED = 7;

/** user_service's refusals as HTTP answers: no such user is a 404, a Connect deny (an intention) a 403. */
function asHttpError(id: number, error: { code?: number; details?: string }) {
  if (error.code === GRPC_NOT_FOUND) return new NotFoundException(`no user ${id}`);
  if (error.code === GRPC_PERMISSION_DENIED) {
    return new ForbiddenException(`user_service answered PERMISSION_DENIED: ${error.details}`);
  }
  return error;
}

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
        .pipe(catchError((error: { code?: number }) => throwError(() => asHttpError(id, error)))),
    );
  }
}
