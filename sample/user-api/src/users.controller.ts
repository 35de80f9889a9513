import { Controller, Get, NotFoundException, Param } from '@nestjs/common';

const USERS = [
  { id: 1, name: 'Ada Lovelace' },
  { id: 2, name: 'Alan Turing' },
];

@Controller('users')
export class UsersController {
  @Get()
  list() {
    return USERS;
  }

  @Get(':id')
  get(@Param('id') id: string) {
    const user = USERS.find((u) => u.id === Number(id));
    if (!user) throw new NotFoundException(`no user ${id}`);
    return user;
  }
}
