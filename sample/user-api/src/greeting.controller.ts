import { Controller, Get, Logger } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { type ConfigChange, ConsulConfigService, OnConsulConfigChange } from 'nestjs-consul-kit';

/** GET /greeting and greeting.Greeting/Get: text kept in Consul KV at config/user_api/greeting, changed live. */
@Controller('greeting')
export class GreetingController {
  private readonly logger = new Logger(GreetingController.name);

  constructor(private readonly config: ConsulConfigService) {}

  @Get()
  @GrpcMethod('Greeting', 'Get')
  greeting() {
    return { greeting: this.config.get<string>('greeting', 'hello (no config/user_api/greeting in Consul KV)') };
  }

  @OnConsulConfigChange('greeting')
  changed({ previous, current }: ConfigChange) {
    this.logger.log(`greeting changed in Consul: ${JSON.stringify(previous)} -> ${JSON.stringify(current)}`);
  }
}
